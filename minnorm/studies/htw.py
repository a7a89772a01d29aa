r"""Heiss--Teichmann--Wutte (arXiv 1911.02903): random first layer -> weighted smoothing spline.

Setting: :math:`f(x)=\sum_{k\le N} v_k\,\mathrm{relu}(w_k x+b_k)\,[+c x+d]` with :math:`(w_k,b_k)`
drawn once from an initialisation law and frozen; only the output layer is fitted.

Parts (MATH D.2 and F)
----------------------
(a) **Ridge -> weighted smoothing spline.** Ridge :math:`\sum_i(f(x_i)-y_i)^2+\tilde\lambda\|v\|^2`
    (skip connection and output bias free) against the solver layer's
    ``weighted_spline(x, y, weight=kink_density(law), lam=lam)``, objective
    :math:`\sum_i(f(x_i)-y_i)^2+\lambda\int f''^2/g`, with the map :math:`\lambda=\tilde\lambda/N`
    (:math:`\Phi\Phi^\top\approx N K`). The map is checked numerically at the largest width against
    HTW's scale :math:`\tilde\lambda/(N g(0))` and against no scaling. Sup distance on the data hull
    widened by 50 % vs N for the gaussian and the uniform law; exponent of
    :math:`C N^{-\alpha}` with a seed-bootstrap interval (:func:`minnorm.comparison.rates.fit_rate`).
(b) **No skip connection.** Without skip term and output bias the limit is the kernel
    interpolant with the boundary term :math:`e^\top Q^{-1}e` (``weighted_spline(..., skip=False,
    output_bias=False)``), not the natural spline. Law ``pm1-uniform`` (w = ±1, b ~ U[-c, c]),
    MATH G.9 data: the sup gap between the two limits on the hull for c = 2, 5, 20, 100 (MATH
    D.2 quotes 3.1e-2, 2.3e-3, 1.7e-4, 2.7e-5), and which of the two a wide no-skip random-feature
    interpolant (c = 2) is closer to.
(c) **Early stopping.** Last-layer GD from v = 0 (``minnorm.train`` with
    ``train_first_layer=False``; its objective is the MSE, so the step on the sum of squares is
    :math:`\eta=\mathrm{lr}/n`) vs the ridge solution with :math:`\tilde\lambda=1/(2\eta k)` on the
    same features. The GD iterates are checked against the closed form
    :math:`F_k=[I-(I-2\eta\Phi\Phi^\top)^k]y` (MATH F), which then extends the path to large k.
    Relative L² gap on the widened hull.

Verdict rule
------------
Paper's claim (abstract: ridge on the output layer "corresponds in function space to regularizing
the estimate's second derivative", the trained network "converges to the smooth spline
interpolation [...] as the number of hidden nodes tends to infinity", and "a novel correspondence
between the early stopped gradient descent [...] and the smoothing spline regression"), tested by
(a) and (c): (a) holds if every law's exponent interval lies above 0 (convergence), "holds
approximately" if the exponents are positive but an interval reaches 0, else "does not hold";
(c) is an approximation by construction (MATH F): "holds approximately" if the maximal relative
gap along the path is < 0.5, "holds" if < 0.05, else "does not hold". Headline verdict: the
weaker of (a) and (c).

Our hypotheses (not the paper's claims), each with its own verdict:

- *Monte-Carlo rate* (MATH D.2): the sup distance decays as N^-1/2: "holds" if every law's
  exponent interval contains 0.5, "holds approximately" if every exponent is within [0.3, 0.7],
  else "does not hold".
- *The λ map* λ = λ̃/N: at the largest width it gives the smallest distance of the three
  candidates (λ̃/N, HTW's λ̃/(N g(0)) as reproduced in MATH D.2, λ̃) for every law: "holds", else
  "does not hold".
- *No-skip boundary term*, part (b): "holds" if the c-gaps decrease monotonically and the network
  is closer to the boundary-term limit than to the natural spline; "holds approximately" if one of
  the two; else "does not hold".

Optimisation: (a) and (b) are exact linear solves (no iterative training; the interpolation MSE
of the (b) nets is reported); (c)'s GD iterates are checked against the closed-form path, so no
run is optimisation-limited unless that check exceeds 1e-8.

Measured (seed 0, 2026-12-01; 2 cores shared with other jobs, load ~6, so times are upper bounds):
reduced form 13 s, full form 42 s (the full form adds a width and seeds; 9.5 s on free cores). Reduced: α = 0.49
[0.31, 0.63] (gaussian), 0.54 [0.35, 0.66] (uniform) -> (a) holds; early stopping vs ridge 5–32 %
-> (c) holds approximately; headline **holds approximately**. Full: α = 0.49 [0.44, 0.54] and
0.48 [0.39, 0.55]; (c) 4–32 %; headline **holds approximately**. Hypotheses (both forms): N^-1/2
rate holds, λ = λ̃/N holds (HTW's λ̃/(N g(0)) is 7–30× farther at the largest width), no-skip
boundary term holds (gaps 0.031, 0.0023, 1.7e-4, 2.7e-5 as MATH D.2).
"""

from __future__ import annotations

import numpy as np

import solvers
from solvers.spline.laws import LAW_DEFAULTS
from minnorm.comparison import metrics
from minnorm.comparison.plots import new_figure, save_figure
from minnorm.comparison.problems import widened_hull
from minnorm.comparison.rates import fit_rate
from minnorm.studies._base import (Hypothesis, StudyResult, Timer, fmt, seeds_for, study_dir, torch_threads,
                                   weakest)
from minnorm.training.convert import to_function
from minnorm.training.loop import train
from minnorm.training.network import ShallowReLU
from minnorm.training.random_features import random_features_ridge

NAME = "htw"
PAPER = "Heiss, Teichmann, Wutte (arXiv 1911.02903)"
CLAIM = ("Random first layer, trained output layer: L2-regularised regression corresponds to regularising f'' "
         "(a weighted smoothing spline) and converges to it as the width N → ∞; early-stopped GD corresponds to "
         "smoothing-spline regression (abstract)")
#: Part (c)'s trained iterates must match the closed-form GD path to this (sup) for the run to count.
PATH_CHECK_TOL = 1e-8

LAWS = {law: dict(LAW_DEFAULTS[law]) for law in ("gaussian", "uniform")}  # the library's defaults
# MATH G.9 data (used for part (b)).
G9_X = np.array([-1.5, -0.7, -0.1, 0.4, 1.0, 1.6])
G9_Y = np.array([0.3, -0.5, 0.8, 0.1, -0.6, 0.2])
MATH_NOSKIP_GAPS = {2.0: 3.1e-2, 5.0: 2.3e-3, 20.0: 1.7e-4, 100.0: 2.7e-5}


def _data(seed, n=12):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1.0, 1.0, n))
    y = np.sin(np.pi * x) + 0.1 * rng.standard_normal(n)
    return x, y


def _part_a(full, seed):
    x, y = _data(seed)
    interval = widened_hull(x)
    lam = 1e-2  # function-space smoothing constant
    widths = [64, 256, 1024, 4096, 16384] if full else [64, 256, 1024, 4096]
    seeds = seeds_for(seed + 1, 10 if full else 4)
    res = {}
    for law, params in LAWS.items():
        kd = solvers.kink_density(law, **params)
        ref = solvers.weighted_spline(x, y, weight=kd, lam=lam)
        dists = np.zeros((len(seeds), len(widths)))
        for i, s in enumerate(seeds):
            for j, N in enumerate(widths):
                model = ShallowReLU(N, skip=True, output_bias=True, init=law, init_params=params, seed=s)
                fitted = random_features_ridge(model, x, y, lam * N)  # λ̃ = N λ
                dists[i, j] = metrics.linf_distance(to_function(fitted), ref, interval)
        W = np.broadcast_to(np.array(widths, float), dists.shape)
        S = np.broadcast_to(np.array(seeds)[:, None], dists.shape)
        fit = fit_rate(W.ravel(), dists.ravel(), seeds=S.ravel(), n_boot=1000, seed=seed)
        # The λ map: same features at the largest width, three candidate function-space constants.
        N = widths[-1]
        model = ShallowReLU(N, skip=True, output_bias=True, init=law, init_params=params, seed=seeds[0])
        fitted = to_function(random_features_ridge(model, x, y, lam * N))
        g0 = float(kd.g(np.array([0.0]))[0])
        maps = {"lam=lt/N": lam, "lam=lt/(N g(0))": lam / g0, "lam=lt": lam * N}
        map_d = {k: metrics.linf_distance(fitted, solvers.weighted_spline(x, y, weight=kd, lam=v), interval)
                 for k, v in maps.items()}
        res[law] = {"widths": widths, "dists": dists, "fit": fit, "map": map_d, "ref": ref, "g0": g0,
                    "example": fitted}
    return x, y, interval, res


def _part_b(full, seed):
    gaps = {}
    for c in MATH_NOSKIP_GAPS:
        kd = solvers.kink_density("pm1-uniform", c=c)
        ns = solvers.weighted_spline(G9_X, G9_Y, weight=kd, skip=False, output_bias=False)
        nat = solvers.weighted_spline(G9_X, G9_Y, weight=kd)
        gaps[c] = metrics.linf_distance(ns, nat, (G9_X[0], G9_X[-1]))
    c = 2.0
    kd = solvers.kink_density("pm1-uniform", c=c)
    ns = solvers.weighted_spline(G9_X, G9_Y, weight=kd, skip=False, output_bias=False)
    nat = solvers.weighted_spline(G9_X, G9_Y, weight=kd)
    N = 100_000 if full else 20_000
    d_ns, d_nat, nets, mse = [], [], [], []
    for s in seeds_for(seed + 2, 5 if full else 3):
        model = ShallowReLU(N, skip=False, output_bias=False, init="pm1-uniform", init_params={"c": c}, seed=s)
        f = to_function(random_features_ridge(model, G9_X, G9_Y, 0.0))  # min-norm interpolant
        hull = (G9_X[0], G9_X[-1])
        d_ns.append(metrics.linf_distance(f, ns, hull))
        d_nat.append(metrics.linf_distance(f, nat, hull))
        mse.append(metrics.train_loss(f, G9_X, G9_Y))
        nets.append(f)
    return {"gaps": gaps, "N": N, "d_noskip": np.array(d_ns), "d_natural": np.array(d_nat), "ns": ns, "nat": nat,
            "net": nets[0], "mse": np.array(mse)}


def _part_c(full, seed):
    x, y = _data(seed + 3)
    n = x.size
    interval = widened_hull(x)
    N = 2000
    model = ShallowReLU(N, skip=False, output_bias=False, init="gaussian", output_init="zeros", seed=seed + 3)
    w = model.w.detach().numpy()
    b = model.b.detach().numpy()
    phi = np.maximum(x[:, None] * w[None, :] + b[None, :], 0.0)
    K = phi @ phi.T
    kmax = float(np.linalg.eigvalsh(K)[-1])
    # Step on the sum of squares η = lr/n (train's objective is the MSE); 2ηλ_max = 1 is stable.
    eta = 0.5 / kmax
    lr = eta * n
    checkpoints = [10, 30, 100, 300, 1000, 3000]
    # GD with minnorm.train in segments (GD has no optimiser state, so segments = one run).
    trained, done = {}, 0
    for k in checkpoints:
        train(model, x, y, steps=k - done, lr=lr, train_first_layer=False, log_every=max(1, k - done))
        done = k
        trained[k] = to_function(model)
    # Closed form of the path (MATH F), checked against the trained iterates, then extended.
    evals, V = np.linalg.eigh(K)

    def closed(k):
        coef = V @ ((1.0 - (1.0 - 2.0 * eta * evals) ** k) / evals * (V.T @ y))  # K^{-1} F_k
        v = phi.T @ coef
        return solvers.PiecewiseLinear.from_network(v, w, b)

    check = max(metrics.linf_distance(trained[k], closed(k), interval) for k in checkpoints)
    path_ks = checkpoints + ([10_000, 30_000, 100_000, 200_000] if full else [10_000, 100_000])
    gaps, gaps_mm = [], []
    for k in path_ks:
        fk = trained[k] if k in trained else closed(k)
        ridge = to_function(random_features_ridge(model, x, y, 1.0 / (2.0 * eta * k)))
        ridge_mm = to_function(random_features_ridge(model, x, y, 0.53 / (2.0 * eta * k)))
        gaps.append(metrics.rel_l2_distance(fk, ridge, interval))
        gaps_mm.append(metrics.rel_l2_distance(fk, ridge_mm, interval))
    return {"ks": path_ks, "gaps": np.array(gaps), "gaps_minimax": np.array(gaps_mm), "check": check,
            "eta": eta, "N": N}


def run(out_dir, *, full=False, seed=0) -> StudyResult:
    """Run the HTW study; see the module docstring. Returns a :class:`StudyResult`."""
    timer = Timer()
    out = study_dir(out_dir)
    with torch_threads(1):
        x, y, interval, ra = _part_a(full, seed)
        rb = _part_b(full, seed)
        rc = _part_c(full, seed)

    nums = {}
    ok_a, strict_a, map_ok, rate_in, rate_near = True, True, True, True, True
    for law, r in ra.items():
        f = r["fit"]
        nums[f"a_{law}_exponent"] = f.exponent
        nums[f"a_{law}_ci_low"] = f.ci_low
        nums[f"a_{law}_ci_high"] = f.ci_high
        for j, N in enumerate(r["widths"]):
            nums[f"a_{law}_linf_N{N}"] = float(np.mean(r["dists"][:, j]))
        for k, v in r["map"].items():
            nums[f"a_{law}_map_{k}"] = v
        ok_a &= f.exponent > 0
        strict_a &= bool(np.isfinite(f.ci_low) and f.ci_low > 0)
        map_ok &= r["map"]["lam=lt/N"] == min(r["map"].values())
        rate_in &= bool(f.ci_low <= 0.5 <= f.ci_high)
        rate_near &= 0.3 <= f.exponent <= 0.7
    v_a = "holds" if strict_a else ("holds approximately" if ok_a else "does not hold")

    cs = sorted(rb["gaps"])
    gaps = [rb["gaps"][c] for c in cs]
    for c, g in zip(cs, gaps):
        nums[f"b_gap_c{c:g}"] = g
        nums[f"b_gap_c{c:g}_math"] = MATH_NOSKIP_GAPS[c]
    nums["b_net_to_noskip"] = float(np.mean(rb["d_noskip"]))
    nums["b_net_to_natural"] = float(np.mean(rb["d_natural"]))
    nums["b_max_interpolation_mse"] = float(np.max(rb["mse"]))
    mono = all(g1 > g2 for g1, g2 in zip(gaps, gaps[1:]))
    closer = nums["b_net_to_noskip"] < nums["b_net_to_natural"]
    v_b = "holds" if (mono and closer) else ("holds approximately" if (mono or closer) else "does not hold")

    nums["c_path_check_linf"] = rc["check"]
    for k, g, gm in zip(rc["ks"], rc["gaps"], rc["gaps_minimax"]):
        nums[f"c_relgap_k{k}"] = g
        nums[f"c_relgap_minimax_k{k}"] = gm
    gmax, gmin = float(np.max(rc["gaps"])), float(np.min(rc["gaps"]))
    v_c = "holds" if gmax < 0.05 else ("holds approximately" if gmax < 0.5 else "does not hold")
    limited = int(not rc["check"] <= PATH_CHECK_TOL)
    verdict = "inconclusive" if limited else weakest(v_a, v_c)

    fg, fu = ra["gaussian"]["fit"], ra["uniform"]["fit"]
    measured = (f"(a) ridge (λ = λ̃/N) → weighted smoothing spline: sup-dist ~ N^-α with α = {_fit_str(fg)} "
                f"(gaussian), {_fit_str(fu)} (uniform), N = {ra['gaussian']['widths'][0]}…"
                f"{ra['gaussian']['widths'][-1]}; (c) early-stopped GD vs ridge λ̃=1/(2ηk): relative L² gap "
                f"{100 * gmin:.0f}–{100 * gmax:.0f}% over k = {rc['ks'][0]}…{rc['ks'][-1]:.0e}")
    hypotheses = [
        Hypothesis("the ridge-to-spline distance decays at the Monte-Carlo rate N^-1/2 (MATH D.2)",
                   f"α = {_fit_str(fg)} (gaussian), {_fit_str(fu)} (uniform)",
                   "holds" if rate_in else ("holds approximately" if rate_near else "does not hold")),
        Hypothesis("the function-space constant is λ = λ̃/N (not HTW's λ̃/(N g(0)) as reproduced in MATH D.2, nor λ̃)",
                   "distance at the largest width for λ̃/N, λ̃/(N g(0)), λ̃: " + "; ".join(
                       f"{law}: " + ", ".join(fmt(v) for v in r["map"].values()) for law, r in ra.items()),
                   "holds" if map_ok else "does not hold"),
        Hypothesis("without skip connection and output bias the limit is the kernel interpolant with the boundary "
                   "term e'Q^-1 e, not the natural spline (MATH D.2)",
                   f"no-skip vs natural gap {', '.join(fmt(g, 2) for g in gaps)} for c = "
                   f"{', '.join(f'{c:g}' for c in cs)} (MATH: {', '.join(fmt(MATH_NOSKIP_GAPS[c], 2) for c in cs)}); "
                   f"net (N={rb['N']}, c=2) {fmt(nums['b_net_to_noskip'])} from the boundary-term limit vs "
                   f"{fmt(nums['b_net_to_natural'])} from the natural spline", v_b),
    ]
    optimisation = (f"(a), (b): exact linear solves (random_features_ridge), no iterative training; (b)'s min-norm "
                    f"interpolants have MSE ≤ {fmt(nums['b_max_interpolation_mse'], 2)}; (c): minnorm.train GD "
                    f"iterates equal the closed-form path to {fmt(rc['check'], 2)} (sup; limit {PATH_CHECK_TOL:g}); "
                    f"{limited} runs optimisation-limited")
    details = [
        f"(a) verdict {v_a}; (c) verdict {v_c}: minimax constant 0.53/(2ηk) gives "
        f"{100 * np.min(rc['gaps_minimax']):.0f}–{100 * np.max(rc['gaps_minimax']):.0f}%.",
    ]

    figs = _figure(out, x, y, interval, ra, rb, rc)
    return StudyResult(NAME, PAPER, CLAIM, measured, verdict, nums, figs, timer.elapsed, full, details,
                       hypotheses=hypotheses, optimisation=optimisation)


def _fit_str(f):
    return f"{f.exponent:.2f} [{f.ci_low:.2f}, {f.ci_high:.2f}]"


def _figure(out, x, y, interval, ra, rb, rc):
    fig, ax = new_figure(2, 2)
    a = ax[0, 0]
    for law, r in ra.items():
        W = np.array(r["widths"], float)
        for row in r["dists"]:
            a.loglog(W, row, "o", ms=3, alpha=0.4, color="C0" if law == "gaussian" else "C1")
        a.loglog(W, r["fit"].predict(W), "-", color="C0" if law == "gaussian" else "C1",
                 label=f"{law}: N^-{r['fit'].exponent:.2f}")
    a.set_xlabel("width N")
    a.set_ylabel("sup |ridge − weighted spline|")
    a.set_title("(a) ridge → weighted smoothing spline")
    a.legend(fontsize=8)

    a = ax[0, 1]
    t = np.linspace(*interval, 600)
    r = ra["gaussian"]
    a.plot(t, r["ref"](t), "k-", lw=2, label="weighted spline (gaussian g)")
    a.plot(t, r["example"](t), "C3--", lw=1, label=f"ridge, N={r['widths'][-1]}")
    a.plot(x, y, "ko", ms=4)
    a.set_title("(a) largest width vs limit")
    a.legend(fontsize=8)

    a = ax[1, 0]
    t = np.linspace(G9_X[0] - 0.3, G9_X[-1] + 0.3, 600)
    a.plot(t, rb["nat"](t), "k-", label="natural spline (skip)")
    a.plot(t, rb["ns"](t), "C2-", label="kernel limit, no skip (boundary term)")
    a.plot(t, rb["net"](t), "C3--", lw=1, label=f"RF net, no skip, N={rb['N']}")
    a.plot(G9_X, G9_Y, "ko", ms=4)
    ins = a.inset_axes([0.62, 0.08, 0.35, 0.3])
    cs = sorted(rb["gaps"])
    ins.loglog(cs, [rb["gaps"][c] for c in cs], "o-", ms=3, label="measured")
    ins.loglog(cs, [MATH_NOSKIP_GAPS[c] for c in cs], "x", ms=4, label="MATH")
    ins.set_xlabel("c", fontsize=6)
    ins.tick_params(labelsize=6)
    a.set_title("(b) no skip: limit ≠ natural spline (c = 2)")
    a.legend(fontsize=7, loc="upper left")

    a = ax[1, 1]
    a.semilogx(rc["ks"], 100 * rc["gaps"], "o-", label="λ̃ = 1/(2ηk)")
    a.semilogx(rc["ks"], 100 * rc["gaps_minimax"], "s--", label="λ̃ = 0.53/(2ηk)")
    a.set_xlabel("GD step k")
    a.set_ylabel("relative L² gap GD vs ridge (%)")
    a.set_title("(c) early stopping ≈ ridge (approximation)")
    a.legend(fontsize=8)
    return [save_figure(fig, out / "htw.png")]
