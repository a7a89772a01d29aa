r"""Compiled CPU backend of the population trainer: the whole step loop in one numba kernel.

It runs the SAME algorithm as the torch path (:func:`minnorm.population.loss_grad_kernel` and
``minnorm.training._run``), network by network, with the loop over steps inside compiled code:

- each unit is active on a contiguous range of the sorted data, ``[e, B)`` for ``w > 0`` and
  ``[0, e)`` otherwise; ``e`` is warm-started from the previous step and walked until the sign
  test ``x*w + b > 0`` (mul then add, as in :meth:`ShallowReLU.forward`) agrees, so the active
  set is exactly torch autograd's (relu'(0) = 0);
- the forward pass :math:`f(x_n) = x_n (A_n + c) + B_n + d` comes from difference arrays of
  :math:`\kappa a w` and :math:`\kappa a b` at ``e`` (summed in unit order, then cumulated, as
  ``bincount`` + ``cumsum`` do), the gradient from prefix sums of :math:`g = 2(f-y)/B` and
  :math:`g x` (:mod:`minnorm.population` states the formulas);
- the penalty gradient :math:`\lambda_{wd}\theta_{pen}`, the GD step :math:`\theta-\eta_t\nabla\mathcal L`
  and torch's Adam formula are applied with the torch path's operation order, so the iterates
  agree with it to rounding (the tests ask for 1e-12 relative).

Supported: full-batch ``"gd"`` and ``"adam"`` (eps > 0), every lr schedule (the per-step factors
are computed in Python by ``training._lr_factor`` and passed as an array), penalty groups,
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

__all__ = ["supports", "run_compiled"]

#: stats columns, in the order of training._HISTORY_KEYS
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
def _boundaries(xs, wk, bk, ek, m):
    """Walk each warm-started boundary e_j to where the sign test of x*w + b agrees."""
    B = xs.shape[0]
    for j in range(m):
        w = wk[j]
        b = bk[j]
        e = ek[j]
        if w > 0.0:  # active on [e, B): x_{e-1} inactive, x_e active
            while e < B and not (xs[e] * w + b > 0.0):
                e += 1
            while e > 0 and xs[e - 1] * w + b > 0.0:
                e -= 1
        else:  # active on [0, e) (w = 0: everywhere iff b > 0; NaN: nowhere)
            while e < B and xs[e] * w + b > 0.0:
                e += 1
            while e > 0 and not (xs[e - 1] * w + b > 0.0):
                e -= 1
        ek[j] = e


@njit(cache=True)
def _loss_grad(xs, yk, ak, wk, bk, ck, dk, ek, m, kap, hc, hd, wdk, train_first, pen_b, pen_affine,
               ga, gw, gb, gcd, work):
    """MSE of one network and the gradient of the objective (penalty included, absent c/d masked).

    Returns ``(loss, grad_norm, penalty, balance)`` with ``balance`` unused here (0); fills
    ``ga, gw, gb`` [m] and ``gcd`` [2].
    """
    B = xs.shape[0]
    _boundaries(xs, wk, bk, ek, m)
    cR0 = work[0]
    cR1 = work[1]
    cL0 = work[2]
    cL1 = work[3]
    P1 = work[4]
    P0 = work[5]
    for n in range(B + 1):
        cR0[n] = 0.0
        cR1[n] = 0.0
        cL0[n] = 0.0
        cL1[n] = 0.0
    for j in range(m):
        ka = ak[j] * kap
        if wk[j] > 0.0:
            cR0[ek[j]] += ka * wk[j]
            cR1[ek[j]] += ka * bk[j]
        else:
            cL0[ek[j]] += ka * wk[j]
            cL1[ek[j]] += ka * bk[j]
    c = ck[0]
    d = dk[0]
    # right[n] = sum_{e <= n} cR[e]; left[n] = sum_{e > n} cL[e], summed from e = B down
    # (torch: flip, cumsum, flip); f is evaluated from the top so left can be a running sum.
    fbuf = work[6]
    r0 = 0.0
    r1 = 0.0
    for n in range(B):
        r0 += cR0[n]
        r1 += cR1[n]
        fbuf[n] = r0
        work[7][n] = r1
    l0 = 0.0
    l1 = 0.0
    for n in range(B - 1, -1, -1):
        if n == B - 1:
            l0 = cL0[B]
            l1 = cL1[B]
        else:
            l0 = l0 + cL0[n + 1]
            l1 = l1 + cL1[n + 1]
        fbuf[n] = xs[n] * ((fbuf[n] + l0) + c) + (work[7][n] + l1) + d
    sq = 0.0
    scale = 2.0 / B
    P1[0] = 0.0
    P0[0] = 0.0
    for n in range(B):
        r = fbuf[n] - yk[n]
        sq += r * r
        g = r * scale
        P1[n + 1] = P1[n] + g * xs[n]
        P0[n + 1] = P0[n] + g
    loss = sq / B
    gn = 0.0
    pen = 0.0
    for j in range(m):
        e = ek[j]
        if wk[j] > 0.0:
            S1 = P1[B] - P1[e]
            S0 = P0[B] - P0[e]
        else:
            S1 = P1[e]
            S0 = P0[e]
        g_a = kap * (wk[j] * S1 + bk[j] * S0) + wdk * ak[j]
        ga[j] = g_a
        gn += g_a * g_a
        pen += ak[j] * ak[j]
        if train_first:
            sa = kap * ak[j]
            g_w = sa * S1 + wdk * wk[j]
            g_b = sa * S0
            if pen_b:
                g_b = g_b + wdk * bk[j]
                pen += bk[j] * bk[j]
            pen += wk[j] * wk[j]
            gw[j] = g_w
            gb[j] = g_b
            gn += g_w * g_w + g_b * g_b
    g_c = P1[B]
    g_d = P0[B]
    if pen_affine:
        g_c = g_c + wdk * c
        g_d = g_d + wdk * d
        pen += (c * hc) * (c * hc) + (d * hd) * (d * hd)
    g_c = g_c * hc
    g_d = g_d * hd
    gcd[0] = g_c
    gcd[1] = g_d
    gn += g_c * g_c + g_d * g_d
    return loss, math.sqrt(gn), 0.5 * wdk * pen


@njit(cache=True)
def _drift(ak, wk, bk, b0k, m):
    """max_j |Delta_j - Delta_j(0)|, Delta = a^2 - w^2 - b^2 (NaN if any is NaN, like torch.amax)."""
    out = 0.0
    for j in range(m):
        v = abs(ak[j] ** 2 - wk[j] ** 2 - bk[j] ** 2 - b0k[j])
        if v != v:
            return v
        if v > out:
            out = v
    return out


@njit(cache=True)
def _run_chunk(xs, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr, wd, factors, bc1, sbc2,
               t_begin, t_end, steps, log_every, tol, use_tol, adam, beta1, beta2, eps,
               train_first, pen_b, pen_affine, ma, va, mw, vw, mb, vb, mcd, vcd,
               balance0, active, stop_step, stop_code, last_finite, log_stats, final_stats):
    """Steps ``t_begin..t_end-1`` of every active network (and its final statistics at the end)."""
    K = a.shape[0]
    B = xs.shape[0]
    M = a.shape[1]
    work = np.empty((8, B + 1))
    ga = np.empty(M)
    gw = np.empty(M)
    gb = np.empty(M)
    gcd = np.empty(2)
    om1 = 1.0 - beta1
    om2 = 1.0 - beta2
    for k in range(K):
        if not active[k]:
            continue
        m = widths[k]
        ak = a[k]
        wk = w[k]
        bk = b[k]
        ck = c[k:k + 1]
        dk = d[k:k + 1]
        ek = e[k]
        kap = kappa[k]
        hc = has_c[k]
        hd = has_d[k]
        wdk = wd[k]
        for t in range(t_begin, t_end):
            loss, gn, pen = _loss_grad(xs, ys[k], ak, wk, bk, ck, dk, ek, m, kap, hc, hd, wdk, train_first,
                                       pen_b, pen_affine, ga, gw, gb, gcd, work)
            bad = not np.isfinite(loss)
            stop = bad or (use_tol and gn <= tol)
            if t % log_every == 0 or stop:
                row = final_stats[k] if stop else log_stats[t // log_every, k]
                row[0] = loss
                row[1] = pen
                row[2] = loss + pen
                row[3] = gn
                row[4] = _drift(ak, wk, bk, balance0[k], m)
                if stop:
                    active[k] = False
                    stop_step[k] = t
                    stop_code[k] = _CODE_DIVERGED if bad else _CODE_TOL
                    if not bad:
                        last_finite[k] = loss
                    break
            last_finite[k] = loss
            lr_now = lr[k] * factors[t]
            if adam:
                # torch.optim.Adam's single-tensor formula, operation by operation
                step_lr = lr_now / bc1[t]
                s2 = sbc2[t]
                for j in range(m):
                    mj = beta1 * ma[k, j] + om1 * ga[j]
                    vj = beta2 * va[k, j] + om2 * ga[j] * ga[j]
                    ma[k, j] = mj
                    va[k, j] = vj
                    ak[j] = ak[j] - step_lr * mj / (math.sqrt(vj) / s2 + eps)
                    if train_first:
                        mj = beta1 * mw[k, j] + om1 * gw[j]
                        vj = beta2 * vw[k, j] + om2 * gw[j] * gw[j]
                        mw[k, j] = mj
                        vw[k, j] = vj
                        wk[j] = wk[j] - step_lr * mj / (math.sqrt(vj) / s2 + eps)
                        mj = beta1 * mb[k, j] + om1 * gb[j]
                        vj = beta2 * vb[k, j] + om2 * gb[j] * gb[j]
                        mb[k, j] = mj
                        vb[k, j] = vj
                        bk[j] = bk[j] - step_lr * mj / (math.sqrt(vj) / s2 + eps)
                for i in range(2):
                    mj = beta1 * mcd[k, i] + om1 * gcd[i]
                    vj = beta2 * vcd[k, i] + om2 * gcd[i] * gcd[i]
                    mcd[k, i] = mj
                    vcd[k, i] = vj
                    upd = step_lr * mj / (math.sqrt(vj) / s2 + eps)
                    if i == 0:
                        ck[0] = ck[0] - upd
                    else:
                        dk[0] = dk[0] - upd
            else:
                for j in range(m):
                    ak[j] = ak[j] - lr_now * ga[j]
                    if train_first:
                        wk[j] = wk[j] - lr_now * gw[j]
                        bk[j] = bk[j] - lr_now * gb[j]
                ck[0] = ck[0] - lr_now * gcd[0]
                dk[0] = dk[0] - lr_now * gcd[1]
        if active[k] and t_end == steps:
            loss, gn, pen = _loss_grad(xs, ys[k], ak, wk, bk, ck, dk, ek, m, kap, hc, hd, wdk, train_first,
                                       pen_b, pen_affine, ga, gw, gb, gcd, work)
            row = final_stats[k]
            row[0] = loss
            row[1] = pen
            row[2] = loss + pen
            row[3] = gn
            row[4] = _drift(ak, wk, bk, balance0[k], m)
            stop_step[k] = steps
            stop_code[k] = _CODE_STEPS


def run_compiled(pop, xs_sorted, ys_sorted, *, steps, lr, wd, optimizer, penalize_bias, penalize_affine,
                 train_first_layer, log_every, tol, betas, eps, lr_schedule, lr_final_ratio):
    """``training._run`` on the compiled backend: the same list of ``(history, stop_reason, steps_done,
    diverged_record)`` per network. Updates ``pop``'s packed parameters and writes them back."""
    from .training import _HISTORY_KEYS, TrainingDiverged, _lr_factor

    K, M = pop.K, pop.M
    np_ = {nm: t.detach().numpy() for nm, t in pop.params().items()}  # views: updated in place
    a, w, b, c, d = (np_[nm] for nm in ("a", "w", "b", "c", "d"))
    xs = np.ascontiguousarray(xs_sorted.numpy())
    ys = np.ascontiguousarray(ys_sorted.numpy())
    n = xs.shape[0]
    widths = np.array(pop.widths, dtype=np.int64)
    kappa = pop.scale.numpy().astype(np.float64)
    has_c = pop.has_c.numpy().astype(np.float64)
    has_d = pop.has_d.numpy().astype(np.float64)
    lr_a = np.array(lr, dtype=np.float64)
    wd_a = np.array(wd, dtype=np.float64)
    factors = np.array([_lr_factor(lr_schedule, t, steps, lr_final_ratio) for t in range(steps)], dtype=np.float64)
    b1, b2 = float(betas[0]), float(betas[1])
    bc1 = np.array([1 - b1 ** (t + 1) for t in range(steps)], dtype=np.float64)
    sbc2 = np.array([math.sqrt(1 - b2 ** (t + 1)) for t in range(steps)], dtype=np.float64)
    adam = optimizer == "adam"
    zeros = (lambda: np.zeros((K, M))) if adam else (lambda: np.zeros((1, 1)))
    ma, va, mw, vw, mb, vb = (zeros() for _ in range(6))
    mcd, vcd = (np.zeros((K, 2)) if adam else np.zeros((1, 1)) for _ in range(2))
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
    out = []
    for k in range(K):
        keep = hist_steps < stop_step[k]
        hist = {"step": np.append(hist_steps[keep], stop_step[k])}
        for i, key in enumerate(_HISTORY_KEYS):
            hist[key] = np.append(log_stats[keep, k, i], final_stats[k, i])
        reason = reasons[int(stop_code[k])]
        rec = None
        if reason == "diverged":
            rec = TrainingDiverged(int(stop_step[k]), float(final_stats[k, 0]), float(last_finite[k]), k, lr[k])
        out.append((hist, reason, int(stop_step[k]), rec))
    return out
