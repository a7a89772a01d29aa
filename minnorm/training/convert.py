r"""Exact conversions of trained networks: to a piecewise-linear function, and to balanced form.

``to_function`` is exact (MATH A.0): knots :math:`-b_j/w_j` (coincident ones merged), jumps
:math:`\kappa a_j |w_j|`, outer slopes and intercept, with :math:`\kappa=1/m` for mean-field.
"""

import numpy as np
import torch

from solvers._validation import validate_bool
from solvers.errors import InputError

from minnorm.training.network import ShallowReLU, _np
from minnorm.training.population import Population, _function_of

__all__ = ["to_function", "rebalance", "parameter_cost"]


def _as_model(obj):
    model = getattr(obj, "model", obj)  # a TrainResult carries its model
    if not isinstance(model, ShallowReLU):
        raise InputError(f"expected a ShallowReLU or a TrainResult; got {type(obj).__name__}")
    return model


def to_function(model, k=None):
    r"""The exact function of a network as a :class:`solvers.PiecewiseLinear`.

    .. math:: f(x)=\kappa\sum_j a_j\,\mathrm{relu}(w_j x+b_j)+c x+d
              = s_L x + C + \sum_k J_k (x-t_k)_+ ,

    with :math:`t_j=-b_j/w_j`, :math:`J_j=\kappa a_j|w_j|`; units with :math:`w_j=0` are the
    constants :math:`\kappa a_j\,\mathrm{relu}(b_j)` (MATH A.0; :meth:`PiecewiseLinear.from_network`).

    Parameters
    ----------
    model : ShallowReLU, TrainResult, or Population
    k : int, optional
        Network index when ``model`` is a :class:`~minnorm.Population`.
    """
    if isinstance(model, Population):
        if k is None:
            raise InputError("k (the network index) is required for a Population")
        return model.function(k)
    if k is not None:
        raise InputError(f"k (a network index) applies only to a Population; got k={k!r} with a "
                         f"{type(model).__name__}")
    model = _as_model(model)
    c = 0.0 if model.c is None else float(model.c.detach())
    d = 0.0 if model.d is None else float(model.d.detach())
    return _function_of(model.a, model.w, model.b, c, d, model.scale)


def parameter_cost(model, penalize_bias):
    r"""The parameter cost :math:`\tfrac12\sum_j(a_j^2+w_j^2[+b_j^2])` (skip c, output bias d excluded).

    For a mean-field network this is ``width`` times the cost of the function it represents
    once balanced (see :func:`rebalance`).
    """
    model = _as_model(model)
    penalize_bias = validate_bool(penalize_bias, "penalize_bias")
    a, w, b = _np(model.a), _np(model.w), _np(model.b)
    tot = a * a + w * w + (b * b if penalize_bias else 0.0)
    return 0.5 * float(np.sum(tot))


def rebalance(model, penalize_bias):
    r"""Function-preserving rescaling that minimises the parameter cost (MATH A.1), in place.

    Each unit is mapped :math:`(a,w,b)\to(a/s, s w, s b)` with
    :math:`s^2=|a|/\|(w,b)\|` (``penalize_bias=True``) or :math:`s^2=|a|/|w|` (False), which
    attains :math:`\min_s\tfrac12(a^2/s^2+s^2\|\cdot\|^2)=|a|\,\|\cdot\|`. Afterwards
    :func:`parameter_cost` is :math:`\sum_j|a_j||w_j|` or :math:`\sum_j|a_j w_j|\,\omega(t_j)`, i.e.
    ``tv2_cost(to_function(model), "skip"/"bias")`` when the kinks are distinct (times ``width``
    for mean-field, whose function values carry 1/m).

    Degenerate units: a unit with ``a = 0`` contributes nothing, so its ``(w, b)`` is set to 0
    (the limit s -> 0). With ``penalize_bias=False`` a unit with ``w = 0, a != 0`` is a constant
    whose cost infimum (s -> infinity) is not attained; it is left unchanged.

    Returns
    -------
    model : the same module (for chaining).
    """
    model = _as_model(model)
    penalize_bias = validate_bool(penalize_bias, "penalize_bias")
    for name in ("a", "w", "b"):
        bad = torch.nonzero(~torch.isfinite(getattr(model, name).detach())).flatten()
        if bad.numel():
            j = int(bad[0])
            # Rescaling in place would spread the NaN/inf; refuse before touching the module.
            raise InputError(f"network parameters must be finite; unit {j} has {name}[{j}] = "
                             f"{float(getattr(model, name).detach()[j])}")
    with torch.no_grad():
        a, w, b = model.a, model.w, model.b
        norm = torch.sqrt(w * w + b * b) if penalize_bias else w.abs()
        ok = (a != 0) & (norm > 0)
        s = torch.sqrt(a.abs() / torch.where(ok, norm, torch.ones_like(norm)))
        s = torch.where(ok, s, torch.ones_like(s))
        dead = a == 0
        a.copy_(a / s)
        w.copy_(torch.where(dead, torch.zeros_like(w), w * s))
        b.copy_(torch.where(dead, torch.zeros_like(b), b * s))
    return model
