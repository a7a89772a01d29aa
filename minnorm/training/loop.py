r"""Training shallow ReLU networks on an explicit objective, one network or a population at once.

The objective (one definition for the whole training layer)
------------------------------------------------------------

.. math::

    \mathcal L(\theta) \;=\; \frac1n\sum_{i=1}^n \big(f_\theta(x_i)-y_i\big)^2
    \;+\; \frac{\lambda_{wd}}{2}\,\|\theta_{pen}\|^2 ,

with :math:`\lambda_{wd}` = ``weight_decay`` and :math:`\theta_{pen}` = the *trained* parameters
among :math:`\{a, w\}`, plus the hidden biases :math:`b` when ``penalize_bias=True``, plus the skip
slope :math:`c` and output bias :math:`d` when ``penalize_affine=True``. (A frozen first layer is a
constant and is not part of the penalty.) The penalty is explicit in the gradient,
:math:`\nabla\mathcal L = \nabla \mathrm{MSE} + \lambda_{wd}\theta_{pen}` — L2 regularisation, not
decoupled (AdamW) weight decay, also for Adam.

Map to the solver layer (MATH A.2)
----------------------------------
The solver layer minimises :math:`\sum_i(f(x_i)-y_i)^2 + \mathrm{lam}\cdot R(f)` with
:math:`R(f)=\inf\{\tfrac12\|\theta_{pen}\|^2 : f_\theta=f\}`. Multiplying
:math:`\mathcal L` by n:

- standard parametrisation: ``lam = n * weight_decay``;
- mean-field (:math:`f=\frac1m\sum a_i\sigma(\cdot)`): writing :math:`\tilde a=a/m`, the balanced
  cost is :math:`\sum|a_i|\|(w_i,b_i)\| = m\sum|\tilde a_i|\|(w_i,b_i)\|`, so a function costs
  :math:`m R(f)` and ``lam = n * m * weight_decay``.

The same factor holds for all four variants (:func:`variant_for`): ``"skip"`` (skip term, biases
unpenalised), ``"no-skip"``, ``"bias"`` (skip term, biases penalised, B–F), ``"bias-no-skip"``.
Equality of the minima needs width >= the number of kinks of a minimiser (>= n-2 for
skip/bias, <= 2n for the no-skip variants; MATH A.2). V1/V2 do not care about an output bias;
V3/V4 assume a free (unpenalised) output bias ``d``. ``penalize_affine=True`` gives none of the
four variants (it is what torch's default ``weight_decay`` does, together with
``penalize_bias=True``).

Update rules (:math:`\eta` = ``lr``, T = ``noise_temperature``, :math:`\xi\sim N(0,I)`)
-------------------------------------------------------------------------------------------
- ``"gd"`` (full batch) and ``"sgd"`` (minibatches of ``batch_size``, a fresh permutation of the
  data each epoch, the last batch possibly smaller; the MSE of a batch is its own mean):
  :math:`\theta\leftarrow\theta-\eta\nabla\mathcal L+\sqrt{2\eta T}\,\xi` (Langevin noise on all
  trained parameters when T > 0; MATH E).
- ``"adam"``: torch's Adam formula on :math:`\nabla\mathcal L` (``betas``, ``eps``), then the same
  noise term if T > 0 (then it is not a Langevin sampler).

Learning-rate schedules (``lr_schedule``, ``lr_final_ratio`` = r)
-------------------------------------------------------------------
The update at step t = 0, 1, ..., ``steps``-1 uses :math:`\eta_t=\eta\,s(t/\mathrm{steps})` in place
of :math:`\eta` (in every rule above, the Langevin term included: :math:`\sqrt{2\eta_t T}\,\xi`):

- ``"constant"``: :math:`s\equiv1` (the default; r must then be 1 or omitted);
- ``"cosine"``: :math:`s(u)=r+(1-r)\,\tfrac12(1+\cos\pi u)`, torch's ``CosineAnnealingLR`` with
  ``T_max=steps``, ``eta_min=r*lr`` (r in [0, 1]);
- ``"exponential"``: :math:`s(u)=r^{u}`, torch's ``ExponentialLR`` with ``gamma=r**(1/steps)``
  (r in (0, 1]).

r defaults to 0.01 for the two decaying schedules: the last steps run at ~1/100 of the peak
lr, which lowers the noise floor of a constant-lr Adam (or SGD) run (its iterates keep
oscillating at a distance that shrinks with lr, not with steps) without slowing the early
phase. Example: weight-decay ERM in the PPW study (minnorm.studies.ppw) reaches relative
objective gaps <= 7e-3 with Adam and cosine decay, but stalls at up to 0.5 with Adam at the
same constant peak lr. The schedule depends on the step only (shared by all networks of a
population; ``lr`` scales it per network), so :func:`train_population` is still exactly
:func:`train` network by network; a network stopped by ``tol`` or divergence simply stops
using it. :func:`lr_sequence` returns the η_t of a run.

Mean-field with the conventions of Shevchenko et al. (per particle
:math:`\theta\leftarrow\theta-\eta(m\nabla\hat L+\lambda\theta)+\sqrt{2\eta/\beta}\,\xi`, :math:`\hat L`
the MSE): ``lr = m*eta``, ``weight_decay = lambda/m``, ``noise_temperature = 1/(m*beta)``;
then ``lam = n*lambda``.
"""

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from solvers._validation import (as_real_array, validate_bool, validate_choice, validate_int, validate_positive,
                                 validate_real, validate_seed)
from solvers.errors import InputError

from minnorm.training.limits import _variant_of, limit_reference, solver_lam
from minnorm.training.network import ShallowReLU
from minnorm.training.options import BACKENDS, OPTIMIZERS, check_lr_schedule, lr_factor
from minnorm.training.population import Population, loss_grad_kernel

__all__ = [
    "TrainResult",
    "TrainingDiverged",
    "train",
    "train_population",
    "loss_and_grad",
]

_NAMES = ("a", "w", "b", "c", "d")
_HISTORY_KEYS = ("loss", "penalty", "objective", "grad_norm", "balance_drift")


class TrainingDiverged(ArithmeticError):
    """Record (and exception) of a network whose loss became NaN or infinite.

    Training never raises it by itself: the network is frozen, the record is stored in
    :attr:`TrainResult.diverged`, and :meth:`TrainResult.raise_if_diverged` raises it on request.

    Attributes
    ----------
    step : int
        The step at which the loss (at the parameters before that step's update) was non-finite.
    loss : float
        That loss value (nan or inf).
    last_finite_loss : float
        The loss at the last step where it was finite (nan if none).
    index : int
        Index of the network in its population (0 for :func:`train`).
    lr : float
    """

    def __init__(self, step, loss, last_finite_loss, index=0, lr=float("nan")):
        self.step, self.loss, self.last_finite_loss = int(step), float(loss), float(last_finite_loss)
        self.index, self.lr = int(index), float(lr)
        super().__init__(
            f"network {self.index} diverged at step {self.step}: loss = {self.loss} "
            f"(last finite loss {self.last_finite_loss:.6g}, lr = {self.lr:g})"
        )

    def __reduce__(self):
        return (TrainingDiverged, (self.step, self.loss, self.last_finite_loss, self.index, self.lr))


@dataclass
class TrainResult:
    """Outcome of training one network.

    Attributes
    ----------
    model : ShallowReLU
        The trained network (the same object that was passed in, updated in place).
    history : dict of numpy arrays
        ``step``; ``loss`` (full-data MSE); ``penalty`` (:math:`\\frac{\\lambda_{wd}}{2}\\|\\theta_{pen}\\|^2`);
        ``objective`` (their sum); ``grad_norm`` (norm of the gradient used for that step, the
        minibatch one for SGD; the last entry is full-batch); ``balance_drift``
        (:math:`\\max_i|\\Delta_i(t)-\\Delta_i(0)|`, :math:`\\Delta_i=a_i^2-w_i^2-b_i^2`).
        Logged every ``log_every`` steps and at the final state.
    stop_reason : {"steps", "tol", "diverged"}
    steps_done : int
        Number of updates applied.
    diverged : TrainingDiverged or None
    lam : float
        The solver-layer ``lam`` this objective corresponds to (:func:`solver_lam`; for a frozen
        first layer the weighted spline's constant ``n*weight_decay/(2*m*hidden_scale**2)``,
        times m² for mean-field).
    variant : str or None
        Both layers trained: the TV2 cost variant (:func:`variant_for`). Frozen first layer:
        ``"spline"`` (free affine part, min ∫f''²/g) or ``"krr:no-skip"`` (kernel limit with
        the boundary term). None where no solver problem corresponds (:func:`limit_reference`).
    config : dict
        The training settings.
    reference : str or None
        Name of the limit problem for :func:`minnorm.solve_reference` (:func:`limit_reference`).
    reference_params : dict or None
        Its ``params`` (law parameters; ``output_bias`` for ``krr:*``).
    law : str
        The first layer's initialisation law (its kink density is the frozen-layer limit's g).
    backend : {"torch", "compiled"}
        The implementation that ran the steps (same iterates to rounding).
    """

    model: ShallowReLU
    history: dict
    stop_reason: str
    steps_done: int
    diverged: TrainingDiverged | None = None
    lam: float = float("nan")
    variant: str | None = None
    config: dict = field(default_factory=dict)
    reference: str | None = None
    reference_params: dict | None = None
    law: str | None = None
    backend: str = "torch"

    def raise_if_diverged(self):
        """Raise the :class:`TrainingDiverged` record if this network diverged; else return self."""
        if self.diverged is not None:
            raise self.diverged
        return self

    @property
    def final_objective(self):
        return float(self.history["objective"][-1])

    @property
    def final_loss(self):
        return float(self.history["loss"][-1])


# ------------------------------------------------------------------------------ validation
def _per_network(value, K, name, *, allow_zero=True, seed=False):
    if isinstance(value, (np.ndarray, torch.Tensor)):
        value = value.tolist()  # Python numbers: the scalar checks refuse 0-d tensors of a sequence
    vals = list(value) if isinstance(value, (list, tuple)) else [value] * K
    if len(vals) != K:
        raise InputError(f"{name} must be a scalar or have one entry per network ({K}); got {len(vals)}")
    label = (lambda k: name) if K == 1 or not isinstance(value, (list, tuple)) else (lambda k: f"{name}[{k}]")
    if seed:
        return [validate_seed(v, label(k), allow_none=False) for k, v in enumerate(vals)]
    return [validate_positive(v, label(k), allow_zero=allow_zero) for k, v in enumerate(vals)]


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


def _check_betas(betas):
    try:
        pair = [validate_real(bb, "betas") for bb in betas]
    except TypeError:  # not iterable
        pair = None
    if pair is None or len(pair) != 2 or not all(0.0 <= bb < 1.0 for bb in pair):
        raise InputError(f"betas must be two numbers in [0, 1); got {betas!r}")
    return pair[0], pair[1]


# ------------------------------------------------------------------------------ engine
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


def _bc(v, ref):
    """Broadcast a per-network [K] vector against a [K] or [K, M] tensor."""
    return v if ref.ndim == 1 else v[:, None]


def _objective_grad(P, pop, groups, wd, xs, ys, e0=None):
    loss, g, e = loss_grad_kernel(P["a"], P["w"], P["b"], P["c"], P["d"], pop.kernel_scale, xs, ys,
                                  first_layer="w" in groups.trained, e0=e0)
    G = {}
    for name, mask in groups.trained.items():
        gr = g[name]
        if name in groups.penalized:
            gr = gr + _bc(wd, P[name]) * P[name]
        # Absent c/d are masked. Padded units need no [K, M] mask: with a = w = b = 0 their
        # gradient is exactly 0 (kernel and penalty), so they stay 0 by induction.
        G[name] = gr * mask if gr.ndim == 1 else gr
    return loss, G, e


def _penalty(P, groups, wd):
    tot = 0.0
    for name in groups.penalized:
        if name in groups.trained:
            sq = (P[name] * groups.trained[name]) ** 2
            tot = tot + (sq.sum(1) if sq.ndim == 2 else sq)
    return 0.5 * wd * tot


def _grad_norm(G):
    tot = 0.0
    for gr in G.values():
        sq = gr * gr
        tot = tot + (sq.sum(1) if sq.ndim == 2 else sq)
    return torch.sqrt(tot)


def _balance(P):
    return P["a"] ** 2 - P["w"] ** 2 - P["b"] ** 2


def _run(pop, xs_sorted, ys_sorted, order, *, steps, lr, wd, temp, seeds, optimizer, batch_size, penalize_bias,
         penalize_affine, train_first_layer, log_every, tol, betas, eps, lr_schedule="constant", lr_final_ratio=1.0):
    """The one training loop behind :func:`train` and :func:`train_population`."""
    K, dev, dt = pop.K, pop.device, pop.dtype
    n = xs_sorted.shape[0]
    full_batch = batch_size is None or batch_size >= n
    B = n if full_batch else batch_size
    lr_t = torch.tensor(lr, dtype=dt, device=dev)
    wd_t = torch.tensor(wd, dtype=dt, device=dev)
    temp_t = torch.tensor(temp, dtype=dt, device=dev)
    noise_sd = torch.sqrt(2.0 * lr_t * temp_t)
    groups = _Groups(pop, train_first_layer, penalize_bias, penalize_affine)
    P = pop.params()
    gens = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
    noisy = [t > 0 for t in temp]
    has_cd = [[nm for nm in ("c", "d") if float(groups.trained[nm][k]) > 0] for k in range(K)]
    inv = torch.empty_like(order)
    inv[order] = torch.arange(n, device=dev)  # original index -> sorted position
    x_full = xs_sorted.expand(K, n)  # a stride-0 view: the kernel then searches one shared row
    e_warm = None
    balance0 = _balance(P).clone()
    active = torch.ones(K, dtype=torch.bool, device=dev)
    all_active = True
    last_finite = torch.full((K,), float("nan"), dtype=dt, device=dev)
    stop_step = [steps] * K
    stop_reason = ["steps"] * K
    records = [None] * K
    diverged_rows = {}
    finals = [None] * K
    rows = []  # (step, {key: tensor [K]})
    adam = None
    if optimizer == "adam":
        adam = {k: (torch.zeros_like(v), torch.zeros_like(v)) for k, v in P.items() if k in groups.trained}
    nb = -(-n // B)
    perm_pos = None

    def stats(loss_batch, G):
        if full_batch:
            loss = loss_batch
        else:
            f, _ = _loss_only(P, pop, x_full)
            loss = ((f - ys_sorted) ** 2).mean(1)
        pen = _penalty(P, groups, wd_t)
        drift = ((_balance(P) - balance0).abs() * pop.mask).amax(1)
        return {"loss": loss, "penalty": pen, "objective": loss + pen, "grad_norm": _grad_norm(G),
                "balance_drift": drift}

    def snapshot(st, k):
        return {key: float(v[k]) for key, v in st.items()}

    for t in range(steps):
        if full_batch:
            xb, yb = x_full, ys_sorted
        else:
            j = t % nb
            if j == 0:  # new epoch: each network permutes the data with its own generator
                perm = torch.stack([torch.randperm(n, generator=g, device=dev) for g in gens])
                perm_pos = inv[perm]
            idx = perm_pos[:, j * B:(j + 1) * B].sort(1).values
            xb, yb = xs_sorted[idx], ys_sorted.gather(1, idx)
        loss_b, G, e_b = _objective_grad(P, pop, groups, wd_t, xb, yb, e_warm)
        if full_batch:
            e_warm = e_b
        # Events of this step: divergence (non-finite loss), or convergence (grad norm <= tol).
        bad = active & ~torch.isfinite(loss_b)
        events = bad if tol is None else bad | (active & (_grad_norm(G) <= tol))
        any_event = bool(events.any())
        st = None
        if t % log_every == 0 or any_event:
            st = stats(loss_b, G)
            if t % log_every == 0:
                rows.append((t, st))
        if any_event:
            for k in torch.nonzero(events).flatten().tolist():
                stop_step[k] = t
                finals[k] = snapshot(st, k)
                if bool(bad[k]):
                    stop_reason[k] = "diverged"
                    records[k] = TrainingDiverged(t, float(loss_b[k]), float(last_finite[k]), k, lr[k])
                    # Keep its parameters for the module, then zero its rows: a frozen network
                    # is still computed with the others, and must not feed them NaNs.
                    diverged_rows[k] = {nm: P[nm][k].clone() for nm in P}
                    for nm in P:
                        P[nm][k] = 0.0
                    if adam is not None:
                        for mv in adam.values():
                            for tens in mv:
                                tens[k] = 0.0
                else:
                    stop_reason[k] = "tol"
            active = active & ~events
            all_active = bool(active.all())
            if not bool(active.any()):
                break
        last_finite = torch.where(active, loss_b, last_finite)
        factor = lr_factor(lr_schedule, t, steps, lr_final_ratio)
        if factor == 1.0:  # constant schedule: no extra rounding, bit-identical to an unscheduled run
            lr_now, sd_now = lr_t, noise_sd
        else:
            lr_now, sd_now = lr_t * factor, noise_sd * math.sqrt(factor)
        _update(P, G, groups, None if all_active else active, lr_now, adam, t + 1, betas, eps)
        if any(noisy):
            _add_noise(P, pop, has_cd, active, sd_now, gens, noisy, train_first_layer)

    # Final state of networks that ran all their steps: full-batch statistics.
    live = [k for k in range(K) if stop_reason[k] == "steps"]
    if live:
        full_stats = _full_stats(P, pop, groups, wd_t, x_full, ys_sorted, balance0)
        for k in live:
            finals[k] = snapshot(full_stats, k)

    pop.write_back(diverged_rows)
    hist_steps = np.array([r[0] for r in rows], dtype=np.int64)
    stacked = {key: torch.stack([r[1][key] for r in rows]).cpu().numpy() if rows else np.zeros((0, K))
               for key in _HISTORY_KEYS}
    out = []
    for k in range(K):
        keep = hist_steps < stop_step[k]
        hist = {"step": np.append(hist_steps[keep], stop_step[k])}
        for key in _HISTORY_KEYS:
            hist[key] = np.append(stacked[key][keep, k], finals[k][key])
        out.append((hist, stop_reason[k], stop_step[k], records[k]))
    return out


def _full_stats(P, pop, groups, wd, x_full, ys, balance0):
    loss, G, _ = _objective_grad(P, pop, groups, wd, x_full, ys)
    pen = _penalty(P, groups, wd)
    drift = ((_balance(P) - balance0).abs() * pop.mask).amax(1)
    return {"loss": loss, "penalty": pen, "objective": loss + pen, "grad_norm": _grad_norm(G),
            "balance_drift": drift}


def _loss_only(P, pop, xs):
    from minnorm.training.population import _predict

    return _predict(P["a"], P["w"], P["b"], P["c"], P["d"], pop.kernel_scale, xs)


def _update(P, G, groups, active, lr, adam, t, betas, eps):
    """One optimizer step on every trained group.

    ``active`` is None when every network is live (fast in-place path); otherwise frozen
    networks keep their parameters exactly (``where``, not a 0-multiply: theirs may be NaN).
    """
    for name, gr in G.items():
        th = P[name]
        lr_b = _bc(lr, th)
        if adam is None:
            step = lr_b * gr
        else:
            m, v = adam[name]
            b1, b2 = betas
            m_new = b1 * m + (1 - b1) * gr
            v_new = b2 * v + (1 - b2) * gr * gr
            # torch.optim.Adam's (single-tensor) formula, so results match it to rounding.
            denom = v_new.sqrt() / math.sqrt(1 - b2 ** t) + eps
            step = (lr_b / (1 - b1 ** t)) * m_new / denom
            if active is None:
                adam[name] = (m_new, v_new)
            else:
                act = _bc(active, m)
                adam[name] = (torch.where(act, m_new, m), torch.where(act, v_new, v))
        if active is None:
            th.sub_(step)
        else:
            th.copy_(torch.where(_bc(active, th), th - step, th))


def _add_noise(P, pop, has_cd, active, noise_sd, gens, noisy, train_first_layer):
    """Langevin term sqrt(2 lr T) xi: one draw per network per step, of exactly its own size,
    from its own generator, in the order a, w, b (if trained), c, d (if present)."""
    names = ["a"] + (["w", "b"] if train_first_layer else [])
    act = active.tolist()
    for k, g in enumerate(gens):
        if not (noisy[k] and act[k]):
            continue
        m = pop.widths[k]
        extra = has_cd[k]
        z = torch.randn(len(names) * m + len(extra), generator=g, device=P["a"].device, dtype=P["a"].dtype)
        sd = noise_sd[k]
        for i, nm in enumerate(names):
            P[nm][k, :m] += sd * z[i * m:(i + 1) * m]
        for i, nm in enumerate(extra):
            P[nm][k] += sd * z[len(names) * m + i]


def _select_backend(backend, pop, *, optimizer, batch_size, temp, eps):
    """The backend that runs: "compiled" where supported (auto), else "torch"; an explicit
    "compiled" on an unsupported configuration is an error naming the reason."""
    if backend == "torch":
        return "torch"
    try:
        from minnorm.training.compiled import supports
    except ImportError as exc:  # numba missing or broken: the torch path still works
        if backend == "compiled":
            raise InputError(f"backend='compiled' needs numba: {exc}") from exc
        return "torch"
    reason = supports(pop, optimizer=optimizer, batch_size=batch_size, temp=temp, eps=eps)
    if reason is None:
        return "compiled"
    if backend == "compiled":
        raise InputError(f"backend='compiled' does not support {reason}; use backend='torch' or 'auto'")
    return "torch"


# ------------------------------------------------------------------------------ public API
def train_population(models, x, y, *, steps, lr, weight_decay=0.0, penalize_bias=False, penalize_affine=False,
                     optimizer="gd", batch_size=None, noise_temperature=0.0, train_first_layer=True, seed=0,
                     log_every=None, tol=None, betas=(0.9, 0.999), eps=1e-8, lr_schedule="constant",
                     lr_final_ratio=None, backend="auto"):
    r"""Train K networks at once, each exactly as :func:`train` would train it alone.

    Same objective and update rule as :func:`train` (the module docstring states them);
    parameters are packed as ``[K, max width]`` tensors (:class:`~minnorm.Population`).

    Parameters
    ----------
    models : sequence of ShallowReLU
        Same dtype and device; widths, skip/output-bias and parametrisations may differ. Trained
        in place.
    x : array_like, shape (n,)
        Shared inputs.
    y : array_like, shape (n,) or (K, n)
        Shared targets, or one target vector per network.
    lr, weight_decay, noise_temperature, seed : scalar or sequence of length K
        Per-network values. ``seed`` seeds network k's own generator (minibatch permutations,
        then noise), so network k sees the same batches and noise as when trained alone.
    steps, penalize_bias, penalize_affine, optimizer, batch_size, train_first_layer, log_every, tol,
    betas, eps, lr_schedule, lr_final_ratio
        As in :func:`train`, shared by all networks (network k's learning rate at step t is
        ``lr[k] * s(t / steps)``).
    backend : {"auto", "torch", "compiled"}
        As in :func:`train`.

    Returns
    -------
    list of TrainResult
        One per network, in order. A network whose loss becomes non-finite is frozen at that
        step with a :class:`TrainingDiverged` record; the others go on.
    """
    if isinstance(models, ShallowReLU):
        raise InputError("models must be a sequence of ShallowReLU; use train() for a single network")
    pop = Population(models)
    K = pop.K
    steps = validate_int(steps, "steps", min_value=0)
    lr_l = _per_network(lr, K, "lr", allow_zero=False)
    wd_l = _per_network(weight_decay, K, "weight_decay")
    temp_l = _per_network(noise_temperature, K, "noise_temperature")
    seed_l = _per_network(seed, K, "seed", seed=True)
    penalize_bias = validate_bool(penalize_bias, "penalize_bias")
    penalize_affine = validate_bool(penalize_affine, "penalize_affine")
    train_first_layer = validate_bool(train_first_layer, "train_first_layer")
    if optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(map(repr, OPTIMIZERS))}")
    xs_sorted, ys_sorted, order = _prepare_data(x, y, K, pop.dtype, pop.device)
    n = xs_sorted.shape[0]
    if batch_size is not None:
        batch_size = validate_int(batch_size, "batch_size", min_value=1, max_value=n)
        if optimizer == "gd" and batch_size != n:
            raise InputError(f"optimizer='gd' is full-batch; got batch_size={batch_size} < n={n} (use 'sgd')")
    if log_every is None:
        log_every = max(1, steps // 200)
    log_every = validate_int(log_every, "log_every", min_value=1)
    if tol is not None:
        tol = validate_positive(tol, "tol", allow_zero=True)
    betas = _check_betas(betas)
    eps = validate_positive(eps, "eps", allow_zero=True)
    lr_schedule, lr_final_ratio = check_lr_schedule(lr_schedule, lr_final_ratio)
    if batch_size is not None and batch_size == n:
        batch_size = None  # one batch of everything is full batch (no permutation needed)
    backend = _select_backend(validate_choice(backend, "backend", BACKENDS), pop, optimizer=optimizer,
                              batch_size=batch_size, temp=temp_l, eps=eps)
    options = dict(steps=steps, lr=lr_l, wd=wd_l, optimizer=optimizer, penalize_bias=bool(penalize_bias),
                   penalize_affine=bool(penalize_affine), train_first_layer=bool(train_first_layer),
                   log_every=log_every, tol=tol, betas=(float(betas[0]), float(betas[1])), eps=eps,
                   lr_schedule=lr_schedule, lr_final_ratio=lr_final_ratio)
    if backend == "compiled":
        from minnorm.training.compiled import run_compiled

        raw = run_compiled(pop, xs_sorted, ys_sorted, **options)
    else:
        raw = _run(pop, xs_sorted, ys_sorted, order, temp=temp_l, seeds=seed_l, batch_size=batch_size, **options)
    results = []
    for k, (hist, reason, done, rec) in enumerate(raw):
        mdl = pop.models[k]
        cfg = {"steps": steps, "lr": lr_l[k], "weight_decay": wd_l[k], "penalize_bias": bool(penalize_bias),
               "penalize_affine": bool(penalize_affine), "optimizer": optimizer, "batch_size": batch_size,
               "noise_temperature": temp_l[k], "train_first_layer": bool(train_first_layer), "seed": seed_l[k],
               "log_every": log_every, "tol": tol, "n": n, "parametrization": mdl.parametrization,
               "lr_schedule": lr_schedule, "lr_final_ratio": lr_final_ratio}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_name, ref_params = limit_reference(mdl, train_first_layer=bool(train_first_layer),
                                                   penalize_bias=bool(penalize_bias),
                                                   penalize_affine=bool(penalize_affine))
        variant = _variant_of(ref_name)
        lam = solver_lam(wd_l[k], n, mdl.width, mdl.parametrization, train_first_layer=bool(train_first_layer),
                         hidden_scale=getattr(mdl, "hidden_scale", 1.0))
        results.append(TrainResult(mdl, hist, reason, done, rec, lam, variant, cfg, ref_name, ref_params,
                                   mdl.init_law, backend))
    return results


def train(model, x, y, *, steps, lr, weight_decay=0.0, penalize_bias=False, penalize_affine=False, optimizer="gd",
          batch_size=None, noise_temperature=0.0, train_first_layer=True, seed=0, log_every=None, tol=None,
          betas=(0.9, 0.999), eps=1e-8, lr_schedule="constant", lr_final_ratio=None, backend="auto"):
    r"""Train one network in place on

    .. math::

        \mathcal L(\theta)=\frac1n\sum_{i=1}^n(f_\theta(x_i)-y_i)^2+\frac{\lambda_{wd}}2\|\theta_{pen}\|^2,

    :math:`\theta_{pen}` = trained params among {a, w} (+ b if ``penalize_bias``; + c, d if
    ``penalize_affine``). Solver-layer equivalent: :math:`\sum(f-y)^2+\mathrm{lam}\,R(f)` with
    ``lam = n*weight_decay`` (standard) or ``n*width*weight_decay`` (mean-field), variant
    :func:`variant_for` (see the module docstring for the derivation and the update rules).
    With ``train_first_layer=False`` the limit is the init law's weighted spline instead, at
    the ``lam`` of :func:`solver_lam` (``result.reference``; :func:`minnorm.solve_limit` solves it).

    Parameters
    ----------
    model : ShallowReLU
    x, y : array_like or Tensor, shape (n,)
        Finite real numbers; any order (the loss does not depend on it; minibatches are drawn as
        index sets of the data as given). Tensors are detached: the data are constants of the
        objective, so a ``requires_grad`` tensor is accepted and no graph is built through it.
        Complex, masked, string and bool data are errors, not silent conversions.
    steps : int
        Number of updates.
    lr : float > 0
        Peak (initial) learning rate.
    weight_decay : float >= 0
        :math:`\lambda_{wd}`, an explicit penalty (not decoupled weight decay).
    penalize_bias : bool
        Put the hidden biases b in the penalty (variants "bias"/"bias-no-skip").
    penalize_affine : bool
        Also penalise the skip slope c and output bias d (torch's default weight decay does,
        with ``penalize_bias=True``). No solver variant corresponds; ``result.variant`` is None.
    optimizer : {"gd", "sgd", "adam"}
        Full-batch GD, minibatch SGD (needs ``batch_size``; without it, it is GD), or Adam
        (full batch unless ``batch_size``).
    batch_size : int, optional
    noise_temperature : float >= 0
        T of the Langevin term :math:`\sqrt{2\eta T}\xi`.
    train_first_layer : bool
        False freezes (w, b): random-features training of (a, c, d) (compare
        :func:`minnorm.random_features_ridge`).
    seed : int
        Seeds minibatch permutations and noise (not the init: that is the model's seed);
        an integer in [0, 2**63 - 1].
    log_every : int, optional
        History interval (default ``max(1, steps // 200)``); the final state is always logged.
    tol : float, optional
        Stop (reason ``"tol"``) when the gradient norm of the objective is <= tol.
    betas, eps : Adam constants (torch's defaults).
    lr_schedule : {"constant", "cosine", "exponential"}
        The step t uses ``lr * s(t / steps)``: s = 1 (constant); cosine annealing from 1 to r
        (torch's ``CosineAnnealingLR(T_max=steps, eta_min=r*lr)``); or ``r**(t/steps)`` (torch's
        ``ExponentialLR(gamma=r**(1/steps))``). It scales every update, Adam's and the Langevin
        term's (:math:`\sqrt{2\eta_t T}`) included; :func:`lr_sequence` lists the values.
        A decaying schedule lowers the noise floor at which constant-lr (Adam, SGD) training
        stalls, so weight-decay training can get much closer to the minimiser of
        :math:`\mathcal L` in the same number of steps.
    lr_final_ratio : float, optional
        r = the factor reached at t = steps: in [0, 1] for cosine, (0, 1] for exponential
        (default 0.01 for both); 1 or omitted for constant.
    backend : {"auto", "torch", "compiled"}
        ``"compiled"`` runs the step loop in the numba kernel of :mod:`minnorm.training.compiled` (CPU,
        float64, full-batch ``"gd"``/``"adam"``, no Langevin noise; anything else is an error);
        ``"torch"`` the tensor implementation (every option, every device); ``"auto"`` (default)
        the compiled one wherever it applies. Both compute the same iterates up to rounding
        (tested to 1e-12 relative); ``result.backend`` says which ran.

    Returns
    -------
    TrainResult
        Divergence (non-finite loss) does not raise: see ``result.diverged`` and
        :meth:`TrainResult.raise_if_diverged`.
    """
    if not isinstance(model, ShallowReLU):
        raise InputError(f"model must be a ShallowReLU; got {type(model).__name__}")
    return train_population([model], x, y, steps=steps, lr=lr, weight_decay=weight_decay,
                            penalize_bias=penalize_bias, penalize_affine=penalize_affine, optimizer=optimizer,
                            batch_size=batch_size, noise_temperature=noise_temperature,
                            train_first_layer=train_first_layer, seed=seed, log_every=log_every, tol=tol,
                            betas=betas, eps=eps, lr_schedule=lr_schedule, lr_final_ratio=lr_final_ratio,
                            backend=backend)[0]


def loss_and_grad(model, x, y, *, weight_decay=0.0, penalize_bias=False, penalize_affine=False,
                  train_first_layer=True, method="analytic"):
    """Objective :math:`\\mathcal L` of :func:`train` (full batch) and its gradient.

    ``method="analytic"`` uses the training kernel (prefix sums over sorted data);
    ``"autograd"`` differentiates the dense forward pass of the module with torch autograd
    (an independent implementation, for checking).

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
    if method == "analytic":
        groups = _Groups(pop, train_first_layer, penalize_bias, penalize_affine)
        wd_t = torch.tensor([wd], dtype=pop.dtype, device=pop.device)
        P = pop.params()
        loss, G, _ = _objective_grad(P, pop, groups, wd_t, xs[None, :], ys)
        obj = float(loss[0] + _penalty(P, groups, wd_t)[0])
        return obj, {nm: G[nm][0].clone() for nm in present}
    params = {nm: getattr(model, nm) for nm in present}
    pen_names = {"a"} | ({"w"} | ({"b"} if penalize_bias else set()) if train_first_layer else set())
    if penalize_affine:
        pen_names |= {"c", "d"}
    with torch.enable_grad():
        f = model(xs)
        obj = ((f - ys[0]) ** 2).mean()
        for nm in pen_names & set(present):
            obj = obj + 0.5 * wd * (params[nm] ** 2).sum()
        grads = torch.autograd.grad(obj, [params[nm] for nm in present])
    return float(obj.detach()), {nm: gr.detach().clone() for nm, gr in zip(present, grads)}
