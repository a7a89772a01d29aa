"""A status must match its certificate (issue 8, part 5; bad inputs of issue 9 in these files).

Expected values come from outside the code under test: scipy's make_smoothing_spline (its objective
recomputed exactly for its cubic), the exact banded method against the cvxpy Galerkin QP, MATH G
closed forms, ECOS against Clarabel, and the active-set V1 regression against the polished conic one.
"""

import dataclasses

import numpy as np
import pytest
from scipy.interpolate import make_smoothing_spline

import solvers
from solvers import InputError, SolverError, weighted_spline
from solvers.tv2 import grid as tg
from solvers.tv2 import socp as tc
from solvers._validation import validate_data
from solvers.piecewise import PiecewiseLinear
from solvers.solution import OPTIMAL_RTOL, ROUNDING_RTOL, Solution
from solvers.tv2 import tv2_interpolant, tv2_regression

from _oracles import data_knot_regression


def smoothing_objective_scipy(x, y, lam):
    """sum (f(x_i) - y_i)^2 + lam int f''^2 of scipy's smoothing spline (exact for its cubic)."""
    ref = make_smoothing_spline(x, y, lam=lam)
    d2 = ref.derivative(2)
    v0, v1, h = d2(x[:-1]), d2(x[1:]), np.diff(x)
    return float(np.sum((ref(x) - y) ** 2) + lam * np.sum(h * (v0 * v0 + v0 * v1 + v1 * v1) / 3))


def make_solution(value, lower, status="optimal", **kw):
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([0.0, 1.0, 0.0])
    args = dict(function=PiecewiseLinear.from_values(x, y), value=value, lower_bound=lower, status=status,
                method="exact", solver="closed-form", variant="skip", problem="interpolation", x=x, y=y)
    args.update(kw)
    return Solution(**args)


# ----------------------------------------------------------------------------- the rule itself
def test_rule_accepts_a_certified_solution_and_documents_its_tolerance():
    sol = make_solution(2.0, 2.0 - 1e-12)
    assert sol.status == "optimal" and sol.accuracy == "exact"
    rtol, slack = sol.tolerance
    assert rtol == OPTIMAL_RTOL["exact"] == 1e-9
    assert slack == pytest.approx(ROUNDING_RTOL * sol.rounding_scale)


def test_rule_refuses_a_large_gap_or_returns_inaccurate_on_request():
    with pytest.raises(SolverError, match="duality gap") as err:
        make_solution(2.0, 1.9)
    assert err.value.status == "gap-too-large"
    sol = make_solution(2.0, 1.9, allow_inaccurate=True)
    assert sol.status == "inaccurate" and "duality gap" in sol.certificate["status_reason"]
    # the same gap is within the grid class's tolerance (5e-2 > 2e-2 is not)
    assert make_solution(2.0, 1.99, method="cvxpy", solver="CLARABEL").status == "optimal"
    with pytest.raises(SolverError):
        make_solution(2.0, 1.9, method="cvxpy", solver="CLARABEL")


@pytest.mark.parametrize("value,lower,match", [(2.0, 2.1, "exceeds value"), (2.0, np.nan, "finite"),
                                               (np.inf, 1.0, "finite")])
def test_rule_refuses_a_bound_above_the_value_or_non_finite_numbers(value, lower, match):
    with pytest.raises(SolverError, match=match):
        make_solution(value, lower)


def test_rule_status_names():
    with pytest.raises(SolverError, match="status"):
        make_solution(2.0, 2.0, status="infeasible")
    sol = make_solution(2.0, 1.0, status="optimal_inaccurate")
    assert sol.status == "inaccurate" and sol.certificate["solver_status"] == "optimal_inaccurate"
    with pytest.raises(InputError, match="allow_inaccurate"):
        make_solution(2.0, 2.0, allow_inaccurate="no")
    with pytest.raises(InputError, match="accuracy"):
        make_solution(2.0, 2.0, accuracy="roughly")
    # dataclasses.replace (used by minnorm.comparison.references) re-checks and keeps the status
    sol = make_solution(2.0, 2.0)
    assert dataclasses.replace(sol, function=sol.function).status == "optimal"


def test_closed_form_paths_pass_the_rule_unchanged():
    # MATH G5: V1 = 4; collinear data: value 0 exactly (the rounding slack, not rtol * 0, decides)
    sol = tv2_interpolant(np.arange(6.0), np.arange(6.0) * (np.arange(6.0) - 1) / 2)
    assert sol.value == pytest.approx(4.0, abs=1e-12) and sol.status == "optimal" and sol.accuracy == "exact"
    x = np.sort(np.random.default_rng(0).uniform(-3, 3, 50))
    line = tv2_interpolant(x, 0.3 * x + 1e6)
    assert line.status == "optimal" and abs(line.value) <= 1e-6


# ----------------------------------------------------------------------------- weighted_spline cvxpy, y = 1e12
@pytest.mark.parametrize("xscale", [1.0, 1e-6, 1e6])
def test_galerkin_cvxpy_solves_huge_values_exactly(xscale):
    """Issue 8: value +85 % and gap 0.998 reported as 'optimal' before the rescaling."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 8) * xscale
    y = 1e12 * rng.normal(size=8)
    lam = 1e-3 * xscale**3  # the same problem in x units (J scales as xscale^-3)
    cv = weighted_spline(x, y, lam=lam, method="cvxpy")
    ex = weighted_spline(x, y, lam=lam)
    assert cv.status == "optimal" and cv.accuracy == "conic"
    assert cv.value == pytest.approx(ex.value, rel=1e-9)
    assert cv.relative_gap <= 1e-8
    if xscale == 1.0:
        assert cv.value == pytest.approx(smoothing_objective_scipy(x, y, lam), rel=1e-9)


def test_galerkin_cvxpy_interpolation_far_from_unit_scales():
    x = np.array([0.0, 0.3, 0.45, 1.0, 1.2]) * 1e-5 + 7.0
    y = np.array([1.0, -2.0, 0.5, 3.0, 1.0]) * 1e9
    cv = weighted_spline(x, y, method="cvxpy")
    ex = weighted_spline(x, y)
    assert cv.status == "optimal" and cv.value == pytest.approx(ex.value, rel=1e-8)
    assert ex.lower_bound <= cv.value * (1 + 1e-9)


# ----------------------------------------------------------------------------- grid programs
def test_coarse_grid_is_refused_not_called_optimal():
    """MATH G7: V3 = 1.1 sqrt(10) with one knot at 1/3; a grid of the data alone costs 55 % more."""
    d = validate_data([-3.0, 2.5, 3.0], [0.0, 0.0, 1.0])
    with pytest.raises(SolverError, match="'grid' tolerance"):
        tg.grid_interpolant(d, "bias", grid=d.x)
    sol = tg.grid_interpolant(d, "bias", grid=d.x, allow_inaccurate=True)
    assert sol.status == "inaccurate"
    assert sol.lower_bound <= 1.1 * np.sqrt(10) <= sol.value
    fine = tg.grid_interpolant(d, "bias")  # the default grid is within tolerance
    assert fine.status == "optimal" and fine.value == pytest.approx(1.1 * np.sqrt(10), rel=OPTIMAL_RTOL["grid"])


@pytest.mark.parametrize("seed", range(4))
def test_polished_v1_grid_regression_equals_the_active_set_optimum(seed):
    """Two different algorithms (interior point + face polish, primal-dual active set)."""
    rng = np.random.default_rng(40 + seed)
    n = int(rng.integers(5, 25))
    x = np.sort(rng.uniform(-3, 3, n))
    y = rng.normal(size=n) + rng.uniform(-3, 3) * x
    lam = float(10 ** rng.uniform(-2, 0.5))
    grid = tv2_regression(x, y, lam, method="cvxpy")
    exact = tv2_regression(x, y, lam)
    assert grid.value == pytest.approx(exact.value, rel=1e-12)
    assert grid.status == "optimal" and grid.relative_gap <= 1e-8  # 6e-8 before the polish


@pytest.mark.parametrize("seed", range(3))
def test_polished_v2_grid_regression_never_worse_than_an_independent_solver(seed):
    rng = np.random.default_rng(60 + seed)
    n = int(rng.integers(5, 20))
    x = np.sort(rng.uniform(-2, 2, n))
    y = rng.normal(size=n) + 3.0 * x  # boundary-dominated: the V2 max is active
    lam = 0.3
    ref_value, _ = data_knot_regression(x, y, lam, "no-skip", solver="ECOS", abstol=1e-10, reltol=1e-10, feastol=1e-10)
    sol = tv2_regression(x, y, lam, variant="no-skip", method="cvxpy")
    assert sol.value <= ref_value * (1 + 1e-12)
    assert sol.value == pytest.approx(ref_value, rel=1e-7)
    assert sol.status == "optimal" and sol.relative_gap <= 1e-8


@pytest.mark.parametrize("variant", ["bias", "bias-no-skip"])
def test_socp_regression_clarabel_vs_ecos(variant):
    rng = np.random.default_rng(5)
    d = validate_data(np.sort(rng.uniform(-2, 2, 9)), rng.normal(size=9), duplicates="average")
    fn = tc.bias_regression if variant == "bias" else tc.bias_no_skip_regression
    a, b = fn(d, 0.2), fn(d, 0.2, solver="ECOS")
    assert a.status == b.status == "optimal" and a.accuracy == "conic"
    assert a.value == pytest.approx(b.value, rel=1e-7)
    assert a.lower_bound <= b.value * (1 + 1e-9) and b.lower_bound <= a.value * (1 + 1e-9)


# ----------------------------------------------------------------------------- kernel path
def test_kernel_bound_never_exceeds_the_value():
    """MATH G9: y^T K^-1 y = 377.8377383 (no output bias); the direct bound formula exceeded it."""
    x = np.array([-1.5, -0.7, -0.1, 0.4, 1.0, 1.6])
    y = np.array([0.3, -0.5, 0.8, 0.1, -0.6, 0.2])
    sol = weighted_spline(x, y, weight=solvers.kink_density("pm1-uniform", c=2.0), skip=False, output_bias=False)
    assert sol.status == "optimal"
    assert sol.lower_bound <= 377.8377383 + 1e-6 and sol.value == pytest.approx(377.8377383, abs=1e-6)
    assert sol.gap >= 0.0


# ----------------------------------------------------------------------------- bad inputs (issue 9)
X, Y = [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 0.0, 2.0]


@pytest.mark.parametrize("kwargs,match", [
    (dict(output_bias="no", skip=False, weight=solvers.kink_density("gaussian")), "output_bias"),
    (dict(skip="yes"), "skip"),
    (dict(allow_inaccurate="no"), "allow_inaccurate"),
    (dict(method="cvxpy", mesh_size=0), "mesh_size"),
    (dict(method="cvxpy", mesh_size=-3), "mesh_size"),
    (dict(method="cvxpy", mesh_size=2.5), "mesh_size"),
    (dict(method="cvxpy", solver=3), "solver.*CLARABEL"),
    (dict(method="cvxpy", solver="NOSUCH"), "not installed"),
    (dict(weight=lambda t: np.ones(3)), "shape"),
    (dict(weight=lambda t: np.ones((2, np.size(t)))), "weight"),
])
def test_weighted_spline_bad_inputs(kwargs, match):
    with pytest.raises(InputError, match=match):
        weighted_spline(X, Y, **kwargs)


def test_conic_bad_inputs():
    d = validate_data(X, Y)
    with pytest.raises(InputError, match="solver.*CLARABEL"):
        tc.bias_interpolant(d, solver=3)
    with pytest.raises(InputError, match="allow_inaccurate"):
        tc.bias_interpolant(d, allow_inaccurate="no")
    with pytest.raises(InputError, match="allow_inaccurate"):
        tg.grid_regression(d, 0.1, "skip", allow_inaccurate="no")
    with pytest.raises(InputError, match="solver"):
        tv2_regression(X, Y, 0.1, variant="bias", solver=3)


def test_rounding_slack_has_no_room_for_an_approximate_answer():
    """The slack is rounding-sized: far below the exact tolerance on ordinary data (so the rule has
    teeth), and for the kernel system bounded by its conditioning (eps * cond is all double
    precision can certify of y^T K^-1 y)."""
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-2, 2, 30))
    y = rng.normal(size=30)
    for sol in (tv2_interpolant(x, y), tv2_regression(x, y, 0.1, variant="no-skip"),
                tv2_interpolant(x, y, variant="bias"), weighted_spline(x, y), weighted_spline(x, y, lam=0.1)):
        assert sol.tolerance[1] <= 1e-11 * abs(sol.value)
    kern = weighted_spline(x / 2, y, weight=solvers.kink_density("gaussian"), skip=False)
    assert kern.tolerance[1] <= 1e-13 * kern.certificate["condition_number"] * kern.value
