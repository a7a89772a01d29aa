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

Supported: every optimizer of the torch path (``"gd"``, minibatch ``"sgd"``, ``"adam"``, full
batch or minibatches), Langevin noise, every lr schedule (the per-step factors are computed in
Python by ``options.lr_factor`` and passed as an array), penalty groups, skip / output bias
present or not, standard and mean-field parametrisation, frozen first layer, ``tol`` and
divergence stops at the exact step, float64 on CPU. CUDA, float32, and Adam with eps = 0 in a
population of different widths stay on the torch path (:func:`supports`).

Random draws: the minibatch permutations and the Langevin noise are drawn in Python by
:class:`_Draws` with the torch path's own generator calls, in its order, a chunk of steps ahead,
and passed to the kernel as arrays (at most ``_DRAW_BYTES`` per chunk), so that both backends
see the same batches and the same noise. Their cost is torch's and Python's, not the kernel's
(process CPU time, K = 1, m = 400, n = 10, shared 2-core machine): a GD step 3.9 µs; with
noise 64 µs, of which torch's ``normal_`` on the 1202 entries is 58.6 µs (49 ns per entry);
minibatches of 4 without noise 15.5 µs (about 35 µs per epoch and network for ``randperm``,
the index map and sorting the batches).

Compile cost (numba 0.68, one kernel signature serves gd, sgd, adam, noise and minibatches;
CPU seconds of a fresh process on the 2-core machine type, measured with time.process_time
around the first and second ``train()`` call, the machine shared): compiling into an empty
cache 10.2 s (gd, adam) to 11.1 s (sgd with noise; includes torch's first randperm/normal_),
paid once per source version; loading from the disk cache 0.52-0.57 s per process. The cache
is where numba puts it (``_jit``): ``NUMBA_CACHE_DIR``, ``__pycache__`` beside this file, or
``~/.cache/numba`` when the package is read-only (checked on a read-only bind mount); with no
writable place at all the kernels compile in every process, with a warning.

Threads: networks share no written state, so with ``torch.get_num_threads() > 1`` (and K > 1)
the networks are split into that many strides, each run by :func:`_run_chunk` in a Python thread
(the kernels release the GIL); the iterates are bit-for-bit those of one thread (tested). Sweep
workers set one thread each. On the 2-core machine type this about halved the step time of every
K > 1 row of ``benchmarks/bench_training.py --table`` (e.g. 95 -> 52 µs at K = 14, m = 400,
n = 10, and 1195 -> 555 µs at K = 64, m = 1000, n = 20; medians of three runs), at no compile
cost. Numba's ``prange`` over networks was tried first, on an earlier and smaller kernel: it
compiled in ~40 s instead of ~7 s, and no gain was measured on 2 cores. Contiguous blocks instead
of strides (against false sharing of the per-step writes of c[k], d[k]) were 18 % slower at
K = 64, m = 1000 and 12 % faster at K = 64, m = 100 (GD, medians of three runs), not separable
from the machine's drift, so the strides stay.

Statistics (loss, penalty, objective, grad norm, balance drift) of the parameters *before* the
update are written at every step ``t`` with ``t % log_every == 0`` (as on the torch path, the
loss is the full-data MSE and the grad norm the minibatch gradient's); the kernel is called in
chunks of about ``_CHUNK_STEPS`` steps (fewer where the draws would exceed ``_DRAW_BYTES``), so
that a long run returns to Python (and to Ctrl-C) regularly.
"""

import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from numba import njit

from minnorm.training.objective import _HISTORY_KEYS, _history
from minnorm.training.population import _NAMES

__all__ = ["supports", "run_compiled"]

# IEEE x/0 = inf or nan (as torch), not ZeroDivisionError; nogil so that networks can run in threads
_JIT_OPTIONS = {"error_model": "numpy", "nogil": True}
_cache = [True]


def _jit(func):
    """``numba.njit`` with IEEE division (numba's default tests every divisor, to raise) and no
    fastmath (it would reorder the arithmetic), cached on disk where numba finds a writable
    place: ``NUMBA_CACHE_DIR``, else ``__pycache__`` next to this file, else the user's cache
    directory (``~/.cache/numba``). Where none is writable numba refuses ``cache=True`` at
    decoration time (RuntimeError); the kernels are then compiled in every process, with a warning."""
    if _cache[0]:
        try:
            return njit(cache=True, **_JIT_OPTIONS)(func)
        except RuntimeError as exc:
            if "cannot cache" not in str(exc):
                raise
            _cache[0] = False
            warnings.warn(f"minnorm's compiled trainer cannot cache its kernels ({exc}); they are compiled "
                          "in every process (seconds): set NUMBA_CACHE_DIR to a writable directory",
                          RuntimeWarning, stacklevel=2)
    return njit(**_JIT_OPTIONS)(func)

#: stats columns, in the order of objective._HISTORY_KEYS
_N_STATS = 5
_CODE_STEPS, _CODE_TOL, _CODE_DIVERGED = 0, 1, 2
#: steps per kernel call (rounded up to whole log intervals): long enough that the call overhead
#: is negligible, short enough to return to the interpreter about every few ms
_CHUNK_STEPS = 2048
#: at most this many bytes of random draws (minibatch permutations, Langevin noise) per chunk
_DRAW_BYTES = 64 * 2**20


def supports(pop, *, optimizer, eps):
    """None if the compiled backend runs this configuration exactly, else the reason it does not
    (every optimizer, minibatch size and noise temperature is supported)."""
    if pop.device.type != "cpu":
        return f"device {pop.device} (the compiled backend is CPU only)"
    if pop.dtype != torch.float64:
        return f"dtype {pop.dtype} (the compiled backend is float64 only)"
    if optimizer == "adam" and not eps > 0 and len(set(pop.widths)) > 1:
        # eps = 0 makes Adam's step 0/0 = NaN wherever a gradient entry is exactly 0; the torch
        # path also takes steps on the padding units of narrower networks, which then turn NaN.
        return "Adam with eps = 0 on networks of different widths"
    return None


@_jit
def _forward(xp, yk, ak, wk, bk, c, d, ek, idx, m, kap, work):
    """Boundaries, forward pass and the tables of active-range sums of one network; returns the MSE.

    ``xp`` is the sorted data between sentinels, ``[-inf, x_0, ..., x_{B-1}, inf]``. Each
    boundary e_j is walked from its warm start until the sign test agrees: the points left of e
    are those where (x*w + b > 0) differs from (w > 0), a prefix in both facings. Unit j is
    binned at ``idx_j = e_j`` (w > 0) or ``B+1+e_j``; after the call ``work[4][idx_j]`` and
    ``work[5][idx_j]`` are the sums of g*x and g over its active range.
    """
    B = xp.shape[0] - 2
    xs = xp[1:B + 1]
    nb = B + 1
    c0 = work[0]
    c1 = work[1]
    for i in range(2 * nb):
        c0[i] = 0.0
        c1[i] = 0.0
    for j in range(m):
        w = wk[j]
        b = bk[j]
        e = min(ek[j], B)  # a minibatch may be shorter than the one e was found on
        pos = w > 0.0
        # Most boundaries stay put: test both neighbours without branching on e's range (the
        # sentinels answer "stay" at both ends for w != 0; e == 0 covers w == 0 and NaN), and
        # walk only if one disagrees. The range tests of the walk were mispredicted branches
        # (e is 0 or B for many units). Measured in isolation (boundaries alone, loaded 2-core
        # machine): 1.6-1.7x faster at K*m >= 64000; whole steps about 5 % faster there and
        # 5-15 % slower at K*m <= 6400, where the old branches were predicted.
        right = xp[e + 1] * w + b > 0.0
        left = xp[e] * w + b > 0.0
        if not ((right == pos) & ((left != pos) | (e == 0))):
            while e < B and (xp[e + 1] * w + b > 0.0) != pos:
                e += 1
            while e > 0 and (xp[e] * w + b > 0.0) == pos:
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
@_jit
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


@_jit
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


@_jit
def _adam(p, g, mj, vj, b1, om1, b2, om2, step_lr, s2, eps):
    """torch.optim.Adam's single-tensor formula for one entry, operation by operation: the new
    ``(p, m, v)`` from the old moments ``mj, vj``."""
    mj = b1 * mj + om1 * g
    vj = b2 * vj + om2 * g * g
    return p - step_lr * mj / (math.sqrt(vj) / s2 + eps), mj, vj


@_jit
def _adam_array(p, g, mom, var, m, b1, om1, beta2, om2, step_lr, s2, eps):
    """:func:`_adam` on entries ``0..m-1`` of contiguous arrays: a loop without branches or
    gathers (LLVM vectorises it). Its sqrt and two divisions bound it: 2.25 ns per entry measured,
    the same as the scalar loop (this CPU's divider does not go faster 4-wide), 2.7 µs per step
    at K = 1, m = 400. With the sentinel walk, Adam steps got 10-24 % faster (A/B, one process)."""
    for j in range(m):
        mj = b1 * mom[j] + om1 * g[j]
        vj = beta2 * var[j] + om2 * g[j] * g[j]
        p[j] = p[j] - step_lr * mj / (math.sqrt(vj) / s2 + eps)
        mom[j] = mj
        var[j] = vj


@_jit
def _gd_array(p, g, m, lr_now):
    for j in range(m):
        p[j] = p[j] - lr_now * g[j]


@_jit
def _noise_array(p, nz, offset, m, sd):
    """The Langevin term after the update, as ``optim._add_noise``: ``p += sd * z``."""
    for j in range(m):
        p[j] = p[j] + sd * nz[offset + j]


_SCHEDULE_CODES = {"constant": 0, "cosine": 1, "exponential": 2}


@_jit
def _step_tables(steps, schedule, r, b1, b2, adam):
    """Per step t: the lr factor s(t/steps) of ``options.lr_factor``, the noise scale's factor
    (its square root, 1 where s = 1, as ``loop._run``) and, for Adam, the bias corrections
    ``optim._adam_bias_correction(b1, b2, t + 1)``, with the same operations (libm pow, cos and
    sqrt, as Python's float arithmetic; the tests check equality to the bit). In Python this
    was ~0.7 µs per step (Adam) or ~0.5 µs (a schedule), measured: 6 % of a K = 1 Adam step."""
    factors = np.ones(steps)
    sqrt_factors = np.ones(steps)
    for t in range(steps):
        if schedule != 0:
            u = t / steps
            if schedule == 1:
                f = r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * u))
            else:
                f = math.pow(r, u)
            factors[t] = f
            if f != 1.0:
                sqrt_factors[t] = math.sqrt(f)
    n_bc = steps if adam else 0
    bc1 = np.empty(n_bc)
    sbc2 = np.empty(n_bc)
    for t in range(n_bc):
        bc1[t] = 1.0 - math.pow(b1, t + 1.0)
        sbc2[t] = math.sqrt(1.0 - math.pow(b2, t + 1.0))
    return factors, sqrt_factors, bc1, sbc2


@_jit
def _run_chunk(xp, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr, wd, factors, bc1, sbc2,
               t_begin, t_end, steps, log_every, tol, use_tol, adam, beta1, beta2, eps,
               train_first, pen_b, pen_affine, ma, va, mw, vw, mb, vb, mcd, vcd,
               balance0, active, stop_step, stop_code, last_finite, div_loss, log_stats, final_stats,
               batch_size, n_batches, batches, ep0, e_batch, noisy, noise, noise_sd, sqrt_factors,
               k_first, k_stride):
    """Steps ``t_begin..t_end-1`` of the active networks ``k_first, k_first + k_stride, ...`` (and
    their final statistics at the end).

    Networks share no written state, so :func:`run_compiled` runs disjoint strides in Python
    threads (the kernels release the GIL; ``prange`` was tried first, see the module docstring).
    """
    K = a.shape[0]
    minibatch = batch_size > 0
    for k in range(k_first, K, k_stride):
        if active[k]:
            ka = k if adam else 0
            kb = k if minibatch else 0
            kn = k if noisy[k] else 0
            _run_network(k, xp, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr, wd, factors, bc1,
                         sbc2, t_begin, t_end, steps, log_every, tol, use_tol, adam, beta1, beta2, eps,
                         train_first, pen_b, pen_affine, ma[ka], va[ka], mw[ka], vw[ka], mb[ka], vb[ka], mcd[ka],
                         vcd[ka], balance0, active, stop_step, stop_code, last_finite, div_loss, log_stats,
                         final_stats, batch_size, n_batches, batches[kb], ep0, e_batch[kb], noisy[k], noise[kn],
                         noise_sd[k], sqrt_factors)


@_jit
def _run_network(k, xp, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr, wd, factors, bc1, sbc2,
                 t_begin, t_end, steps, log_every, tol, use_tol, adam, beta1, beta2, eps,
                 train_first, pen_b, pen_affine, mak, vak, mwk, vwk, mbk, vbk, mcdk, vcdk,
                 balance0, active, stop_step, stop_code, last_finite, div_loss, log_stats, final_stats,
                 batch_size, n_batches, batches_k, ep0, ebk, noisy_k, noise_k, sd_k, sqrt_factors):
    """Steps ``t_begin..t_end-1`` of network k (and its final statistics when ``t_end == steps``).

    Per step: the MSE (of the step's minibatch if ``batch_size > 0``), the objective's gradient
    (penalty included, absent c/d masked), the statistics when logging, the stop checks, the
    update, the Langevin noise. GD without ``tol`` fuses the update into the gradient loop (the
    step only needs this unit's gradient); with ``tol`` it waits for the gradient norm, and
    Adam's always runs afterwards in array loops (:func:`_adam_array`).
    ``mak ... vcdk`` are network k's Adam moments (dummies for GD). Minibatches:
    ``batches_k[t // n_batches - ep0]`` is the epoch's sorted-data positions, batch by batch,
    each batch sorted; ``ebk`` the boundaries on the current batch (``ek`` stays those on all the
    data, for the logged full-data loss). ``noise_k[t - t_begin]`` is step t's N(0, 1) draw
    (a, w, b of the m units, then c, d where present), scaled by ``sd_k * sqrt_factors[t]``.
    """
    n = xp.shape[0] - 2
    M = a.shape[1]
    minibatch = batch_size > 0
    work = np.empty((6, 2 * (n + 1)))
    idx = np.empty(M, dtype=np.int64)
    ga = np.empty(M)
    gw = np.empty(M)
    gb = np.empty(M)
    xb = np.empty(n + 2)  # the batch between sentinels, as xp
    xb[0] = -np.inf
    yb = np.empty(n)
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
    n_first = 3 * m if train_first else m  # noise entries of the units; c, d follow
    t = t_begin
    while t <= t_end:
        final = t == steps
        if t == t_end and not final:
            break
        c_ = ck[0]
        d_ = dk[0]
        logged = t % log_every == 0
        on_batch = minibatch and not final
        loss_full = 0.0
        if on_batch:
            if logged:  # the logged loss is the full-data one, of the parameters before the update
                loss_full = _forward(xp, yk, ak, wk, bk, c_, d_, ek, idx, m, kap, work)
            lo = (t % n_batches) * batch_size
            B = min(lo + batch_size, n) - lo
            row = batches_k[t // n_batches - ep0]
            for i in range(B):
                p = row[lo + i]
                xb[i + 1] = xp[p + 1]
                yb[i] = yk[p]
            xb[B + 1] = np.inf
            loss = _forward(xb[:B + 2], yb[:B], ak, wk, bk, c_, d_, ebk, idx, m, kap, work)
        else:
            B = n
            loss = _forward(xp, yk, ak, wk, bk, c_, d_, ek, idx, m, kap, work)
            loss_full = loss
        nb = B + 1
        bad = not np.isfinite(loss)
        # with tol, any step may be the last one: its statistics are needed before the check
        log_now = final or bad or use_tol or logged
        # Adam's update waits for the array loops, where its sqrt and divisions vectorise
        fused = not (use_tol or bad or final or adam)
        lr_now = 0.0
        step_lr = 0.0
        s2 = 1.0
        sd = 0.0
        if not final:
            lr_now = lr[k] * factors[t]
            if adam:
                step_lr = lr_now / bc1[t]
                s2 = sbc2[t]
            if noisy_k:
                sd = sd_k * sqrt_factors[t]
        nz = noise_k[t - t_begin] if (noisy_k and not final) else noise_k[0]
        gn = 0.0
        pen = 0.0
        drift = 0.0
        m_loop = m
        if fused and not adam and not log_now and train_first and not noisy_k:
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
                ak[j] = aj - lr_now * g_a
                if train_first:
                    wk[j] = wj - lr_now * g_w
                    bk[j] = bj - lr_now * g_b
                if noisy_k:  # after the whole update, as optim._add_noise
                    ak[j] = ak[j] + sd * nz[j]
                    if train_first:
                        wk[j] = wk[j] + sd * nz[m + j]
                        bk[j] = bk[j] + sd * nz[2 * m + j]
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
        # the final state is only measured: like the torch loop, no stop test there (reason "steps")
        stop = not final and (bad or (use_tol and gn <= tol))
        if stop or final or logged:
            if on_batch and not logged:  # a stop between log steps: the update has not happened (not fused)
                loss_full = _forward(xp, yk, ak, wk, bk, c_, d_, ek, idx, m, kap, work)
            row = final_stats[k] if (stop or final) else log_stats[t // log_every, k]
            pen = 0.5 * wdk * pen
            row[0] = loss_full
            row[1] = pen
            row[2] = loss_full + pen
            row[3] = gn
            row[4] = drift
        if final or stop:
            stop_step[k] = t
            stop_code[k] = _CODE_STEPS if not stop else (_CODE_DIVERGED if bad else _CODE_TOL)
            if bad:
                div_loss[k] = loss
            if stop:
                active[k] = False
            break
        last_finite[k] = loss
        if not fused:
            if adam:
                _adam_array(ak, ga, mak, vak, m, beta1, om1, beta2, om2, step_lr, s2, eps)
                if train_first:
                    _adam_array(wk, gw, mwk, vwk, m, beta1, om1, beta2, om2, step_lr, s2, eps)
                    _adam_array(bk, gb, mbk, vbk, m, beta1, om1, beta2, om2, step_lr, s2, eps)
            else:
                _gd_array(ak, ga, m, lr_now)
                if train_first:
                    _gd_array(wk, gw, m, lr_now)
                    _gd_array(bk, gb, m, lr_now)
            if noisy_k:
                _noise_array(ak, nz, 0, m, sd)
                if train_first:
                    _noise_array(wk, nz, m, m, sd)
                    _noise_array(bk, nz, 2 * m, m, sd)
        if adam:
            ck[0], mcdk[0], vcdk[0] = _adam(c_, g_c, mcdk[0], vcdk[0], beta1, om1, beta2, om2, step_lr, s2, eps)
            dk[0], mcdk[1], vcdk[1] = _adam(d_, g_d, mcdk[1], vcdk[1], beta1, om1, beta2, om2, step_lr, s2, eps)
        else:
            ck[0] = c_ - lr_now * g_c
            dk[0] = d_ - lr_now * g_d
        if noisy_k:
            off = n_first
            if hc > 0.0:
                ck[0] = ck[0] + sd * nz[off]
                off += 1
            if hd > 0.0:
                dk[0] = dk[0] + sd * nz[off]
        t += 1


class _Draws:
    """The random draws of ``loop._run``, made with the same torch generator calls in the same
    order, a chunk of steps at a time, as arrays for the kernel.

    Network k's generator (seeded with ``seeds[k]``) is asked, at each step t: for ``randperm(n)``
    when a minibatch epoch begins (``t % n_batches == 0``), then for ``randn(L_k)``, the noise of
    its L_k trained entries, when its temperature is > 0. Each network's generator serves only
    that network, and draws after it stopped are never used, so drawing a whole chunk ahead is
    exact. torch's normal sampler depends on the size of each call (blocks of 16, a different
    path below 16), so the noise is drawn step by step, at its own size, never as one block.
    """

    def __init__(self, pop, order, seeds, temp, batch_size, train_first_layer):
        K, M, n = pop.K, pop.M, order.shape[0]
        self.K, self.n = K, n
        self.gens = [torch.Generator(device=pop.device).manual_seed(int(s)) for s in seeds]
        self.noisy = np.array([t > 0 for t in temp], dtype=np.bool_)
        self.batch_size = 0 if batch_size is None else int(batch_size)
        self.n_batches = -(-n // self.batch_size) if self.batch_size else 1
        inv = torch.empty_like(order)
        inv[order] = torch.arange(n)
        self.inv = inv.numpy()  # original index -> sorted position
        has_c, has_d = pop.has_c.tolist(), pop.has_d.tolist()
        per_unit = 3 if train_first_layer else 1
        self.sizes = [per_unit * m + int(hc > 0) + int(hd > 0) for m, hc, hd in zip(pop.widths, has_c, has_d)]
        self.width = per_unit * M + 2
        self.carry = None  # the current epoch's batches, when a chunk begins inside an epoch

    def chunk_steps(self, base):
        """Steps per kernel call: ``base``, fewer where the draws of a chunk would exceed
        _DRAW_BYTES."""
        per_step = 0
        if self.noisy.any():
            per_step += 8 * self.K * self.width
        if self.batch_size:
            per_step += -(-8 * self.K * self.n // self.n_batches)
        return base if per_step == 0 else max(1, min(base, _DRAW_BYTES // per_step))

    def draw(self, t0, t1, active):
        """``(ep0, batches [K, epochs, n], noise [K, t1 - t0, width])`` for steps t0..t1-1
        (one-element dummies where unused)."""
        K, n, nbat, B = self.K, self.n, self.n_batches, self.batch_size
        ep0 = t0 // nbat
        if B:
            batches = np.zeros((K, (t1 - 1) // nbat - ep0 + 1, n), dtype=np.int64)
            if t0 % nbat:
                batches[:, 0] = self.carry
        else:
            batches = np.zeros((1, 1, 1), dtype=np.int64)
        noise = np.zeros((K, t1 - t0, self.width) if self.noisy.any() else (1, 1, 1))
        noise_t = torch.from_numpy(noise)
        starts = [t for t in range(t0, t1) if t % nbat == 0] if B else []
        for k, g in enumerate(self.gens):
            if not active[k]:
                continue
            size = self.sizes[k]
            if not self.noisy[k]:
                for t in starts:
                    batches[k, t // nbat - ep0] = self._epoch(g)
                continue
            rows = noise_t[k]
            for t in range(t0, t1):
                if B and t % nbat == 0:
                    batches[k, t // nbat - ep0] = self._epoch(g)
                rows[t - t0, :size].normal_(generator=g)
        if B:
            self.carry = batches[:, -1].copy()
        return ep0, batches, noise

    def _epoch(self, g):
        """One epoch's sorted-data positions, batch by batch, each batch sorted (as ``_run``)."""
        pos = self.inv[torch.randperm(self.n, generator=g).numpy()]
        B = self.batch_size
        full = (self.n // B) * B
        pos[:full] = np.sort(pos[:full].reshape(-1, B), axis=1).reshape(-1)
        pos[full:] = np.sort(pos[full:])
        return pos


def run_compiled(pop, xs_sorted, ys_sorted, order, *, steps, lr, wd, temp, seeds, optimizer, batch_size,
                 penalize_bias, penalize_affine, train_first_layer, log_every, tol, betas, eps, lr_schedule,
                 lr_final_ratio):
    """``loop._run`` on the compiled backend (same arguments): the same list of ``(history,
    stop_reason, steps_done, divergence)`` per network (``divergence`` None or ``(loss,
    last_finite_loss)``). Updates ``pop``'s packed parameters and writes them back."""
    K, M = pop.K, pop.M
    np_ = {nm: t.detach().numpy() for nm, t in pop.params().items()}  # views: updated in place
    a, w, b, c, d = (np_[nm] for nm in _NAMES)
    xp = np.concatenate([[-np.inf], xs_sorted.numpy(), [np.inf]])
    ys = np.ascontiguousarray(ys_sorted.numpy())
    widths = np.array(pop.widths, dtype=np.int64)
    kappa = pop.scale.numpy().astype(np.float64)
    has_c = pop.has_c.numpy().astype(np.float64)
    has_d = pop.has_d.numpy().astype(np.float64)
    lr_a = np.array(lr, dtype=np.float64)
    wd_a = np.array(wd, dtype=np.float64)
    # the torch path's own expression for the noise scale sqrt(2 lr T)
    noise_sd = torch.sqrt(2.0 * torch.tensor(lr, dtype=torch.float64) * torch.tensor(temp, dtype=torch.float64))
    noise_sd = noise_sd.numpy()
    adam = optimizer == "adam"
    b1, b2 = float(betas[0]), float(betas[1])
    factors, sqrt_factors, bc1, sbc2 = _step_tables(steps, _SCHEDULE_CODES[lr_schedule], float(lr_final_ratio), b1,
                                                    b2, adam)
    zeros = (lambda: np.zeros((K, M))) if adam else (lambda: np.zeros((1, 1)))
    ma, va, mw, vw, mb, vb = (zeros() for _ in range(6))
    mcd, vcd = (np.zeros((K, 2)) if adam else np.zeros((1, 2)) for _ in range(2))
    e = np.zeros((K, M), dtype=np.int64)
    draws = _Draws(pop, order, seeds, temp, batch_size, train_first_layer)
    e_batch = np.zeros((K, M) if draws.batch_size else (1, 1), dtype=np.int64)
    balance0 = a ** 2 - w ** 2 - b ** 2
    active = np.ones(K, dtype=np.bool_)
    stop_step = np.full(K, steps, dtype=np.int64)
    stop_code = np.zeros(K, dtype=np.int64)
    last_finite = np.full(K, np.nan)
    div_loss = np.full(K, np.nan)
    n_rows = -(-steps // log_every)
    log_stats = np.full((n_rows, K, _N_STATS), np.nan)
    final_stats = np.full((K, _N_STATS), np.nan)
    use_tol = tol is not None
    chunk = draws.chunk_steps(log_every * max(1, -(-_CHUNK_STEPS // log_every)))
    n_threads = min(K, max(1, torch.get_num_threads()))
    pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
    try:
        t0 = 0
        while True:
            t1 = min(steps, t0 + chunk)
            ep0, batches, noise = draws.draw(t0, t1, active) if t1 > t0 else (0, np.zeros((1, 1, 1), np.int64),
                                                                             np.zeros((1, 1, 1)))
            args = (xp, ys, a, w, b, c, d, e, widths, kappa, has_c, has_d, lr_a, wd_a, factors, bc1, sbc2,
                    t0, t1, steps, log_every, float(tol) if use_tol else 0.0, use_tol, adam, b1, b2, float(eps),
                    bool(train_first_layer), bool(penalize_bias), bool(penalize_affine), ma, va, mw, vw, mb, vb,
                    mcd, vcd, balance0, active, stop_step, stop_code, last_finite, div_loss, log_stats,
                    final_stats, draws.batch_size, draws.n_batches, batches, ep0, e_batch, draws.noisy, noise,
                    noise_sd, sqrt_factors)
            if pool is None:
                _run_chunk(*args, 0, 1)
            else:
                for job in [pool.submit(_run_chunk, *args, j, n_threads) for j in range(n_threads)]:
                    job.result()
            t0 = t1
            if t0 >= steps or not active.any():
                break
    finally:
        if pool is not None:
            pool.shutdown()
    pop.write_back()
    hist_steps = np.arange(0, steps, log_every, dtype=np.int64)
    reasons = {_CODE_STEPS: "steps", _CODE_TOL: "tol", _CODE_DIVERGED: "diverged"}
    logged = {key: log_stats[:, :, i] for i, key in enumerate(_HISTORY_KEYS)}
    out = []
    for k in range(K):
        final = dict(zip(_HISTORY_KEYS, final_stats[k]))
        reason = reasons[int(stop_code[k])]
        div = (float(div_loss[k]), float(last_finite[k])) if reason == "diverged" else None
        out.append((_history(hist_steps, logged, k, int(stop_step[k]), final), reason, int(stop_step[k]), div))
    return out
