r"""Brute-force oracles for the TV2 family, independent of minnorm's derivations (issue 8, part 2).

Every expected value in this module comes from a linear or mixed-integer program solved by HiGHS
(``scipy.optimize.linprog`` / ``milp``) over a finite dictionary. None uses the closed forms of
MATH B (V, the B.2 value, the envelope rules, run counting, secant-line pairing) or any library
internal; the library is reached only through its public API (``tv2_interpolant``,
``tv2_envelope``, ``tv2_cost``, ``PiecewiseLinear``). The programs of oracles 1-3 (``GridLP``, the
grids, ``milp_fewest_knots``) live in tests/_oracles.py, shared with the other test modules; oracle
4 and the data are here.

Oracles
-------
1. **Knot-grid LP** (all four variants). Over a grid :math:`t_1<\dots<t_K`,
   :math:`f(t)=s_L(t-x_1)+d+\sum_k J_k(t-t_k)_+` with :math:`J=J^+-J^-`, :math:`J^\pm\ge0`,
   free :math:`s_L=f'(-\infty)` and :math:`d`, interpolation as equalities, and the cost of MATH
   A.2 as an epigraph :math:`r\ge` each affine piece, with :math:`D=2s_L+\sum J`:
   V1 :math:`r\ge\sum|J|`; V2 :math:`r\ge\sum|J|,\ r\ge\pm D`; V3 :math:`r\ge\sum\omega|J|`;
   V4 :math:`r\ge\sum\omega|J|,\ r\ge\sum(\omega-1)|J|\pm D`, :math:`\omega(t)=\sqrt{1+t^2}`.
   The A.2 formulas themselves are checked by oracle 3, so this chain never touches MATH B.
   The grid holds the data, 0, the evaluation points, all pairwise intersections of extended
   secant lines (V1/V2) and a uniform grid reaching one data range beyond the hull (and beyond 0).
   Its value is an upper bound on the continuous optimum.

   *V1/V2*: a PL interpolant's data-knot interpolant with the same outer slopes has no larger
   :math:`\int|f''|` (convexity of TV on each data interval), so the grid value is exact:
   compared with ``value`` and ``lower_bound`` to ``RTOL_EXACT`` (HiGHS dual simplex at 1e-10
   feasibility). *V3/V4*: an optimal atom of mass m at :math:`t^*` between grid points
   :math:`t_a<t^*<t_b` (no data point between, since the data are in the grid) can be split into
   two atoms with the same mass and first moment, which leaves f unchanged outside
   :math:`(t_a,t_b)` and :math:`D` unchanged, and costs at most :math:`m\,\delta^2\omega''/8\le
   m\delta^2/8` more. So ``R* <= LP <= R*(1 + delta^2/8)`` with ``delta`` the grid step (``GRID_STEP``):
   the library's value must be within that band (plus solver tolerance), and its certified
   ``lower_bound`` must not exceed the LP.

2. **Optimal face** (second LP): min and max of f(t) subject to the constraints above and
   :math:`r\le R_{LP}(1+\varepsilon)`, at 10-15 points inside and outside the hull. For V1 these are
   compared with ``tv2_envelope(x, y)``, for V2 with ``tv2_envelope(x, y, variant="no-skip")``
   (exact: the extreme functions have their kinks at data points, at the evaluation point and at
   secant intersections, all in the grid). For V3/V4 the face LPs run on a grid refined around the
   oracle's own atoms (``REFINE_STEPS``, down to 1e-4), whose value must lie in the library's
   certified bracket; the face must collapse onto the library's unique solution up to the knot
   resolution and the :math:`\sqrt\varepsilon` growth of a strictly convex problem
   (``V3_FACE_ATOL``, relative to the data scale). For V4 uniqueness is *measured* (Findings).

3. **MILP sparsest** (V1, V2; n <= 7): binary :math:`z_k` with :math:`|J_k|\le Mz_k`
   (:math:`M=` the cost bound, since :math:`\sum|J|\le R`), cost :math:`\le R_{LP}(1+\varepsilon)`,
   minimise :math:`\sum z_k` over a candidate grid: the data, all pairwise intersections of
   extended secant lines, points outside the hull, and for V2 the intersections of every secant
   line with the lines through the end data points whose slopes are the extreme outer slopes
   :math:`f'(\mp\infty)` over the optimal face (found by four more LPs, not by a formula). The
   MILP's support is re-verified by an LP restricted to it. The MILP count is an upper bound on
   the true minimum (positions are restricted), so the library's sparsest count must not exceed
   it. A library count below it must be verified instead: the LP restricted to the library's own
   support must reach the optimal cost (a MILP over nearly coincident candidates, 6e-10 apart, was
   seen to settle for 7 knots where a 2-knot support on its grid reaches it).

4. **Dictionary LP for R(f)** (MATH A.2 by definition). Units :math:`(w,b)=(\cos\theta,\sin\theta)`
   on a uniform grid of the unit circle (both orientations of every kink :math:`-b/w=-\tan\theta`,
   plus the constant unit :math:`(0,1)`); output weights :math:`a_u` free; skip term :math:`cx`
   free or absent, output bias d free; cost :math:`\sum|a_u||w_u|` (bias not penalised, after
   rebalancing, MATH A.1) or :math:`\sum|a_u|` (penalised, unit norm). Equality of two PL functions
   on the whole line is: equal jumps at every dictionary kink, equal :math:`f'(-\infty)` and equal
   value at 0. The target's knots are dictionary kinks, so the target is representable; the LP
   value is then the infimum over all widths: every network representing f has cost at least the
   target's own merged mass (weighted by :math:`\omega` when biases are penalised), at least
   :math:`|D|` without skip, and the surplus :math:`|D|-\|\mu\|` costs :math:`\ge\min\omega=1`,
   attained at the dictionary kink 0 (N odd). ``test_dictionary_without_kink_at_zero`` shows the
   oracle is sensitive to exactly that point. The LP's network is evaluated pointwise with numpy
   against the target, so a mis-derived constraint cannot pass silently.

Data (hypothesis, derandomized, fixed ``max_examples``): dyadic data (exact in floating point, so
slope changes of exactly 0 stay 0) with gap ratios up to 2^10 (~1e3), runs of equal curvature
touching both ends, boundary-dominated data of both signs (|s_1+s_{n-1}| > V), n = 2 and 3, plus
generic float data; and the MATH G cases.

Findings (measured 2026-12-01 on branch oracles)
------------------------------------------------
- V4 is unique on every set tried (18 here + 16 in a side study including 6 random
  boundary-dominated sets): the face width shrinks with the slack, by 100x (sharp, polyhedral) or
  10x (strictly convex, ~sqrt(eps)) when eps goes from 1e-6 to 1e-8, never to a positive floor.
  EMPIRICAL, not proved; ``test_face_v4*`` assert it at ``V3_FACE_ATOL``.
- V3/V4 values: the library is never below the LP's lower band and its certified bound never above
  the LP. The V4 SOCP's value sits up to 2.2e-8 (relative) above the LP, i.e. that far from optimal
  (G4: 2.2360679871 vs 2.2360679775 = sqrt 5). Its knots are resolved to ~1e-5 (G7: 0.33334946 for
  1/3), so far extrapolation is ~1e-4 off (f(-15) = 15.59981 vs 15.6); the V4 G5 solution carries a
  spurious third knot of jump 5e-6.
- V2 sparsest (current code): one knot more than the MILP on G4 (2 vs 1), its mirror,
  x = 0..3, y = (0, 1, 3, 4.5) (3 vs 2) and 22 of 80 random sets in a side study (never fewer);
  ``test_sparsest*[no-skip]`` fail on those. V1 sparsest: equal to the MILP on all 80 + 10 sets.
  The MILP counts equal the corrected MATH B.2 count (base + cheaper end, re-implemented in the
  side study) on every set whose slope changes are not at rounding level.
- The no-skip envelope API is not on this branch (``tv2_envelope(..., variant="no-skip")``); the
  LP face agrees with the corrected MATH B.2 formulas (implemented separately from the library)
  to 2.4e-9 relative on 70 sets, and disagrees with the old ``NoSkipEnvelope`` by up to 0.5 (G4).
"""

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from solvers import PiecewiseLinear, tv2_cost, tv2_envelope, tv2_interpolant

from _oracles import (GRID_STEP, STATS, GridLP, grid_lp, line_intersections, lp, merge_close, milp_fewest_knots,
                      omega, record, refined_lp, scale_of, secant_intersections, secant_lines)

VARIANTS = ("skip", "no-skip", "bias", "bias-no-skip")
#: V1/V2 values are exact on the grid: HiGHS at 1e-10 feasibility on O(1)-scaled rows.
RTOL_EXACT = 1e-8
#: Face tolerance (relative to the data scale) for V3/V4 against the unique solution: knot
#: positions resolved to REFINE_STEPS[-1] / 2, the sqrt(eps) growth of the face of a strictly
#: convex problem (measured widths up to 2.7e-4 at eps = 1e-8, far extrapolation of G7), and the
#: conic solver's knot positions (~1e-5).
V3_FACE_ATOL = 1e-3

COUNTS = STATS["counts"]  # datasets checked, LPs and MILPs solved (the oracles count the programs)


@pytest.fixture(scope="module", autouse=True)
def _report():
    """Write the worst discrepancies and the counts to $ORACLE_REPORT (JSON) when it is set."""
    yield
    path = os.environ.get("ORACLE_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(STATS, fh, indent=1, sort_keys=True)




def eval_points(x):
    """10-15 points: fractions of each data interval, and three on each side of the hull."""
    n = x.size
    span = x[-1] - x[0]
    if n == 2:
        fr = [(0.1, 0.3, 0.5, 0.7, 0.9)]
    elif n == 3:
        fr = [(0.2, 0.5, 0.8)] * 2
    else:
        fr = [(0.3, 0.7)] + [(0.5,)] * (n - 3) + [(0.3, 0.7)]
    inside = [x[i] + f * (x[i + 1] - x[i]) for i in range(n - 1) for f in fr[i]]
    outside = [x[0] - span * a for a in (0.05, 0.5, 2.0)] + [x[-1] + span * a for a in (0.05, 0.5, 2.0)]
    return np.array(sorted(inside + outside))


# ============================================================================ data strategies
DYADIC_MANTISSA = (1.0, 1.25, 1.5, 1.75)


@st.composite
def datasets(draw, n_min=2, n_max=7, max_span=None):
    r"""Data reaching the hard cases; dyadic (exact) unless ``kind == "float"``.

    ``shape``: ``"boundary"`` (small slope changes around a large common slope of either sign:
    :math:`|s_1+s_{n-1}|>V`), ``"monotone"`` (one curvature sign, runs touching both ends, with
    exact zeros allowed), ``"mixed"`` (any signs, exact zeros). Gaps are :math:`m\,2^k`,
    :math:`k\in[-5,5]` when ``wild`` (ratios up to ~1e3). ``max_span`` rescales by a power of 2.
    """
    n = draw(st.integers(n_min, n_max), label="n")
    kind = draw(st.sampled_from(["dyadic", "dyadic", "dyadic", "float"]), label="kind")
    shape = draw(st.sampled_from(["boundary", "monotone", "mixed"]), label="shape")
    wild = draw(st.booleans(), label="wild")
    kmax = 5 if wild else 1
    if kind == "float":
        gaps = np.array([draw(st.floats(0.05, 1.0)) * 10.0 ** draw(st.integers(-kmax // 2, kmax // 2))
                         for _ in range(n - 1)])
        base = draw(st.floats(-3.0, 3.0))
        ch = np.array([draw(st.floats(-2.0, 2.0)) for _ in range(n - 2)])
        x0 = draw(st.floats(-4.0, 4.0))
        y0 = draw(st.floats(-2.0, 2.0))
    else:
        gaps = np.array([draw(st.sampled_from(DYADIC_MANTISSA)) * 2.0 ** draw(st.integers(-kmax, kmax))
                         for _ in range(n - 1)])
        base = draw(st.integers(-12, 12)) / 4.0
        ch = np.array([draw(st.integers(-8, 8)) / 4.0 for _ in range(n - 2)])
        x0 = draw(st.integers(-16, 16)) / 4.0
        y0 = draw(st.integers(-8, 8)) / 4.0
    if shape == "boundary":
        base = (np.sign(base) or 1.0) * (abs(base) + 2.0)
        ch = ch / 8.0
    elif shape == "monotone":
        sign = draw(st.sampled_from([-1.0, 1.0]))
        ch = sign * np.abs(ch)
    s = base + np.concatenate(([0.0], np.cumsum(ch)))
    if max_span is not None:
        span = gaps.sum()
        gaps = gaps * 2.0 ** -max(0, int(np.ceil(np.log2(span / max_span))))
        x0 = float(np.clip(x0, -max_span / 2 - 1.0, max_span / 2 + 1.0 - gaps.sum()))
    x = x0 + np.concatenate(([0.0], np.cumsum(gaps)))
    y = y0 + np.concatenate(([0.0], np.cumsum(s * gaps)))
    assert np.all(np.diff(x) > 0)
    return x, y


#: MATH G interpolation cases (x, y) plus two boundary-dominated ones of negative sign.
G_CASES = [
    ([0.0, 1.0, 2.0], [0.0, 1.0, 0.0]),            # G1
    ([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 0.0]),  # G2
    ([0.0, 1.0], [0.0, 1.0]),                      # G3
    ([0.0, 1.0, 2.0], [0.0, 1.0, 3.0]),            # G4
    ([0.0, 1, 2, 3, 4, 5], [0.0, 0, 1, 3, 6, 10]),  # G5
    ([-3.0, 2.5, 3.0], [0.0, 0.0, 1.0]),           # G7
    ([0.0, 1.0, 2.0], [0.0, -1.0, -3.0]),          # G4 mirrored
    ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 4.0, 5.0]),  # concave/convex pair, |S| = V
    ([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 3.0, 4.5]),  # boundary-dominated, first run joins the end
    ([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.5, 4.5]),  # boundary-dominated, one convex run of 2
]

#: No shrinking: one oracle example costs up to a second, and shrinking a failure would take minutes
#: in CI; the falsifying example is printed unshrunk (it is small already: n <= 7).
ORACLE_SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                       phases=[Phase.explicit, Phase.reuse, Phase.generate])


def bias_band(R):
    """Oracle-1 band for V3/V4: the grid LP exceeds the optimum by at most R step^2 / 8."""
    return R * GRID_STEP ** 2 / 8.0


# ============================================================================ 1. optimal values
def check_value(x, y, variant):
    x, y = np.asarray(x, float), np.asarray(y, float)
    COUNTS["datasets"] += 1
    prob = grid_lp(x, y, variant)
    R = prob.R
    sol = tv2_interpolant(x, y, variant=variant)
    assert sol.status == "optimal"
    sc = max(1.0, R)
    if variant in ("skip", "no-skip"):
        record(f"value rel |value-LP| {variant}", abs(sol.value - R) / sc)
        record(f"value rel |bound-LP| {variant}", abs(sol.lower_bound - R) / sc)
        assert sol.value == pytest.approx(R, rel=RTOL_EXACT, abs=RTOL_EXACT)
        assert sol.lower_bound == pytest.approx(R, rel=RTOL_EXACT, abs=RTOL_EXACT)
    else:
        band = bias_band(R)
        # value above LP: the library's interpolant costs more than a grid function
        record(f"value rel (value-LP)_+ {variant}", max(0.0, sol.value - R) / sc)
        # value below the band: impossible for a true interpolant cost
        record(f"value rel (LP-band-value)_+ {variant}", max(0.0, R - band - sol.value) / sc)
        record(f"value rel (bound-LP)_+ {variant}", max(0.0, sol.lower_bound - R) / sc)
        record(f"value rel |value-LP| {variant}", abs(sol.value - R) / sc)
        assert sol.lower_bound <= R * (1 + 1e-9) + 1e-12
        assert R - band - 1e-9 * sc <= sol.value <= R * (1 + 1e-7) + 1e-12
    assert np.max(np.abs(sol(x) - y)) <= 1e-9 * scale_of(x, y)
    return prob, sol


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", range(len(G_CASES)))
def test_value_math_g_cases(case, variant):
    check_value(*G_CASES[case], variant)


@pytest.mark.parametrize("variant", ["skip", "no-skip"])
@settings(max_examples=30, **ORACLE_SETTINGS)
@given(data=datasets())
def test_value_exact_variants(data, variant):
    check_value(*data, variant)


@pytest.mark.parametrize("variant", ["bias", "bias-no-skip"])
@settings(max_examples=5, **ORACLE_SETTINGS)
@given(data=datasets(n_max=6, max_span=8.0))
def test_value_bias_variants(data, variant):
    check_value(*data, variant)


# ============================================================================ 2. optimal face
def face(x, y, variant):
    x, y = np.asarray(x, float), np.asarray(y, float)
    COUNTS["datasets"] += 1
    te = eval_points(x)
    prob = grid_lp(x, y, variant, te) if variant in ("skip", "no-skip") else refined_lp(x, y, variant, te)
    ranges = np.array([prob.face_range(t) for t in te])
    return te, prob, ranges


def check_envelope(x, y, variant):
    te, prob, ranges = face(x, y, variant)
    env = tv2_envelope(x, y) if variant == "skip" else tv2_envelope(x, y, variant="no-skip")
    atol = 1e-7 * scale_of(np.asarray(x, float), np.asarray(y, float))
    lo, hi = env.lower(te), env.upper(te)
    err = np.maximum(np.abs(lo - ranges[:, 0]), np.abs(hi - ranges[:, 1]))
    record(f"envelope abs err {variant}", np.max(err))
    bad = err > atol
    assert not np.any(bad), (
        f"envelope differs from the LP face at t={te[bad]}: library [lo, hi]="
        f"{np.column_stack([lo, hi])[bad].tolist()}, LP={ranges[bad].tolist()}")


@pytest.mark.parametrize("case", range(len(G_CASES)))
def test_envelope_v1_math_g_cases(case):
    check_envelope(*G_CASES[case], "skip")


@settings(max_examples=6, **ORACLE_SETTINGS)
@given(data=datasets())
def test_envelope_v1(data):
    check_envelope(*data, "skip")


@pytest.mark.parametrize("case", range(len(G_CASES)))
def test_envelope_v2_math_g_cases(case):
    check_envelope(*G_CASES[case], "no-skip")


@settings(max_examples=6, **ORACLE_SETTINGS)
@given(data=datasets())
def test_envelope_v2(data):
    check_envelope(*data, "no-skip")


def check_bias_face(x, y, variant):
    te, prob, ranges = face(x, y, variant)
    sol = tv2_interpolant(x, y, variant=variant)
    # the refined grid LP is an upper bound on the optimum, and (refinement found the optimal
    # atoms) within 1e-6 of the library's value
    record(f"refined LP rel (R-value) {variant}", (prob.R - sol.value) / max(1.0, sol.value))
    assert sol.lower_bound <= prob.R * (1 + 1e-9) + 1e-12
    assert prob.R <= sol.value * (1 + 1e-6) + 1e-12
    ft = sol(te)
    width = ranges[:, 1] - ranges[:, 0]
    outside = np.maximum(ranges[:, 0] - ft, ft - ranges[:, 1]).clip(min=0.0)
    sc = scale_of(np.asarray(x, float), np.asarray(y, float))
    record(f"face width / scale {variant}", np.max(width) / sc)
    record(f"solution outside face / scale {variant}", np.max(outside) / sc)
    assert np.max(outside) <= V3_FACE_ATOL * sc
    # V3: unique (B-F). V4: unique as measured (module docstring, Findings).
    assert np.max(width) <= V3_FACE_ATOL * sc
    return te, width


#: MATH G cases for the (slower) V3/V4 face LPs: G2, G4, G7 and the two boundary-dominated ones.
BIAS_FACE_CASES = (1, 3, 5, 8, 9)


@pytest.mark.parametrize("case", BIAS_FACE_CASES)
def test_face_v3_unique_math_g_cases(case):
    check_bias_face(*G_CASES[case], "bias")


@settings(max_examples=3, **ORACLE_SETTINGS)
@given(data=datasets(n_max=6, max_span=8.0))
def test_face_v3_unique(data):
    check_bias_face(*data, "bias")


@pytest.mark.parametrize("case", BIAS_FACE_CASES)
def test_face_v4_math_g_cases(case):
    check_bias_face(*G_CASES[case], "bias-no-skip")


@settings(max_examples=3, **ORACLE_SETTINGS)
@given(data=datasets(n_max=6, max_span=8.0))
def test_face_v4(data):
    check_bias_face(*data, "bias-no-skip")


# ============================================================================ 3. MILP sparsest
def candidate_knots(x, y, variant):
    """Oracle 3's candidate grid (see module docstring); returns (grid, LP on it)."""
    span = x[-1] - x[0]
    lo, hi = x[0] - 2 * span, x[-1] + 2 * span
    outside = np.concatenate([x[0] - span * np.array([0.25, 1.0]), x[-1] + span * np.array([0.25, 1.0])])
    t = np.unique(np.concatenate([x, secant_intersections(x, y, lo, hi), outside]))
    if variant == "no-skip":
        # extreme outer slopes over the optimal face, from the oracle's own LPs
        prob = GridLP(x, y, t, variant)
        prob.value()
        left, right = prob.slope_rows()
        sl, sr = prob.extreme(left), prob.extreme(right)
        lines = [(v, x[0], y[0]) for v in sl] + [(v, x[-1], y[-1]) for v in sr]
        # The LP slopes carry ~1e-9 errors: an intersection that close to an exact candidate (data
        # point, secant intersection) is that candidate, which is kept exactly.
        t = merge_close(np.concatenate([t, line_intersections(lines, lo, hi, others=secant_lines(x, y),
                                                              rtol=1e-7)]), t, tol=1e-7)
    prob = GridLP(x, y, t, variant)
    prob.value()
    return t, prob


def check_sparsest(x, y, variant):
    x, y = np.asarray(x, float), np.asarray(y, float)
    COUNTS["datasets"] += 1
    t, prob = candidate_knots(x, y, variant)
    count, knots = milp_fewest_knots(x, y, variant, t, prob.R)
    R = prob.R
    sol = tv2_interpolant(x, y, variant=variant, select="sparsest")
    assert sol.value == pytest.approx(R, rel=RTOL_EXACT, abs=RTOL_EXACT)
    assert np.max(np.abs(sol(x) - y)) <= 1e-9 * scale_of(x, y)
    record(f"sparsest |library-MILP| knots {variant}", abs(sol.knots.size - count))
    assert sol.knots.size <= count, (
        f"library's sparsest has {sol.knots.size} knots {sol.knots}, the MILP found {count} at {knots}")
    if sol.knots.size < count:
        # Sparser than the MILP: right only if the library's own support carries a minimiser, which
        # the oracle's LP restricted to exactly those knots decides. (Seen: candidates 6e-10 apart
        # made HiGHS's MILP settle for 7 knots while a 2-knot support on its own grid reaches R.)
        restricted = GridLP(x, y, sol.knots, variant).value()
        assert restricted <= R * (1 + 1e-9) + 1e-12, (
            f"library's sparsest has {sol.knots.size} knots, fewer than the MILP's {count}, but the LP on "
            f"its support costs {restricted} > R = {R}")
        record(f"sparsest: library sparser than the MILP, verified by LP {variant}", count - sol.knots.size)


@pytest.mark.parametrize("variant", ["skip", "no-skip"])
@pytest.mark.parametrize("case", range(len(G_CASES)))
def test_sparsest_math_g_cases(case, variant):
    check_sparsest(*G_CASES[case], variant)


@pytest.mark.parametrize("variant", ["skip", "no-skip"])
@settings(max_examples=12, **ORACLE_SETTINGS)
@given(data=datasets(n_max=7))
def test_sparsest(data, variant):
    check_sparsest(*data, variant)


# ============================================================================ 4. dictionary LP for R(f)
def unit_dictionary(n_angles, extra_kinks=()):
    r"""Units :math:`(w,b)` of norm 1: both orientations of the kinks :math:`-\tan\theta_j`,
    :math:`\theta_j=-\pi/2+\pi(j+\frac12)/N` (kink 0 iff N is odd), of ``extra_kinks``, and the
    constant unit (0, 1). Returns (w, b, kink of each unit (nan for the constant), kinks)."""
    theta = -np.pi / 2 + np.pi * (np.arange(n_angles) + 0.5) / n_angles
    kinks = np.union1d(-np.tan(theta), np.asarray(extra_kinks, float))
    w = 1.0 / omega(kinks)
    b = -kinks * w
    W = np.concatenate([w, -w, [0.0]])
    B = np.concatenate([b, -b, [1.0]])
    T = np.concatenate([kinks, kinks, [np.nan]])
    return W, B, T, kinks


def dictionary_cost(f_knots, f_jumps, slope_left, value_at_0, variant, n_angles=41):
    r"""min cost over networks :math:`\sum_u a_u\sigma(w_ux+b_u)\,[+cx]+d` equal to f on R.

    Columns: :math:`a^+, a^-\ge0` per unit, then c (skip variants only) and d. Returns the value
    and a callable network."""
    W, B, T, kinks = unit_dictionary(n_angles, f_knots)
    U = W.size
    skip = variant in ("skip", "bias")
    penal = variant in ("bias", "bias-no-skip")
    unit_cost = np.ones(U) if penal else np.abs(W)
    # jumps at every dictionary kink: sum over the units there of a_u |w_u|
    rows = (T[None, :] == kinks[:, None]).astype(float) * np.abs(W)[None, :]
    target = np.zeros(kinks.size)
    target[np.searchsorted(kinks, f_knots)] = f_jumps
    left = np.where(W < 0, W, 0.0)[None, :]  # f'(-inf) of relu(w x + b) is w when w < 0
    at0 = np.maximum(B, 0.0)[None, :]
    extra = 2  # c, d
    def block(m):
        return np.hstack([m, -m])
    A_eq = np.vstack([
        np.hstack([block(rows), np.zeros((kinks.size, extra))]),
        np.hstack([block(left), [[1.0, 0.0]]]),
        np.hstack([block(at0), [[0.0, 1.0]]]),
    ])
    b_eq = np.concatenate([target, [slope_left, value_at_0]])
    bounds = [(0, None)] * (2 * U) + [(None, None) if skip else (0, 0), (None, None)]
    res = lp(np.concatenate([unit_cost, unit_cost, [0.0, 0.0]]), A_eq=A_eq, b_eq=b_eq, bounds=bounds)
    a = res.x[:U] - res.x[U:2 * U]
    c, d = res.x[2 * U:]

    def net(xs):
        xs = np.asarray(xs, float)
        return np.maximum(np.outer(xs, W) + B, 0.0) @ a + c * xs + d

    return float(res.fun), net


@st.composite
def dictionary_targets(draw, n_angles=41):
    """PL targets whose knots are kinks of the 41-angle dictionary (possibly none, possibly 0)."""
    _, _, _, kinks = unit_dictionary(n_angles)
    k = draw(st.integers(0, 4), label="number of knots")
    idx = draw(st.lists(st.integers(0, kinks.size - 1), min_size=k, max_size=k, unique=True))
    jumps = [draw(st.sampled_from([-3.0, -1.0, -0.25, 0.5, 2.0]) | st.floats(-3, 3)) for _ in idx]
    boundary = draw(st.booleans(), label="boundary-dominated")
    sl = draw(st.floats(-2, 2))
    if boundary:
        sl = (np.sign(sl) or 1.0) * (abs(sl) + sum(abs(j) for j in jumps) + 0.5)
    C = draw(st.floats(-2, 2))
    return kinks[idx], np.array(jumps), sl, C


def check_dictionary(knots, jumps, sl, C, variant, n_angles=41):
    COUNTS["datasets"] += 1
    f = PiecewiseLinear.from_knots(knots, jumps, sl, C)
    f0 = C + float(np.sum(np.asarray(jumps) * np.maximum(-np.asarray(knots), 0.0)))
    value, net = dictionary_cost(np.asarray(knots, float), np.asarray(jumps, float), sl, f0, variant, n_angles)
    probe = np.concatenate([np.linspace(-60, 60, 241), np.asarray(knots, float)])
    scale = 1.0 + np.max(np.abs(f(probe)))
    # the LP's network is the target (guards the oracle's own constraints)
    assert np.max(np.abs(net(probe) - f(probe))) <= 1e-7 * scale
    expected = tv2_cost(f, variant)
    record(f"dictionary rel |LP-tv2_cost| {variant}", abs(value - expected) / max(1.0, expected))
    assert value == pytest.approx(expected, rel=1e-8, abs=1e-9)


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=25, **ORACLE_SETTINGS)
@given(target=dictionary_targets())
def test_dictionary_cost(target, variant):
    check_dictionary(*target, variant)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", range(len(G_CASES)))
def test_dictionary_cost_of_solutions(case, variant):
    """R of the library's own minimisers (knots anywhere, added to the dictionary)."""
    x, y = G_CASES[case]
    f = tv2_interpolant(x, y, variant=variant).function
    check_dictionary(f.knots, f.jumps, f.slope_left, float(f(0.0)) - float(np.sum(f.jumps * np.maximum(-f.knots, 0.0))),
                     variant)


def test_dictionary_without_kink_at_zero():
    r"""Without skip and with penalised biases, the surplus :math:`|D|-\|\mu\|` must be carried by
    a linear pair at the kink of least :math:`\omega`; with N even the dictionary has no kink 0, the
    LP is strictly above ``tv2_cost`` and converges to it as N grows (the oracle sees this point)."""
    knots, jumps, sl, C = np.array([]), np.array([]), 1.5, 0.0  # f = 1.5 x: D = 3, no mass
    f = PiecewiseLinear.from_knots(knots, jumps, sl, C)
    expected = tv2_cost(f, "bias-no-skip")
    gaps = [dictionary_cost(knots, jumps, sl, C, "bias-no-skip", n)[0] - expected for n in (10, 40, 160)]
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert gaps[2] < 1e-3 * expected
    odd = dictionary_cost(knots, jumps, sl, C, "bias-no-skip", 41)[0]
    assert odd == pytest.approx(expected, rel=1e-9)
