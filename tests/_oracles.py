r"""Independent oracles for the tests: closed forms of MATH.md and brute-force programs written from
the definitions (MATH A.0-A.2, B), with numpy, scipy and cvxpy only.

Nothing here imports ``solvers`` or ``minnorm``: an expected value must not come from the code it
checks. Functions are PL functions :math:`f(t)=s_L(t-x_1)+d+\sum_k J_k(t-t_k)_+` with the costs of
MATH A.2 (:math:`D=2s_L+\sum J` is :math:`f'(-\infty)+f'(+\infty)`, :math:`\omega(t)=\sqrt{1+t^2}`):
V1 ``skip`` :math:`\sum|J|`; V2 ``no-skip`` :math:`\max(\sum|J|,|D|)`; V3 ``bias``
:math:`\sum\omega|J|`; V4 ``bias-no-skip`` :math:`\max(\sum\omega|J|,\sum(\omega-1)|J|+|D|)`.

Contents
--------
- Closed forms: ``omega``, ``relu``, ``secant_slopes``, ``v1_value`` (MATH B.1), ``v2_value`` (B.2),
  ``sparsest_v1_count`` (B.1(iii)), ``cost_from_evaluations`` (A.2 from evaluations of f only).
- Geometry of candidate knots: ``line_intersection``, ``secant_lines``, ``line_intersections``,
  ``secant_intersections``, ``merge_close``.
- Knot-grid LP (HiGHS via ``scipy.optimize.linprog``): ``GridLP`` (value, optimal face, extreme
  outer slopes), ``grid_lp`` and ``refined_lp`` (the grids of tests/test_oracles.py, oracle 1).
- Sparsest interpolant: ``milp_fewest_knots`` (HiGHS MILP over a candidate grid, verified by an LP).
- Regression programs (cvxpy): ``data_knot_regression`` (V1/V2, knots at the data suffice, MATH
  B.1/B.2) and ``grid_regression`` (all four variants on a knot grid).

``STATS`` collects the number of programs solved and the worst discrepancies that
tests/test_oracles.py reports (``ORACLE_REPORT``).
"""

import cvxpy as cp
import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

PENALISED = ("bias", "bias-no-skip")
#: Dual simplex at 1e-10 feasibility: V1/V2 grid values are then exact to ~1e-10 on O(1)-scaled rows.
HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: Relative slack of the optimal face (``GridLP.face_range`` / ``GridLP.extreme``).
FACE_EPS = 1e-9
#: Relative slack of the MILP's cost constraint.
MILP_EPS = 1e-7
#: Grid step for V3/V4 (oracle 1): the grid LP exceeds the optimum by at most R * step^2 / 8.
GRID_STEP = 4e-3
#: Grid steps of the refined face LPs for V3/V4 (coarse uniform, then windows around atoms).
REFINE_STEPS = (0.05, 2e-3, 1e-4)

#: Worst discrepancy per (check, variant) and counts of programs solved (tests/test_oracles.py).
STATS = {"worst": {}, "counts": {"datasets": 0, "lp": 0, "milp": 0}}


def record(key, value):
    """Keep the worst (largest) value seen for ``key``."""
    worst = STATS["worst"]
    worst[key] = max(worst.get(key, 0.0), float(value))


# ============================================================================ closed forms
def omega(t):
    """The kink weight of penalised biases, sqrt(1 + t^2) (MATH A.2)."""
    return np.hypot(1.0, t)


def relu(t):
    """max(t, 0), the activation."""
    return np.maximum(t, 0.0)


def secant_slopes(x, y):
    """Slopes s_i of the data's secants (x sorted)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return np.diff(y) / np.diff(x)


def v1_value(x, y):
    """MATH B.1: the V1 minimum is V = sum |s_i - s_{i-1}| over the secant slopes."""
    return float(np.sum(np.abs(np.diff(secant_slopes(x, y)))))


def v2_value(x, y):
    """MATH B.2: R* = max(V, (V + |s_1 + s_{n-1}|) / 2)."""
    s, V = secant_slopes(x, y), v1_value(x, y)
    return max(V, 0.5 * (V + abs(s[0] + s[-1])))


def sparsest_v1_count(x, y):
    """MATH B.1(iii): sum over maximal runs of k equal nonzero curvature signs of ceil(k / 2)."""
    eta = np.sign(np.diff(secant_slopes(x, y)))
    count, run, prev = 0, 0, 0.0
    for e in list(eta) + [0.0]:
        if e != 0 and e == prev:
            run += 1
        else:
            count += (run + 1) // 2
            run = 1 if e != 0 else 0
        prev = e
    return count


def cost_from_evaluations(f, variant):
    """R(f) of MATH A.2 from evaluations of f only (not from the library's cost code): the jumps of f'
    are differences of chord slopes between consecutive knots (f is affine between them, checked at
    the midpoints), the outer slopes those of the outermost chords. ``f`` has ``knots`` and is callable."""
    t = np.asarray(f.knots, dtype=np.float64)
    pts = np.concatenate([[t[0] - 1.0 if t.size else -1.0], t, [t[-1] + 1.0 if t.size else 1.0]])
    vals = np.asarray(f(pts), dtype=np.float64)
    mids = 0.5 * (pts[1:] + pts[:-1])
    np.testing.assert_allclose(f(mids), 0.5 * (vals[1:] + vals[:-1]), rtol=1e-12, atol=1e-12)
    slopes = np.diff(vals) / np.diff(pts)
    jumps, D = np.diff(slopes), slopes[0] + slopes[-1]
    tv, omega_tv = np.sum(np.abs(jumps)), np.sum(omega(t) * np.abs(jumps))
    return {"skip": tv, "no-skip": max(tv, abs(D)), "bias": omega_tv,
            "bias-no-skip": omega_tv + max(abs(D) - tv, 0.0)}[variant]


def scale_of(x, y):
    """Typical magnitude of values and slopes, for absolute tolerances."""
    s = np.diff(y) / np.diff(x)
    return 1.0 + float(np.max(np.abs(y))) + float(np.max(np.abs(s))) * float(x[-1] - x[0])


# ============================================================================ candidate knots
def line_intersection(x1, y1, s1, x2, y2, s2):
    """Where y1 + s1 (t - x1) = y2 + s2 (t - x2)."""
    return (y2 - s2 * x2 - y1 + s1 * x1) / (s1 - s2)


def secant_lines(x, y):
    """The extended secant lines of the data, as (slope, x0, y0)."""
    s = secant_slopes(x, y)
    return [(s[i], x[i], y[i]) for i in range(s.size)]


def line_intersections(lines, lo, hi, others=(), rtol=0.0):
    """Abscissae in [lo, hi] where two lines (slope, x0, y0) meet: every pair of ``lines`` and every
    pair of one of ``lines`` with one of ``others``. Lines whose slopes differ by at most
    ``rtol * (1 + |s_a| + |s_b|)`` count as parallel (slopes from an LP carry its tolerance)."""
    pool = list(lines) + list(others)
    pts = []
    for a in range(len(lines)):
        for b in range(a + 1, len(pool)):
            (sa, xa, ya), (sb, xb, yb) = pool[a], pool[b]
            if abs(sa - sb) > rtol * (1 + abs(sa) + abs(sb)):
                t = line_intersection(xa, ya, sa, xb, yb, sb)
                if lo <= t <= hi:
                    pts.append(t)
    return np.array(pts)


def secant_intersections(x, y, lo, hi):
    """All pairwise intersections of the extended secant lines of the data, inside [lo, hi]."""
    return line_intersections(secant_lines(x, y), lo, hi)


def merge_close(t, keep, tol=1e-9):
    """Sorted grid without near-duplicates (nearly parallel LP columns stall HiGHS); points of
    ``keep`` (data, 0, evaluation points) stay exactly."""
    keep = np.unique(np.asarray(keep, float))
    t = np.setdiff1d(np.unique(t), keep)
    i = np.clip(np.searchsorted(keep, t), 1, keep.size - 1) if keep.size > 1 else np.zeros(t.size, int)
    near = np.minimum(np.abs(t - keep[i - 1 if keep.size > 1 else i]), np.abs(t - keep[i])) <= tol * (1 + np.abs(t))
    t = t[~near]
    if t.size > 1:
        t = t[np.concatenate(([True], np.diff(t) > tol * (1 + np.abs(t[1:]))))]
    return np.union1d(t, keep)


# ============================================================================ knot-grid LP
def lp(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=None):
    """``linprog`` by HiGHS; raises AssertionError when no attempt reaches an optimum."""
    STATS["counts"]["lp"] += 1
    for method, options in (("highs-ds", HIGHS), ("highs-ipm", HIGHS), ("highs-ds", {})):
        # dual simplex at tight tolerances; nearly parallel columns of a refined grid can make it
        # stall, then interior point, then default tolerances
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method=method,
                      options=options)
        if res.status == 0:
            return res
    raise AssertionError(f"oracle LP failed: {res.message}")


class GridLP:
    r"""Interpolation over knots on a fixed grid ``t``, cost of MATH A.2 as an epigraph.

    Variables ``[J+ (K), J- (K), s_L, d, r]`` with :math:`J=J^+-J^-`, :math:`J^\pm\ge0`, free
    :math:`s_L=f'(-\infty)` and :math:`d`, :math:`f(x_i)=y_i` as equalities and :math:`r\ge` each
    affine piece of the variant's cost. Its value is an upper bound on the continuous optimum,
    exact for V1/V2 when the grid holds the data (tests/test_oracles.py, oracle 1)."""

    def __init__(self, x, y, t, variant):
        x, y, t = np.asarray(x, float), np.asarray(y, float), np.asarray(t, float)
        self.x, self.y, self.t, self.variant = x, y, t, variant
        K = t.size
        self.K = K
        self.nv = 2 * K + 3
        relu = np.maximum(x[:, None] - t[None, :], 0.0)
        self.A_eq = np.hstack([relu, -relu, (x - x[0])[:, None], np.ones((x.size, 1)), np.zeros((x.size, 1))])
        self.G = self._cost_rows()
        self.A_ub = np.hstack([self.G, -np.ones((self.G.shape[0], 1))])
        self.bounds = [(0, None)] * (2 * K) + [(None, None)] * 3

    def _cost_rows(self):
        K, t, v = self.K, self.t, self.variant
        w = omega(t) if v in PENALISED else np.ones(K)
        mass = np.concatenate([w, w, [0.0, 0.0]])
        D = np.concatenate([np.ones(K), -np.ones(K), [2.0, 0.0]])  # 2 s_L + sum J
        if v in ("skip", "bias"):
            return mass[None, :]
        if v == "no-skip":
            return np.vstack([mass, D, -D])
        excess = np.concatenate([w - 1.0, w - 1.0, [0.0, 0.0]])
        return np.vstack([mass, excess + D, excess - D])

    def row(self, t0):
        """Linear form giving f(t0)."""
        r = np.maximum(t0 - self.t, 0.0)
        return np.concatenate([r, -r, [t0 - self.x[0], 1.0, 0.0]])

    def slope_rows(self):
        """Linear forms of f'(-inf) and f'(+inf)."""
        K = self.K
        left = np.zeros(self.nv)
        left[2 * K] = 1.0
        right = np.concatenate([np.ones(K), -np.ones(K), [1.0, 0.0, 0.0]])
        return left, right

    def solve(self, objective=None, r_max=None):
        c = np.zeros(self.nv)
        if objective is None:
            c[-1] = 1.0
        else:
            c = objective
        bounds = list(self.bounds)
        if r_max is not None:
            bounds[-1] = (None, r_max)
        return lp(c, A_ub=self.A_ub, b_ub=np.zeros(self.A_ub.shape[0]), A_eq=self.A_eq, b_eq=self.y,
                  bounds=bounds)

    def value(self):
        """The grid optimum R (also kept as ``self.R`` for the face programs)."""
        res = self.solve()
        self.R = float(res.fun)
        return self.R

    def face_range(self, t0, eps=FACE_EPS):
        r"""[min, max] of f(t0) over grid functions of cost <= R (1 + eps)."""
        e = self.row(t0)
        return self.extreme(np.concatenate([e[:-1], [0.0]]), eps)

    def extreme(self, form, eps=FACE_EPS):
        """[min, max] of the linear form over the face. The second LP sits on the boundary of
        feasibility; if HiGHS stalls there, the slack is widened tenfold (at most twice)."""
        for slack in (eps, 10 * eps, 100 * eps):
            rmax = self.R * (1 + slack) + 1e-12
            try:
                lo = self.solve(objective=form, r_max=rmax).fun
                hi = -self.solve(objective=-form, r_max=rmax).fun
            except AssertionError:
                continue
            record("face slack used", slack)
            return lo, hi
        raise AssertionError("oracle face LP failed at every slack")


def outer_range(x, variant):
    """One data range beyond the hull on each side (and beyond 0 for penalised biases)."""
    span = x[-1] - x[0]
    lo, hi = x[0] - span, x[-1] + span
    if variant in PENALISED:
        lo, hi = min(lo, -1.0), max(hi, 1.0)  # reach beyond 0, where omega is smallest
    return lo, hi


def uniform_pieces(breaks, step):
    """Union of equal subdivisions of consecutive breakpoints, each piece at most ``step``."""
    breaks = np.unique(breaks)
    parts = [breaks]
    for a, b in zip(breaks[:-1], breaks[1:]):
        k = int(np.ceil((b - a) / step))
        if k > 1:
            parts.append(np.linspace(a, b, k + 1)[1:-1])
    return np.unique(np.concatenate(parts))


def knot_grid(x, y, variant, t_eval=(), step=None):
    """Oracle 1's grid: the data, 0, the evaluation points and, for V1/V2, all secant intersections
    plus a coarse uniform grid; for V3/V4 a uniform grid of ``step`` (``GRID_STEP``)."""
    lo, hi = outer_range(x, variant)
    if variant in ("skip", "no-skip"):
        # exact variants: geometric candidates plus a coarse uniform grid
        base = [x, [0.0, lo, hi], np.asarray(t_eval, float), secant_intersections(x, y, lo, hi),
                np.linspace(lo, hi, 201)]
        return np.unique(np.concatenate([np.ravel(b) for b in base]))
    step = GRID_STEP if step is None else step
    t = uniform_pieces(np.concatenate([x, [0.0, lo, hi]]), step)
    return np.unique(np.concatenate([t, np.asarray(t_eval, float)]))


def grid_lp(x, y, variant, t_eval=(), step=None):
    """``GridLP`` on oracle 1's grid (``knot_grid``), solved (``.R`` holds the value)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    prob = GridLP(x, y, knot_grid(x, y, variant, t_eval, step), variant)
    prob.value()
    return prob


def refined_lp(x, y, variant, t_eval=()):
    r"""V3/V4 grid LP refined around its own atoms (for the face LPs, which a uniform fine grid
    makes slow): a uniform grid of step ``REFINE_STEPS[0]``, then, around every atom of the
    previous solution, a window of +-2 previous steps at the next step. Atom positions end within
    ``REFINE_STEPS[-1]`` of optimal ones; the value is checked against the library's certified
    bracket by the caller."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    lo, hi = outer_range(x, variant)
    t = uniform_pieces(np.concatenate([x, [0.0, lo, hi]]), REFINE_STEPS[0])
    t = np.unique(np.concatenate([t, np.asarray(t_eval, float)]))
    prob = None
    for prev, step in zip(REFINE_STEPS, REFINE_STEPS[1:] + (None,)):
        prob = GridLP(x, y, t, variant)
        res = prob.solve()
        prob.R = float(res.fun)
        if step is None:
            break
        J = res.x[: prob.K] - res.x[prob.K: 2 * prob.K]
        atoms = prob.t[np.abs(J) > 1e-9 * max(1.0, prob.R)]
        local = [np.arange(-2 * prev, 2 * prev + step / 2, step) + a for a in atoms]
        t = merge_close(np.concatenate([prob.t] + local), np.concatenate([x, [0.0], t_eval]))
    return prob


# ============================================================================ sparsest interpolant (MILP)
def milp_fewest_knots(x, y, variant, t, R, rel=MILP_EPS, verify=True):
    r"""Fewest knots among interpolants on the candidate grid ``t`` with cost <= R (1 + rel).

    Variables ``[J+ (K), J- (K), s_L, d, z (K)]``, binary :math:`z_k` with :math:`|J_k|\le Mz_k`
    (:math:`M=` the cost bound, since :math:`\sum|J|\le` the cost), minimise :math:`\sum z_k`. The
    count is an upper bound on the true minimum (positions are restricted to ``t``). With
    ``verify`` the support must also pass an LP restricted to it (below); without, the MILP's
    count within HiGHS's tolerances is returned, for candidates computed from LP slopes that
    are exact only to ~1e-9 (an exact LP on such a support can be infeasible). Returns (count, knots)."""
    x, y, t = np.asarray(x, float), np.asarray(y, float), np.asarray(t, float)
    prob = GridLP(x, y, t, variant)
    K = t.size
    rmax = R * (1 + rel) + 1e-12
    M = rmax * (1 + 1e-6) + 1e-12  # |J_k| <= sum |J| <= cost
    A_eq = np.hstack([prob.A_eq[:, :-1], np.zeros((x.size, K))])
    A_cost = np.hstack([prob.G, np.zeros((prob.G.shape[0], K))])
    A_big = np.hstack([np.eye(K), np.eye(K), np.zeros((K, 2)), -M * np.eye(K)])
    cons = [LinearConstraint(A_eq, y, y), LinearConstraint(A_cost, -np.inf, rmax),
            LinearConstraint(A_big, -np.inf, 0.0)]
    lb = np.concatenate([np.zeros(2 * K), [-np.inf, -np.inf], np.zeros(K)])
    ub = np.concatenate([np.full(2 * K, np.inf), [np.inf, np.inf], np.ones(K)])
    c = np.concatenate([np.zeros(2 * K + 2), np.ones(K)])
    integrality = np.concatenate([np.zeros(2 * K + 2), np.ones(K)])
    # HiGHS's integrality (~1e-6) and feasibility tolerances let a MILP solution lean on jumps of
    # ~1e-6 M behind z = 0 (or drop a genuinely needed knot of tiny jump, a slope change of 1e-7 in
    # float data). So a support counts only once the LP on exactly that support reaches the optimal
    # cost: first the support {z = 1}, else every numerically non-zero jump; if neither verifies, a
    # no-good cut removes {z = 1} and the MILP is solved again.
    cuts = []
    for _ in range(10):
        STATS["counts"]["milp"] += 1
        res = milp(c, constraints=cons + cuts, bounds=Bounds(lb, ub), integrality=integrality,
                   # HiGHS presolve misjudged feasibility on one set (4 knots reported, 3 feasible)
                   options={"mip_rel_gap": 0.0, "time_limit": 60.0, "presolve": False})
        assert res.status == 0, res.message
        on = res.x[2 * K + 2:] > 0.5
        if not verify:
            return int(np.count_nonzero(on)), t[on]
        nonzero = (res.x[:K] + res.x[K:2 * K]) > 1e-12 * M
        for z in (on, on | nonzero):
            if not np.any(z):
                if R <= 1e-9 * scale_of(x, y):
                    return 0, t[z]
                continue
            try:
                ok = GridLP(x, y, t[z], variant).value() <= rmax * (1 + 1e-9)
            except AssertionError:  # the support cannot interpolate exactly
                ok = False
            if ok:
                return int(np.count_nonzero(z)), t[z]
        record("MILP no-good cuts", len(cuts) + 1)
        row = np.concatenate([np.zeros(2 * K + 2), on.astype(float)])[None, :]
        cuts.append(LinearConstraint(row, -np.inf, np.count_nonzero(on) - 1))
    raise AssertionError("no MILP support verified")


# ============================================================================ regression programs (cvxpy)
def data_knot_regression(x, y, lam, variant="skip", solver="CLARABEL", **options):
    """MATH B.1 / B.2 regression with knots at the data (they suffice): min over the fitted values z
    at the distinct data points of sum_j (z(x_j) - y_j)^2 + lam R, R = V (``skip``) or
    max(V, (V + |s_1 + s_{n-1}|) / 2) (``no-skip``), V = sum |s_i - s_{i-1}| over z's secant slopes.
    x may repeat (the squares run over the original points). ``solver`` and ``options`` go to
    cvxpy (``solver=None``: its default). Returns (value, z at the sorted distinct x)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    xu, inv = np.unique(x, return_inverse=True)
    z = cp.Variable(xu.size)
    fit = z if np.array_equal(xu, x) else z[inv]
    s = cp.multiply(1.0 / np.diff(xu), cp.diff(z))
    V = cp.norm1(cp.diff(s)) if xu.size > 2 else 0.0
    R = V if variant == "skip" else cp.maximum(V, 0.5 * (V + cp.abs(s[0] + s[xu.size - 2])))
    prob = cp.Problem(cp.Minimize(cp.sum_squares(fit - y) + lam * R))
    prob.solve(solver=solver, **options)
    assert prob.status == cp.OPTIMAL, prob.status
    return prob.value, z.value


def grid_regression(x, y, lam, variant, t, solver="ECOS", **options):
    """min sum_j (f(x_j) - y_j)^2 + lam R(f) over f = s_L (x - min x) + d + sum_k J_k (x - t_k)_+
    with knots on the grid ``t``, R of MATH A.2 for ``variant`` (module docstring); an upper bound
    on the continuous optimum. x may repeat. ``solver`` and ``options`` go to cvxpy (``None``: its
    default). Returns (value, f at x)."""
    x, y, t = np.asarray(x, float), np.asarray(y, float), np.asarray(t, float)
    J, sL, d0 = cp.Variable(t.size), cp.Variable(), cp.Variable()
    f = sL * (x - x.min()) + d0 + np.maximum(x[:, None] - t[None, :], 0.0) @ J
    D = cp.abs(2 * sL + cp.sum(J))
    if variant in PENALISED:
        mass = omega(t) @ cp.abs(J)
        R = mass if variant == "bias" else cp.maximum(mass, (omega(t) - 1) @ cp.abs(J) + D)
    else:
        mass = cp.norm1(J)
        R = mass if variant == "skip" else cp.maximum(mass, D)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(f - y) + lam * R))
    prob.solve(solver=solver, **options)
    assert prob.status == cp.OPTIMAL, prob.status
    return prob.value, np.asarray(f.value, float)
