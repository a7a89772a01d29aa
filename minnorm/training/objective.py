r"""The training objective of the whole training layer, its gradient and the statistics logged of it.

The objective
-------------

.. math::

    \mathcal L(\theta) \;=\; \frac1n\sum_{i=1}^n \big(f_\theta(x_i)-y_i\big)^2
    \;+\; \frac{\lambda_{wd}}{2}\,\|\theta_{pen}\|^2 ,

with :math:`\lambda_{wd}` = ``weight_decay`` and :math:`\theta_{pen}` = the *trained* parameters
among :math:`\{a, w\}`, plus the hidden biases :math:`b` when ``penalize_bias=True``, plus the skip
slope :math:`c` and output bias :math:`d` when ``penalize_affine=True``. (A frozen first layer is a
constant and is not part of the penalty.) The penalty is explicit in the gradient,
:math:`\nabla\mathcal L = \nabla \mathrm{MSE} + \lambda_{wd}\theta_{pen}` — L2 regularisation, not
decoupled (AdamW) weight decay, also for Adam (:mod:`minnorm.training.optim`).

Map to the solver layer (MATH A.2)
----------------------------------
The solver layer minimises :math:`\sum_i(f(x_i)-y_i)^2 + \mathrm{lam}\cdot R(f)` with
:math:`R(f)=\inf\{\tfrac12\|\theta_{pen}\|^2 : f_\theta=f\}`. Multiplying
:math:`\mathcal L` by n:

- standard parametrisation: ``lam = n * weight_decay``;
- mean-field (:math:`f=\frac1m\sum a_i\sigma(\cdot)`): writing :math:`\tilde a=a/m`, the balanced
  cost is :math:`\sum|a_i|\|(w_i,b_i)\| = m\sum|\tilde a_i|\|(w_i,b_i)\|`, so a function costs
  :math:`m R(f)` and ``lam = n * m * weight_decay``.

The same factor holds for all four variants (:func:`~minnorm.training.limits.variant_for`):
``"skip"`` (skip term, biases unpenalised), ``"no-skip"``, ``"bias"`` (skip term, biases
penalised, B–F), ``"bias-no-skip"``. Equality of the minima needs width >= the number of kinks of
a minimiser (>= n-2 for skip/bias, <= 2n for the no-skip variants; MATH A.2). V1/V2 do not care
about an output bias; V3/V4 assume a free (unpenalised) output bias ``d``.
``penalize_affine=True`` gives none of the four variants (it is what torch's default
``weight_decay`` does, together with ``penalize_bias=True``).

The gradient of the MSE is the closed-form kernel of :mod:`minnorm.training.population`; this
module adds the penalty, the masks of absent terms, and the logged statistics
(:data:`_HISTORY_KEYS`) that both backends (:mod:`minnorm.training.loop`,
:mod:`minnorm.training.compiled`) report.
"""

import numpy as np
import torch

from solvers._validation import as_real_array, validate_bool, validate_positive
from solvers.errors import InputError

from minnorm.training.network import ShallowReLU
from minnorm.training.population import Population, _bc, _predict, loss_grad_kernel

__all__ = ["loss_and_grad"]

#: the statistics logged in a history (besides ``step``), in this order also in the compiled kernel
_HISTORY_KEYS = ("loss", "penalty", "objective", "grad_norm", "balance_drift")


# ------------------------------------------------------------------------------ data
def _data_tensor(a, name, dtype, device):
    """``a`` as a tensor of the model's dtype on its device, with no autograd history.

    A tensor is detached (so training never builds a graph through the data, nor changes it:
    sorting copies); anything else goes through :func:`solvers._validation.as_real_array`, which
    refuses complex, masked, string and bool data.
    """
    if isinstance(a, torch.Tensor):
        if a.is_complex() or a.dtype == torch.bool:
            raise InputError(f"{name} must be real numbers; got a tensor of dtype {a.dtype}")
        t = a.detach()
    else:
        t = torch.from_numpy(as_real_array(a, name))
    return t.to(device=device, dtype=dtype)


def _prepare_data(x, y, K, dtype, device):
    """Sorted x [n] and y [K, n] on the model's device; also the permutation used."""
    xt = _data_tensor(x, "x", dtype, device)
    yt = _data_tensor(y, "y", dtype, device)
    if xt.ndim == 2 and xt.shape[1] == 1:
        xt = xt[:, 0]
    if yt.ndim == 2 and yt.shape[1] == 1 and yt.shape[0] != K:
        yt = yt[:, 0]
    if xt.ndim != 1:
        raise InputError(f"x must be 1-D (or of shape (n, 1)); got shape {tuple(xt.shape)}")
    n = xt.shape[0]
    if n < 1:
        raise InputError("x must contain at least one point")
    if yt.ndim == 1:
        if yt.shape[0] != n:
            raise InputError(f"x and y must have the same length; got len(x)={n}, len(y)={yt.shape[0]}")
        yt = yt.expand(K, n)
    elif yt.ndim != 2 or yt.shape != (K, n):
        raise InputError(f"y must have shape (n,) or (K, n) = ({K}, {n}); got {tuple(yt.shape)}")
    if not bool(torch.isfinite(xt).all()):
        raise InputError("x must be finite (found NaN or inf)")
    if not bool(torch.isfinite(yt).all()):
        raise InputError("y must be finite (found NaN or inf)")
    order = torch.argsort(xt, stable=True)
    return xt[order].contiguous(), yt[:, order].contiguous(), order


# ------------------------------------------------------------------------------ objective
class _Groups:
    """Which packed parameters are trained and penalised, as broadcastable float masks."""

    def __init__(self, pop, train_first_layer, penalize_bias, penalize_affine):
        self.trained = {"a": pop.mask, "c": pop.has_c, "d": pop.has_d}
        if train_first_layer:
            self.trained["w"] = pop.mask
            self.trained["b"] = pop.mask
        self.penalized = {"a"}
        if train_first_layer:
            self.penalized.add("w")
            if penalize_bias:
                self.penalized.add("b")
        if penalize_affine:
            self.penalized.update({"c", "d"})


def _objective_grad(P, pop, groups, wd, xs, ys, warm=None):
    """MSE [K] on (xs, ys), the gradient of the objective over the trained groups, and the
    boundary state (the next call's ``warm``; :func:`~minnorm.training.population.loss_grad_kernel`)."""
    loss, g, e = loss_grad_kernel(P["a"], P["w"], P["b"], P["c"], P["d"], pop.kernel_scale, xs, ys,
                                  first_layer="w" in groups.trained, warm=warm)
    G = {}
    for name, mask in groups.trained.items():
        gr = g[name]
        if name in groups.penalized:
            gr = gr + _bc(wd, P[name]) * P[name]
        # Absent c/d are masked. Padded units need no [K, M] mask: with a = w = b = 0 their
        # gradient is exactly 0 (kernel and penalty), so they stay 0 by induction.
        G[name] = gr * mask if gr.ndim == 1 else gr
    return loss, G, e


def _loss_only(P, pop, xs, ys):
    """The MSE [K] on (xs, ys), without the gradient (SGD's full-data loss at a logged step)."""
    f, _, _ = _predict(P["a"], P["w"], P["b"], P["c"], P["d"], pop.kernel_scale, xs)
    return ((f - ys) ** 2).mean(1)


def _penalty(P, groups, wd):
    tot = 0.0
    for name in groups.penalized:
        if name in groups.trained:
            sq = (P[name] * groups.trained[name]) ** 2
            tot = tot + (sq.sum(1) if sq.ndim == 2 else sq)
    return 0.5 * wd * tot


def _flat(G, names):
    """The gradient groups ``names`` side by side, [K, T] (the trainer's flat parameter layout)."""
    return torch.cat([G[nm] if G[nm].ndim == 2 else G[nm][:, None] for nm in names], 1)


def _grad_norm(grad):
    """Euclidean norm [K] of each network's flat gradient ``grad`` [K, T] (:func:`_flat`)."""
    return torch.sqrt((grad * grad).sum(1))


def _balance(P):
    return P["a"] ** 2 - P["w"] ** 2 - P["b"] ** 2


# ------------------------------------------------------------------------------ statistics
def _stats(P, pop, groups, wd, loss, grad, balance0):
    """The logged statistics (:data:`_HISTORY_KEYS`, tensors [K]) of the parameters P, given their
    loss and the (flat, :func:`_flat`) gradient used."""
    pen = _penalty(P, groups, wd)
    drift = ((_balance(P) - balance0).abs() * pop.mask).amax(1)
    return {"loss": loss, "penalty": pen, "objective": loss + pen, "grad_norm": _grad_norm(grad),
            "balance_drift": drift}


def _full_stats(P, pop, groups, wd, x_full, ys, balance0):
    """:func:`_stats` with the full-batch loss and gradient."""
    loss, G, _ = _objective_grad(P, pop, groups, wd, x_full, ys)
    return _stats(P, pop, groups, wd, loss, _flat(G, list(groups.trained)), balance0)


def _history(log_steps, logged, k, stop_step, final):
    """Network k's history: the rows logged before it stopped, then its final state.

    ``log_steps`` [rows] the logged steps, ``logged`` key -> array [rows, K], ``final`` key ->
    network k's value at ``stop_step``.
    """
    keep = log_steps < stop_step
    hist = {"step": np.append(log_steps[keep], stop_step)}
    for key in _HISTORY_KEYS:
        hist[key] = np.append(logged[key][keep, k], final[key])
    return hist


# ------------------------------------------------------------------------------ public API
def loss_and_grad(model, x, y, *, weight_decay=0.0, penalize_bias=False, penalize_affine=False,
                  train_first_layer=True, method="analytic"):
    """Objective :math:`\\mathcal L` of :func:`~minnorm.training.loop.train` (full batch) and its gradient.

    ``method="analytic"`` uses the training kernel (prefix sums over sorted data);
    ``"autograd"`` differentiates the dense forward pass of the module with torch autograd
    (an independent implementation of the gradient, for checking).

    Returns
    -------
    objective : float
    grads : dict name -> Tensor
        Over the trained parameters present: ``a``, ``w``, ``b`` (if ``train_first_layer``),
        ``c`` (if skip), ``d`` (if output bias).
    """
    if not isinstance(model, ShallowReLU):
        raise InputError(f"model must be a ShallowReLU; got {type(model).__name__}")
    if method not in ("analytic", "autograd"):
        raise InputError(f"unknown method {method!r}; expected 'analytic' or 'autograd'")
    wd = validate_positive(weight_decay, "weight_decay", allow_zero=True)
    penalize_bias = validate_bool(penalize_bias, "penalize_bias")
    penalize_affine = validate_bool(penalize_affine, "penalize_affine")
    train_first_layer = validate_bool(train_first_layer, "train_first_layer")
    pop = Population([model])
    xs, ys, _ = _prepare_data(x, y, 1, pop.dtype, pop.device)
    present = ["a"] + (["w", "b"] if train_first_layer else [])
    present += [nm for nm in ("c", "d") if getattr(model, nm) is not None]
    groups = _Groups(pop, train_first_layer, penalize_bias, penalize_affine)
    if method == "analytic":
        wd_t = torch.tensor([wd], dtype=pop.dtype, device=pop.device)
        P = pop.params()
        loss, G, _ = _objective_grad(P, pop, groups, wd_t, xs[None, :], ys)
        obj = float(loss[0] + _penalty(P, groups, wd_t)[0])
        return obj, {nm: G[nm][0].clone() for nm in present}
    params = {nm: getattr(model, nm) for nm in present}
    with torch.enable_grad():
        f = model(xs)
        obj = ((f - ys[0]) ** 2).mean()
        for nm in groups.penalized & set(present):
            obj = obj + 0.5 * wd * (params[nm] ** 2).sum()
        grads = torch.autograd.grad(obj, [params[nm] for nm in present])
    return float(obj.detach()), {nm: gr.detach().clone() for nm, gr in zip(present, grads)}
