r"""Compiled CPU backend of the population trainer: the whole step loop in one numba kernel.

It runs the SAME algorithm as the torch path (:func:`minnorm.training.population.loss_grad_kernel` and
``minnorm.training.loop._run``, with :mod:`minnorm.training.objective` and
:mod:`minnorm.training.optim`), network by network, with the loop over steps inside compiled code:

- each unit is active on a contiguous range of the sorted data, ``[e, B)`` for ``w > 0`` and
  ``[0, e)`` otherwise; ``e`` is warm-started from the previous step and walked until the sign
  test ``x*w + b > 0`` (mul then add, as in :meth:`ShallowReLU.forward`) agrees, so the active
  set is exactly torch autograd's (relu'(0) = 0);
- the forward pass :math:`f(x_n) = x_n (A_n + c) + B_n + d` comes from difference arrays of
  :math:`\kappa a w` and :math:`\kappa a b` at ``e`` (summed in unit order, then cumulated, as
  ``bincount`` + ``cumsum`` do), the gradient from prefix sums of :math:`g = 2(f-y)/B` and
  :math:`g x` (:mod:`minnorm.training.population` states the formulas);
- the penalty gradient :math:`\lambda_{wd}\theta_{pen}`, the GD step :math:`\theta-\eta_t\nabla\mathcal L`
  and torch's Adam formula are applied with the torch path's operation order, so the iterates
  agree with it to rounding (the tests ask for 1e-12 relative).

Supported: full-batch ``"gd"`` and ``"adam"`` (eps > 0), every lr schedule (the per-step factors
are computed in Python by ``options.lr_factor`` and passed as an array), penalty groups,
skip / output bias present or not, standard and mean-field parametrisation, frozen first layer,
``tol`` and divergence stops at the exact step, float64 on CPU. Everything else (minibatch SGD,
Langevin noise, CUDA, float32) stays on the torch path (:func:`supports`).

Statistics (loss, penalty, objective, grad norm, balance drift) of the parameters *before* the
update are written at every step ``t`` with ``t % log_every == 0``; the kernel is called in
chunks of whole log intervals so that a long run returns to Python (and to Ctrl-C) regularly.
"""

import math

import numpy as np
import torch
from numba import njit

from minnorm.training.objective import _HISTORY_KEYS, _history
from minnorm.training.optim import _adam_bias_correction
from minnorm.training.options import lr_factor
from minnorm.training.population import _NAMES

__all__ = ["supports", "run_compiled"]

#: stats columns, in the order of objective._HISTORY_KEYS
_N_STATS = 5
_CODE_STEPS, _CODE_TOL, _CODE_DIVERGED = 0, 1, 2
#: steps per kernel call (rounded up to whole log intervals): long enough that the call overhead
#: is negligible, short enough to return to the interpreter about every few ms
_CHUNK_STEPS = 2048


def supports(pop, *, optimizer, batch_size, temp, eps):
    """None if the compiled backend runs this configuration exactly, else the reason it does not."""
    if pop.device.type != "cpu":
        return f"device {pop.device} (the compiled backend is CPU only)"
    if pop.dtype != torch.float64:
        return f"dtype {pop.dtype} (the compiled backend is float64 only)"
    if optimizer not in ("gd", "adam"):
        return f"optimizer {optimizer!r} (compiled: 'gd' and 'adam')"
    if batch_size is not None:
        return "minibatches (batch_size < n)"
    if any(t > 0 for t in temp):
        return "Langevin noise (noise_temperature > 0)"
    if optimizer == "adam" and not eps > 0:
        return "Adam with eps = 0"
    return None


@njit(cache=True)
def _forward(xs, yk, ak, wk, bk, c, d, ek, idx, m, kap, work):
    """Boundaries, forward pass and the tables of active-range sums of one network; returns the MSE.

    Each boundary e_j is walked from its warm start until the sign test agrees: the points left
    of e are those where (x*w + b > 0) differs from (w > 0), a prefix in both facings. Unit j is
    binned at ``idx_j = e_j`` (w > 0) or ``B+1+e_j``; after the call ``work[4][idx_j]`` and
    ``work[5][idx_j]`` are the sums of g*x and g over its active range.
    """
    B = xs.shape[0]
    nb = B + 1
    c0 = work[0]
    c1 = work[1]
    for i in range(2 * nb):
        c0[i] = 0.0
        c1[i] = 0.0
    for j in range(m):
        w = wk[j]
        b = bk[j]
        e = ek[j]
        pos = w > 0.0
        while e < B and (xs[e] * w + b > 0.0) != pos:
            e += 1
        while e > 0 and (xs[e - 1] * w + b > 0.0) == pos:
            e -= 1
        ek[j] = e
        i = e if pos else e + nb
        idx[j] = i
        ka = ak[j] * kap
        c0[i] += ka * w
        c1[i] += ka * b
    # right[n] = sum_{e <= n} (right-facing bins), left[n] = sum_{e > n} (left-facing bins) summed
    # from e = B down, as torch's cumsum and flip-cumsum-flip do.
    fb = work[2]
    gb = work[3]
    r0 = 0.0
    r1 = 0.0
    for n in range(B):
        r0 += c0[n]
        r1 += c1[n]
        fb[n] = r0
        gb[n] = r1
    l0 = c0[nb + B]
    l1 = c1[nb + B]
    for n in range(B - 1, -1, -1):
        if n < B - 1:
            l0 = l0 + c0[nb + n + 1]
            l1 = l1 + c1[nb + n + 1]
        fb[n] = xs[n] * ((fb[n] + l0) + c) + (gb[n] + l1) + d
    sq = 0.0
    scale = 2.0 / B
    T1 = work[4]
    T0 = work[5]
    p1 = 0.0
    p0 = 0.0
    T1[nb] = 0.0
    T0[nb] = 0.0
    for n in range(B):
        r = fb[n] - yk[n]
        sq += r * r
        g = r * scale
        p1 = p1 + g * xs[n]
        p0 = p0 + g
        T1[nb + n + 1] = p1
        T0[nb + n + 1] = p0
    for i in range(nb):  # right-facing: P[B] - P[e]
        T1[i] = p1 - T1[nb + i]
        T0[i] = p0 - T0[nb + i]
    return sq / B


# The per-entry helpers take and return scalars only: an array argument costs a reference count
# increment and decrement per call, which made the per-unit loops ~6x slower when tried.
@njit(cache=True)
def _unit_grad(aj, wj, bj, S1, S0, kap, wdk, train_first, pen_b):
    """Unit j's objective gradient ``(g_a, g_w, g_b)`` from its active-range sums S1 (of g x) and
    S0 (of g): the kernel's formulas plus the penalty, in the torch path's operation order
    (``g_w = g_b = 0`` for a frozen first layer)."""
    g_a = kap * (wj * S1 + bj * S0) + wdk * aj
    g_w = 0.0
    g_b = 0.0
    if train_first:
        sa = kap * aj
        g_w = sa * S1 + wdk * wj
        g_b = sa * S0
        if pen_b:
            g_b = g_b + wdk * bj
    return g_a, g_w, g_b


@njit(cache=True)
def _gd_units(ak, wk, bk, idx, T1, T0, m, kap, wdk, lr_now, pen_b):
    """The common step (GD, both layers, no statistics): the general loop's operations without its
    branches, as one loop without loop-carried dependencies (10-20 % faster per GD step, measured)."""
    for j in range(m):
        i = idx[j]
        aj = ak[j]
        wj = wk[j]
        bj = bk[j]
        g_a, g_w, g_b = _unit_grad(aj, wj, bj, T1[i], T0[i], kap, wdk, True, pen_b)
        ak[j] = aj - lr_now * g_a
        wk[j] = wj - lr_now * g_w
        bk[j] = bj - lr_now * g_b


@njit(cache=True)
def _adam(p, g, mj, vj, b1, om1, b2, om2, step_lr, s2, eps):
    """torch.optim.Adam's single-tensor formula for one entry, operation by operation: the new
    ``(p, m, v)`` from the old moments ``mj, vj``."""
    mj = b1 * mj + om1 * g
    vj = b2 * vj + om2 * g * g
    return p - step_lr * mj / (math.sqrt(vj) / s2 + eps), mj, vj


@njit(cache=True)
def _run_chunk(xs, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr, wd, factors, bc1, sbc2,
               t_begin, t_end, steps, log_every, tol, use_tol, adam, beta1, beta2, eps,
               train_first, pen_b, pen_affine, ma, va, mw, vw, mb, vb, mcd, vcd,
               balance0, active, stop_step, stop_code, last_finite, log_stats, final_stats):
    """Steps ``t_begin..t_end-1`` of every active network (and its final statistics at the end).

    One thread: ``parallel=True`` with ``prange`` over networks compiled in ~40 s instead of ~7 s
    and was not measurably faster on the 2-core machine type.
    """
    K = a.shape[0]
    for k in range(K):
        if active[k]:
            if adam:
                _run_network(k, xs, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr, wd, factors, bc1,
                             sbc2, t_begin, t_end, steps, log_every, tol, use_tol, adam, beta1, beta2, eps,
                             train_first, pen_b, pen_affine, ma[k], va[k], mw[k], vw[k], mb[k], vb[k], mcd[k],
                             vcd[k], balance0, active, stop_step, stop_code, last_finite, log_stats, final_stats)
            else:
                _run_network(k, xs, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr, wd, factors, bc1,
                             sbc2, t_begin, t_end, steps, log_every, tol, use_tol, adam, beta1, beta2, eps,
                             train_first, pen_b, pen_affine, ma[0], va[0], mw[0], vw[0], mb[0], vb[0], mcd[0],
                             vcd[0], balance0, active, stop_step, stop_code, last_finite, log_stats, final_stats)


@njit(cache=True)
def _run_network(k, xs, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr, wd, factors, bc1, sbc2,
                 t_begin, t_end, steps, log_every, tol, use_tol, adam, beta1, beta2, eps,
                 train_first, pen_b, pen_affine, mak, vak, mwk, vwk, mbk, vbk, mcdk, vcdk,
                 balance0, active, stop_step, stop_code, last_finite, log_stats, final_stats):
    """Steps ``t_begin..t_end-1`` of network k (and its final statistics when ``t_end == steps``).

    Per step: the MSE, the objective's gradient (penalty included, absent c/d masked), the
    statistics when logging, the stop checks, the update. Without ``tol`` the update is fused
    into the gradient loop (the step only needs this unit's gradient); with ``tol`` it waits for
    the gradient norm. ``mak ... vcdk`` are network k's Adam moments (dummies for GD).
    """
    B = xs.shape[0]
    M = a.shape[1]
    nb = B + 1
    work = np.empty((6, 2 * nb))
    idx = np.empty(M, dtype=np.int64)
    ga = np.empty(M)
    gw = np.empty(M)
    gb = np.empty(M)
    om1 = 1.0 - beta1
    om2 = 1.0 - beta2
    T1 = work[4]
    T0 = work[5]
    m = widths[k]
    ak = a[k]
    wk = w[k]
    bk = b[k]
    ck = c[k:k + 1]
    dk = d[k:k + 1]
    ek = e[k]
    yk = ys[k]
    b0k = balance0[k]
    kap = kappa[k]
    hc = has_c[k]
    hd = has_d[k]
    wdk = wd[k]
    t = t_begin
    while t <= t_end:
        final = t == steps
        if t == t_end and not final:
            break
        c_ = ck[0]
        d_ = dk[0]
        loss = _forward(xs, yk, ak, wk, bk, c_, d_, ek, idx, m, kap, work)
        bad = not np.isfinite(loss)
        logged = t % log_every == 0
        # with tol, any step may be the last one: its statistics are needed before the check
        log_now = final or bad or use_tol or logged
        fused = not (use_tol or bad or final)
        lr_now = 0.0
        step_lr = 0.0
        s2 = 1.0
        if not final:
            lr_now = lr[k] * factors[t]
            if adam:
                step_lr = lr_now / bc1[t]
                s2 = sbc2[t]
        gn = 0.0
        pen = 0.0
        drift = 0.0
        m_loop = m
        if fused and not adam and not log_now and train_first:
            _gd_units(ak, wk, bk, idx, T1, T0, m, kap, wdk, lr_now, pen_b)
            m_loop = 0
        for j in range(m_loop):
            i = idx[j]
            aj = ak[j]
            wj = wk[j]
            bj = bk[j]
            g_a, g_w, g_b = _unit_grad(aj, wj, bj, T1[i], T0[i], kap, wdk, train_first, pen_b)
            if log_now:  # the norm's serial sum is the loop's longest dependency chain: only when needed
                gn += g_a * g_a
                if train_first:
                    gn += g_w * g_w + g_b * g_b
                pen += aj * aj
                if train_first:
                    pen += wj * wj
                    if pen_b:
                        pen += bj * bj
                v = abs(aj ** 2 - wj ** 2 - bj ** 2 - b0k[j])
                if v > drift or v != v:  # NaN propagates, as in torch.amax
                    drift = v if drift == drift else drift
            if fused:
                if adam:
                    ak[j], mak[j], vak[j] = _adam(aj, g_a, mak[j], vak[j], beta1, om1, beta2, om2, step_lr, s2, eps)
                    if train_first:
                        wk[j], mwk[j], vwk[j] = _adam(wj, g_w, mwk[j], vwk[j], beta1, om1, beta2, om2, step_lr, s2,
                                                      eps)
                        bk[j], mbk[j], vbk[j] = _adam(bj, g_b, mbk[j], vbk[j], beta1, om1, beta2, om2, step_lr, s2,
                                                      eps)
                else:
                    ak[j] = aj - lr_now * g_a
                    if train_first:
                        wk[j] = wj - lr_now * g_w
                        bk[j] = bj - lr_now * g_b
            else:
                ga[j] = g_a
                gw[j] = g_w
                gb[j] = g_b
        g_c = T1[nb + B]
        g_d = T0[nb + B]
        if pen_affine:
            g_c = g_c + wdk * c_
            g_d = g_d + wdk * d_
            if log_now:
                pen += (c_ * hc) * (c_ * hc) + (d_ * hd) * (d_ * hd)
        g_c = g_c * hc
        g_d = g_d * hd
        gn += g_c * g_c + g_d * g_d
        gn = math.sqrt(gn)
        stop = bad or (use_tol and gn <= tol)
        if stop or final or logged:
            row = final_stats[k] if (stop or final) else log_stats[t // log_every, k]
            pen = 0.5 * wdk * pen
            row[0] = loss
            row[1] = pen
            row[2] = loss + pen
            row[3] = gn
            row[4] = drift
        if final or stop:
            stop_step[k] = t
            stop_code[k] = _CODE_STEPS if not stop else (_CODE_DIVERGED if bad else _CODE_TOL)
            if stop:
                active[k] = False
            break
        last_finite[k] = loss
        if not fused:
            for j in range(m):
                if adam:
                    ak[j], mak[j], vak[j] = _adam(ak[j], ga[j], mak[j], vak[j], beta1, om1, beta2, om2, step_lr, s2,
                                                  eps)
                    if train_first:
                        wk[j], mwk[j], vwk[j] = _adam(wk[j], gw[j], mwk[j], vwk[j], beta1, om1, beta2, om2, step_lr,
                                                      s2, eps)
                        bk[j], mbk[j], vbk[j] = _adam(bk[j], gb[j], mbk[j], vbk[j], beta1, om1, beta2, om2, step_lr,
                                                      s2, eps)
                else:
                    ak[j] = ak[j] - lr_now * ga[j]
                    if train_first:
                        wk[j] = wk[j] - lr_now * gw[j]
                        bk[j] = bk[j] - lr_now * gb[j]
        if adam:
            ck[0], mcdk[0], vcdk[0] = _adam(c_, g_c, mcdk[0], vcdk[0], beta1, om1, beta2, om2, step_lr, s2, eps)
            dk[0], mcdk[1], vcdk[1] = _adam(d_, g_d, mcdk[1], vcdk[1], beta1, om1, beta2, om2, step_lr, s2, eps)
        else:
            ck[0] = c_ - lr_now * g_c
            dk[0] = d_ - lr_now * g_d
        t += 1


def run_compiled(pop, xs_sorted, ys_sorted, *, steps, lr, wd, optimizer, penalize_bias, penalize_affine,
                 train_first_layer, log_every, tol, betas, eps, lr_schedule, lr_final_ratio):
    """``loop._run`` on the compiled backend: the same list of ``(history, stop_reason, steps_done,
    divergence)`` per network (``divergence`` None or ``(loss, last_finite_loss)``). Updates ``pop``'s
    packed parameters and writes them back."""
    K, M = pop.K, pop.M
    np_ = {nm: t.detach().numpy() for nm, t in pop.params().items()}  # views: updated in place
    a, w, b, c, d = (np_[nm] for nm in _NAMES)
    xs = np.ascontiguousarray(xs_sorted.numpy())
    ys = np.ascontiguousarray(ys_sorted.numpy())
    widths = np.array(pop.widths, dtype=np.int64)
    kappa = pop.scale.numpy().astype(np.float64)
    has_c = pop.has_c.numpy().astype(np.float64)
    has_d = pop.has_d.numpy().astype(np.float64)
    lr_a = np.array(lr, dtype=np.float64)
    wd_a = np.array(wd, dtype=np.float64)
    # The schedule factors and Adam's bias corrections with the torch path's own Python
    # arithmetic (same values to the last bit); a constant schedule is exactly 1.
    if lr_schedule == "constant":
        factors = np.ones(steps)
    else:
        factors = np.array([lr_factor(lr_schedule, t, steps, lr_final_ratio) for t in range(steps)], dtype=np.float64)
    b1, b2 = float(betas[0]), float(betas[1])
    adam = optimizer == "adam"
    n_bc = steps if adam else 0
    corrections = [_adam_bias_correction(b1, b2, t + 1) for t in range(n_bc)]
    bc1 = np.array([bc[0] for bc in corrections], dtype=np.float64)
    sbc2 = np.array([bc[1] for bc in corrections], dtype=np.float64)
    zeros = (lambda: np.zeros((K, M))) if adam else (lambda: np.zeros((1, 1)))
    ma, va, mw, vw, mb, vb = (zeros() for _ in range(6))
    mcd, vcd = (np.zeros((K, 2)) if adam else np.zeros((1, 2)) for _ in range(2))
    e = np.zeros((K, M), dtype=np.int64)
    balance0 = a ** 2 - w ** 2 - b ** 2
    active = np.ones(K, dtype=np.bool_)
    stop_step = np.full(K, steps, dtype=np.int64)
    stop_code = np.zeros(K, dtype=np.int64)
    last_finite = np.full(K, np.nan)
    n_rows = -(-steps // log_every)
    log_stats = np.full((n_rows, K, _N_STATS), np.nan)
    final_stats = np.full((K, _N_STATS), np.nan)
    use_tol = tol is not None
    chunk = log_every * max(1, -(-_CHUNK_STEPS // log_every))
    t0 = 0
    while True:
        t1 = min(steps, t0 + chunk)
        _run_chunk(xs, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr_a, wd_a, factors, bc1, sbc2,
                   t0, t1, steps, log_every, float(tol) if use_tol else 0.0, use_tol, adam, b1, b2, float(eps),
                   bool(train_first_layer), bool(penalize_bias), bool(penalize_affine), ma, va, mw, vw, mb, vb,
                   mcd, vcd, balance0, active, stop_step, stop_code, last_finite, log_stats, final_stats)
        t0 = t1
        if t0 >= steps or not active.any():
            break
    pop.write_back()
    hist_steps = np.arange(0, steps, log_every, dtype=np.int64)
    reasons = {_CODE_STEPS: "steps", _CODE_TOL: "tol", _CODE_DIVERGED: "diverged"}
    logged = {key: log_stats[:, :, i] for i, key in enumerate(_HISTORY_KEYS)}
    out = []
    for k in range(K):
        final = dict(zip(_HISTORY_KEYS, final_stats[k]))
        reason = reasons[int(stop_code[k])]
        div = (float(final_stats[k, 0]), float(last_finite[k])) if reason == "diverged" else None
        out.append((_history(hist_steps, logged, k, int(stop_step[k]), final), reason, int(stop_step[k]), div))
    return out
