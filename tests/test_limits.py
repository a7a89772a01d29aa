"""The limit a trained network is compared with (issue 8 part 4, issue 9 input checks).

Expected values come from outside the code under test:
- the kink density of ShallowReLU(init=law) is checked by Monte Carlo on a very wide net (the
  w²-weighted histogram of -b/w) against MATH D.1's closed forms written out here, integrated
  over bins with scipy.integrate.quad;
- the frozen-first-layer limit is checked against the exact finite-width ridge minimiser, solved
  here from the normal equations with numpy (not minnorm.random_features_ridge), as the width grows;
- trained frozen-layer nets are checked against the same numpy ridge solve.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate

import minnorm as mn
import solvers
from minnorm.comparison.sweeps.config import ConfigError, parse_config
from minnorm.training.limits import limit_reference
from solvers import InputError
from solvers.spline.laws import LAW_DEFAULTS, kink_density


# ------------------------------------------------------------------------------ MATH D.1 closed forms
def g_closed_form(law, t, p, s=1.0):
    """MATH D.1, written out independently of solvers.kink_density; s = hidden_scale (g ∝ w²)."""
    t = np.asarray(t, dtype=float)
    if law == "gaussian":
        gam = p["sigma_b"] / p["sigma_w"]
        g = 2 * p["sigma_w"] ** 2 * gam**3 / (np.pi * (gam**2 + t**2) ** 2)
    elif law == "uniform":
        A, B = p["A"], p["B"]
        g = np.where(np.abs(t) <= B / A, A**3 / (8 * B), B**3 / (8 * A * np.maximum(np.abs(t), 1e-300) ** 4))
    else:
        g = np.where(np.abs(t) <= p["c"], 1.0 / (2 * p["c"]), 0.0)
    return s * s * g


def _bin_integral(fun, lo, hi, breaks):
    pts = [lo] + sorted(b for b in breaks if lo < b < hi) + [hi]
    return sum(integrate.quad(lambda u: float(fun(u)), a, b, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
               for a, b in itertools.pairwise(pts))


def _breaks(law, p):
    if law == "uniform":
        return [-p["B"] / p["A"], p["B"] / p["A"]]
    if law == "pm1-uniform":
        return [-p["c"], p["c"]]
    return []


HIST_CASES = [
    ("uniform", None, 1.0),
    ("gaussian", None, 1.0),
    ("pm1-uniform", None, 1.0),
    ("uniform", {"A": 2.0, "B": 0.5}, 1.0),
    ("gaussian", {"sigma_w": 0.5, "sigma_b": 2.0}, 1.5),
    ("pm1-uniform", {"c": 1.5}, 0.7),
]


@pytest.mark.parametrize("law, init_params, s", HIST_CASES, ids=lambda v: str(v))
def test_wide_net_kink_histogram_matches_the_kink_density(law, init_params, s):
    # Monte Carlo (2e6 units, seed 0) vs the closed form: the w²-weighted mass of kinks in each
    # bin is int_bin g (MATH D.1). Per-bin tolerance 5 standard errors of the MC mean.
    m = 2_000_000
    with torch.no_grad():
        net = mn.ShallowReLU(m, init=law, init_params=init_params, hidden_scale=s, seed=0, output_init="zeros")
        w = net.w.numpy().copy()
        b = net.b.numpy().copy()
    params = dict(LAW_DEFAULTS[law], **(init_params or {}))
    assert net.init_params == params and net.hidden_scale == s
    kd = kink_density(law, **(init_params or {}))
    assert kd.params == params  # kink_density(law) with no parameters is the network's law
    keep = w != 0.0
    xi, w2 = -b[keep] / w[keep], w[keep] ** 2
    edges = np.concatenate([[-np.inf], np.linspace(-3.0, 3.0, 25), [np.inf]])
    idx = np.digitize(xi, edges[1:-1])
    mc = np.bincount(idx, weights=w2, minlength=edges.size - 1) / m
    se = np.sqrt(np.bincount(idx, weights=w2**2, minlength=edges.size - 1)) / m
    brk = _breaks(law, params)
    closed = np.array([_bin_integral(lambda u: g_closed_form(law, u, params, s), lo, hi, brk)
                       for lo, hi in itertools.pairwise(edges)])
    library = np.array([_bin_integral(lambda u: s * s * kd.g(u), lo, hi, brk)
                        for lo, hi in itertools.pairwise(edges)])
    np.testing.assert_allclose(library, closed, rtol=1e-9, atol=1e-13)
    assert np.all(np.abs(mc - closed) <= 5 * se + 1e-12), np.max(np.abs(mc - closed) / (se + 1e-300))
    # int g = E[w²]: quadrature of g over R vs the sample mean of w² of the same net
    total = _bin_integral(lambda u: s * s * kd.g(u), -np.inf, np.inf, brk)
    sample = float(np.mean(w**2))
    assert abs(total - sample) <= 5 * np.std(w**2) / math.sqrt(m) + 1e-12  # (w² is constant for pm1-uniform)
    assert total == pytest.approx(s * s * kd.second_moment, rel=1e-9)


def test_kink_histogram_test_can_fail():
    # The old network default (pm1-uniform c = 1) against the old reference default (c = 2):
    # the histogram of a c = 1 net is far outside the tolerance for the c = 2 density.
    m = 200_000
    with torch.no_grad():
        net = mn.ShallowReLU(m, init="pm1-uniform", init_params={"c": 1.0}, seed=0, output_init="zeros")
        xi = (-net.b / net.w).numpy()
    edges = np.linspace(-1.0, 1.0, 9)
    mc = np.histogram(xi, edges)[0] / m
    se = np.sqrt(mc) / math.sqrt(m)
    wrong = np.full(8, 0.25 * 0.25)  # g = 1/(2c) = 1/4 over bins of width 1/4
    assert np.all(np.abs(mc - wrong) > 5 * se)
    assert np.all(np.abs(mc - 0.5 * 0.25) <= 5 * se)


def test_one_table_of_law_defaults():
    from minnorm.training.options import INIT_LAWS
    from minnorm.comparison.references import LAW_DEFAULTS as ref_defaults

    assert INIT_LAWS is LAW_DEFAULTS and ref_defaults is LAW_DEFAULTS
    assert ref_defaults["pm1-uniform"]["c"] == 2.0  # MATH D.2/D.4/G9's law
    for law in LAW_DEFAULTS:
        assert mn.ShallowReLU(4, init=law).init_params == dict(kink_density(law).params)
        assert mn.solve_reference(f"spline:{law}", [-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]).params == dict(LAW_DEFAULTS[law])
    with pytest.raises(TypeError):
        LAW_DEFAULTS["pm1-uniform"]["c"] = 1.0  # read-only: one home


# ------------------------------------------------------------------------------ frozen first layer
RNG = np.random.default_rng(0)
X8 = np.sort(RNG.uniform(-0.9, 0.9, 8))
Y8 = RNG.normal(size=8)
T = np.linspace(-1.2, 1.2, 241)  # the hull and beyond: the limits differ outside it too


def ridge_minimiser(model, x, y, weight_decay, penalize_affine=False):
    r"""Exact minimiser of n·L = Σ(f-y)² + (n wd/2)(‖a‖² [+ c² + d²]) over (a, c, d), w and b fixed.

    Unpenalised affine columns Q are eliminated by the projection P onto their complement:
    a = (ΦᵀPΦ + λ̃I)⁻¹ΦᵀPy = ΦᵀP(PΦΦᵀP + λ̃I)⁻¹Py (push-through, so m ≫ n costs O(n²m)).
    Returns f as a numpy function.
    """
    w = model.w.detach().numpy().astype(float)
    b = model.b.detach().numpy().astype(float)
    k = model.scale
    n = x.size
    lt = n * weight_decay / 2.0
    phi = k * np.maximum(np.outer(x, w) + b, 0.0)
    aff = ([x] if model.skip else []) + ([np.ones(n)] if model.output_bias else [])
    if penalize_affine:
        feats, Q = np.hstack([phi, np.stack(aff, 1)]) if aff else phi, np.zeros((n, 0))
    else:
        feats, Q = phi, np.stack(aff, 1) if aff else np.zeros((n, 0))
    P = np.eye(n)
    if Q.shape[1]:
        U, _ = np.linalg.qr(Q)
        P = P - U @ U.T
    alpha = np.linalg.solve(P @ feats @ feats.T @ P + lt * np.eye(n), P @ y)
    coef = feats.T @ (P @ alpha)
    beta = np.linalg.lstsq(Q, y - feats @ coef, rcond=None)[0] if Q.shape[1] else np.zeros(0)
    a = coef[:w.size]
    extra = coef[w.size:] if penalize_affine else beta

    def f(t):
        t = np.asarray(t, dtype=float)
        out = np.empty(t.size)
        for i in range(0, t.size, 16):
            out[i:i + 16] = k * np.maximum(np.outer(t[i:i + 16], w) + b, 0.0) @ a
        j = 0
        if model.skip:
            out += extra[j] * t
            j += 1
        if model.output_bias:
            out += extra[j]
        return out

    return f


def test_ridge_minimiser_helper_equals_the_primal_normal_equations():
    # the push-through form used below == the (m+p)-dimensional normal equations, solved directly
    model = mn.ShallowReLU(300, skip=True, seed=3)
    n, wd = X8.size, 0.02
    phi = np.maximum(np.outer(X8, model.w.detach().numpy()) + model.b.detach().numpy(), 0.0)
    Z = np.hstack([phi, X8[:, None], np.ones((n, 1))])
    pen = np.diag(np.r_[np.ones(300), 0.0, 0.0]) * n * wd / 2
    theta = np.linalg.solve(Z.T @ Z + pen, Z.T @ Y8)
    direct = np.maximum(np.outer(T, model.w.detach().numpy()) + model.b.detach().numpy(), 0) @ theta[:300] \
        + theta[300] * T + theta[301]
    np.testing.assert_allclose(ridge_minimiser(model, X8, Y8, wd)(T), direct, atol=1e-9)


def _frozen(model, x, y, wd):
    """TrainResult of the recipe without training (steps=0): its lam / reference / law."""
    return mn.train(model, x, y, steps=0, lr=1.0, weight_decay=wd, train_first_layer=False)


def _wd_for(lam, n, m, parametrization, s=1.0):
    # inverse of lam = n wd/(2 m s²) (standard), n wd m/(2 s²) (mean-field); derived in
    # minnorm.training.loop.solver_lam and checked by the convergence below
    return 2 * lam * m * s * s / n if parametrization == "standard" else 2 * lam * s * s / (n * m)


@pytest.mark.parametrize("law", ["uniform", "gaussian"])
@pytest.mark.parametrize("parametrization", ["standard", "mean-field"])
def test_frozen_layer_ridge_approaches_the_weighted_spline_of_the_init_law(law, parametrization):
    # sup-distance on [-1.2, 1.2] between the exact finite ridge minimiser and
    # weighted_spline(x, y, lam=result.lam, weight=kink_density(law)), mean over 3 seeds.
    # Measured (uniform): 1.3e-3, 6.1e-4, 1.3e-4; (gaussian) 5.2e-3, 2.5e-3, 9.0e-4 for m = 1e3, 1e4, 1e5.
    lam, n = 0.05, X8.size
    limit = solvers.weighted_spline(X8, Y8, lam=lam, weight=kink_density(law))
    widths = [1_000, 10_000, 100_000]
    dist = []
    for m in widths:
        d = []
        for seed in range(3):
            model = mn.ShallowReLU(m, skip=True, init=law, parametrization=parametrization, seed=seed)
            wd = _wd_for(lam, n, m, parametrization)
            res = _frozen(model, X8, Y8, wd)
            assert res.variant == "spline" and res.reference == f"spline:{law}" and res.law == law
            assert res.lam == pytest.approx(lam, rel=1e-12)
            d.append(np.max(np.abs(ridge_minimiser(model, X8, Y8, wd)(T) - limit(T))))
        dist.append(np.mean(d))
    slope = np.polyfit(np.log(widths), np.log(dist), 1)[0]
    assert -0.9 <= slope <= -0.3, (dist, slope)  # ~ m^-1/2
    assert dist[-1] < 2e-3, dist
    # the limit really is this spline and not the neighbouring candidates
    other = solvers.weighted_spline(X8, Y8, lam=lam, weight=kink_density(law), skip=False)
    assert np.max(np.abs(other(T) - limit(T))) > 5 * dist[-1]
    wrong_lam = solvers.weighted_spline(X8, Y8, lam=2 * lam, weight=kink_density(law))  # n·wd/width, no 1/2
    assert np.max(np.abs(wrong_lam(T) - limit(T))) > 5 * dist[-1]


MODEL_CASES = [
    # (model kwargs, penalize_affine, expected reference, weighted_spline kwargs of the limit)
    ({"skip": True}, False, "spline:pm1-uniform", {"skip": True}),
    ({"skip": False}, False, "krr:no-skip:pm1-uniform", {"skip": False, "output_bias": True}),
    ({"skip": False, "output_bias": False}, False, "krr:no-skip:pm1-uniform", {"skip": False, "output_bias": False}),
    # penalised c, d cost lam·m·(c²+d²) (standard): absent in the limit
    ({"skip": True}, True, "krr:no-skip:pm1-uniform", {"skip": False, "output_bias": False}),
    # mean-field: lam·(c²+d²)/m, free in the limit
    ({"skip": True, "parametrization": "mean-field"}, True, "spline:pm1-uniform", {"skip": True}),
]


@pytest.mark.parametrize("kw, penalize_affine, name, spline_kw", MODEL_CASES, ids=lambda v: str(v))
def test_frozen_layer_limit_variant_follows_the_free_affine_terms(kw, penalize_affine, name, spline_kw):
    # MATH D.2: free affine part -> ∫f''²/g (skip=True spline); no skip -> boundary term, with or
    # without a free output bias. The finite ridge at m = 1e5 is closer to the chosen limit than
    # to every other candidate by a factor >= 3.
    lam, n, m = 0.05, X8.size, 100_000
    model = mn.ShallowReLU(m, init="pm1-uniform", seed=1, **kw)
    wd = _wd_for(lam, n, m, model.parametrization)
    res = mn.train(model, X8, Y8, steps=0, lr=1.0, weight_decay=wd, train_first_layer=False,
                   penalize_affine=penalize_affine)
    assert res.reference == name and res.lam == pytest.approx(lam, rel=1e-12)
    assert res.variant == name.rsplit(":", 1)[0]
    f = ridge_minimiser(model, X8, Y8, wd, penalize_affine=penalize_affine)(T)
    kd = kink_density("pm1-uniform")
    candidates = {(True, True): {"skip": True}, (False, True): {"skip": False, "output_bias": True},
                  (False, False): {"skip": False, "output_bias": False}}
    dist = {key: np.max(np.abs(f - solvers.weighted_spline(X8, Y8, lam=lam, weight=kd, **ck)(T)))
            for key, ck in candidates.items()}
    chosen = (spline_kw["skip"], spline_kw.get("output_bias", True))
    assert dist[chosen] < 2e-3, dist
    assert all(dist[chosen] * 3 < v for k, v in dist.items() if k != chosen), dist
    ref = mn.solve_limit(res, X8, Y8)
    np.testing.assert_allclose(ref(T), solvers.weighted_spline(X8, Y8, lam=lam, weight=kd, **spline_kw)(T),
                               atol=1e-12)


def test_hidden_scale_is_folded_into_the_frozen_layer_lam():
    # s multiplies g by s², i.e. lam_limit = n wd / (2 m s²) with g = kink_density(law)
    lam, n, m, s = 0.05, X8.size, 100_000, 2.0
    model = mn.ShallowReLU(m, skip=True, hidden_scale=s, seed=2)
    wd = _wd_for(lam, n, m, "standard", s)
    res = _frozen(model, X8, Y8, wd)
    assert res.lam == pytest.approx(lam, rel=1e-12)
    limit = solvers.weighted_spline(X8, Y8, lam=res.lam, weight=kink_density("uniform"))
    assert np.max(np.abs(ridge_minimiser(model, X8, Y8, wd)(T) - limit(T))) < 2e-3


def test_frozen_layer_gd_converges_to_the_finite_ridge_minimiser():
    # GD on (a, c, d) is GD on a strongly convex quadratic: 1500 steps reach the ridge minimiser
    x, y = np.linspace(-1, 1, 6), np.sin(2.5 * np.linspace(-1, 1, 6))
    for kw, lr in (({"skip": True}, 0.4), ({"parametrization": "mean-field", "output_scale": 1.0}, 0.8)):
        model = mn.ShallowReLU(10, seed=5, **kw)
        wd = 0.05
        target = ridge_minimiser(model, x, y, wd)
        res = mn.train(model, x, y, steps=1500, lr=lr, weight_decay=wd, train_first_layer=False)
        got = model(torch.tensor(T)).detach().numpy()
        assert np.max(np.abs(got - target(T))) < 1e-9
        assert res.reference is not None and res.lam == pytest.approx(
            x.size * wd / (2 * 10) * (10**2 if model.parametrization == "mean-field" else 1))


def test_solver_lam_frozen_layer_and_limit_reference():
    assert mn.solver_lam(0.1, 20, width=50, train_first_layer=False) == pytest.approx(0.02)
    assert mn.solver_lam(0.1, 20, width=50, parametrization="mean-field", train_first_layer=False) \
        == pytest.approx(50.0)
    assert mn.solver_lam(0.1, 20, width=50, train_first_layer=False, hidden_scale=2.0) == pytest.approx(0.005)
    assert mn.solver_lam(0.1, 20) == pytest.approx(2.0)  # trained first layer unchanged
    with pytest.raises(ValueError, match="width"):
        mn.solver_lam(0.1, 20, train_first_layer=False)
    with pytest.raises(ValueError, match="train_first_layer"):
        mn.solver_lam(0.1, 20, width=5, train_first_layer="no")
    net = mn.ShallowReLU(4, skip=True, init="gaussian")
    assert limit_reference(net) == ("tv2:skip", {})
    assert limit_reference(net, penalize_affine=True) == (None, None)
    assert limit_reference(net, train_first_layer=False) == ("spline:gaussian", {"sigma_w": 1.0, "sigma_b": 1.0})
    table = {"skip": True, "output_bias": False, "parametrization": "standard", "init": "uniform", "init_params": {}}
    assert limit_reference(table, train_first_layer=False) == (None, None)  # no solver for a free slope only
    res = _frozen(mn.ShallowReLU(4, skip=True, output_bias=False), X8, Y8, 0.1)
    assert res.reference is None and res.variant is None
    with pytest.raises(InputError, match="no solver-layer limit"):
        mn.solve_limit(res, X8, Y8)


# ------------------------------------------------------------------------------ sweep "mapped"
def _cfg(**kw):
    return {"problem": {"n": 6}, "reference": dict({"lam": "mapped"}, **kw.get("ref", {})),
            "model": dict({"width": [10, 20], "skip": True}, **kw.get("model", {})),
            "train": dict({"steps": 10, "lr": 0.1, "weight_decay": 1e-2, "train_first_layer": False},
                          **kw.get("train", {}))}


def test_sweep_mapped_lam_with_a_frozen_layer_uses_the_init_laws_spline():
    from minnorm.comparison.problems import problem_for_run
    from minnorm.comparison.sweeps.config import expand
    from minnorm.comparison.sweeps.run import _lam

    cfg = parse_config(_cfg(model={"init_ratio": [4.0], "hidden_scale": 3.0}))
    assert cfg.reference["name"] == "spline:uniform" and cfg.reference["params"] == {"A": 1.0, "B": 1.0}
    runs = expand(cfg)
    for r in runs:
        spec = r.spec
        problem = problem_for_run(spec)
        s = 3.0 / math.sqrt(4.0)  # init_ratio rho divides the hidden scale by sqrt(rho)
        m = spec["model"]["width"]
        assert _lam(spec, problem) == pytest.approx(6 * 1e-2 / (2 * m * s * s), rel=1e-12)
    cfg = parse_config(_cfg(model={"skip": False, "init": "pm1-uniform", "init_params": {"c": 1.5}}))
    assert cfg.reference["name"] == "krr:no-skip:pm1-uniform"
    assert cfg.reference["params"] == {"c": 1.5, "output_bias": True}
    trained = parse_config(_cfg(train={"train_first_layer": True}))
    assert trained.reference["name"] == "tv2:skip"  # the TV2 map is untouched


@pytest.mark.parametrize("kw, match", [
    ({"ref": {"name": "tv2:skip"}}, "reference.name"),
    ({"ref": {"params": {"A": 2.0}}}, "reference.params.A"),
    ({"model": {"output_bias": False}}, "no solver-layer limit"),
    ({"model": {"init": "xavier"}}, "model.init"),
])
def test_sweep_mapped_lam_with_a_frozen_layer_refuses_a_mismatched_reference(kw, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(_cfg(**kw))


# ------------------------------------------------------------------------------ input checks (issue 9)
@pytest.mark.parametrize("kw, match", [
    ({"skip": "no"}, "skip must be True or False"),
    ({"output_bias": 1}, "output_bias must be True or False"),
    ({"antisymmetric": "yes", "width": 4}, "antisymmetric must be True or False"),
    ({"seed": 1.5}, "seed must be an integer"),
    ({"seed": "a"}, "seed must be an integer"),
    ({"seed": 2**70}, "seed must be <="),
    ({"seed": -1}, "seed must be >="),
    ({"dtype": torch.int64}, "floating torch dtype"),
    ({"dtype": "float64"}, "floating torch dtype"),
    ({"device": "gpu"}, "device 'gpu'"),
    ({"device": "cuda:99"}, "device 'cuda:99'"),
    ({"antisymmetric": True, "width": 5}, "even width"),
    ({"init_params": {"A": 1e200}}, "outside the normal float64 range"),
    ({"init_params": {"A": "2"}}, "init_params\\['A'\\] must be a real number"),
    ({"hidden_scale": "1"}, "hidden_scale must be a real number"),
    ({"output_scale": True}, "output_scale must be a real number"),
])
def test_shallow_relu_refuses_bad_arguments(kw, match):
    kw = dict(kw)
    width = kw.pop("width", 3)
    with pytest.raises(InputError, match=match):
        mn.ShallowReLU(width, **kw)


def test_huge_width_is_refused_before_allocating_with_the_memory_it_needs():
    with pytest.raises(InputError, match=r"width=1000000000000 needs about 4\.47e\+04 GiB"):
        mn.ShallowReLU(10**12)


def test_kink_density_nan_in_nan_out():
    for law in LAW_DEFAULTS:
        g = kink_density(law).g(np.array([np.nan, 0.0, np.inf, -np.inf]))
        assert np.isnan(g[0]) and g[1] > 0 and g[2] == 0.0 and g[3] == 0.0
        assert np.isnan(kink_density(law).g(np.nan))


@pytest.mark.parametrize("law, params, what", [
    ("gaussian", {"sigma_w": 1e-200}, "sigma_w\\^2"),
    ("gaussian", {"sigma_b": 1e100}, "sigma_b/sigma_w"),
    ("gaussian", {"sigma_w": 1e150}, "sigma_b/sigma_w"),
    ("uniform", {"A": 1e-200}, "g\\(0\\)"),
    ("uniform", {"B": 1e120}, "tail coefficient"),
    ("pm1-uniform", {"c": 1e-310}, "g = 1/\\(2c\\)"),
    ("pm1-uniform", {"c": 1e200}, "E\\[b\\^2\\]"),
])
def test_kink_density_refuses_parameters_that_over_or_underflow_g(law, params, what):
    with pytest.raises(InputError, match=what):
        kink_density(law, **params)


def test_kink_density_defaults_are_the_networks():
    assert kink_density("pm1-uniform").params == {"c": 2.0}
    assert float(kink_density("pm1-uniform").g(0.0)) == 0.25
