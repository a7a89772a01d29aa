r"""The built-in initialisation laws of the first layer: the one table of their default parameters
(:data:`LAW_DEFAULTS`) and their kink densities in closed form (:func:`kink_density`, MATH D.1).

A hidden unit :math:`\sigma(wx+b)` with :math:`w \ne 0` has its kink at :math:`\xi = -b/w`.
For a random first layer :math:`(w, b) \sim \mu` the *kink density* is

.. math::  g_\pm(t) = p_\xi(t)\, E[w^2 1\{\pm w > 0\} \mid \xi = t], \qquad g = g_+ + g_-,
           \qquad \int g = E[w^2].

It is the weight of the curvature penalty :math:`\int f''^2/g` of the kernel / random-feature
limit (MATH D.2, D.3). Three laws are built in, all sign-symmetric (:math:`g_\pm = g/2`) with
:math:`E[wb] = 0`:

=================  ==================  ==================================================================
law                parameters          :math:`g(t)`
=================  ==================  ==================================================================
``"gaussian"``     sigma_w, sigma_b    :math:`2\sigma_w^2\gamma^3/(\pi(\gamma^2+t^2)^2)`, :math:`\gamma=\sigma_b/\sigma_w`
``"uniform"``      A, B                :math:`A^3/(8B)` for :math:`|t|\le B/A`, :math:`B^3/(8At^4)` outside
``"pm1-uniform"``  c                   :math:`1/(2c)` on :math:`[-c, c]`, 0 outside
=================  ==================  ==================================================================

``"uniform"`` is :math:`w\sim U[-A,A]`, :math:`b\sim U[-B,B]` (torch's default ``nn.Linear(1, m)``
is A = B = 1); ``"pm1-uniform"`` is :math:`w=\pm1` with probability 1/2 each, :math:`b\sim U[-c,c]`.
"""

from types import MappingProxyType

import numpy as np

from solvers._validation import validate_positive
from solvers.errors import InputError
from solvers.spline.density import KinkDensity

__all__ = ["LAW_DEFAULTS", "LAWS", "kink_density"]

#: The one table of default law parameters, shared by :func:`kink_density`, the network's
#: initialisation (``minnorm.ShallowReLU(init=law)``) and the named references, so that
#: ``kink_density(law)`` is the kink density of ``ShallowReLU(init=law)``. Read-only.
#: ``uniform`` A = B = 1 is torch's default ``nn.Linear(1, m)``; ``pm1-uniform`` c = 2 is
#: MATH D.2/D.4/G9's law (kinks cover the default data domain [-1, 1] with margin, as the
#: weighted spline needs g > 0 on a neighbourhood of the data hull, MATH D.3).
LAW_DEFAULTS = MappingProxyType({
    "gaussian": MappingProxyType({"sigma_w": 1.0, "sigma_b": 1.0}),
    "uniform": MappingProxyType({"A": 1.0, "B": 1.0}),
    "pm1-uniform": MappingProxyType({"c": 2.0}),
})

#: Built-in initialisation laws.
LAWS = tuple(LAW_DEFAULTS)

#: Smallest / largest magnitude a derived constant of a law may have: below the normal range
#: (or above the float64 range) g, its moments or the kernel lose all digits or overflow.
_TINY, _HUGE = np.finfo(np.float64).tiny, np.finfo(np.float64).max


def kink_density(law, **params):
    r"""Kink density of a random first layer (MATH D.1).

    Parameters
    ----------
    law : {"gaussian", "uniform", "pm1-uniform"}
        ``"gaussian"``: :math:`w\sim N(0,\sigma_w^2)`, :math:`b\sim N(0,\sigma_b^2)`, parameters
        ``sigma_w=1, sigma_b=1``. ``"uniform"``: :math:`w\sim U[-A,A]`, :math:`b\sim U[-B,B]`,
        parameters ``A=1, B=1`` (torch's default ``nn.Linear(1, m)``). ``"pm1-uniform"``:
        :math:`w=\pm1`, :math:`b\sim U[-c,c]`, parameter ``c=2``.
        Defaults are :data:`LAW_DEFAULTS`, the same as ``minnorm.ShallowReLU(init=law)``'s.
    **params
        The law's parameters, all finite and > 0, such that g, its mass and its moments are
        normal float64 numbers (e.g. ``sigma_w=1e-200`` underflows g and is refused).

    Returns
    -------
    KinkDensity

    Raises
    ------
    InputError
        Unknown law or parameter, a parameter that is not a finite positive number, or
        parameters whose g or moments overflow / underflow float64 (rescale the data instead).

    Examples
    --------
    >>> kd = kink_density("gaussian")
    >>> float(kd.g(0.0))  # 2/pi
    0.6366197723675814
    """
    if law not in LAW_DEFAULTS:
        raise InputError(f"unknown law {law!r}; expected one of {', '.join(map(repr, LAWS))}")
    allowed = tuple(LAW_DEFAULTS[law])
    extra = set(params) - set(allowed)
    if extra:
        raise InputError(f"unknown parameter(s) {sorted(extra)} for law {law!r}; expected {allowed}")
    vals = dict(LAW_DEFAULTS[law])
    vals.update(params)
    vals = {k: validate_positive(v, k) for k, v in vals.items()}
    # numpy scalars, so that over/underflow gives inf/0 (then refused by name) instead of a Python error
    f64 = {k: np.float64(v) for k, v in vals.items()}
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        if law == "gaussian":
            sw, sb = f64["sigma_w"], f64["sigma_b"]
            gam = sb / sw
            coef = 2.0 * sw * sw * gam**3 / np.pi
            # g(t) = coef / (gam^2 + t^2)^2 is evaluated as written, so gam^4 must be in range too
            _check_range(law, vals, {"sigma_w^2": sw * sw, "sigma_b^2": sb * sb, "sigma_b/sigma_w": gam,
                                     "(sigma_b/sigma_w)^4": gam**4, "g(t) numerator": coef,
                                     "g(0)": coef / gam**4})
            return KinkDensity(law, vals, [(-np.inf, np.inf, "cauchy", float(coef))], [], (-np.inf, np.inf),
                               sw * sw, sb * sb)
        if law == "uniform":
            A, B = f64["A"], f64["B"]
            tau = B / A
            tail = B**3 / (8.0 * A)
            inner = A**3 / (8.0 * B)
            _check_range(law, vals, {"B/A": tau, "g(0) = A^3/(8B)": inner, "tail coefficient B^3/(8A)": tail,
                                     "E[w^2] = A^2/3": A * A / 3.0, "E[b^2] = B^2/3": B * B / 3.0})
            tau, tail, inner = float(tau), float(tail), float(inner)
            regions = [(-np.inf, -tau, "tail4", tail), (-tau, tau, "const", inner), (tau, np.inf, "tail4", tail)]
            return KinkDensity(law, vals, regions, [-tau, tau], (-np.inf, np.inf), A * A / 3.0, B * B / 3.0)
        c = f64["c"]
        _check_range(law, vals, {"g = 1/(2c)": 1.0 / (2.0 * c), "E[b^2] = c^2/3": c * c / 3.0})
    c = float(c)
    regions = [(-np.inf, -c, "zero", 0.0), (-c, c, "const", 1.0 / (2.0 * c)), (c, np.inf, "zero", 0.0)]
    return KinkDensity(law, vals, regions, [-c, c], (-c, c), 1.0, c * c / 3.0)


def _check_range(law, vals, derived):
    """Refuse parameters whose derived constants leave the normal float64 range."""
    for what, v in derived.items():
        if not (np.isfinite(v) and _TINY <= abs(v) <= _HUGE):
            shown = ", ".join(f"{k}={p!r}" for k, p in vals.items())
            raise InputError(f"law {law!r} with {shown}: {what} = {v!r} is outside the normal float64 range "
                             f"[{_TINY:.3g}, {_HUGE:.3g}], so g would over- or underflow; rescale the data "
                             "(and the law) to moderate magnitudes")
