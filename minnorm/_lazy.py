"""Lazy attribute loading for package namespaces (PEP 562).

``import minnorm`` and ``import minnorm.training`` must not import torch, matplotlib or dask
until a name that needs them is used: parsing a sweep config or solving a problem through
``mn.`` stays light. Each package lists ``name -> module`` and gets ``__getattr__``/``__dir__``.
"""

from __future__ import annotations

import importlib


def attach(package, names):
    """``(__getattr__, __dir__, __all__)`` for ``package`` resolving each name in ``names``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : dict
        Public name -> absolute module name that defines it.
    """
    names = dict(names)

    def __getattr__(name):
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            setattr(importlib.import_module(package), name, value)  # later lookups skip this hook
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(names) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__, list(names)
