r"""Park--Pelakh--Wojtowytsch (arXiv 2311.06138): interpolation between known regions.

**Paper's claim**, as summarised in MATH C (only the abstract, TL;DR and keywords were available,
so no wording here is quoted from the paper): ERM with weight decay :math:`\lambda_{n,m}` vanishing
"at a precise rate" in n and m converges to a minimum-norm interpolant of the data on the known
regions; without explicit regularisation, common optimisers converge to one empirically, "at least
for suitable initialization". Their norm is Barron-type and whether biases are penalised is not
verified, so both readings are tested: V1 (biases free) and V3 (biases penalised). Their rate
could not be confirmed, so exponents are swept and no rate is attributed to PPW.

Setting (MATH C): the target is sampled densely on :math:`K=[-1,-\delta]\cup[\delta,1]` (δ = 0.3,
n/2 equispaced points per side) and nothing is known in the gap :math:`(-\delta,\delta)`. Targets
:math:`|x|`, :math:`x^2` and (full form) the smooth non-symmetric :math:`e^x`. Networks
:math:`f(x)=\sum_j a_j\mathrm{relu}(w_jx+b_j)+cx+d` of width m = 2n (standard parametrisation,
torch's default init), trained by :func:`minnorm.train_population` (its compiled CPU backend).
References (exact, solver layer, on the samples): the V1 envelope ``tv2_envelope`` (every
∫|f''| minimiser: in the gap every convex (concave) f between the tangent lines and the chord) and
the V3 unique solution ``tv2_interpolant(..., variant="bias")`` (Boursier--Flammarion, one kink).

(a) **Weight-decay ERM**, :math:`\lambda_{wd}=c\,(n/n_0)^{-p}` (c = 1e-3; m = 2n, so also a rate in
    m): V1 objective -> envelope violation on [-1, 1]; V3 objective -> sup distance to the V3
    solution. A distance says something about the ERM claim only at the ERM minimiser, so each run's
    relative objective gap g to the exact ``tv2_regression`` at the mapped lam = n·λ_wd is reported
    next to it, with the exact minimiser's own distance (``a_exactERM_*``).
(b) **No weight decay**: GD, SGD (batch 10) and Adam from the same init (n = 80 full, 40 reduced):
    where f(0) lies against the envelope [lo(0), hi(0)] and the B--F value.

Optimisation
------------
Full-batch Adam (L2 penalty), lr decayed by a cosine from the peak 0.05 to 5e-4, with a step budget
per objective (``A_BUDGETS``, both forms): V1 20000 steps, V3 200000. Measured (n = 160, m = 320,
the full form's 12 runs per objective, seed 0): 20000 steps leave V1 at gaps ≤ 7.0e-3 with every
trained violation within 2e-4 of the exact minimiser's, but V3 at gaps up to 1.6e-2 (\|x\|, p = 2:
0.091 from the V3 solution against the exact minimiser's 2.4e-4, issue 11); 200000 steps bring V3
to gaps ≤ 4.9e-3 (p = 2) and ≤ 2.7e-4 (p = 1); the same peak lr over 200k--1M steps makes V1
runs lose units (gaps up to 1.19, issue 11), so V1 keeps 20000. 1M V3 steps (measured, n = 160,
p ∈ {1, 2}, 331 s): p = 1 reaches gaps ≤ 9e-5 but p = 2 stays at 3.5e-4--2.3e-3 (\|x\| p = 2 is worse
than at 200k: 3.5e-4 against 7.9e-5), so 5x the time would not test p = 2 either; not adopted.
Other V3 schedules at n = 160, p ∈ {1, 2}, 200000 steps (measured): peak lr 0.02 gives p = 1 gaps
1.0e-4--1.3e-4 and p = 2 2.3e-3--2.5e-3; a final lr ratio 1e-3 gives p = 2 up to 6.0e-3. Neither
reaches the threshold below at p = 2, so the peak stays 0.05 for both objectives.
A compiled V3 step of all 12 nets took 56, 61, 132 and 668 µs at n = 20, 40, 80, 160 (one
200000-step run each, the 2 cores shared with other jobs: noisy upper bounds).

A run is **optimisation-limited** when g > ``GAP_TOL`` (V1 1e-2, V3 1e-4). Why these values
(derived here, rough constants; measured checks after each):

- V3: near its solution the V3 cost is quadratic in how the kink mass spreads in the gap (its mass
  M = s₊ − s₋ and barycentre ξ̄ are fixed, MATH C). Two kinks of mass M/2 at ξ̄ ± a cost
  :math:`M\sqrt{1+\bar\xi^2}\,(1 + a^2/(2(1+\bar\xi^2)^2))` and move f by Ma/2; as lam → 0 the
  objective is lam·R, so a relative gap g allows a sup-distance ≈ (M/√2)(1+ξ̄²)√g ≤ √(2g) here
  (M ≤ 2, ξ̄ ≈ 0): 0.014 at g = 1e-4, well below the 0.05 the verdict uses, while 1e-3 would allow
  0.045. Measured: \|trained − exact\| ≤ 0.28√g over the full form's 48 V3 runs, 0.72√g for the
  20000-step \|x\| run (0.091 at g = 1.6e-2) and 1.2√g in one run with a lower final lr (1.2e-3 at
  g = 9.6e-7): within the derived √(2g).
- V1: every convex f between tangents and chord is a minimiser, so g only measures leaving the
  envelope; leaving it by d needs an extra pair of slope changes of order d/δ, so d ≲ δ·R*·g, linear
  in g (R* = ∫|f*''| ≈ 2, 4, 2.35 for \|x\|, x², eˣ): ≤ 0.012 at g = 1e-2. Measured: \|trained − exact\|
  ≤ 2e-4 at gaps ≤ 7.0e-3 (48 runs at 20000 steps).

Verdict rule
------------
(a) A run reaches the minimum iff g ≤ ``GAP_TOL`` of its objective. An exponent p > 0 is *tested*
iff every run at p (each target, n and objective) reaches the minimum; p = 0 (λ_wd fixed, not
vanishing) is a control and is never tested. "holds" if for a tested p both distances decrease from
the smallest to the largest n for every target and end below ``SMALL`` = 0.05; "holds approximately"
if for a tested p they decrease but end higher; "does not hold" if every p > 0 is tested and none
decreases; otherwise "inconclusive" (too few runs reach the minimum to decide, and the report says
which exponents were optimisation-limited). (b) "holds" if every optimiser's f(0) lies in the
envelope within 0.02 and the envelope violation on [-1, 1] is < 0.05, "holds approximately" if
within 0.1, else "does not hold". Headline: the weaker of (a) and (b).

Our hypotheses (own verdicts; they never decide the headline)
-------------------------------------------------------------
H0. Part (a)'s rule applied to the exact ERM minimiser (solver layer) instead of the trained nets,
    every exponent counted: whether the ERM claim holds for the minimiser itself, with no optimiser.
H1. *Any* vanishing rate works (MATH C's derived sufficient condition when m ≥ n), tested on the exact
    ERM minimiser (no optimisation involved): "holds" if for every p > 0 both exact distances
    decrease from the smallest to the largest n for every target and end below 0.05, "holds
    approximately" if they decrease, else "does not hold".
H2. A specific rate, distance ∝ λ_wd: "holds" if the least-squares slope of log(exact distance)
    against log n is within ``RATE_TOL`` = 0.25 of −p for every objective, target and p > 0, else
    "does not hold".
H3. Without weight decay the optimisers pick the V3 (B--F) interpolant, not just some V1 minimiser:
    "holds" if max \|f(0) − B--F(0)\| ≤ 0.02, "holds approximately" if ≤ 0.1, else "does not hold".

Measured
--------
Full form, seed 0, 2026-12-01 (reduced form in brackets: n ∈ {20, 40}, p ∈ {1, 2}, \|x\| and x²):

- (a) V1: 0/48 runs optimisation-limited (max gap 7.0e-3, median 3.1e-5) [0/8]; V3: 6/48 (max
  4.9e-3, median 5.1e-6) [0/8]: x² and eˣ at p = 2, n = 80 (gaps 5.1e-4, 3.9e-4) and at p ∈ {1, 2},
  n = 160 (2.6e-4, 4.9e-3; 2.0e-4, 3.1e-3). Runs at the minimum track the exact minimiser's distance
  within 2.0e-4 (V1) and 1.3e-3 (V3). Only p = 0.5 is tested, and there the x² V3 distance grows
  (0.047 → 0.066; exact minimiser 0.047 → 0.065): **(a) inconclusive** [p = 1, 2 tested; p = 2
  decreases for both targets and objectives, x² V3 0.047 → 0.040: holds]. (b) holds: f(0) at most
  9.9e-4 outside the envelope (Adam, eˣ), envelope violation ≤ 0.026 [0, 0.043]. Headline
  **inconclusive** [holds].
- H0 holds [holds]: the exact ERM minimiser's distances decrease at p = 1 and p = 2 for every target
  and objective and end below 0.05 (x² V3 0.047 → 0.046 and → 0.023, eˣ V3 0.046 → 0.030 and →
  0.015): the ERM claim holds for the minimiser itself, and (a) is inconclusive only because 200000
  Adam steps do not reach it at p ≥ 1, n = 160.
- H1 does not hold [does not hold]: at p = 0.5 the exact x² V3 distance grows (0.047 → 0.065) [p = 1:
  0.047 → 0.054].
- H2 does not hold [does not hold]: 6/18 slopes within 0.25 of −p; \|x\| decays like λ_wd (−0.42,
  −0.92, −1.92 for p = 0.5, 1, 2) but x² and eˣ much more slowly (V3 at p = 2: −0.34, −0.52).
- H3 does not hold [does not hold]: without weight decay GD, SGD and Adam put f(0) 0.24--0.25 above
  the B--F value for \|x\| (near the chord 0.3): they pick a V1 minimiser, not the V3 one.

Run times (measured 2026-12-01): reduced 16--25 s and full 333 s on 2 cores shared with other jobs;
full 122 s on free cores with the compiled trainer's two threads (same numbers and verdicts).
"""

from __future__ import annotations

import numpy as np

import solvers
from minnorm.comparison import metrics
from minnorm.comparison.plots import new_figure, save_figure
from minnorm.comparison.problems import make_problem
from minnorm.studies._base import Hypothesis, StudyResult, Timer, fmt, study_dir, torch_threads, weakest
from minnorm.training.convert import to_function
from minnorm.training.loop import train_population
from minnorm.training.network import ShallowReLU

NAME = "ppw"
PAPER = "Park, Pelakh, Wojtowytsch (arXiv 2311.06138)"
CLAIM = ("As summarised in MATH C (from the abstract; the paper's statements could not be checked): with data on "
         "known regions, ERM with weight decay λ_{n,m} vanishing at a precise rate in n and m converges to a "
         "minimum-norm interpolant, and common optimisers without explicit regularisation converge to one "
         "empirically, at least for suitable initialisation")

DELTA = 0.3
TARGETS = {"|x|": np.abs, "x²": np.square, "exp(x)": np.exp}
#: The two weight-decay objectives of part (a): biases unpenalised (V1) or penalised (V3).
VARIANTS = {"V1": "skip", "V3": "bias"}
#: Part (a)'s optimiser: full-batch Adam (L2 penalty), the lr decayed by a cosine to 1 % of its peak.
A_OPTIMIZER = {"optimizer": "adam", "lr_schedule": "cosine", "lr_final_ratio": 0.01}
#: Step budget and peak lr per objective, both forms (module docstring: why).
A_BUDGETS = {"V1": {"steps": 20000, "lr": 5e-2}, "V3": {"steps": 200000, "lr": 5e-2}}
#: Relative objective gap above which an ERM run is "optimisation-limited" (module docstring: why).
GAP_TOL = {"V1": 1e-2, "V3": 1e-4}
#: A distance below this at the largest n counts as converged (part (a), H1).
SMALL = 0.05
#: H2: largest |fitted log-log slope + p| for "distance ∝ λ_wd".
RATE_TOL = 0.25


def samples(n, delta=DELTA):
    """n equispaced points, half on [-1, -δ], half on [δ, 1] (both inner ends included): the known-regions design."""
    return make_problem("abs", "known-regions", n=n, delta=delta).x


def _models(m, K, seed):
    return [ShallowReLU(m, skip=True, output_bias=True, seed=seed + k) for k in range(K)]


def _references(x, y):
    """The exact min-norm interpolants of the samples: the V1 envelope and the V3 (B--F) solution."""
    return solvers.tv2_envelope(x, y), solvers.tv2_interpolant(x, y, variant="bias")


def _part_a(tnames, ns, ps, c0, budgets, seed):
    """Weight-decay ERM runs: for each (target, p, n, variant) the trained net's distance, the
    exact ERM minimiser's and the net's relative objective gap at the mapped lam = n·λ_wd."""
    out = {}
    n0 = ns[0]
    for n in ns:
        x = samples(n)
        combos = [(t, p) for t in tnames for p in ps]
        Y = np.stack([TARGETS[t](x) for t, _ in combos])
        wds = [c0 * (n / n0) ** (-p) for _, p in combos]
        refs = {t: _references(x, TARGETS[t](x)) for t in tnames}
        for var, variant in VARIANTS.items():
            models = _models(2 * n, len(combos), seed)
            with torch_threads(1):
                train_population(models, x, Y, weight_decay=wds, penalize_bias=variant == "bias",
                                 log_every=budgets[var]["steps"], **budgets[var], **A_OPTIMIZER)
            for (t, p), mdl, wd in zip(combos, models, wds):
                y = TARGETS[t](x)
                f = to_function(mdl)
                exact = solvers.tv2_regression(x, y, n * wd, variant=variant)  # the ERM minimiser
                env, bf = refs[t]
                if var == "V3":
                    d, d_exact = (metrics.linf_distance(g, bf, (-1.0, 1.0)) for g in (f, exact.function))
                else:
                    d, d_exact = (metrics.envelope_violation(g, env, (-1.0, 1.0)) for g in (f, exact.function))
                gap = metrics.rel_objective_gap(f, x, y, n * wd, variant, solution=exact)
                out[(var, t, p, n)] = {"d": d, "d_exact": d_exact, "gap": gap, "wd": wd,
                                       "reached": gap <= GAP_TOL[var]}
    return out


def _part_b(tnames, n, steps, seed):
    x = samples(n)
    m = 2 * n
    Y = np.stack([TARGETS[t](x) for t in tnames])
    refs = {t: _references(x, TARGETS[t](x)) for t in tnames}
    out = {}
    for opt, lr, bs in (("gd", 2e-2, None), ("sgd", 2e-2, 10), ("adam", 3e-3, None)):
        models = _models(m, len(tnames), seed)
        with torch_threads(1):
            res = train_population(models, x, Y, steps=steps, lr=lr, optimizer=opt, batch_size=bs, log_every=steps)
        for t, mdl, r in zip(tnames, models, res):
            env, bf = refs[t]
            f = to_function(mdl)
            lo, hi = float(env.lower(np.array([0.0]))[0]), float(env.upper(np.array([0.0]))[0])
            f0 = float(f(np.array([0.0]))[0])
            out[(t, opt)] = {"f": f, "f0": f0, "lo": lo, "hi": hi, "bf0": float(bf(np.array([0.0]))[0]),
                             "viol": metrics.envelope_violation(f, env, (-1.0, 1.0)), "mse": r.final_loss,
                             "out_of_env": max(lo - f0, f0 - hi, 0.0), "env": env, "bf": bf}
    return x, out


def verdict_a(ra, tnames, ns, ps):
    """Part (a)'s verdict by the module docstring's rule, and the exponents it could test."""
    tested = [p for p in ps if p > 0 and all(ra[(v, t, p, n)]["reached"] for v in VARIANTS for t in tnames
                                                for n in ns)]
    dec = {p: all(ra[(v, t, p, ns[-1])]["d"] < ra[(v, t, p, ns[0])]["d"] for v in VARIANTS for t in tnames)
           for p in tested}
    small = {p: all(ra[(v, t, p, ns[-1])]["d"] < SMALL for v in VARIANTS for t in tnames) for p in tested}
    if any(dec[p] and small[p] for p in tested):
        verdict = "holds"
    elif any(dec.values()):
        verdict = "holds approximately"
    elif tested and len(tested) == sum(p > 0 for p in ps):
        verdict = "does not hold"
    else:
        verdict = "inconclusive"
    return verdict, tested, dec


def _slope(ns, ds):
    """Least-squares slope of log d against log n."""
    return float(np.polyfit(np.log(ns), np.log(ds), 1)[0])


def _hypotheses(ra, rb, tnames, ns, ps):
    """Our hypotheses (module docstring), each with its verdict and the numbers it rests on."""
    pos = [p for p in ps if p > 0]
    hyps, nums = [], {}
    dec = {p: all(ra[(v, t, p, ns[-1])]["d_exact"] < ra[(v, t, p, ns[0])]["d_exact"] for v in VARIANTS
                  for t in tnames) for p in pos}
    small = {p: all(ra[(v, t, p, ns[-1])]["d_exact"] < SMALL for v in VARIANTS for t in tnames) for p in pos}
    # H0: part (a)'s rule on the exact ERM minimiser, which no optimiser has to reach.
    v0 = ("holds" if any(dec[p] and small[p] for p in pos) else "holds approximately" if any(dec.values()) else
          "does not hold")
    hyps.append(Hypothesis(
        "the exact ERM minimiser (solver layer, the object the ERM claim is about) converges for some p > 0: part "
        "(a)'s rule on its distances, every exponent counted",
        f"n {ns[0]}→{ns[-1]}: decreasing for every target and objective at "
        f"{[f'p={p:g}' for p in pos if dec[p]] or 'no p'}, of which ending below {SMALL:g}: "
        f"{[f'p={p:g}' for p in pos if dec[p] and small[p]] or 'none'}", v0))
    # H1: any vanishing rate works for the exact ERM minimiser (MATH C: m >= n).
    v1 = ("holds" if all(dec.values()) and all(small.values()) else "holds approximately" if all(dec.values())
          else "does not hold")
    failing = [f"p={p:g}" for p in pos if not dec[p]]
    hyps.append(Hypothesis(
        "every vanishing λ_wd ∝ n^-p (p > 0, m = 2n) makes the exact ERM minimiser's V1 violation and V3 distance "
        "decrease in n (MATH C's derived sufficient condition for m ≥ n)",
        f"exact minimiser, n {ns[0]}→{ns[-1]}: decreasing for every target and variant at "
        f"{[f'p={p:g}' for p in pos if dec[p]] or 'no p'}; not at {failing or 'none'}", v1))
    # H2: a specific rate, distance ∝ λ_wd ∝ n^-p.
    slopes = {(v, t, p): _slope(ns, [ra[(v, t, p, n)]["d_exact"] for n in ns]) for v in VARIANTS for t in tnames
              for p in pos}
    for (v, t, p), s in slopes.items():
        nums[f"h2_exactERM_slope_{v}_{t}_p{p:g}"] = s
    ok = [k for k, s in slopes.items() if abs(s + k[2]) <= RATE_TOL]
    v2 = "holds" if len(ok) == len(slopes) else "does not hold"
    hyps.append(Hypothesis(
        f"the exact ERM minimiser's distance decays like λ_wd: log-log slope in n within {RATE_TOL:g} of −p",
        "slopes " + ", ".join(f"{v} {t} p={p:g}: {s:.2f}" for (v, t, p), s in slopes.items())
        + f" ({len(ok)}/{len(slopes)} within {RATE_TOL:g} of −p)", v2))
    # H3: unregularised optimisers pick the V3 (Boursier--Flammarion) interpolant, not just any V1 minimiser.
    off = max(abs(v["f0"] - v["bf0"]) for v in rb.values())
    nums["h3_max_abs_f0_minus_bf0"] = off
    v3 = "holds" if off <= 0.02 else "holds approximately" if off <= 0.1 else "does not hold"
    hyps.append(Hypothesis(
        "GD, SGD and Adam without weight decay pick the V3 (Boursier–Flammarion) interpolant: |f(0) − B–F(0)| ≤ 0.02",
        "max |f(0) − B–F(0)| " + fmt(off, 2) + " (" + ", ".join(
            f"{t} {opt} {v['f0'] - v['bf0']:+.3f}" for (t, opt), v in rb.items()) + ")", v3))
    return hyps, nums


def _optimisation_text(ra, rb, budgets):
    parts = []
    for var in VARIANTS:
        gaps = np.array([v["gap"] for (vv, *_), v in ra.items() if vv == var])
        diffs = [abs(v["d"] - v["d_exact"]) for (vv, *_), v in ra.items() if vv == var and v["reached"]]
        limited = sum(not v["reached"] for (vv, *_), v in ra.items() if vv == var)
        parts.append(
            f"(a) {var}: {budgets[var]['steps']} Adam steps, cosine lr from {budgets[var]['lr']:g}; relative "
            f"objective gap to the exact ERM minimum max {fmt(gaps.max(), 2)}, median {fmt(np.median(gaps), 2)}; "
            f"{limited}/{gaps.size} runs optimisation-limited (gap > {GAP_TOL[var]:g}); runs at the minimum are "
            f"within {fmt(max(diffs), 2) if diffs else 'n/a'} of the exact minimiser's distance")
    mse = [v["mse"] for v in rb.values()]
    parts.append(f"(b) no weight decay: final MSE max {fmt(max(mse), 2)}, median {fmt(float(np.median(mse)), 2)}")
    return "; ".join(parts)


def run(out_dir, *, full=False, seed=0) -> StudyResult:
    """Run the PPW study; see the module docstring."""
    timer = Timer()
    out = study_dir(out_dir)
    tnames = list(TARGETS) if full else ["|x|", "x²"]
    ns = [20, 40, 80, 160] if full else [20, 40]
    ps = [0.0, 0.5, 1.0, 2.0] if full else [1.0, 2.0]
    c0 = 1e-3
    budgets = A_BUDGETS
    ra = _part_a(tnames, ns, ps, c0, budgets, seed)
    xb, rb = _part_b(tnames, 80 if full else 40, 6000 if full else 2000, seed)

    nums = {}
    for (var, t, p, n), v in ra.items():
        key = f"{'V3dist' if var == 'V3' else 'V1viol'}_{t}_p{p:g}_n{n}"
        nums[f"a_{key}"] = v["d"]
        nums[f"a_exactERM_{key}"] = v["d_exact"]
        nums[f"a_rel_objective_gap_{key}"] = v["gap"]
    for var in VARIANTS:
        nums[f"a_steps_{var}"] = budgets[var]["steps"]
        nums[f"a_peak_lr_{var}"] = budgets[var]["lr"]
        nums[f"a_gap_tol_{var}"] = GAP_TOL[var]
        nums[f"a_optimisation_limited_{var}"] = sum(not v["reached"] for (vv, *_), v in ra.items() if vv == var)
    nums["a_max_rel_objective_gap"] = max(v["gap"] for v in ra.values())
    v_a, tested, dec = verdict_a(ra, tnames, ns, ps)
    for p in ps:
        nums[f"a_tested_p{p:g}"] = float(p in tested)

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
    hyps, hnums = _hypotheses(ra, rb, tnames, ns, ps)
    nums.update(hnums)

    def series(var, t, p):
        a, b = ra[(var, t, p, ns[0])], ra[(var, t, p, ns[-1])]
        # Gaps below 0 are rounding (the exact minimiser is optimal); shown as 0, kept signed in the numbers.
        return f"{fmt(a['d'], 2)}→{fmt(b['d'], 2)} (gap {fmt(max(a['gap'], 0.0), 1)}→{fmt(max(b['gap'], 0.0), 1)})"

    a_txt = "; ".join(f"p={p:g}" + ("" if p in tested or p == 0 else " [optimisation-limited]") + ": " + ", ".join(
        f"{t} V1-viol {series('V1', t, p)}, V3-dist {series('V3', t, p)}" for t in tnames) for p in ps)
    b_txt = "; ".join(f"{t} {opt}: f(0)={v['f0']:.3f} (env [{v['lo']:.3f}, {v['hi']:.3f}])"
                      for (t, opt), v in rb.items())
    measured = (f"(a) λ_wd = {c0:g}·(n/{ns[0]})^-p, m=2n, n {ns[0]}→{ns[-1]}, trained distance (relative "
                f"objective gap): {a_txt}; exponents with every run at the minimum: "
                f"{[f'{p:g}' for p in tested] or 'none'}, decreasing among them: "
                f"{[f'{p:g}' for p in tested if dec[p]] or 'none'}; (b) no weight decay: {b_txt}")
    details = [f"(a) verdict {v_a}; (b) verdict {v_b} (max distance of f(0) outside the envelope "
               f"{fmt(worst_out, 2)}, max envelope violation on [−1, 1] {fmt(worst_viol, 2)}).",
               "(a) the exact ERM minimiser at the same lam (solver layer): " + "; ".join(
                   f"p={p:g}: " + ", ".join(
                       f"{t} V1-viol {fmt(ra[('V1', t, p, ns[0])]['d_exact'], 2)}→"
                       f"{fmt(ra[('V1', t, p, ns[-1])]['d_exact'], 2)}, V3-dist "
                       f"{fmt(ra[('V3', t, p, ns[0])]['d_exact'], 2)}→{fmt(ra[('V3', t, p, ns[-1])]['d_exact'], 2)}"
                       for t in tnames) for p in ps) + ".",
               "No rate is attributed to PPW: their exact λ_{n,m} could not be confirmed (MATH C)."]
    figs = _figure(out, xb, rb, tnames) + _figure_erm(out, ra, tnames, ns, ps)
    return StudyResult(NAME, PAPER, CLAIM, measured, verdict, nums, figs, timer.elapsed, full, details,
                       hypotheses=hyps, optimisation=_optimisation_text(ra, rb, budgets))


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


def _figure_erm(out, ra, tnames, ns, ps):
    """Part (a): each trained distance (filled: at the minimum, hollow: optimisation-limited), the exact
    minimiser's (dotted) and the relative objective gap beside it, against n."""
    fig, ax = new_figure(len(tnames), 3, size=(4.2, 3.2))
    fig.suptitle("Weight-decay ERM, λ_wd ∝ n^-p: trained (solid; hollow marker = optimisation-limited) and exact "
                 "ERM minimiser (dotted)", fontsize=10)
    for i, t in enumerate(tnames):
        for k, p in enumerate(ps):
            c = f"C{k}"
            for j, var in enumerate(VARIANTS):
                runs = [ra[(var, t, p, n)] for n in ns]
                a = ax[i, j]
                a.plot(ns, [r["d_exact"] for r in runs], ":", color=c, lw=1)
                a.plot(ns, [r["d"] for r in runs], "-", color=c, lw=1, label=f"p={p:g}")
                for n, r in zip(ns, runs):
                    a.plot(n, r["d"], "o", color=c, ms=4, mfc=c if r["reached"] else "none")
                ax[i, 2].plot(ns, [max(r["gap"], 1e-16) for r in runs], "-o" if var == "V3" else "--s", color=c,
                              ms=3, lw=1, mfc="none", label=f"{var} p={p:g}")
        ax[i, 0].set_title(f"{t}: V1 envelope violation", fontsize=9)
        ax[i, 1].set_title(f"{t}: V3 distance to the B–F solution", fontsize=9)
        ax[i, 2].set_title(f"{t}: relative objective gap (thresholds: V1 --, V3 —)", fontsize=9)
        for var, ls in (("V1", "--"), ("V3", "-")):
            ax[i, 2].axhline(GAP_TOL[var], color="k", ls=ls, lw=0.8)
        for a in ax[i]:
            a.set_xscale("log")
            a.set_yscale("log")
            a.set_xticks(ns, [str(n) for n in ns])
            a.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
            a.set_xlabel("n (m = 2n)")
        ax[i, 0].legend(fontsize=7)
        ax[i, 2].legend(fontsize=6, ncol=2)
    return [save_figure(fig, out / "ppw_erm.png")]
