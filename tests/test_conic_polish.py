"""Exact knots of the V3/V4 SOCP paths after the polish step (issue 8).

Expected values are independent of the solver: closed forms of MATH G (G2, G4, G5, G7) with the
minimiser written out by hand, a fine knot-grid LP solved by scipy's HiGHS (an upper bound that
converges from above), the structure theorem of MATH B.3 (at most one knot of each sign per closed
data interval) and weak duality (the returned lower bound is an exactly feasible dual point, so
value - lower_bound >= 0 bounds the distance to the optimum).
"""

import importlib
import itertools

import numpy as np
import pytest

import solvers
from solvers import tv2_cost

from _oracles import GridLP, omega, relu

conic = importlib.import_module("solvers.tv2.socp")


def interp(x, y, variant):
    return solvers.tv2_interpolant(np.asarray(x, float), np.asarray(y, float), variant=variant)


def grid_lp_value(x, y, variant, points=1500):
    r"""Knot-grid LP (MATH B.3/B.4, ``_oracles.GridLP``) on a uniform grid plus the data, by HiGHS.

    V4 knots outside the hull only matter through D and are cheapest at min(x_1, 0) / max(x_n, 0),
    so the grid spans [min(x_1, 0), max(x_n, 0)].
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    lo, hi = (x[0], x[-1]) if variant == "bias" else (min(x[0], 0.0), max(x[-1], 0.0))
    t = np.unique(np.concatenate([np.linspace(lo, hi, points), x]))
    return GridLP(x, y, t, variant).value()


def knots_per_closed_interval(x, f):
    """Largest number of same-sign knots in any closed data interval."""
    worst = 0
    for a, b in itertools.pairwise(x):
        inside = (f.knots >= a) & (f.knots <= b)
        for sign in (1, -1):
            worst = max(worst, int(np.count_nonzero(inside & (np.sign(f.jumps) == sign))))
    return worst


@pytest.mark.parametrize("variant", ["bias", "bias-no-skip"])
def test_g7_closed_form(variant):
    # MATH G7 / B.3: one kink at argmax B/omega = 1/3 with jump 3.3, V3 = 1.1 sqrt(10). Written out:
    # f(t) = -1.3 (t + 3) + 3.3 (t - 1/3)_+ (f(-3) = f(2.5) = 0, f(3) = 1). V4 >= V3 always, and this
    # f has |D| = |-1.3 + 2| = 0.7 <= 3.3 = ||mu||, so its V4 cost is its V3 cost: same optimum.
    x, y = (-3.0, 2.5, 3.0), (0.0, 0.0, 1.0)
    sol = interp(x, y, variant)
    f = sol.function
    assert sol.status == "optimal"
    assert f.knots.size == 1
    assert abs(f.knots[0] - 1.0 / 3.0) < 1e-12
    assert abs(f.jumps[0] - 3.3) < 1e-12
    assert abs(sol.value - 1.1 * np.sqrt(10.0)) < 1e-12
    assert abs(f(-15.0) - 15.6) < 1e-11
    t = np.linspace(-20.0, 20.0, 81)
    closed = -1.3 * (t + 3.0) + 3.3 * relu(t - 1.0 / 3.0)
    assert np.max(np.abs(f(t) - closed)) < 1e-11
    assert sol.value - sol.lower_bound < 1e-12


def test_g2_single_knot():
    # MATH G2: V3 = sqrt(13) with a single kink at 1.5 (jump -2); two kinks would cost sqrt2 + sqrt5.
    sol = interp((0, 1, 2, 3), (0, 1, 1, 0), "bias")
    f = sol.function
    assert f.knots.size == 1
    assert abs(f.knots[0] - 1.5) < 1e-12 and abs(f.jumps[0] + 2.0) < 1e-12
    assert abs(sol.value - np.sqrt(13.0)) < 1e-12
    assert sol.value - sol.lower_bound < 1e-12


def test_g5_no_spurious_knot():
    # MATH G5 (x = 0..5, y = x(x-1)/2): g = 2 (t-1.5)_+ + 2 (t-3.5)_+ interpolates (checked here).
    # Its V4 cost: D = 0 + 4 = ||mu|| so the max is omega.|J| = 2 (omega(1.5) + omega(3.5)); the
    # solver's lower bound certifies g optimal, so the returned minimiser has g's value, and by
    # MATH B.3 at most one knot of each sign per closed interval (the SOCP answer had a third knot
    # at 2.7257 with jump 5e-6). The grid LP (its grid contains 1.5 and 3.5) gives the same value.
    x = np.arange(6.0)
    y = x * (x - 1) / 2
    g_val = 2.0 * (omega(1.5) + omega(3.5))
    assert np.max(np.abs(2 * relu(x - 1.5) + 2 * relu(x - 3.5) - y)) == 0.0
    sol = interp(x, y, "bias-no-skip")
    f = sol.function
    assert sol.lower_bound > g_val - 1e-12
    assert abs(sol.value - g_val) < 1e-12
    assert knots_per_closed_interval(x, f) <= 1
    assert f.knots.size == 2
    np.testing.assert_allclose(f.knots, [1.5, 3.5], atol=1e-12)
    np.testing.assert_allclose(f.jumps, [2.0, 2.0], atol=1e-12)
    assert abs(grid_lp_value(x, y, "bias-no-skip", points=1001) - g_val) < 1e-9


def test_g4_v4_value():
    # MATH G4 (x = (0,1,2), y = (0,1,3)): f = 2 (t - 1/2)_+ interpolates, D = 2 = ||mu||, so its V4
    # cost is 2 omega(1/2) = sqrt(5); the SOCP returned 2.2360679871511575 (4e-9 high).
    sol = interp((0, 1, 2), (0, 1, 3), "bias-no-skip")
    assert abs(sol.value - np.sqrt(5.0)) < 1e-12
    assert sol.lower_bound > np.sqrt(5.0) - 1e-12
    f = sol.function
    assert f.knots.size == 1 and abs(f.knots[0] - 0.5) < 1e-12 and abs(f.jumps[0] - 2.0) < 1e-12
    assert grid_lp_value((0, 1, 2), (0, 1, 3), "bias-no-skip", points=1001) >= np.sqrt(5.0) - 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("variant", ["bias", "bias-no-skip"])
def test_random_sets_against_grid_lp(seed, variant):
    rng = np.random.default_rng(seed)
    n = 6
    x = np.sort(rng.uniform(-3.0, 3.0, n))
    y = rng.normal(size=n)
    sol = interp(x, y, variant)
    f = sol.function
    assert sol.status == "optimal"
    assert np.max(np.abs(f(x) - y)) < 1e-12
    # weak duality: the lower bound is certified, so the polished value is optimal to ~1e-12
    assert -1e-13 <= (sol.value - sol.lower_bound) / sol.value < 1e-12
    assert abs(tv2_cost(f, variant) - sol.value) < 1e-13 * sol.value
    grid = grid_lp_value(x, y, variant)
    # the grid LP is an upper bound converging from above (grid step ~4e-3, error O(step^2))
    assert sol.value <= grid * (1 + 1e-9)
    assert grid - sol.value < 1e-4 * sol.value
    if variant == "bias":
        assert knots_per_closed_interval(x, f) <= 1  # MATH B.3


@pytest.mark.parametrize("variant", ["bias", "bias-no-skip"])
def test_polish_only_improves(variant, monkeypatch):
    # The polished answer is accepted only when it is not worse than the SOCP one; both
    # interpolation and regression, measured against the unpolished solve.
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(-3.0, 3.0, 9))
    y = rng.normal(size=9)
    lam = 0.3
    polished = [interp(x, y, variant), solvers.tv2_regression(x, y, lam, variant=variant)]
    monkeypatch.setattr(conic, "POLISH_CONIC", False)
    raw = [interp(x, y, variant), solvers.tv2_regression(x, y, lam, variant=variant)]
    for p, r in zip(polished, raw):
        assert p.value <= r.value + 1e-13 * abs(r.value)
        assert p.value - p.lower_bound <= r.value - r.lower_bound + 1e-13 * abs(r.value)
        assert (p.value - p.lower_bound) <= 1e-11 * abs(p.value)
    # regression objective recomputed here from the returned function
    f = polished[1].function
    obj = float(np.sum((f(x) - y) ** 2)) + lam * tv2_cost(f, variant)
    assert abs(obj - polished[1].value) < 1e-12 * obj


def test_regression_certified_where_socp_alone_is_not():
    # A V3 regression whose optimum is nearly affine: the SOCP alone stops at relative gap 3.4e-6
    # (above the 1e-6 'conic' tolerance, so it raised SolverError, measured); the polished point (the empty face: the
    # weighted least-squares line, R = 0) is certified by weak duality to rounding.
    x = np.array([-2.443324988292941, -0.8091960114500658, 2.612245756033328])
    y = np.array([-0.5806997054894565, 1.5099831293121058e-05, 1.1888306785373703])
    lam = 0.04405085828543316
    sol = solvers.tv2_regression(x, y, lam, variant="bias")
    assert sol.status == "optimal"
    assert sol.value - sol.lower_bound <= 1e-12 * sol.value
    # the least-squares line (numpy's polyfit, independent) has the same objective when R = 0
    line = np.polyval(np.polyfit(x, y, 1), x)
    sse_line = float(np.sum((line - y) ** 2))
    assert sol.value <= sse_line * (1 + 1e-12)
