r"""Which variational problem, and which ``lam``, a training recipe converges to.

Both layers trained with weight decay: the TV2 problem of the cost variant set by the skip
connection and by whether biases are penalised (MATH A.2), at ``lam = n * weight_decay``
(times the width for mean-field). First layer frozen (ridge on random features): the weighted
spline of the init law's kink density, or its kernel limit with the boundary term (MATH D.2).
Every :class:`~minnorm.training.TrainResult` reports its limit through these functions; the
comparison layer solves it (:func:`minnorm.solve_reference`). No torch import here.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from solvers._validation import validate_bool, validate_positive
from solvers.errors import InputError
from solvers.spline.laws import LAW_DEFAULTS, kink_density

from minnorm.training.options import PARAMETRIZATIONS

__all__ = ["solver_lam", "variant_for", "limit_reference"]


def _is_network(model):
    """Whether ``model`` is a :class:`~minnorm.training.ShallowReLU` (torch is imported only if it
    could be one: a torch module is always an instance of a class defined after torch loaded)."""
    import sys

    if "torch" not in sys.modules:
        return False
    from minnorm.training.network import ShallowReLU

    return isinstance(model, ShallowReLU)


def solver_lam(weight_decay, n, width=None, parametrization="standard", *, train_first_layer=True,
               hidden_scale=1.0):
    r"""Solver-layer ``lam`` equivalent to ``weight_decay`` in the training objective.

    Both layers trained (MATH A.2): the limit minimises :math:`\sum_i(f(x_i)-y_i)^2+\mathrm{lam}\,R(f)`
    with

    .. math:: n\,\mathcal L(\theta) = \sum_i (f(x_i)-y_i)^2 + \mathrm{lam}\cdot\tfrac12\|\theta_{pen}\|^2/\kappa_m,

    i.e. ``lam = n * weight_decay`` (standard) and ``lam = n * width * weight_decay``
    (mean-field, where a function costs ``width`` times more; see the module docstring).
    The same map holds for all four variants.

    Frozen first layer (``train_first_layer=False``: ridge on the output weights of m random
    features, MATH D.2): as :math:`m\to\infty` the minimiser tends to
    :math:`\min \sum_i(f(x_i)-y_i)^2+\mathrm{lam}\,\|f\|_H^2`, where :math:`\|f\|_H^2=\int f''^2/g` with
    free affine terms (the weighted spline of the init law's kink density g), and

    .. math:: \mathrm{lam} = \frac{n\,\lambda_{wd}}{2\,m\,s^2}\ \text{(standard)},\qquad
              \mathrm{lam} = \frac{n\,\lambda_{wd}\,m}{2\,s^2}\ \text{(mean-field)},

    with s = ``hidden_scale`` (it multiplies g by s², i.e. divides the penalty by s²). Derivation:
    :math:`n\mathcal L = \sum(f-y)^2 + \tfrac{n\lambda_{wd}}2\|a\|^2`; with
    :math:`f=\kappa\sum_j a_j\phi_j` the smallest :math:`\|a\|^2` representing f is
    :math:`\|f\|^2_{K_m}/\kappa^2` for the empirical kernel :math:`K_m=\sum_j\phi_j\phi_j^\top\approx
    m s^2 K` (K of the unscaled law), so the penalty is
    :math:`\tfrac{n\lambda_{wd}}{2}\,\|f\|_K^2/(\kappa^2 m s^2)`; κ = 1 or 1/m gives the two cases
    (MATH D.2's :math:`\tilde\lambda = N\lambda` with :math:`\tilde\lambda = n\lambda_{wd}/2`,
    :math:`N=m`, for the standard one).

    Parameters
    ----------
    weight_decay : float >= 0
    n : int >= 1
        Number of data points (the MSE averages over them).
    width : int, optional
        Required except for a trained, standard-parametrised network.
    parametrization : {"standard", "mean-field"}
    train_first_layer : bool
    hidden_scale : float > 0
        Only used with a frozen first layer (:attr:`ShallowReLU.hidden_scale`).
    """
    wd = validate_positive(weight_decay, "weight_decay", allow_zero=True)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InputError(f"n must be a positive integer; got {n!r}")
    if parametrization not in PARAMETRIZATIONS:
        raise InputError(f"unknown parametrization {parametrization!r}; expected one of {PARAMETRIZATIONS}")
    if not isinstance(train_first_layer, (bool, np.bool_)):
        raise InputError(f"train_first_layer must be True or False; got {train_first_layer!r}")
    needs_width = parametrization == "mean-field" or not train_first_layer
    if needs_width and (width is None or isinstance(width, bool) or int(width) != width or width < 1):
        raise InputError(f"width (an integer >= 1) is required for the {parametrization} lam map"
                         f"{'' if train_first_layer else ' of a frozen first layer'}; got {width!r}")
    if train_first_layer:
        return float(n) * wd if parametrization == "standard" else float(n) * int(width) * wd
    s2 = validate_positive(hidden_scale, "hidden_scale") ** 2
    m = int(width)
    if parametrization == "standard":
        return float(n) * wd / (2.0 * m * s2)
    return float(n) * wd * m / (2.0 * s2)


def variant_for(model, penalize_bias):
    """Cost variant of MATH A.2 for ``model`` trained with biases (un)penalised.

    Skip connection present -> ``"skip"`` / ``"bias"``; none -> ``"no-skip"`` / ``"bias-no-skip"``.
    V3/V4 (``penalize_bias=True``) assume a free output bias; without one a warning is issued,
    since the intercept then adds a constraint the variant does not include.
    For a frozen first layer the limit is a weighted spline instead (:func:`limit_reference`).
    """
    if not (isinstance(model, _Flags) or _is_network(model)):
        raise InputError(f"model must be a ShallowReLU; got {type(model).__name__}")
    penalize_bias = validate_bool(penalize_bias, "penalize_bias")
    if penalize_bias and not model.output_bias:
        warnings.warn(
            "variants 'bias'/'bias-no-skip' assume a free output bias; this model has none, so its "
            "function-space problem has an extra intercept constraint",
            stacklevel=2,
        )
    if model.skip:
        return "bias" if penalize_bias else "skip"
    return "bias-no-skip" if penalize_bias else "no-skip"


_MODEL_KEYS = ("skip", "output_bias", "parametrization", "init", "init_params")


def limit_reference(model, *, train_first_layer=True, penalize_bias=False, penalize_affine=False):
    r"""The reference (name, params) a trained ``model`` is compared with, at :func:`solver_lam`'s lam.

    ``solve_reference(name, x, y, lam=solver_lam(...), params=params)`` is then the limit.

    - Both layers trained: ``"tv2:" + variant_for(model, penalize_bias)``, params ``{}``;
      ``(None, None)`` with ``penalize_affine`` (no solver variant).
    - Frozen first layer (MATH D.2): the init law's kernel limit. Which affine terms are *free*
      in it: a skip slope c / output bias d present and unpenalised is free; with
      ``penalize_affine`` it costs :math:`\tfrac{n\lambda_{wd}}2(c^2+d^2)` against
      :math:`\mathrm{lam}\,\|h\|_H^2` for the kernel part, i.e. ``lam * m * s^2 * (c^2+d^2)``
      (standard: the term is pushed to 0 as m grows, so it is absent from the limit) or
      ``lam * s^2 * (c^2+d^2) / m`` (mean-field: free in the limit). Then

      * c and d free: ``"spline:LAW"``, min :math:`\sum(f-y)^2+\mathrm{lam}\int f''^2/g`
        (MATH D.2: a free affine part leaves exactly :math:`\int f''^2/g`);
      * no free c: ``"krr:no-skip:LAW"`` with ``output_bias`` = whether d is free (MATH D.2's
        boundary term :math:`e^\top Q^{-1}e`, or :math:`e_1^2/Q_{11}` with a free d);
      * free c without a free d: ``(None, None)`` (the solver layer has no kernel limit with
        a free slope only).

      params are the model's law parameters (:attr:`ShallowReLU.init_params`, defaults filled
      in); ``hidden_scale`` is folded into lam by :func:`solver_lam`. This is the limit of the
      *init law*: a first layer edited after initialisation has another one.

    Parameters
    ----------
    model : ShallowReLU or mapping
        A network, or a sweep's model table with keys ``skip``, ``output_bias``,
        ``parametrization``, ``init``, ``init_params``.
    train_first_layer, penalize_bias, penalize_affine : bool
        As in :func:`train`.

    Returns
    -------
    (str or None, dict or None)
    """
    if _is_network(model):
        skip, bias, param = model.skip, model.output_bias, model.parametrization
        law, law_params = model.init_law, dict(model.init_params)
    elif isinstance(model, dict):
        missing = [k for k in _MODEL_KEYS if k not in model]
        if missing:
            raise InputError(f"model table lacks {missing}; expected keys {list(_MODEL_KEYS)}")
        skip, bias, param, law = (model[k] for k in _MODEL_KEYS[:4])
        if law not in LAW_DEFAULTS:
            raise InputError(f"unknown init {law!r}; expected one of {', '.join(map(repr, LAW_DEFAULTS))}")
        law_params = dict(LAW_DEFAULTS[law], **(model["init_params"] or {}))
        law_params = dict(kink_density(law, **law_params).params)  # validated, as floats
    else:
        raise InputError(f"model must be a ShallowReLU or a model table (dict); got {type(model).__name__}")
    if train_first_layer:
        if penalize_affine:
            return None, None
        return "tv2:" + variant_for(_Flags(skip, bias) if isinstance(model, dict) else model,
                                    penalize_bias), {}
    affine_free = not penalize_affine or param == "mean-field"
    skip_free, bias_free = skip and affine_free, bias and affine_free
    if skip_free and bias_free:
        return f"spline:{law}", law_params
    if not skip_free:
        return f"krr:no-skip:{law}", dict(law_params, output_bias=bool(bias_free))
    return None, None


@dataclass
class _Flags:
    skip: bool
    output_bias: bool


def _variant_of(reference):
    """TrainResult.variant of a limit reference: the TV2 variant, "spline", "krr:no-skip" or None."""
    if reference is None:
        return None
    if reference.startswith("tv2:"):
        return reference[len("tv2:"):]
    return reference.rsplit(":", 1)[0]  # drop the law
