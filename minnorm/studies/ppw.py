r"""Park--Pelakh--Wojtowytsch (arXiv 2311.06138): interpolation between known regions.

Setting (MATH C): the target is sampled densely on :math:`K=[-1,-\delta]\cup[\delta,1]` (δ = 0.3,
n/2 equispaced points per side) and nothing is known in the gap :math:`(-\delta,\delta)`. Targets
:math:`|x|`, :math:`x^2` and (full form) the smooth non-symmetric :math:`e^x`. Networks
:math:`f(x)=\sum_j a_j\mathrm{relu}(w_jx+b_j)+cx+d` of width m = 2n (standard parametrisation,
torch's default init), trained by :func:`minnorm.train_population`.

References (exact, solver layer, on the samples): the V1 envelope ``tv2_envelope`` (the whole
set of ∫|f''| minimisers: in the gap every convex (concave) f between the tangent lines and the
chord) and the V3 unique solution ``tv2_interpolant(..., variant="bias")`` (Boursier--Flammarion,
one kink in the gap).

(a) **Weight-decay ERM** with :math:`\lambda_{wd}=c\,(n/n_0)^{-p}` (``m = 2n`` so this is also a rate
    in m), for several exponents p: biases unpenalised (V1 objective) -> envelope violation on
    [-1, 1]; biases penalised (V3 objective) -> sup distance to the V3 solution. These distances
    say something about the ERM claim only if training reaches the ERM minimiser, so every run's
    relative objective gap to the exact ``tv2_regression`` at the mapped lam = n·λ_wd is
    checked. Optimiser: full-batch Adam (L2 penalty) with a cosine learning-rate decay, peak
    0.05 -> 5e-4 (``lr_schedule="cosine"``), 6000 steps (reduced) / 20000 (full). Measured on the
    reduced form: this reaches the minimiser (max relative gap 7e-3); Adam at a constant lr 0.05
    stalls at its noise floor (gaps up to 0.5; its normalised steps keep shaking decayed units),
    and full-batch GD at lr 0.05 for 3000 steps (the earlier choice) was still at gaps 0.3–2.7.
    The distances of the exact ERM minimiser itself (solver layer, same lam) are reported next to
    the trained nets' (``a_exactERM_*``): for V1 they agree to within 1e-3; the V3 distance of a
    trained net can exceed the exact one (|x|, n = 60: 0.012 vs 0.003) because the V3 objective is nearly
    flat for moves of the kink inside the gap, where there is no data. That resolution limit
    decides the full form (measured, 20000 steps, max relative gap 0.016): the trained nets' V3
    distances do not decrease for any p, while the exact ERM minimisers' do for p = 1 and p = 2
    for every target; at p = 2, n = 160 the trained |x| net is 0.095 from the V3 solution and the
    exact minimiser 2.4e-4 (λ_wd = 1.6e-5 there: a small relative objective gap still leaves the
    kink in the gap nearly free). Since training then has not reached the ERM minimiser whose
    limit the claim is about, such a run makes (a) "inconclusive" (rule below), with the
    ``a_exactERM_*`` numbers reported next to the trained ones. PPW's exact rate could
    not be confirmed (MATH C): exponents are swept and the ones whose distances decrease with n
    are reported; no rate is attributed to PPW.
(b) **No weight decay**: GD, SGD (batch 10) and Adam from the same init; which interpolant of
    the gap they pick: f(0) against the envelope [lo(0), hi(0)] and the B--F value.

Verdict rule
------------
(a) "inconclusive" if any ERM run's relative objective gap exceeds 0.05, or a trained net's distance
differs from the exact ERM minimiser's by more than ``TRACK_TOL`` = 0.02 (not at the minimiser);
otherwise "holds" if for some exponent both distances decrease from the smallest to the largest n for
every target and end below 0.05; "holds approximately" if they decrease but end higher; else
"does not hold". (b) "holds" if every optimiser's f(0) lies in the envelope within 0.02 and the
envelope violation is < 0.05, "holds approximately" if within 0.1, else "does not hold".
Overall: the weaker of (a) and (b).

Run times (2 cores, measured): reduced 28 s; full 187 s (part (a) on Adam + cosine).
"""

from __future__ import annotations

import numpy as np

import solvers
from minnorm.comparison import metrics
from minnorm.comparison.plots import new_figure, save_figure
from minnorm.comparison.problems import make_problem
from minnorm.studies._base import StudyResult, Timer, fmt, study_dir, torch_threads, weakest
from minnorm.training.convert import to_function
from minnorm.training.loop import train_population
from minnorm.training.network import ShallowReLU

#: Largest |trained distance - exact ERM minimiser distance| for which part (a) counts as tested.
TRACK_TOL = 0.02

NAME = "ppw"
PAPER = "Park, Pelakh, Wojtowytsch (arXiv 2311.06138)"
CLAIM = ("With data on known regions [−1,−δ]∪[δ,1], weight-decay ERM with λ→0 at a suitable rate in n, m "
         "converges to a minimum-norm interpolant, and common optimisers without weight decay pick one empirically")

DELTA = 0.3
TARGETS = {"|x|": np.abs, "x²": np.square, "exp(x)": np.exp}


def samples(n, delta=DELTA):
    """n equispaced points, half on [-1, -δ], half on [δ, 1] (both inner ends included): the known-regions design."""
    return make_problem("abs", "known-regions", n=n, delta=delta).x


def _models(m, K, seed):
    return [ShallowReLU(m, skip=True, output_bias=True, seed=seed + k) for k in range(K)]


#: Part (a)'s optimiser (module docstring): Adam with a cosine decay of the lr to 1 % of its peak.
A_OPTIMIZER = {"optimizer": "adam", "lr": 5e-2, "lr_schedule": "cosine", "lr_final_ratio": 0.01}


def _part_a(tnames, ns, ps, c0, steps, seed):
    out = {}
    n0 = ns[0]
    for n in ns:
        x = samples(n)
        m = 2 * n
        combos = [(t, p) for t in tnames for p in ps]
        Y = np.stack([TARGETS[t](x) for t, _ in combos])
        wds = [c0 * (n / n0) ** (-p) for _, p in combos]
        for pen in (False, True):
            models = _models(m, len(combos), seed)
            with torch_threads(1):
                train_population(models, x, Y, steps=steps, weight_decay=wds, penalize_bias=pen, log_every=steps,
                                 **A_OPTIMIZER)
            for (t, p), mdl, wd in zip(combos, models, wds):
                y = TARGETS[t](x)
                f = to_function(mdl)
                variant = "bias" if pen else "skip"
                exact = solvers.tv2_regression(x, y, n * wd, variant=variant).function  # the ERM minimiser
                if pen:
                    ref = solvers.tv2_interpolant(x, y, variant="bias")
                    d, d_exact = (metrics.linf_distance(g, ref, (-1.0, 1.0)) for g in (f, exact))
                else:
                    env = solvers.tv2_envelope(x, y)
                    d, d_exact = (metrics.envelope_violation(g, env, (-1.0, 1.0)) for g in (f, exact))
                # Is this the ERM minimiser? Relative gap of the function-space objective at lam = n*wd.
                gap = metrics.rel_objective_gap(f, x, y, n * wd, variant)
                out[(t, p, n, pen)] = {"d": d, "d_exact": d_exact, "f": f, "wd": wd, "gap": gap}
    return out


def _part_b(tnames, n, steps, seed):
    x = samples(n)
    m = 2 * n
    Y = np.stack([TARGETS[t](x) for t in tnames])
    out = {}
    for opt, lr, bs in (("gd", 2e-2, None), ("sgd", 2e-2, 10), ("adam", 3e-3, None)):
        models = _models(m, len(tnames), seed)
        with torch_threads(1):
            res = train_population(models, x, Y, steps=steps, lr=lr, optimizer=opt, batch_size=bs, log_every=steps)
        for t, mdl, r in zip(tnames, models, res):
            y = TARGETS[t](x)
            env = solvers.tv2_envelope(x, y)
            bf = solvers.tv2_interpolant(x, y, variant="bias")
            f = to_function(mdl)
            lo, hi = float(env.lower(np.array([0.0]))[0]), float(env.upper(np.array([0.0]))[0])
            f0 = float(f(np.array([0.0]))[0])
            out[(t, opt)] = {"f": f, "f0": f0, "lo": lo, "hi": hi, "bf0": float(bf(np.array([0.0]))[0]),
                             "viol": metrics.envelope_violation(f, env, (-1.0, 1.0)), "mse": r.final_loss,
                             "out_of_env": max(lo - f0, f0 - hi, 0.0), "env": env, "bf": bf}
    return x, out


def run(out_dir, *, full=False, seed=0) -> StudyResult:
    """Run the PPW study; see the module docstring."""
    timer = Timer()
    out = study_dir(out_dir)
    tnames = list(TARGETS) if full else ["|x|", "x²"]
    ns = [20, 40, 80, 160] if full else [20, 60]
    ps = [0.0, 0.5, 1.0, 2.0] if full else [0.5, 1.5]
    c0 = 1e-3
    steps_a = 20000 if full else 6000
    ra = _part_a(tnames, ns, ps, c0, steps_a, seed)
    xb, rb = _part_b(tnames, 80 if full else 40, 6000 if full else 2000, seed)

    nums = {}
    conv = {}
    for p in ps:
        dec, small = True, True
        for t in tnames:
            for pen in (False, True):
                ds = [ra[(t, p, n, pen)]["d"] for n in ns]
                for n, d in zip(ns, ds):
                    key = f"{'V3dist' if pen else 'V1viol'}_{t}_p{p:g}_n{n}"
                    nums[f"a_{key}"] = d
                    nums[f"a_exactERM_{key}"] = ra[(t, p, n, pen)]["d_exact"]
                    nums[f"a_rel_objective_gap_{key}"] = ra[(t, p, n, pen)]["gap"]
                dec &= ds[-1] < ds[0]
                small &= ds[-1] < 0.05
        conv[p] = (dec, small)
    good = [p for p, (d, s) in conv.items() if d and s]
    dec_only = [p for p, (d, s) in conv.items() if d]
    diff = {pen: max(abs(v["d"] - v["d_exact"]) for (_, _, _, pn), v in ra.items() if pn == pen)
            for pen in (False, True)}
    nums["a_max_abs_trained_minus_exact_V1viol"] = diff[False]
    nums["a_max_abs_trained_minus_exact_V3dist"] = diff[True]
    max_gap = max(v["gap"] for v in ra.values())
    nums["a_max_rel_objective_gap"] = max_gap
    tracks = max(diff.values()) <= TRACK_TOL
    if not (max_gap <= 0.05 and tracks):
        # Not at the ERM minimiser within the step budget (by objective, or by the distances the
        # claim is about: V3's objective is nearly flat in the kink position inside the gap, so a
        # small objective gap does not pin the function there): the ERM claim is not tested.
        v_a = "inconclusive"
    else:
        v_a = "holds" if good else ("holds approximately" if dec_only else "does not hold")

    worst_out = max(v["out_of_env"] for v in rb.values())
    worst_viol = max(v["viol"] for v in rb.values())
    for (t, opt), v in rb.items():
        nums[f"b_{t}_{opt}_f0"] = v["f0"]
        nums[f"b_{t}_{opt}_env_lo0"] = v["lo"]
        nums[f"b_{t}_{opt}_env_hi0"] = v["hi"]
        nums[f"b_{t}_{opt}_bf0"] = v["bf0"]
        nums[f"b_{t}_{opt}_envelope_violation"] = v["viol"]
        nums[f"b_{t}_{opt}_final_mse"] = v["mse"]
    v_b = ("holds" if (worst_out <= 0.02 and worst_viol < 0.05) else
           "holds approximately" if (worst_out <= 0.1 and worst_viol < 0.1) else "does not hold")
    verdict = weakest(v_a, v_b)

    a_txt = "; ".join(
        f"p={p:g}: " + ", ".join(
            f"{t} V1-viol {fmt(ra[(t, p, ns[0], False)]['d'], 2)}→{fmt(ra[(t, p, ns[-1], False)]['d'], 2)}, "
            f"V3-dist {fmt(ra[(t, p, ns[0], True)]['d'], 2)}→{fmt(ra[(t, p, ns[-1], True)]['d'], 2)}" for t in tnames)
        for p in ps)
    b_txt = "; ".join(f"{t} {opt}: f(0)={v['f0']:.3f} (env [{v['lo']:.3f}, {v['hi']:.3f}], B–F {v['bf0']:.3f})"
                      for (t, opt), v in rb.items())
    measured = (f"(a) λ_wd = {c0:g}·(n/{ns[0]})^-p, m=2n, n {ns[0]}→{ns[-1]}: {a_txt}; decreasing for p ∈ "
                f"{dec_only or 'none'} (ERM objective gap ≤ {fmt(max_gap, 2)}); (b) no weight decay: {b_txt}")
    details = [f"(a) verdict {v_a} (max relative objective gap to the exact ERM optimum {fmt(max_gap, 2)}); "
               f"(b) verdict {v_b} (max distance of f(0) outside the envelope {fmt(worst_out, 2)}, "
               f"max envelope violation on [−1, 1] {fmt(worst_viol, 2)}).",
               "(a) the exact ERM minimiser at the same lam (solver layer), for comparison: " + "; ".join(
                   f"p={p:g}: " + ", ".join(
                       f"{t} V1-viol {fmt(ra[(t, p, ns[0], False)]['d_exact'], 2)}→"
                       f"{fmt(ra[(t, p, ns[-1], False)]['d_exact'], 2)}, V3-dist "
                       f"{fmt(ra[(t, p, ns[0], True)]['d_exact'], 2)}→{fmt(ra[(t, p, ns[-1], True)]['d_exact'], 2)}"
                       for t in tnames) for p in ps)
               + f" (largest |trained − exact|: V1 {fmt(diff[False], 2)}, V3 {fmt(diff[True], 2)}).",
               "No rate is attributed to PPW: their exact λ_{n,m} could not be confirmed (MATH C)."]
    figs = _figure(out, xb, rb, tnames)
    return StudyResult(NAME, PAPER, CLAIM, measured, verdict, nums, figs, timer.elapsed, full, details)


def _figure(out, x, rb, tnames):
    fig, ax = new_figure(1, len(tnames), size=(4.6, 3.8))
    t = np.linspace(-2 * DELTA, 2 * DELTA, 600)
    for j, name in enumerate(tnames):
        a = ax[0, j]
        any_v = rb[(name, "gd")]
        a.fill_between(t, any_v["env"].lower(t), any_v["env"].upper(t), color="0.85", label="V1 envelope")
        a.plot(t, any_v["bf"](t), "k-", lw=1.5, label="B–F (V3)")
        for k, opt in enumerate(("gd", "sgd", "adam")):
            a.plot(t, rb[(name, opt)]["f"](t), f"C{k}--", lw=1, label=opt)
        m = np.abs(x) <= 2 * DELTA
        a.plot(x[m], TARGETS[name](x[m]), "ko", ms=3)
        a.axvspan(-DELTA, DELTA, color="C1", alpha=0.06)
        a.set_title(f"{name}: the gap (−{DELTA:g}, {DELTA:g}), no weight decay")
        a.legend(fontsize=7)
    return [save_figure(fig, out / "ppw.png")]
