"""Problems (targets, designs) and named references."""

import numpy as np
import pytest

import solvers
from solvers import InputError, PiecewiseLinear as PL
from minnorm.comparison.metrics import envelope_violation
from minnorm.comparison.problems import DESIGNS, TARGETS, make_problem, make_target
from minnorm.comparison.references import REFERENCES, solve_reference

from _oracles import cost_from_evaluations


# ----------------------------------------------------------------------------- problems
#: The targets of minnorm/problems.py's docstring, written out here (random-pl has none: it is
#: evaluated from its nodes by np.interp with its outer slopes).
CLOSED_FORM_TARGETS = {
    "sin": lambda x: np.sin(np.pi * x),
    "abs": np.abs,
    "square": lambda x: x**2,
    "square-wave": lambda x: np.sign(np.sin(np.pi * x)),
    "relu": lambda x: np.maximum(x, 0.0),
}


def pl_by_interp(f, x):
    """A PiecewiseLinear evaluated with numpy from its nodes, values and outer slopes."""
    t, v = f.nodes, f.values
    inner = np.interp(x, t, v)
    return np.where(x < t[0], v[0] + f.slope_left * (x - t[0]),
                    np.where(x > t[-1], v[-1] + f.slope_right * (x - t[-1]), inner))


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_problem_shapes_sorted_deterministic(target, design):
    kw = {"delta": 0.2} if design == "known-regions" else {}
    p = make_problem(target, design, 12, noise=0.05, seed=7, **kw)
    q = make_problem(target, design, 12, noise=0.05, seed=7, **kw)
    assert p.x.shape == p.y.shape == (12,)
    assert p.x.dtype == p.y.dtype == np.float64
    assert np.all(np.diff(p.x) > 0)
    assert np.all((p.x >= -1) & (p.x <= 1))
    np.testing.assert_array_equal(p.x, q.x)
    np.testing.assert_array_equal(p.y, q.y)
    assert p.name == q.name and p.name.startswith(f"{target}/{design}/n=12/")
    lo, hi = p.x[0], p.x[-1]
    assert p.eval_interval == pytest.approx((lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo)), abs=1e-15)
    if target == "random-pl":
        expected = pl_by_interp(p.target, p.x)
    else:
        expected = CLOSED_FORM_TARGETS[target](p.x)
    np.testing.assert_allclose(p.y_clean, expected, rtol=0, atol=1e-15)
    assert 0 < np.max(np.abs(p.y - p.y_clean)) < 0.05 * 6  # noise 0.05: present, within 6 sigma


def test_seed_and_noise_streams():
    a = make_problem("sin", "random", 20, seed=1)
    b = make_problem("sin", "random", 20, seed=2)
    assert not np.array_equal(a.x, b.x)
    noisy = make_problem("sin", "random", 20, noise=0.3, seed=1)
    np.testing.assert_array_equal(noisy.x, a.x)  # noise does not move the design
    resid = noisy.y - np.sin(np.pi * noisy.x)
    assert 0.1 < np.std(resid) < 0.6
    np.testing.assert_array_equal(a.y, np.sin(np.pi * a.x))


def test_designs_values():
    u = make_problem("square", "uniform", 5)
    np.testing.assert_allclose(u.x, [-1, -0.5, 0, 0.5, 1], atol=0)
    np.testing.assert_allclose(u.y, [1, 0.25, 0, 0.25, 1], atol=0)
    kr = make_problem("abs", "known-regions", 10, delta=0.3)
    np.testing.assert_allclose(kr.x[:5], np.linspace(-1, -0.3, 5), atol=1e-15)
    np.testing.assert_allclose(kr.x[5:], np.linspace(0.3, 1, 5), atol=1e-15)
    assert not np.any(np.abs(kr.x) < 0.3 - 1e-15)
    assert kr.delta == 0.3 and kr.name.endswith("/delta=0.3")
    cl = make_problem("sin", "clustered", 11, seed=4)
    assert np.sum(cl.x < 0) == 5 and np.all(np.abs(cl.x) >= 0.3 - 1e-15) and np.all(np.abs(cl.x) <= 0.7 + 1e-15)


def test_targets_values():
    sw = make_target("square-wave")
    np.testing.assert_array_equal(sw(np.array([-0.5, 0.0, 0.5, 1.5])), [-1.0, 0.0, 1.0, -1.0])
    smooth = make_target("square-wave", target_params={"width": 0.1})
    assert smooth(0.5) == pytest.approx(np.tanh(10.0), abs=1e-15)
    assert isinstance(make_target("abs"), PL) and isinstance(make_target("relu"), PL)
    r1, r2 = make_target("random-pl", seed=3), make_target("random-pl", seed=3)
    assert isinstance(r1, PL) and r1.knots.size <= 6
    np.testing.assert_array_equal(r1.values, r2.values)
    assert not np.array_equal(make_target("random-pl", seed=4).values, r1.values)
    assert make_target("random-pl", target_params={"knots": 3}).nodes.size == 3


def test_file_target(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n0.5,1\n-1,2\n0,0\n")
    p = make_problem(f"file:{path}", noise=0.0)
    np.testing.assert_array_equal(p.x, [-1, 0, 0.5])
    np.testing.assert_array_equal(p.y, [2, 0, 1])
    assert p.target is None and p.design == "file"
    nohdr = tmp_path / "e.csv"
    nohdr.write_text("0,1\n1,3\n")
    np.testing.assert_array_equal(make_problem(f"file:{nohdr}").y, [1, 3])


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"target": "cosine"}, "target"),
        ({"design": "grid"}, "design"),
        ({"n": 1}, "n"),
        ({"n": 2.5}, "n"),
        ({"noise": -1}, "noise"),
        ({"seed": -3}, "seed"),
        ({"design": "known-regions"}, "delta"),
        ({"design": "known-regions", "delta": 1.0}, "delta"),
        ({"design": "known-regions", "delta": 0.2, "n": 3}, "n"),
        ({"delta": 0.2}, "delta"),
        ({"domain": (1, -1)}, "domain"),
        ({"target": "file:/nonexistent/file.csv"}, "file"),
        ({"target": "random-pl", "target_params": {"knotz": 3}}, "knotz"),
    ],
)
def test_bad_problem_inputs_name_the_key(kwargs, key):
    with pytest.raises(InputError, match=key):
        make_problem(**kwargs)


# ----------------------------------------------------------------------------- references
def test_tv2_references_and_envelopes():
    x, y = [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 0.0]  # MATH G2
    ref = solve_reference("tv2:skip", x, y)
    assert ref.variant == "skip" and ref.is_piecewise_linear and ref.kind == "tv2" and ref.lam == 0.0
    assert ref.value == pytest.approx(2.0, abs=1e-14)
    assert ref.envelope.lower(1.5) == pytest.approx(1.0) and ref.envelope.upper(1.5) == pytest.approx(1.5)
    sp = solve_reference("tv2:skip:sparsest", x, y)
    np.testing.assert_allclose(sp.solution.knots, [1.5], atol=1e-14)
    assert sp.envelope is not None
    assert solve_reference("tv2:no-skip", x, y).envelope is not None
    reg = solve_reference("tv2:skip", x, y, params={"lam": 0.1})
    assert reg.lam == 0.1 and reg.solution.problem == "regression"
    assert solve_reference("tv2:skip", x, y, lam=0.0).lam == 0.0  # lam = 0 is interpolation
    sreg = solve_reference("tv2:skip:sparsest", x, y, lam=0.1)
    assert sreg.solution.knots.size == 1
    np.testing.assert_allclose(sreg.solution(sreg.solution.x), reg.solution.fitted, atol=1e-12)


def test_no_skip_reference_envelope_math_g4():
    # MATH G4 (B.2 corrected): x = (0,1,2), y = (0,1,3): V2 = 2; f(0.5) in [0, 0.5],
    # f(-1) in [-1, 0], f(3) in [4, 5]; f = 2 relu(x - 1/2) is a one-knot minimiser.
    x, y = [0.0, 1.0, 2.0], [0.0, 1.0, 3.0]
    ref = solve_reference("tv2:no-skip", x, y)
    env = ref.envelope
    assert isinstance(env, solvers.Envelope) and env.variant == "no-skip"
    assert ref.value == pytest.approx(2.0, abs=1e-12)
    for t0, lo, hi in ((0.5, 0.0, 0.5), (-1.0, -1.0, 0.0), (3.0, 4.0, 5.0)):
        assert env.lower(t0) == pytest.approx(lo, abs=1e-15) and env.upper(t0) == pytest.approx(hi, abs=1e-15)
    assert envelope_violation(ref.solution, env, (-2, 4)) <= 1e-14
    # Minimisers by hand (cost 2 each): all of tau = 1 at x_1 (left slope 0), all at x_n (right
    # slope 1), and the one-knot 2 relu(x - 1/2), which bends inside [x_1, x_2].
    left = PL([0.0, 1.0, 2.0], [0.0, 1.0, 3.0], 0.0, 2.0)
    right = PL([0.0, 1.0, 2.0], [0.0, 1.0, 3.0], 1.0, 1.0)
    one = PL.from_knots([0.5], [2.0], 0.0, 0.0)
    for f in (left, right, one):
        assert solvers.tv2_cost(f, "no-skip") == pytest.approx(2.0, abs=1e-15)
        assert envelope_violation(f, env, (-2, 4)) <= 1e-15
    sp = solve_reference("tv2:no-skip:sparsest", x, y)
    np.testing.assert_allclose(sp.solution.knots, [0.5], atol=1e-15)
    # Not a minimiser: 0.1 above the chord at t = 0.5 (V2 cost 3 > 2) is flagged by exactly 0.1.
    bump = PL([0.0, 0.5, 1.0, 2.0], [0.0, 0.6, 1.0, 3.0], 1.0, 2.0)
    assert envelope_violation(bump, env, (-2, 4)) == pytest.approx(0.1, abs=1e-15)
    # The V1 envelope (unique solution) would flag the left extreme minimiser by 2 at t = -2.
    assert envelope_violation(left, solvers.tv2_envelope(x, y), (-2, 4)) == pytest.approx(2.0)
    # Not boundary dominated (MATH G1): the V2 set is the V1 set.
    hat = solve_reference("tv2:no-skip", [0, 1, 2], [0, 1, 0]).envelope
    t = np.linspace(-3, 5, 33)
    assert hat.tau == 0.0
    np.testing.assert_allclose(hat.lower(t), 1 - np.abs(t - 1), atol=1e-15)
    np.testing.assert_allclose(hat.upper(t), 1 - np.abs(t - 1), atol=1e-15)


@pytest.mark.parametrize(
    "name, params, key",
    [
        ("tv3:skip", None, "tv3"),
        ("tv2:skipp", None, "tv2"),
        ("tv2:bias:sparsest", None, "sparsest"),
        ("spline:cauchy", None, "spline"),
        ("krr:no-skip:beta", None, "beta"),
        ("spline:gaussian", {"sigma": 1.0}, "sigma"),
        ("tv2:skip", {"A": 1.0}, "A"),
        ("tv2:skip", {"lam": -1.0}, "lam"),
    ],
)
def test_bad_reference_names_the_key(name, params, key):
    with pytest.raises(InputError, match=key):
        solve_reference(name, [0.0, 1.0, 2.0], [0.0, 1.0, 0.0], params=params)


G9X = np.array([-1.5, -0.7, -0.1, 0.4, 1.0, 1.6])
G9Y = np.array([0.3, -0.5, 0.8, 0.1, -0.6, 0.2])


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_every_advertised_reference_solves(name):
    # Every name the registry advertises solves MATH G9's data: an optimal interpolant of the kind
    # and variant the name says; a TV2 reference's value is its function's R(f), recomputed from
    # evaluations (_oracles.cost_from_evaluations), not from the library's cost code.
    ref = solve_reference(name, G9X, G9Y)
    parts = name.split(":")
    assert ref.kind == parts[0] and ref.solution.status == "optimal"
    np.testing.assert_allclose(ref.solution(G9X), G9Y, rtol=0, atol=1e-12)
    if parts[0] == "tv2":
        assert ref.is_piecewise_linear and ref.variant == parts[1]
        rtol = 1e-9 if parts[1] in ("skip", "no-skip") else 1e-6  # V3/V4: conic solver accuracy
        assert ref.value == pytest.approx(cost_from_evaluations(ref.solution, parts[1]), rel=rtol)


def test_spline_references_math_g9():
    from scipy.integrate import quad
    from scipy.interpolate import CubicSpline

    from minnorm.comparison.metrics import l2_distance, linf_distance

    cs = CubicSpline(G9X, G9Y, bc_type="natural")
    nat = solve_reference("spline:natural", G9X, G9Y)
    assert not nat.is_piecewise_linear and nat.variant is None and nat.envelope is None
    # value = int S''^2 of scipy's natural spline, by quadrature (S'' is linear on each interval)
    d2 = cs.derivative(2)
    curvature = sum(quad(lambda t: d2(t) ** 2, a, b, epsabs=0, epsrel=1e-13)[0] for a, b in zip(G9X[:-1], G9X[1:]))
    assert nat.value == pytest.approx(curvature, rel=1e-9)
    # w = +-1, b ~ U[-2, 2]: g = 1/4 on [-2, 2] => the natural spline, with J = 4 int f''^2.
    pm1 = solve_reference("spline:pm1-uniform", G9X, G9Y, params={"c": 2.0})
    assert pm1.params["c"] == 2.0
    assert linf_distance(pm1.solution, cs, (-1.5, 1.6)) < 1e-12
    assert pm1.value == pytest.approx(4.0 * nat.value, rel=1e-10)
    # No skip, no output bias: y^T K^-1 y = 377.8377383 (MATH G9).
    krr = solve_reference("krr:no-skip:pm1-uniform", G9X, G9Y, params={"c": 2.0, "output_bias": False})
    assert krr.kind == "krr" and krr.value == pytest.approx(377.8377383, rel=1e-8)
    # ... which is not the natural spline (MATH D.2: differs by ~0.03 inside the hull).
    assert 0.01 < linf_distance(krr.solution, cs, (-1.5, 1.6)) < 0.1
    # torch's default law (A = B = 1) is constant on [-1, 1] only; data beyond it -> a different spline.
    uni = solve_reference("spline:uniform", G9X, G9Y)
    assert uni.params == {"A": 1.0, "B": 1.0}
    assert l2_distance(uni.solution, cs, (-1.5, 1.6)) > 1e-3
    sm = solve_reference("spline:natural", G9X, G9Y, lam=0.1)
    assert sm.lam == 0.1 and sm.solution.family == "spline" and sm.solution.problem == "regression"
