"""Metrics of the comparison layer against hand-computed values."""

import json
import math
import os

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.interpolate import CubicSpline

import solvers
from solvers import PiecewiseLinear as PL
from minnorm.comparison.metrics import (
    compare,
    cost_gap,
    envelope_violation,
    knots_per_interval,
    l1_distance,
    l2_distance,
    linf_distance,
    lp_norm,
    net_objective,
    objective_gap,
    rel_cost_gap,
    rel_l2_distance,
    rel_linf_distance,
    train_loss,
)
from minnorm.comparison.problems import make_problem
from minnorm.comparison.references import solve_reference

from _oracles import data_knot_regression, v1_value  # independent cvxpy/Clarabel data-knot QP; MATH B.1 V

ABS = PL([0.0], [0.0], -1.0, 1.0)
ZERO = PL([0.0], [0.0], 0.0, 0.0)
DATA = os.path.join(os.path.dirname(__file__), "data", "debarre_tv2_data.csv")


# ----------------------------------------------------------------------------- PL vs PL (exact)
def test_abs_vs_zero_exact():
    assert l2_distance(ABS, ZERO, (-1, 1)) == pytest.approx(math.sqrt(2 / 3), abs=1e-15)
    assert linf_distance(ABS, ZERO, (-1, 1)) == 1.0
    assert l1_distance(ABS, ZERO, (-1, 1)) == pytest.approx(1.0, abs=1e-15)


def test_pl_pl_different_knots_exact():
    # relu(x) - relu(x - 0.5) = 0, x, 0.5 on (-1,0), (0,0.5), (0.5,1).
    f = PL([0.0], [0.0], 0.0, 1.0)
    g = PL([0.5], [0.0], 0.0, 1.0)
    assert l1_distance(f, g, (-1, 1)) == pytest.approx(0.375, abs=1e-15)
    assert l2_distance(f, g, (-1, 1)) == pytest.approx(math.sqrt(1 / 24 + 1 / 8), abs=1e-15)
    assert linf_distance(f, g, (-1, 1)) == 0.5
    # A sign change inside the interval: f = x on [-1, 2].
    x = PL([0.0], [0.0], 1.0, 1.0)
    assert l1_distance(x, ZERO, (-1, 2)) == pytest.approx(2.5, abs=1e-15)
    assert l2_distance(x, ZERO, (-1, 2)) == pytest.approx(math.sqrt(3.0), abs=1e-15)
    assert linf_distance(x, ZERO, (-1, 2)) == 2.0


def test_relative_distances():
    assert rel_l2_distance(ZERO, ABS, (-1, 1)) == pytest.approx(1.0, abs=1e-15)
    assert rel_linf_distance(0.5 * ABS, ABS, (-1, 1)) == pytest.approx(0.5, abs=1e-15)
    assert math.isnan(rel_l2_distance(ABS, ZERO, (-1, 1)))


def test_solution_objects_are_unwrapped():
    sol = solvers.tv2_interpolant([0, 1, 2], [0, 1, 0])
    # f = 1 - |x - 1| extended linearly; distance to 0 on [0, 2] is the hat's norm sqrt(2/3).
    assert l2_distance(sol, ZERO, (0, 2)) == pytest.approx(math.sqrt(2 / 3), abs=1e-15)


# ----------------------------------------------------------------------------- non-PL (quadrature)
def test_square_vs_abs_quadrature():
    sq = lambda t: np.asarray(t) ** 2  # noqa: E731
    # int_{-1}^{1} (|x| - x^2)^2 = 2 (1/3 - 1/2 + 1/5) = 1/15; max |x| - x^2 = 1/4 at x = 1/2.
    assert l2_distance(ABS, sq, (-1, 1)) == pytest.approx(math.sqrt(1 / 15), abs=1e-12)
    assert linf_distance(ABS, sq, (-1, 1)) == pytest.approx(0.25, abs=1e-12)
    assert l1_distance(ABS, sq, (-1, 1)) == pytest.approx(1 / 3, abs=1e-10)
    assert lp_norm(sq, (0, 1), 2) == pytest.approx(math.sqrt(1 / 5), abs=1e-14)


def test_linf_interior_maximum_off_grid():
    f = lambda t: np.sin(np.pi * np.asarray(t))  # noqa: E731
    g = PL([0.0], [0.0], 0.1, 0.1)
    t_star = math.acos(0.1 / math.pi) / math.pi
    exact = math.sin(math.pi * t_star) - 0.1 * t_star
    assert linf_distance(f, g, (0.0, 0.77)) == pytest.approx(exact, abs=1e-13)


def test_cubic_spline_vs_pl_matches_adaptive_quad():
    x = np.array([-1.0, -0.3, 0.1, 0.6, 1.0])
    y = np.array([0.2, -0.5, 0.9, 0.1, -0.4])
    cs = CubicSpline(x, y, bc_type="natural")  # its .x are the data: used as breakpoints
    pl = PL([-0.7, 0.25, 0.8], [0.3, 0.1, -0.2], 1.0, -0.5)
    brk = np.union1d(x, pl.nodes)
    exact_sq = quad(lambda t: (cs(t) - pl(t)) ** 2, -1.0, 1.0, points=brk, epsabs=1e-14, epsrel=1e-14, limit=200)[0]
    assert l2_distance(pl, cs, (-1, 1)) == pytest.approx(math.sqrt(exact_sq), abs=1e-10)
    grid = np.union1d(np.linspace(-1, 1, 2_000_001), brk)
    brute = np.max(np.abs(cs(grid) - pl(grid)))
    got = linf_distance(pl, cs, (-1, 1))
    assert got >= brute - 1e-15
    assert got == pytest.approx(brute, abs=1e-10)


# ----------------------------------------------------------------------------- envelope
G2X, G2Y = [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 0.0]  # MATH G case 2: f(1.5) in [1, 1.5]


def test_envelope_violation_exact_g2():
    env = solvers.tv2_envelope(G2X, G2Y)
    above = PL([0, 1, 1.5, 2, 3], [0, 1, 1.75, 1, 0], 1.0, -1.0)  # 0.25 above the upper bound at 1.5
    below = PL([0, 1, 1.5, 2, 3], [0, 1, 0.9, 1, 0], 1.0, -1.0)  # 0.1 below the chord
    assert envelope_violation(above, env, (-1, 4)) == pytest.approx(0.25, abs=1e-15)
    assert envelope_violation(below, env, (-1, 4)) == pytest.approx(0.1, abs=1e-15)
    # Extrapolation counts: a right slope of -2 instead of -1 leaves the (unique) extension by 1 at t = 4.
    steep = PL(G2X, G2Y, 1.0, -2.0)
    assert envelope_violation(steep, env, (-1, 4)) == pytest.approx(1.0, abs=1e-15)
    assert envelope_violation(steep, env, (-1, 3)) == 0.0
    for sel in ("linear", "sparsest"):
        sol = solvers.tv2_interpolant(G2X, G2Y, select=sel)
        assert envelope_violation(sol, env, (-1, 4)) <= 1e-15


def test_envelope_violation_smooth_f_matches_dense_grid():
    # Expected value: brute force on a 2e6-point grid against the MATH G2 bounds written by hand
    # (chord below; 1.5 at t = 1.5 above, the intersection of the lines y = t and y = 3 - t).
    cs = CubicSpline(G2X, G2Y, bc_type="natural")
    grid = np.linspace(-0.5, 3.5, 2_000_001)
    lo = np.interp(grid, G2X, G2Y, left=np.nan, right=np.nan)
    lo = np.where(grid < 0, grid, np.where(grid > 3, 3 - grid, lo))
    hi = np.where((grid > 1) & (grid < 2), np.minimum(grid, 3 - grid), lo)
    brute = np.max(np.maximum(np.maximum(lo - cs(grid), cs(grid) - hi), 0))
    env = solvers.tv2_envelope(G2X, G2Y)
    got = envelope_violation(cs, env, (-0.5, 3.5))
    assert brute > 0.05  # the natural spline leaves the envelope outside the hull
    assert got == pytest.approx(brute, abs=1e-9)
    assert got == env.violation(cs, interval=(-0.5, 3.5), grid=G2X)  # one algorithm, one home


def test_envelope_violation_needs_an_envelope():
    with pytest.raises(solvers.InputError, match="Envelope"):
        envelope_violation(PL.from_values(G2X, G2Y), object(), (-1, 4))


def test_envelope_violation_no_skip_g4_wedge():
    # MATH G4 (B.2 corrected): x = (0,1,2), y = (0,1,3); f = 2 relu(x - 1/2) is a V2 minimiser
    # that the V1 envelope (unique linear extension) rejects: f(-2) = 0 where the V1 set has -2.
    x, y = [0.0, 1.0, 2.0], [0.0, 1.0, 3.0]
    f = PL.from_knots([0.5], [2.0], 0.0, 0.0)
    np.testing.assert_allclose(f(np.array(x)), y, atol=0)
    v2 = solvers.tv2_envelope(x, y, variant="no-skip")
    assert envelope_violation(f, v2, (-2, 4)) == 0.0
    assert envelope_violation(f, solvers.tv2_envelope(x, y), (-2, 4)) == pytest.approx(2.0, abs=1e-15)
    # outside the wedge at t = 3: f(3) in [4, 5]; a right slope 3 gives f(3) = 6, one above.
    g = PL([0.0, 1.0, 2.0], [0.0, 1.0, 3.0], 1.0, 3.0)
    assert envelope_violation(g, v2, (-2, 3)) == pytest.approx(1.0, abs=1e-15)


# ----------------------------------------------------------------------------- cost gap
def test_cost_gap_linear_interpolant_is_zero_and_wiggle_exact():
    x = [0.0, 1.0, 2.0]
    lin = PL.from_values(x, [0.0, 1.0, 0.0])
    assert cost_gap(lin, x, "skip") == 0.0
    # Same values at the data, but a plateau on [0.5, 1]: slopes 2, 0, -1 -> TV = 3 vs V = 2.
    wiggle = PL([0.0, 0.5, 1.0, 2.0], [0.0, 1.0, 1.0, 0.0], 2.0, -1.0)
    assert cost_gap(wiggle, x, "skip") == pytest.approx(1.0, abs=1e-15)
    assert rel_cost_gap(wiggle, x, "skip") == pytest.approx(0.5, abs=1e-15)


def test_cost_gap_no_skip_boundary_term():
    # MATH G3: x = (0, 1), y = (0, 1): V2 min = 1 (relu), the line x costs 2.
    relu = PL([0.0], [0.0], 0.0, 1.0)
    line = PL([0.0], [0.0], 1.0, 1.0)
    assert cost_gap(relu, [0.0, 1.0], "no-skip") == pytest.approx(0.0, abs=1e-15)
    assert cost_gap(line, [0.0, 1.0], "no-skip") == pytest.approx(1.0, abs=1e-15)
    assert cost_gap(line, [0.0, 1.0], "skip") == 0.0


# ----------------------------------------------------------------------------- objective gap
def test_objective_gap_debarre_least_squares_line():
    d = np.loadtxt(DATA, delimiter=",")
    x, y = d[:, 0], d[:, 1]
    # README_reference: for 1/2 SSE + lam' TV, lam'_max = 0.243595 -> lam_max = 0.48719 in the
    # SSE + lam TV convention; above it the minimiser is the least-squares line.
    slope, icpt = np.polyfit(x, y, 1)
    assert slope == pytest.approx(2.269221, abs=1e-6) and icpt == pytest.approx(-0.257287, abs=1e-6)
    line = PL([0.0], [icpt], slope, slope)
    sse = float(np.sum((line(x) - y) ** 2))
    assert net_objective(line, x, y, 1.0) == pytest.approx(sse, rel=1e-15)
    assert objective_gap(line, x, y, 1.0, "skip") == pytest.approx(0.0, abs=1e-9)
    # Below lam_max the line is not optimal.
    assert objective_gap(line, x, y, 0.3, "skip") > 1e-3
    # The connect-the-dots interpolant: SSE 0, objective lam * V with V = 1193.0707.
    lin = PL.from_values(x, y)
    lam = 1e-3
    ref_obj, _ = data_knot_regression(x, y, lam)  # min SSE + lam TV, written in _oracles with cvxpy
    assert net_objective(lin, x, y, lam) == pytest.approx(lam * 1193.0707, abs=1e-6)
    assert objective_gap(lin, x, y, lam) == pytest.approx(lam * 1193.0707 - ref_obj, abs=1e-6)
    assert objective_gap(solvers.tv2_regression(x, y, lam).function, x, y, lam) == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- knots
def test_knots_per_interval_hand_built():
    x = [0.0, 1.0, 2.0, 3.0]  # range 3: merge within 0.03, data_tol = 0.03
    t = [-1.0, 0.5, 0.505, 1.2, 1.5, 1.8, 2.0001, 2.3, 2.31, 2.5, 4.0]
    J = [0.5, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1e-4, 1.0]
    f = PL.from_knots(t, J, 0.0, 0.0)
    kc = knots_per_interval(f, x)
    assert kc.num_raw == 11
    np.testing.assert_array_equal(kc.per_interval, [1, 3, 0])
    np.testing.assert_array_equal(kc.at_data, [0, 0, 1, 0])
    assert (kc.left, kc.right) == (1, 1)
    assert kc.max_per_interval == 3
    assert kc.total == 7  # -1, 0.5025, 1.2, 1.5, 1.8, 2.0001, 4 (pair at 2.3 cancels, 2.5 too small)
    np.testing.assert_allclose(kc.knots, [-1.0, 0.5025, 1.2, 1.5, 1.8, 2.0001, 4.0], atol=1e-12)
    np.testing.assert_allclose(kc.jumps, [0.5, 2.0, -1.0, 1.0, -1.0, 1.0, 1.0], atol=1e-12)
    np.testing.assert_array_equal(kc.histogram(), [1, 1, 0, 1])
    # A finer merge scale (0.003) keeps the kinks near 0.5 apart and the pair at 2.3/2.31 too.
    assert knots_per_interval(f, x, merge_tol=1e-3).per_interval.tolist() == [2, 3, 2]


def test_train_loss():
    assert train_loss(ABS, [-1.0, 0.0, 2.0], [1.0, 1.0, 0.0]) == pytest.approx((0 + 1 + 4) / 3, abs=1e-15)


# ----------------------------------------------------------------------------- compare
def test_compare_shifted_reference_exact():
    p = make_problem("sin", "uniform", 9, seed=0)
    ref = solve_reference("tv2:skip", p.x, p.y)
    a, b = p.eval_interval
    assert (a, b) == pytest.approx((-1.5, 1.5), abs=1e-15)
    net = ref.function + 0.1  # shifted: same cost, off by 0.1 everywhere
    m = compare(net, ref, p)
    json.dumps(m)
    assert m["l2"] == pytest.approx(0.1 * math.sqrt(3.0), rel=1e-12)
    assert m["linf"] == pytest.approx(0.1, rel=1e-12)
    assert m["envelope_violation"] == pytest.approx(0.1, rel=1e-12)
    ref_norm = math.sqrt(quad(lambda t: ref.function(t) ** 2, a, b, points=p.x, epsabs=0, epsrel=1e-13,
                              limit=200)[0])
    assert m["ref_l2_norm"] == pytest.approx(ref_norm, rel=1e-10)
    assert m["rel_l2"] == pytest.approx(0.1 * math.sqrt(3.0) / ref_norm, rel=1e-10)
    V = v1_value(p.x, p.y)  # the shift changes no slope: both cost V
    assert m["ref_value"] == pytest.approx(V, rel=1e-12) and m["net_cost"] == pytest.approx(V, rel=1e-12)
    assert m["cost_gap"] == pytest.approx(0.0, abs=1e-12)
    assert m["train_mse"] == pytest.approx(0.01, rel=1e-12)
    assert math.isnan(m["objective_gap"])
    # Knots at the 7 interior data points except x = 0, where sin's secants do not bend.
    assert m["max_knots_per_interval"] == 0 and m["knots_at_data"] == m["net_num_knots"] == 6
    exact = compare(ref.function, ref, p)
    assert exact["l2"] == 0.0 and exact["linf"] == 0.0 and exact["envelope_violation"] == 0.0


def test_compare_regression_reference_objective_gap():
    p = make_problem("sin", "random", 12, noise=0.1, seed=2)
    ref = solve_reference("tv2:skip", p.x, p.y, lam=0.05)
    m = compare(ref.function, ref, p)
    qp, _ = data_knot_regression(p.x, p.y, 0.05)  # independent cvxpy/Clarabel QP
    assert m["ref_objective"] == pytest.approx(qp, rel=1e-7)
    assert m["objective_gap"] == pytest.approx(0.0, abs=1e-12)
    assert m["envelope_violation"] <= 1e-14
    lin = PL.from_values(p.x, p.y)
    m2 = compare(lin, ref, p)
    V = v1_value(p.x, p.y)  # connect-the-dots: SSE 0, TV = V
    assert m2["net_objective"] == pytest.approx(0.05 * V, rel=1e-12)
    assert m2["objective_gap"] == pytest.approx(0.05 * V - qp, rel=1e-6)
    assert m2["objective_gap"] > 0.1
    assert m2["train_mse"] == 0.0 and m2["cost_gap"] == 0.0


def test_compare_with_spline_reference_quadrature():
    p = make_problem("sin", "uniform", 8, seed=0)
    ref = solve_reference("spline:natural", p.x, p.y)
    net = PL.from_values(p.x, p.y)
    m = compare(net, ref, p)
    json.dumps(m)
    a, b = p.eval_interval
    brk = np.union1d(p.x, [a, b])
    exact_sq = quad(lambda t: (ref.solution(t) - net(t)) ** 2, a, b, points=brk, epsabs=1e-14, epsrel=1e-14,
                    limit=200)[0]
    assert m["l2"] == pytest.approx(math.sqrt(exact_sq), abs=1e-10)
    grid = np.union1d(np.linspace(a, b, 1_000_001), brk)
    assert m["linf"] == pytest.approx(np.max(np.abs(ref.solution(grid) - net(grid))), abs=1e-9)
    assert math.isnan(m["envelope_violation"]) and math.isnan(m["cost_gap"]) and math.isnan(m["net_cost"])
    # net = connect-the-dots: int|f''| = V of the secant slopes; ref_value = int S''^2 of scipy's
    # natural cubic spline, by quadrature
    assert m["net_cost_skip"] == pytest.approx(v1_value(p.x, p.y), rel=1e-12)
    d2 = CubicSpline(p.x, p.y, bc_type="natural").derivative(2)
    curvature = sum(quad(lambda t: d2(t) ** 2, lo, hi, epsabs=0, epsrel=1e-13)[0] for lo, hi in zip(p.x[:-1], p.x[1:]))
    assert m["ref_value"] == pytest.approx(curvature, rel=1e-9)
    # The variant for the cost gap can be requested explicitly.
    assert compare(net, ref, p, cost_gap_variant="skip")["cost_gap"] == 0.0


def test_bias_variant_reference_and_cost_gap_math_g7():
    # MATH G7: x = (-3, 2.5, 3), y = (0, 0, 1): V3 = 1.1 sqrt(10), one knot at 1/3 with jump 3.3.
    x, y = [-3.0, 2.5, 3.0], [0.0, 0.0, 1.0]
    ref = solve_reference("tv2:bias", x, y)
    assert ref.envelope is None and ref.variant == "bias"
    assert ref.value == pytest.approx(1.1 * math.sqrt(10.0), abs=1e-6)
    # Free affine part: f(t) = -1.3 (t + 3) + 3.3 (t - 1/3)_+ interpolates the data.
    bf = PL([-3.0, 1 / 3, 3.0], [0.0, -1.3 * (10 / 3), 1.0], -1.3, 2.0)
    np.testing.assert_allclose(bf(np.array(x)), y, atol=1e-14)
    assert solvers.tv2_cost(bf, "bias") == pytest.approx(1.1 * math.sqrt(10.0), rel=1e-14)
    assert cost_gap(bf, x, "bias") == pytest.approx(0.0, abs=1e-6)
    assert linf_distance(bf, ref, (-4.5, 4.5)) < 1e-4  # SOCP knot location tolerance
    # The connect-the-dots interpolant is V1-optimal (V = 2) but not V3-optimal.
    lin = PL.from_values(x, y)
    assert cost_gap(lin, x, "skip") == 0.0
    gap = cost_gap(lin, x, "bias")
    assert gap == pytest.approx(math.sqrt(1 + 2.5**2) * 2 - 1.1 * math.sqrt(10.0), abs=1e-6)


def test_compare_accepts_torch_module():
    import minnorm as mn

    p = make_problem("abs", "uniform", 5, seed=0)
    ref = solve_reference("tv2:skip", p.x, p.y)
    model = mn.ShallowReLU(7, skip=True)
    a = compare(model, ref, p)
    b = compare(mn.to_function(model), ref, p)
    assert a == b or all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


def test_knot_mass_at_data_closed_form():
    """f = relu(x) - 3 relu(x - 0.5) + relu(x - 0.7): with data {0, 1} and data_tol = 0.1 only the knot
    at 0 is at the data, so the fraction is 1/(1 + 3 + 1); a kink pair closer than merge_tol with
    opposite jumps cancels (as antisymmetric partners in the kernel regime)."""
    x = np.array([0.0, 1.0])
    f = PL.from_knots([0.0, 0.5, 0.7], [1.0, -3.0, 1.0], 0.0, 0.0)

    def mass(g, tol, merge):
        return knots_per_interval(g, x, merge_tol=merge, jump_tol=0.0, data_tol=tol).mass_at_data

    assert mass(f, 0.1, 0.0) == pytest.approx(1 / 5, rel=1e-12)
    assert mass(f, 0.31, 0.0) == pytest.approx(2 / 5, rel=1e-12)  # 0.7 is 0.3 from 1
    g = PL.from_knots([0.0, 0.5, 0.5 + 1e-9], [1.0, -3.0, 3.0], 0.0, 0.0)
    assert mass(g, 0.1, 1e-6) == pytest.approx(1.0, rel=1e-12)
    assert mass(g, 0.1, 0.0) == pytest.approx(1 / 7, rel=1e-12)
    assert math.isnan(mass(PL.from_knots([], [], 1.0, 0.0), 0.1, 0.0))
