r"""Shevchenko--Kungurtsev--Mondelli (arXiv 2111.02278): mean-field noisy GD -> at most 3 knots per interval.

Setting (MATH E): :math:`f(x)=\frac1m\sum_j a_j\,\mathrm{relu}(w_j x+b_j)` (mean-field, no skip term,
no output bias), trained with weight decay and small Langevin noise by :func:`minnorm.train_population`
in the paper's per-particle convention
:math:`\theta\leftarrow\theta-\eta(m\nabla\hat L+\lambda\theta)+\sqrt{2\eta/\beta}\,\xi`, i.e.
``lr = m*eta``, ``weight_decay = lambda/m``, ``noise_temperature = 1/(m*beta)`` (biases penalised,
as all particle coordinates are). :math:`\hat L` is the MSE on n = 6 random points of
:math:`\sin(\pi x)`.

Paper's claim (abstract): "SGD with vanishingly small noise injected in the gradients is biased
towards a simple solution: at convergence, the ReLU network implements a piecewise linear map of
the inputs, and the number of 'knot' points [...] between two consecutive training inputs is at
most three"; also "empirical evidence that knots at locations distinct from the data points might
occur" (MATH E summarises the setting).

Measurement: the exact function of each trained net (:func:`minnorm.to_function`), kinks
clustered and counted per open data interval by :func:`minnorm.comparison.metrics.knots_per_interval`
(merge within 1e-2 of the data range, drop jumps below 1e-2 of the total variation; MATH E).

Verdict rule
------------
A run is *optimisation-limited* if its objective still moved by more than 5 % over the last
fifth of training (not at a stationary state); conclusions are drawn only from the other runs.
Paper's claim: "inconclusive" if every run is optimisation-limited; otherwise "holds" if the
maximal count over the stationary runs and all intervals is <= 3, else "does not hold".

Our hypotheses (not the paper's claims), each with its own verdict:

- *Off-data knots occur*: at least one clustered knot lies strictly between data points in some
  stationary run ("holds"; else "does not hold"). The paper reports that they can occur, so
  their absence would not contradict it.
- *The noisy-GD net is the weight-decay minimiser in function space*: with β large the Gibbs
  minimiser approaches the minimiser of :math:`\sum_i(f(x_i)-y_i)^2+\mathrm{lam}\,R_{V4}(f)` at the
  mapped lam (MATH A.2; biases penalised, no skip). The gap is measured against the V4 minimum,
  which has a free output bias; this net has none, so its true minimum is at least as large and
  the measured relative objective gap is an upper bound. "holds" if the largest bound over the
  stationary runs is <= 1e-2, "holds approximately" if <= 1e-1, else "inconclusive" (an upper
  bound cannot refute).

Measured (seed 0, 2026-12-01; verdicts and numbers first on the torch backend with 2 cores shared
with other jobs, then re-run on the compiled backend (Langevin noise drawn with the same generator
calls, so the same numbers) on free cores, which gave the times below):

- Reduced form (m = 100, 6000 steps, 3 seeds): 2.0 s (38 s on the torch backend under load 6–9);
  counts [0,0,0,2,0], [0,0,0,2,0], [0,0,0,1,0], max 2 -> **holds**; objective drift over the last
  fifth <= 0.008 (0 optimisation-limited); 5 of 8 clustered knots inside the hull lie between data
  points (hypothesis holds); V4 gap bound 0.0063–0.012 (hypothesis holds approximately).
- Full form (m = 400, 4·10⁴ steps, 5 seeds): 15.2 s (263 s on the torch backend under load 6–9); max 1 knot per
  interval -> **holds**; drift <= 3.8e-4; 5 of 10 knots between data points (holds); V4 gap bound
  1.9e-4–4.1e-4 (holds).
"""

from __future__ import annotations

import warnings

import numpy as np

from minnorm.comparison import metrics
from minnorm.comparison.plots import new_figure, save_figure
from minnorm.studies._base import Hypothesis, StudyResult, Timer, fmt, seeds_for, study_dir, torch_threads
from minnorm.training.convert import to_function
from minnorm.training.loop import train_population
from minnorm.training.network import ShallowReLU

NAME = "shevchenko"
PAPER = "Shevchenko, Kungurtsev, Mondelli (arXiv 2111.02278)"
CLAIM = ("Mean-field two-layer ReLU net, noisy SGD with vanishing noise on a regularised univariate regression: "
         "at convergence a piecewise-linear map with at most three knots between consecutive training inputs "
         "(abstract)")
#: A run whose objective moves by more than this (relative) over the last fifth of training is
#: optimisation-limited.
DRIFT_TOL = 0.05


def run(out_dir, *, full=False, seed=0) -> StudyResult:
    """Run the Shevchenko study; see the module docstring."""
    timer = Timer()
    out = study_dir(out_dir)
    rng = np.random.default_rng(seed)
    n = 6
    x = np.sort(rng.uniform(-1.0, 1.0, n))
    y = np.sin(np.pi * x)
    m = 400 if full else 100
    steps = 40_000 if full else 6_000
    eta = 0.1 if full else 0.2
    lam, beta = 1e-3, 1e6
    seeds = seeds_for(seed + 7, 5 if full else 3)
    models = [ShallowReLU(m, parametrization="mean-field", skip=False, output_bias=False, init="gaussian",
                          output_init="gaussian", output_scale=1.0, seed=s) for s in seeds]
    with torch_threads(1), warnings.catch_warnings():
        # variant_for warns that V4 assumes a free output bias; the gap below is used as an upper bound.
        warnings.filterwarnings("ignore", message=".*assume a free output bias", category=UserWarning)
        results = train_population(models, x, y, steps=steps, lr=m * eta, weight_decay=lam / m,
                                   noise_temperature=1.0 / (m * beta), penalize_bias=True, seed=seeds,
                                   log_every=max(1, steps // 200))
    counts, fns, drift, gaps = [], [], [], []
    for r in results:
        f = to_function(r.model)
        fns.append(f)
        counts.append(metrics.knots_per_interval(f, x))
        obj = r.history["objective"]
        tail = obj[int(0.8 * len(obj)):]
        drift.append(float((np.max(tail) - np.min(tail)) / max(abs(obj[-1]), 1e-300)))
        gaps.append(metrics.rel_objective_gap(f, x, y, r.lam, "bias-no-skip"))
    per = np.array([c.per_interval for c in counts])  # [seeds, n-1]
    ok = [i for i, d in enumerate(drift) if d <= DRIFT_TOL]  # stationary runs
    max_count = int(per[ok].max()) if ok else -1
    off_data = int(per[ok].sum()) if ok else 0
    at_data = int(sum(counts[i].at_data.sum() for i in ok))
    outside = int(sum(counts[i].outside for i in ok))
    if not ok:
        verdict = "inconclusive"
    else:
        verdict = "holds" if max_count <= 3 else "does not hold"
    gap_bound = max(gaps[i] for i in ok) if ok else float("nan")
    nums = {"max_knots_per_interval": max_count, "knots_strictly_inside_intervals": off_data,
            "knots_at_data": at_data, "knots_outside_hull": outside, "max_objective_tail_drift": max(drift),
            "stationary_runs": len(ok), "final_mse_max": max(r.final_loss for r in results),
            "max_rel_objective_gap_v4_bound": max(gaps), "lam": results[0].lam, "width": m, "steps": steps}
    for i, row in enumerate(per):
        nums[f"objective_tail_drift_seed{i}"] = drift[i]
        nums[f"rel_objective_gap_v4_bound_seed{i}"] = gaps[i]
        for j, v in enumerate(row):
            nums[f"count_seed{i}_interval{j}"] = int(v)
    measured = (f"max {max_count} knots per data interval over {len(ok)} stationary runs × {n - 1} intervals "
                f"(counts {', '.join(str(list(map(int, per[i]))) for i in ok)}); {at_data} clustered knots at data "
                f"points (m={m}, λ={lam:g}, β={beta:g}, {steps} steps)")
    if not ok:
        h_off = h_min = "inconclusive"
    else:
        h_off = "holds" if off_data > 0 else "does not hold"
        h_min = "holds" if gap_bound <= 1e-2 else ("holds approximately" if gap_bound <= 1e-1 else "inconclusive")
    hypotheses = [
        Hypothesis("knots away from the data points occur (the paper's experiments report them)",
                   f"{off_data} of {off_data + at_data} clustered knots inside the hull lie strictly between data "
                   f"points", h_off),
        Hypothesis("the noisy-GD net is the weight-decay minimiser in function space (V4 at the mapped lam, MATH A.2)",
                   f"relative objective gap to the V4 minimum (an upper bound: the net has no output bias) "
                   f"{', '.join(fmt(g, 2) for g in gaps)} at lam = {fmt(results[0].lam, 3)}", h_min),
    ]
    limited = len(results) - len(ok)
    optimisation = (f"noisy GD ({results[0].backend} backend), {steps} steps: final MSE "
                    f"{', '.join(fmt(r.final_loss, 2) for r in results)} (the regularised fit does not interpolate); "
                    f"objective drift over the last 20 % {', '.join(fmt(d, 2) for d in drift)}; {limited} of "
                    f"{len(results)} runs optimisation-limited (drift > {DRIFT_TOL:g}); relative objective gap to the "
                    f"V4 minimum ≤ {fmt(max(gaps), 2)} (upper bound)")
    details = [f"Data x = {np.array2string(x, precision=3)}; {outside} clustered knots outside the hull."]
    figs = _figure(out, x, y, fns, counts, per)
    return StudyResult(NAME, PAPER, CLAIM, measured, verdict, nums, figs, timer.elapsed, full, details,
                       hypotheses=hypotheses, optimisation=optimisation)


def _figure(out, x, y, fns, counts, per):
    fig, ax = new_figure(1, 2)
    a = ax[0, 0]
    width = 0.8 / per.shape[0]
    for s, row in enumerate(per):
        a.bar(np.arange(per.shape[1]) + s * width - 0.4 + width / 2, row, width=width, label=f"seed {s}")
    a.axhline(3, color="k", ls=":", lw=1, label="claimed bound 3")
    a.set_xticks(range(per.shape[1]))
    a.set_xticklabels([f"({x[i]:.2f},{x[i + 1]:.2f})" for i in range(per.shape[1])], rotation=30, fontsize=7)
    a.set_ylabel("clustered knots strictly inside")
    a.set_title("knots per data interval")
    a.legend(fontsize=7)
    a = ax[0, 1]
    t = np.linspace(x[0] - 0.3, x[-1] + 0.3, 800)
    for s, (f, c) in enumerate(zip(fns, counts)):
        a.plot(t, f(t), color=f"C{s}", lw=1)
        a.plot(c.knots, f(c.knots), "x", color=f"C{s}", ms=6)
    a.plot(x, y, "ko", ms=4, label="data")
    for xi in x:
        a.axvline(xi, color="0.85", lw=0.6, zorder=0)
    a.set_title("trained mean-field nets (x: clustered knots)")
    a.legend(fontsize=7)
    return [save_figure(fig, out / "shevchenko.png")]
