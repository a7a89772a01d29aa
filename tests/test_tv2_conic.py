"""Tests of the conic programs of solvers/tv2/socp.py and solvers/tv2/grid.py (MATH.md A.2, B.1-B.4, G).

Exact SOCPs (V3, V4) are checked against MATH G closed forms and against knot-grid programs
written independently of the library (tests/_oracles.py): the knot-grid LP ``GridLP`` (scipy linprog /
HiGHS, cost of MATH A.2 as an epigraph) for interpolation and the cvxpy/ECOS grid QP ``grid_regression``
for regression. On a grid of step delta that holds the data (and 0), the grid optimum satisfies
R* <= LP <= R* (1 + delta^2 / 8) (test_oracles, oracle 1). Every certificate is checked to be a
genuine lower bound (against that LP, and by brute force on a dense grid of t). The library's own
grid programs (``tg.grid_interpolant`` / ``grid_regression``) are tested against the same oracles
and the MATH B closed forms. Costs of returned functions are recomputed from their evaluations
(``_oracles.cost_from_evaluations``), not by the library's ``tv2_cost``.
"""

import numpy as np
import pytest

from solvers.tv2 import certificates
from solvers.tv2 import grid as tg
from solvers.tv2 import socp as tc
from solvers._validation import validate_data
from solvers.errors import SolverError
from solvers.piecewise import PiecewiseLinear, tv2_cost

from _oracles import (GRID_STEP, GridLP, cost_from_evaluations, data_knot_regression, grid_lp, grid_regression,
                      omega, v1_value, v2_value)

SQ13 = np.sqrt(13.0)


def data(x, y, **kw):
    return validate_data(x, y, **kw)


def random_set(rng, n, lo=-3.0, hi=3.0):
    x = np.sort(rng.uniform(lo, hi, n))
    y = rng.normal(size=n)
    return data(x, y)


def oracle_grid(t, x, with_zero=False):
    """A knot grid holding the data (and 0), as oracle 1's error band requires."""
    return np.union1d(np.union1d(t, x), [0.0] if with_zero else [])


def oracle_lp(d, variant, t):
    """Value of the independent knot-grid LP (_oracles.GridLP) on grid t."""
    return GridLP(np.asarray(d.x, float), np.asarray(d.y, float), t, variant).value()


def band(t):
    """Relative excess of a grid optimum over the continuous one: delta^2 / 8 (test_oracles, oracle 1)."""
    return float(np.max(np.diff(t))) ** 2 / 8


def assert_certified(sol, rtol):
    """value >= lower_bound (to rounding) and a small relative gap."""
    tol = rtol * max(1.0, abs(sol.value))
    assert sol.lower_bound <= sol.value + 1e-9 * max(1.0, abs(sol.value))
    assert sol.gap <= tol, (sol.value, sol.lower_bound)
    assert sol.status == "optimal"
    assert "CLARABEL" in sol.solver or "ECOS" in sol.solver or sol.solver == "closed-form"


def assert_interpolates(sol, d, rtol=1e-9):
    scale = max(1.0, float(np.max(np.abs(d.y))))
    assert np.max(np.abs(sol(d.x) - d.y)) <= rtol * scale


# ----------------------------------------------------------------------------- MATH G closed forms
def test_case1_v3_two_sqrt2():
    d = data([0, 1, 2], [0, 1, 0])
    sol = tc.bias_interpolant(d)
    assert sol.value == pytest.approx(2 * np.sqrt(2), abs=1e-9)
    np.testing.assert_allclose(sol.knots, [1.0], atol=1e-7)
    np.testing.assert_allclose(sol.jumps, [-2.0], atol=1e-7)
    assert sol.variant == "bias" and sol.problem == "interpolation" and sol.method == "exact"
    assert_certified(sol, 1e-8)
    # grid paths: V1 = 2 exactly, V3 on the default grid hits the data knot
    assert tg.grid_interpolant(d, "skip").value == pytest.approx(2.0, abs=1e-9)
    assert tg.grid_interpolant(d, "bias").value == pytest.approx(2 * np.sqrt(2), abs=1e-8)


def test_case2_v3_sqrt13_single_knot():
    d = data([0, 1, 2, 3], [0, 1, 1, 0])
    sol = tc.bias_interpolant(d)
    assert sol.value == pytest.approx(SQ13, abs=1e-8)
    np.testing.assert_allclose(sol.knots, [1.5], atol=1e-6)
    np.testing.assert_allclose(sol.jumps, [-2.0], atol=1e-6)
    assert sol.value < np.sqrt(2) + np.sqrt(5)  # one kink beats two kinks at the data
    assert_interpolates(sol, d)
    assert_certified(sol, 1e-8)


def test_case3_v4_relu_and_line_costs():
    relu = PiecewiseLinear.from_knots([0.0], [1.0], 0.0, 0.0)
    line = PiecewiseLinear.from_values([0.0, 1.0], [0.0, 1.0])
    assert tv2_cost(relu, "bias-no-skip") == pytest.approx(1.0, abs=1e-15)
    assert tv2_cost(line, "no-skip") == pytest.approx(2.0, abs=1e-15)
    assert tv2_cost(line, "bias-no-skip") == pytest.approx(2.0, abs=1e-15)
    d = data([0, 1], [0, 1])
    sol = tc.bias_no_skip_interpolant(d)
    assert sol.value == pytest.approx(1.0, abs=1e-8)  # V4* = V2* = 1 (relu)
    assert_certified(sol, 1e-8)
    assert tg.grid_interpolant(d, "no-skip").value == pytest.approx(1.0, abs=1e-8)
    assert tg.grid_interpolant(d, "bias-no-skip").value == pytest.approx(1.0, abs=1e-6)
    # V3 with two points: the line, cost 0
    v3 = tc.bias_interpolant(d)
    assert v3.value == 0.0 and v3.knots.size == 0


def test_case7_bf_counterexample():
    d = data([-3, 2.5, 3], [0, 0, 1])
    sol = tc.bias_interpolant(d)
    assert sol.value == pytest.approx(1.1 * np.sqrt(10), abs=1e-4)
    assert sol.value == pytest.approx(3.47851, abs=1e-5)
    np.testing.assert_allclose(sol.knots, [1 / 3], atol=1e-4)
    np.testing.assert_allclose(sol.jumps, [3.3], atol=1e-4)
    assert sol.function.total_variation() == pytest.approx(3.3, abs=1e-4)  # > V1 value 2
    assert_certified(sol, 1e-8)


def test_case4_v2_boundary_dominated_grid():
    d = data([0, 1, 2], [0, 1, 3])
    assert tg.grid_interpolant(d, "skip").value == pytest.approx(1.0, abs=1e-8)
    assert tg.grid_interpolant(d, "no-skip").value == pytest.approx(2.0, rel=1e-7)


# ----------------------------------------------------------------------------- structure of V3
def test_v3_at_most_one_knot_of_each_sign_per_closed_interval():
    rng = np.random.default_rng(11)
    for _ in range(12):
        n = int(rng.integers(3, 12))
        d = random_set(rng, n, -4, 4)
        sol = tc.bias_interpolant(d)
        assert_interpolates(sol, d)
        assert_certified(sol, 1e-6)
        t, J = sol.knots, sol.jumps
        for i in range(n - 1):
            inside = (t >= d.x[i] - 1e-9) & (t <= d.x[i + 1] + 1e-9)
            assert np.count_nonzero(inside & (J > 0)) <= 1
            assert np.count_nonzero(inside & (J < 0)) <= 1
        assert np.all((t >= d.x[0]) & (t <= d.x[-1]))


def test_value_recomputed_from_function():
    d = random_set(np.random.default_rng(3), 7)
    for sol in (tc.bias_interpolant(d), tc.bias_no_skip_interpolant(d), tg.grid_interpolant(d, "bias")):
        assert sol.value == pytest.approx(cost_from_evaluations(sol.function, sol.variant), rel=1e-12)
    reg = tc.bias_regression(d, 0.3)
    fitted = reg.function(d.x)
    np.testing.assert_array_equal(reg.fitted, fitted)
    objective = np.sum((fitted - d.y) ** 2) + 0.3 * cost_from_evaluations(reg.function, "bias")
    assert reg.value == pytest.approx(objective, rel=1e-12)


# ----------------------------------------------------------------------------- exact vs grid
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_v3_exact_vs_fine_weighted_grid(seed):
    rng = np.random.default_rng(100 + seed)
    d = random_set(rng, int(rng.integers(4, 9)))
    exact = tc.bias_interpolant(d)
    t = oracle_grid(np.linspace(d.x[0], d.x[-1], 3001), d.x)
    lp = oracle_lp(d, "bias", t)
    # the LP optimum bounds the continuous one from above, within the delta^2/8 band
    assert exact.lower_bound <= lp * (1 + 1e-9)
    assert exact.value == pytest.approx(lp, rel=band(t) + 1e-7)
    assert exact.gap <= 1e-7 * exact.value
    grid = tg.grid_interpolant(d, "bias", grid=t)  # the library's grid program: the same finite LP
    assert grid.value == pytest.approx(lp, rel=1e-7)
    assert grid.lower_bound <= exact.value + 1e-9 * exact.value  # continuous certificate from the grid
    assert_interpolates(grid, d, 1e-8)


@pytest.mark.parametrize("lo,hi,seed", [(-3, 3, 0), (-3, 3, 1), (0.5, 3.0, 2), (-4.0, -1.0, 3)])
def test_v4_exact_socp_vs_grid_lp(lo, hi, seed):
    rng = np.random.default_rng(200 + seed)
    d = random_set(rng, int(rng.integers(3, 8)), lo, hi)
    exact = tc.bias_no_skip_interpolant(d)
    assert_interpolates(exact, d)
    assert_certified(exact, 1e-7)
    span = d.x[-1] - d.x[0]
    g = oracle_grid(np.linspace(min(d.x[0], 0) - span, max(d.x[-1], 0) + span, 6001), d.x, with_zero=True)
    lp = oracle_lp(d, "bias-no-skip", g)
    assert exact.lower_bound <= lp * (1 + 1e-9)
    assert exact.value == pytest.approx(lp, rel=band(g) + 1e-7)
    grid = tg.grid_interpolant(d, "bias-no-skip", grid=g)
    assert grid.value == pytest.approx(lp, rel=1e-7)
    # V4 >= V3 and V4 >= V2 pointwise in f, hence for the optima
    assert exact.value >= tc.bias_interpolant(d).lower_bound - 1e-9
    assert exact.value >= v2_value(d.x, d.y) - 1e-9


def test_v4_rays_used_when_boundary_dominates():
    # all slopes positive and large: the |D| term forces knots outside the hull or at 0
    d = data([1.0, 2.0, 3.0], [0.0, 2.0, 5.0])
    exact = tc.bias_no_skip_interpolant(d)
    g = oracle_grid(np.linspace(-5, 8, 2601), d.x, with_zero=True)
    lp = oracle_lp(d, "bias-no-skip", g)
    assert exact.lower_bound <= lp * (1 + 1e-9)
    assert exact.value == pytest.approx(lp, rel=band(g) + 1e-7)
    assert_certified(exact, 1e-7)
    assert exact.value > tc.bias_interpolant(d).value + 0.1


@pytest.mark.parametrize("variant", ["bias", "bias-no-skip"])
def test_regression_socp_vs_grid_qp(variant):
    rng = np.random.default_rng(7)
    d = random_set(rng, 8)
    lam = 0.2
    fn = tc.bias_regression if variant == "bias" else tc.bias_no_skip_regression
    exact = fn(d, lam)
    g = np.linspace(d.x[0] - 3, d.x[-1] + 3, 4001) if variant == "bias-no-skip" else np.linspace(d.x[0], d.x[-1], 3001)
    g = oracle_grid(g, d.x, with_zero=variant == "bias-no-skip")
    qp, qp_fitted = grid_regression(d.x, d.y, lam, variant, g, solver="ECOS", max_iters=500)  # not Clarabel
    assert exact.problem == "regression" and exact.lam == lam
    assert exact.value == pytest.approx(qp, rel=1e-6)  # measured: 2e-8 (V3), 5e-8 (V4)
    assert exact.lower_bound <= qp + 1e-7 * qp
    assert_certified(exact, 1e-7)
    assert exact.certificate["bound_kind"] == "continuous-fenchel-dual"
    np.testing.assert_allclose(exact.fitted, qp_fitted, atol=5e-4)  # measured: 7e-5
    grid = tg.grid_regression(d, lam, variant, grid=g)  # the library's grid QP, same finite program
    assert grid.value == pytest.approx(qp, rel=1e-6)


def test_regression_duplicates_sse_offset_and_limits():
    x = [0, 0, 1, 2, 3, 3, 4]
    y = [0.0, 0.4, 1.0, 0.5, 2.0, 1.0, 0.0]
    d = data(x, y, duplicates="average")
    assert d.sse_offset > 0
    sol = tc.bias_regression(d, 0.5)
    sse_orig = float(np.sum((sol.function(np.asarray(x, float)) - np.asarray(y)) ** 2))
    assert sol.value == pytest.approx(sse_orig + 0.5 * cost_from_evaluations(sol.function, "bias"), rel=1e-12)
    # the grid QP on the ORIGINAL (repeated) points, so the sse offset comes from the oracle itself
    qp, _ = grid_regression(x, y, 0.5, "bias", oracle_grid(np.linspace(0, 4, 2001), d.x), solver="ECOS", max_iters=500)
    assert sol.value == pytest.approx(qp, rel=1e-5)
    assert sol.lower_bound >= d.sse_offset
    assert_certified(sol, 1e-7)
    # lam = 0: the min-norm interpolant of the merged data, objective = offset
    zero = tc.bias_regression(d, 0.0)
    assert zero.value == pytest.approx(d.sse_offset, abs=1e-9)
    # huge lam: the weighted least-squares line (cost 0 for V3)
    big = tc.bias_regression(d, 1e6)
    assert cost_from_evaluations(big.function, "bias") < 1e-6
    coef = np.polyfit(d.x, d.y, 1, w=np.sqrt(d.weights))
    np.testing.assert_allclose(big.fitted, np.polyval(coef, d.x), atol=1e-5)


# ----------------------------------------------------------------------------- V1/V2 grid vs closed forms
def test_grid_v1_v2_match_closed_forms():
    rng = np.random.default_rng(5)
    for _ in range(6):
        n = int(rng.integers(2, 10))
        x = np.sort(rng.uniform(-2, 2, n))
        y = rng.normal(size=n) + rng.uniform(-3, 3) * x  # vary the boundary term
        d = data(x, y)
        V, V2 = v1_value(d.x, d.y), v2_value(d.x, d.y)
        s1 = tg.grid_interpolant(d, "skip")
        s2 = tg.grid_interpolant(d, "no-skip")
        assert s1.value == pytest.approx(V, rel=1e-7, abs=1e-9)
        assert s2.value == pytest.approx(V2, rel=1e-7, abs=1e-9)
        for s in (s1, s2):
            assert_certified(s, 1e-7)
            assert_interpolates(s, d)


def test_grid_v1_regression_matches_data_knot_qp():
    """MATH B.1: V1 regression with knots at the data equals the grid QP."""
    rng = np.random.default_rng(9)
    d = random_set(rng, 9)
    lam = 0.1
    ref_value, _ = data_knot_regression(d.x, d.y, lam, solver="CLARABEL")
    sol = tg.grid_regression(d, lam, "skip", grid=np.linspace(d.x[0], d.x[-1], 801))
    assert sol.value == pytest.approx(ref_value, rel=1e-6)
    assert_certified(sol, 1e-6)


# ----------------------------------------------------------------------------- certificates
def _brute_dual_ok(x, q, variant, t):
    """Check the continuous dual constraints of _feasible_scale on dense t (incl. the rays)."""
    qt = np.interp(t, x, q)  # constant continuation outside the hull
    om = omega(t)
    if variant == "bias":
        return np.all(np.abs(qt) <= om * (1 + 1e-12))
    kappa = abs(q[0])
    theta = max(0.0, float(np.max(np.abs(qt) - om + 1)))
    return theta + kappa <= 1 + 1e-12


@pytest.mark.parametrize("variant", ["bias", "bias-no-skip"])
def test_rescaled_dual_is_feasible_on_dense_grid(variant):
    rng = np.random.default_rng(21)
    t = np.linspace(-60, 60, 400_001)
    for _ in range(5):
        d = random_set(rng, 6, -4, 4)
        sol = tc.bias_interpolant(d) if variant == "bias" else tc.bias_no_skip_interpolant(d)
        q = sol.certificate["dual_function_values"] * sol.certificate["dual_scale"]
        assert _brute_dual_ok(d.x, q, variant, np.concatenate([t, d.x]))
        # the scale is tight: 1.0001 x the dual is infeasible somewhere (or q is 0)
        if np.any(q):
            assert not _brute_dual_ok(d.x, q * 1.0001, variant, np.concatenate([t, d.x]))
        assert abs(sol.certificate["dual_scale"] - 1) < 1e-5  # the solver's dual was nearly feasible
        # the bound is a genuine lower bound, and a tight one: the independent grid LP (step
        # GRID_STEP, data and 0 in the grid) is >= R* >= LP / (1 + GRID_STEP^2 / 8)
        lp = grid_lp(d.x, d.y, variant).R
        assert sol.lower_bound <= lp * (1 + 1e-9)
        assert sol.lower_bound >= lp * (1 - GRID_STEP**2 / 8 - 1e-7)


def test_certificate_rejects_a_random_dual():
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(-2, 2, 7))
    q = np.concatenate(([0.0], rng.normal(scale=5, size=5), [0.0]))
    s = certificates._feasible_scale(x, q, "bias")
    assert s < 1.0
    t = np.concatenate([np.linspace(-3, 3, 200_001), x])
    ratio = np.max(np.abs(np.interp(t, x, q)) / np.hypot(1, t))
    assert 1.0 / s == pytest.approx(ratio, rel=1e-8)  # exact closed form vs brute force


def test_large_offset_data():
    """Far from the origin omega(t) ~ |t|: still certified and consistent with the grid."""
    rng = np.random.default_rng(8)
    d = random_set(rng, 6, 20.0, 24.0)
    exact = tc.bias_interpolant(d)
    assert_certified(exact, 1e-7)
    t = oracle_grid(np.linspace(d.x[0], d.x[-1], 2001), d.x)
    lp = oracle_lp(d, "bias", t)
    assert exact.lower_bound <= lp * (1 + 1e-9)
    assert exact.value == pytest.approx(lp, rel=band(t) + 1e-7)


# ----------------------------------------------------------------------------- solvers and statuses
def test_cross_solver_clarabel_vs_ecos():
    d = random_set(np.random.default_rng(12), 7)
    a = tc.bias_interpolant(d)
    b = tc.bias_interpolant(d, solver="ECOS")
    assert "ECOS" in b.solver and "CLARABEL" in a.solver
    assert b.value == pytest.approx(a.value, rel=1e-6)
    assert b.lower_bound <= a.value + 1e-9 and a.lower_bound <= b.value + 1e-9
    c = tc.bias_no_skip_interpolant(d, solver="ECOS")
    assert c.value == pytest.approx(tc.bias_no_skip_interpolant(d).value, rel=1e-6)


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
def test_non_optimal_status_raises_and_inaccurate_opt_in():
    d = random_set(np.random.default_rng(13), 8)
    with pytest.raises(SolverError) as err:
        tc.bias_interpolant(d, solver="SCS", solver_options={"max_iters": 3, "eps_abs": 1e-12, "eps_rel": 1e-12})
    assert err.value.status != "optimal"
    assert "SCS" in err.value.solver and err.value.size["n"] == d.n
    if err.value.status == "optimal_inaccurate":
        sol = tc.bias_interpolant(d, solver="SCS", allow_inaccurate=True,
                                  solver_options={"max_iters": 3, "eps_abs": 1e-12, "eps_rel": 1e-12})
        assert sol.status == "inaccurate"  # cvxpy's optimal_inaccurate, under the one status name
        assert sol.certificate["solver_status"] == "optimal_inaccurate"
        assert sol.lower_bound <= sol.value  # the certificate stays valid, only loose


def test_default_grid_density():
    x = np.linspace(0, 1, 11)
    g = tg.default_grid(x, "bias")
    assert g.size == 10 * 10 + 1 and np.all(np.isin(x, g))
    assert tg.default_grid(x, "skip").size == 11
    g4 = tg.default_grid(x - 3, "bias-no-skip")
    assert 0.0 in g4 and g4[0] < -3 and g4[-1] > -2
    big = tg.default_grid(np.linspace(0, 1, 20_001), "bias")
    assert big.size == 2 * 20_000 + 1
