r"""Training shallow ReLU networks, one network (:func:`train`) or a population at once
(:func:`train_population`): argument checks, data preparation, backend selection and the torch
step loop; the outcome is a :class:`TrainResult` per network.

What is minimised is stated once in :mod:`minnorm.training.objective` (with its map to the solver
layer's ``lam``; :mod:`minnorm.training.limits` names the limit problem), how each step moves the
parameters in :mod:`minnorm.training.optim` (GD, SGD, Adam, Langevin noise, lr schedules). Two
backends run the same iterates up to rounding: :func:`_run` here (torch, every option and device)
and the numba kernel of :mod:`minnorm.training.compiled` (CPU float64: every optimizer, minibatches and Langevin noise).
"""
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from solvers._validation import validate_bool, validate_choice, validate_int, validate_positive, validate_seed
from solvers.errors import InputError

from minnorm.training.limits import _variant_of, limit_reference, solver_lam
from minnorm.training.network import ShallowReLU
from minnorm.training.objective import (_HISTORY_KEYS, _balance, _flat, _full_stats, _Groups, _grad_norm, _history,
                                        _loss_only, _objective_grad, _prepare_data, _stats)
from minnorm.training.optim import _add_noise, _check_betas, _update
from minnorm.training.options import BACKENDS, OPTIMIZERS, check_lr_schedule, lr_factor
from minnorm.training.population import Population

__all__ = ["TrainResult", "TrainingDiverged", "train", "train_population"]


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


# ------------------------------------------------------------------------------ engine
def _run(pop, xs_sorted, ys_sorted, order, *, steps, lr, wd, temp, seeds, optimizer, batch_size, penalize_bias,
         penalize_affine, train_first_layer, log_every, tol, betas, eps, lr_schedule="constant", lr_final_ratio=1.0):
    """The torch training loop behind :func:`train` and :func:`train_population`.

    The trained groups live side by side in one flat tensor [K, T] (``P`` holds views of it), so
    that an update is one pass over all of them. The host reads one value per step (whether a
    network diverged or reached ``tol``; on the rare steps where that happens, its record), on the
    CPU one more for the boundary check (:func:`minnorm.training.population._boundaries`; none on
    an accelerator, where boundaries are counted), and the logged statistics every ``log_every``
    steps.

    Returns, per network, ``(history, stop_reason, steps_done, divergence)``, ``divergence`` None
    or ``(loss, last_finite_loss)`` (as :func:`minnorm.training.compiled.run_compiled` does).
    """
    K, dev, dt = pop.K, pop.device, pop.dtype
    n = xs_sorted.shape[0]
    full_batch = batch_size is None or batch_size >= n
    B = n if full_batch else batch_size
    lr_t = torch.tensor(lr, dtype=dt, device=dev)
    lr_col = lr_t[:, None]
    wd_t = torch.tensor(wd, dtype=dt, device=dev)
    temp_t = torch.tensor(temp, dtype=dt, device=dev)
    noise_sd = torch.sqrt(2.0 * lr_t * temp_t)
    groups = _Groups(pop, train_first_layer, penalize_bias, penalize_affine)
    names = list(groups.trained)
    packed = pop.params()
    theta = _flat(packed, names)  # a copy; P's trained entries are views of it
    P = dict(packed)
    col = 0
    for nm in names:
        size = packed[nm].shape[1] if packed[nm].ndim == 2 else 1
        P[nm] = theta[:, col:col + size] if packed[nm].ndim == 2 else theta[:, col]
        col += size
    gens = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
    noisy = [t > 0 for t in temp]
    has_cd = [[nm for nm in ("c", "d") if float(groups.trained[nm][k]) > 0] for k in range(K)]
    inv = torch.empty_like(order)
    inv[order] = torch.arange(n, device=dev)  # original index -> sorted position
    x_full = xs_sorted.expand(K, n)  # a stride-0 view: the kernel then searches one shared row
    warm = None
    balance0 = _balance(P).clone()
    active = torch.ones(K, dtype=torch.bool, device=dev)
    active_host = [True] * K
    last_finite = torch.full((K,), float("nan"), dtype=dt, device=dev)
    stop_step = [steps] * K
    stop_reason = ["steps"] * K
    divergence = [None] * K
    diverged_rows = {}
    finals = [None] * K
    rows = []  # (step, {key: tensor [K]})
    adam = [torch.zeros_like(theta), torch.zeros_like(theta)] if optimizer == "adam" else None
    nb = -(-n // B)
    perm_pos = None

    def stats(loss_batch, grad):
        loss = loss_batch if full_batch else _loss_only(P, pop, x_full, ys_sorted)
        return _stats(P, pop, groups, wd_t, loss, grad, balance0)

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
        loss_b, G, state = _objective_grad(P, pop, groups, wd_t, xb, yb, warm)
        grad = _flat(G, names)
        if full_batch:
            warm = state
        # Events of this step: divergence (non-finite loss), or convergence (grad norm <= tol).
        bad = active & ~torch.isfinite(loss_b)
        events = bad if tol is None else bad | (active & (_grad_norm(grad) <= tol))
        any_event = bool(events.any())  # the one value the host must read every step
        st = None
        if t % log_every == 0 or any_event:
            st = stats(loss_b, grad)
            if t % log_every == 0:
                rows.append((t, st))
        if any_event:
            for k in torch.nonzero(events).flatten().tolist():
                stop_step[k] = t
                finals[k] = snapshot(st, k)
                active_host[k] = False
                if bool(bad[k]):
                    stop_reason[k] = "diverged"
                    divergence[k] = (float(loss_b[k]), float(last_finite[k]))
                    # Keep its parameters for the module, then zero its rows: a frozen network
                    # is still computed with the others, and must not feed them NaNs.
                    diverged_rows[k] = {nm: P[nm][k].clone() for nm in P}
                    for nm in P:
                        P[nm][k] = 0.0
                    if adam is not None:
                        for tens in adam:
                            tens[k] = 0.0
                else:
                    stop_reason[k] = "tol"
            active = active & ~events
            if not any(active_host):
                break
        last_finite = torch.where(active, loss_b, last_finite)
        factor = lr_factor(lr_schedule, t, steps, lr_final_ratio)
        if factor == 1.0:  # constant schedule: no extra rounding, bit-identical to an unscheduled run
            lr_now, sd_now = lr_col, noise_sd
        else:
            lr_now, sd_now = lr_col * factor, noise_sd * math.sqrt(factor)
        _update(theta, grad, None if all(active_host) else active[:, None], lr_now, adam, t + 1, betas, eps)
        if any(noisy):
            _add_noise(P, pop, has_cd, active_host, sd_now, gens, noisy, train_first_layer)

    # Final state of networks that ran all their steps: full-batch statistics.
    live = [k for k in range(K) if stop_reason[k] == "steps"]
    if live:
        full_stats = _full_stats(P, pop, groups, wd_t, x_full, ys_sorted, balance0)
        for k in live:
            finals[k] = snapshot(full_stats, k)

    with torch.no_grad():
        for nm in names:
            packed[nm].copy_(P[nm])
    pop.write_back(diverged_rows)
    hist_steps = np.array([r[0] for r in rows], dtype=np.int64)
    stacked = {key: torch.stack([r[1][key] for r in rows]).cpu().numpy() if rows else np.zeros((0, K))
               for key in _HISTORY_KEYS}
    return [(_history(hist_steps, stacked, k, stop_step[k], finals[k]), stop_reason[k], stop_step[k], divergence[k])
            for k in range(K)]


def _select_backend(backend, pop, *, optimizer, eps):
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
    reason = supports(pop, optimizer=optimizer, eps=eps)
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

    Same objective and update rule as :func:`train` (:mod:`minnorm.training.objective`,
    :mod:`minnorm.training.optim`);
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
    backend = _select_backend(validate_choice(backend, "backend", BACKENDS), pop, optimizer=optimizer, eps=eps)
    options = dict(steps=steps, lr=lr_l, wd=wd_l, optimizer=optimizer, penalize_bias=bool(penalize_bias),
                   penalize_affine=bool(penalize_affine), train_first_layer=bool(train_first_layer),
                   log_every=log_every, tol=tol, betas=(float(betas[0]), float(betas[1])), eps=eps,
                   lr_schedule=lr_schedule, lr_final_ratio=lr_final_ratio)
    if backend == "compiled":
        from minnorm.training.compiled import run_compiled

        raw = run_compiled(pop, xs_sorted, ys_sorted, order, temp=temp_l, seeds=seed_l, batch_size=batch_size,
                           **options)
    else:
        raw = _run(pop, xs_sorted, ys_sorted, order, temp=temp_l, seeds=seed_l, batch_size=batch_size, **options)
    results = []
    for k, (hist, reason, done, div) in enumerate(raw):
        mdl = pop.models[k]
        rec = None if div is None else TrainingDiverged(done, div[0], div[1], k, lr_l[k])
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
    :func:`variant_for` (:mod:`minnorm.training.objective` derives it,
    :mod:`minnorm.training.optim` states the update rules).
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
        float64, every optimizer, minibatches and Langevin noise; Adam with eps = 0 only when all
        networks have the same width; anything else is an error);
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

