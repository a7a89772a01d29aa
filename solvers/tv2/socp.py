r"""Conic programs for minimum-norm interpolation and regression with the bias-penalised costs.

Two families of finite convex programs live here (MATH.md B.1, B.3, B.4):

* **Exact SOCPs** (``method="exact"``) for V3 (``"bias"``, Boursier--Flammarion) and V4
  (``"bias-no-skip"``). They are *exact* finite reformulations of the continuous problems:
  on each data interval only the mass and the first moment of :math:`f''` enter the data
  constraints, and Jensen's inequality puts one atom at the barycentre. The interior-point
  answer is then *polished* (:func:`_polish_conic`): its support is read off and the smooth
  problem on that support is solved by Newton's method on its KKT system, which gives knots and
  values exact to rounding (the SOCP's knots are only ~1e-5 accurate where the cost is flat in
  their position) and, from the KKT multipliers, a dual certificate tight to rounding.
* **Knot-grid programs** (``method="cvxpy"``) for all four variants: the dictionary
  :math:`f(x)=c\,x+d+\sum_k J_k (x-t_k)_+` on a finite grid of candidate knots. They are
  the independent cross-check of the exact paths and give upper bounds that converge from
  above as the grid is refined (exact for V1/V2, whose data knots suffice).

Every result carries a *certified lower bound on the continuous problem*: a dual
piecewise-linear function :math:`q` (built from the solver's duals, or from the residual of a
regression) is rescaled until it is exactly feasible for the continuous dual -- checked in
closed form on every data interval and on both outer rays -- and its dual objective is
evaluated. See :func:`_feasible_scale` for the dual constraints of each variant.

Notation: data :math:`x_1<\dots<x_n`, :math:`h_i=x_{i+1}-x_i`, secant slopes
:math:`s_i=(y_{i+1}-y_i)/h_i`, discrete curvature :math:`\delta_j=s_j-s_{j-1}` at interior
points, :math:`\omega(t)=\sqrt{1+t^2}`.

The public entry points are :func:`solvers.tv2_interpolant` and :func:`solvers.tv2_regression`;
the functions here take validated :class:`~solvers._validation.Data`.
"""

import time
import warnings

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from solvers import _cvx
from solvers._validation import validate_bool
from solvers.errors import InputError, SolverError
from solvers.piecewise import VARIANTS, PiecewiseLinear, tv2_cost
from solvers.solution import Solution

__all__ = [
    "bias_interpolant",
    "bias_no_skip_interpolant",
    "bias_regression",
    "bias_no_skip_regression",
    "grid_interpolant",
    "grid_regression",
    "default_grid",
]

#: Masses below this fraction of the largest atom are treated as solver noise (interior-point
#: methods never return exact zeros; at tolerance 1e-9 their noise atoms reach ~2e-7 of the
#: largest). The polish step repairs the interpolation afterwards, and since the value is
#: recomputed from the returned function, a dropped genuine atom would show in the gap.
MASS_REL_THRESHOLD = 1e-6
#: An atom within this fraction of its interval from an endpoint is snapped onto it: an atom on
#: a data point comes back split between the two neighbouring intervals at positions accurate
#: to ~1e-7 of the gap (solver tolerance 1e-9), and snapping both halves merges them exactly.
SNAP_REL = 1e-6
#: Default grid: subdivisions per data interval are min(10, ceil(GRID_BUDGET / (n-1))), >= 2.
GRID_BUDGET = 40_000
GRID_MAX_SUBDIV = 10
GRID_MIN_SUBDIV = 2
#: Points added on each side of the hull for the no-skip variants (out to one data range).
GRID_EXTENSION_POINTS = 10

_SKIP_VARIANTS = ("skip", "bias")


def _omega(t):
    return np.hypot(1.0, t)


# ----------------------------------------------------------------------------- solver options
_FAER = None


def _clarabel_faer():
    """Clarabel's multithreaded supernodal LDL (``faer``) where the build has it: 1.5-2.5x
    faster than the default QDLDL at n = 1e4 (measured). Probed once on a tiny problem."""
    global _FAER
    if _FAER is None:
        try:
            import clarabel

            settings = clarabel.DefaultSettings()
            settings.direct_solve_method = "faer"
            settings.verbose = False
            P = sp.csc_matrix((1, 1))
            A = sp.csc_matrix(np.array([[1.0]]))
            clarabel.DefaultSolver(P, np.array([1.0]), A, np.array([1.0]), [clarabel.NonnegativeConeT(1)],
                                   settings).solve()
            _FAER = {"direct_solve_method": "faer"}
        except Exception:  # pragma: no cover - depends on the clarabel build
            _FAER = {}
    return _FAER


def _solver_options(name, extra=None):
    """Tight tolerances per solver: the exact paths claim ~1e-9 accuracy, which the solvers'
    defaults (~1e-8 relative) do not deliver on badly scaled data."""
    name = _cvx.validate_solver(name)
    opts = {
        "CLARABEL": {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9, "max_iter": 400,
                     **_clarabel_faer()},
        "ECOS": {"abstol": 1e-9, "reltol": 1e-9, "feastol": 1e-9, "max_iters": 400},
        "SCS": {"eps_abs": 1e-8, "eps_rel": 1e-8, "max_iters": 200_000},
        "OSQP": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iter": 200_000, "polishing": True},
    }.get(name, {})
    if extra:
        opts.update(extra)
    return name, opts


def _run(problem, solver, allow_inaccurate, size, solver_options):
    name, opts = _solver_options(solver, solver_options)
    t0 = time.perf_counter()
    label, status = _cvx.solve(problem, name, allow_inaccurate=allow_inaccurate, size=size, **opts)
    return label, status, time.perf_counter() - t0


# ----------------------------------------------------------------------------- data geometry
def _secants(x, z):
    """Gaps h, secant slopes s and interior discrete curvature delta of values z at x."""
    h = np.diff(x)
    s = np.diff(z) / h
    return h, s, np.diff(s)


def _curvature_operator(x):
    """Sparse (n-2, n) matrix D2 with (D2 z)_j = s_{j+1}(z) - s_j(z) (cvxpy-friendly)."""
    n = x.size
    h = np.diff(x)
    inv = 1.0 / h
    rows = np.repeat(np.arange(n - 2), 3)
    cols = (np.arange(n - 2)[:, None] + np.arange(3)[None, :]).ravel()
    vals = np.column_stack([inv[:-1], -inv[:-1] - inv[1:], inv[1:]]).ravel()
    return sp.csr_matrix((vals, (rows, cols)), shape=(n - 2, n))


def _secant_operator(x, i):
    """Row vector a with a @ z = s_i(z) (0-based secant index, negative allowed)."""
    n = x.size
    i = i % (n - 1)
    a = np.zeros(n)
    hi = x[i + 1] - x[i]
    a[i], a[i + 1] = -1.0 / hi, 1.0 / hi
    return a


# ----------------------------------------------------------------------------- dual certificates
def _q_from_lambda(x, lam):
    r"""Node values of :math:`P(t)=\sum_j\lambda_j(x_j-t)_+` with :math:`\sum_j\lambda_j` set to 0.

    :math:`P` is piecewise linear with knots at the data, zero right of :math:`x_n` and
    constant left of :math:`x_1` once :math:`\sum\lambda=0`. Computed by the recurrence
    :math:`P(x_i)=P(x_{i+1})+h_i\Lambda_{i+1}` (suffix sums :math:`\Lambda`), which avoids the
    cancellation of :math:`\sum\lambda_j x_j - x_k\sum\lambda_j` when :math:`|x|` is large.
    """
    h = np.diff(x)
    Lam = np.cumsum(lam[::-1])[::-1]  # Lam[k] = sum_{j >= k} lam_j
    contrib = h * Lam[1:]
    q = np.zeros_like(x)
    q[:-1] = np.cumsum(contrib[::-1])[::-1]
    return q


def _certificate_shape(q, variant):
    r"""Normalise raw node values into a dual function of the variant's dual cone shape.

    Skip variants (free affine part): :math:`q(x_1)=q(x_n)=0` and :math:`q\equiv0` outside.
    No-skip variants: :math:`q=P-\kappa` with :math:`\kappa=P(x_1)/2`, so that
    :math:`q(x_1)=\kappa`, :math:`q(x_n)=-\kappa` and :math:`q` is constant on both rays.
    """
    q = np.array(q, dtype=np.float64)
    if variant in _SKIP_VARIANTS:
        q[0] = 0.0
        q[-1] = 0.0
        return q
    return q - 0.5 * (q[0] + q[-1])


def _g_from_q(x, q):
    r"""Jumps :math:`g_j` of :math:`q'` at the data: :math:`\int q\,df''=\sum_j g_j f(x_j)` for
    the affine-free part. :math:`q` is constant outside the hull, so :math:`\sum g_j=0`."""
    sig = np.concatenate(([0.0], np.diff(q) / np.diff(x), [0.0]))
    return np.diff(sig)


def _max_ratio_omega(x, q):
    r"""Exact :math:`\max_t |q(t)|/\omega(t)` for PL ``q`` (knots at x, zero outside the hull).

    On a segment :math:`q(t)=a+bt` and :math:`(a+bt)/\omega(t)` has its only critical point
    at :math:`t=b/a`, so the maximum of the absolute value is at an endpoint or there.
    """
    xl, xr = x[:-1], x[1:]
    b = np.diff(q) / np.diff(x)
    a = q[:-1] - b * xl
    with np.errstate(divide="ignore", invalid="ignore"):
        tstar = np.where(a != 0, b / a, xl)
    tstar = np.clip(tstar, xl, xr)
    cand = np.abs(a + b * tstar) / _omega(tstar)
    ends = np.abs(q) / _omega(x)
    return float(max(np.max(cand), np.max(ends)))


def _max_abs_minus_omega(x, q, s):
    r"""Exact :math:`\max_{t\in\mathbb R} (s|q(t)| - \omega(t))` for PL ``q`` constant on the rays.

    Each of :math:`\pm s\,q(t)-\omega(t)` is concave on a segment; its stationary point solves
    :math:`t/\omega(t)=c` with :math:`c=\pm s\,q'`, i.e. :math:`t=c/\sqrt{1-c^2}`, and the
    maximum over the segment is at that point clipped to the segment. On a ray, where
    :math:`q` is constant, the maximum is at the point of the ray closest to 0.
    """
    xl, xr = x[:-1], x[1:]
    b = np.diff(q) / np.diff(x)
    best = -np.inf
    for sign in (1.0, -1.0):
        c = sign * s * b
        with np.errstate(divide="ignore", invalid="ignore"):
            tstar = np.where(np.abs(c) < 1.0, c / np.sqrt(np.maximum(1.0 - c * c, 0.0)), np.sign(c) * np.inf)
        t = np.clip(tstar, xl, xr)
        val = sign * s * (q[:-1] + b * (t - xl)) - _omega(t)
        best = max(best, float(np.max(val)))
    t_left = min(x[0], 0.0)
    t_right = max(x[-1], 0.0)
    best = max(best, s * abs(q[0]) - float(_omega(t_left)), s * abs(q[-1]) - float(_omega(t_right)))
    return best


def _feasible_scale(x, q, variant):
    r"""Largest :math:`s\ge0` such that :math:`s\,q` is exactly feasible for the continuous dual.

    Dual problems (Lagrangian of :math:`f(x_j)=y_j`; derivation in the module notes below):

    * V1 ``"skip"``: :math:`|q(t)|\le1` for all t, q = 0 outside the hull.
    * V3 ``"bias"``: :math:`|q(t)|\le\omega(t)`.
    * V2 ``"no-skip"``: some :math:`\theta\in[0,1]` with :math:`|\kappa|\le1-\theta` and
      :math:`|q(t)|\le\theta`, where :math:`\kappa=q(x_1)=-q(x_n)`; i.e.
      :math:`\max|q|+|\kappa|\le1`.
    * V4 ``"bias-no-skip"``: some :math:`\theta\in[0,1]` with :math:`|\kappa|\le1-\theta` and
      :math:`|q(t)|\le\omega(t)-1+\theta` for all t; i.e.
      :math:`\max(0,\max_t(|q|-\omega+1))+|\kappa|\le1`. This is convex in s and is solved
      by bisection, each step evaluated exactly by :func:`_max_abs_minus_omega`.

    Then for every interpolant :math:`R(f)\ge\sum_j g_j y_j` with :math:`g` the jumps of
    :math:`(sq)'` (:func:`_g_from_q`).
    """
    qmax = float(np.max(np.abs(q)))
    if qmax == 0.0:
        return np.inf
    if variant == "skip":
        return 1.0 / qmax
    if variant == "bias":
        return 1.0 / _max_ratio_omega(x, q)
    kappa = abs(float(q[0]))
    if variant == "no-skip":
        return 1.0 / (qmax + kappa)

    def h(s):
        return max(0.0, _max_abs_minus_omega(x, q, s) + 1.0) + s * kappa - 1.0

    lo, hi = 0.0, 1.0
    while h(hi) <= 0.0:
        lo, hi = hi, 2.0 * hi
        if hi > 1e300:  # pragma: no cover - q would be zero
            return np.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if h(mid) <= 0.0:
            lo = mid
        else:
            hi = mid
    return lo


def _interp_bound(x, y, q, variant):
    """Certified lower bound ``s * |g(q) . y|`` for interpolation, and the scale s."""
    s = _feasible_scale(x, q, variant)
    lin = float(_g_from_q(x, q) @ y)
    if not np.isfinite(s):  # q == 0: the trivial certificate
        return 0.0, 1.0
    return s * abs(lin), s


def _regression_bound(x, y, w, lam, q, variant, offset):
    r"""Fenchel-dual lower bound for :math:`\sum_i w_i(f(x_i)-y_i)^2+\lambda R(f)`.

    For every feasible dual function :math:`\sigma q` (:math:`|\sigma|\le s_{\max}`),
    :math:`R(f)\ge\sigma\,g\cdot z` with :math:`z=f(x)`, hence the objective is at least
    :math:`\min_z\sum w_i(z_i-y_i)^2+\lambda\sigma g\cdot z
    =\lambda\sigma\,g\cdot y-\tfrac{\lambda^2\sigma^2}{4}\sum_i g_i^2/w_i`,
    maximised in closed form over :math:`\sigma\in[-s_{\max},s_{\max}]`.
    """
    smax = _feasible_scale(x, q, variant)
    if not np.isfinite(smax):  # q == 0: the trivial certificate
        return offset, 0.0
    g = _g_from_q(x, q)
    a = float(g @ y)
    Q = float(np.sum(g * g / w))
    if Q == 0.0 or lam == 0.0:
        return offset, 0.0
    sig = 2.0 * a / (lam * Q)
    sig = float(np.clip(sig, -smax, smax))
    return offset + lam * sig * a - 0.25 * lam * lam * sig * sig * Q, sig


# ----------------------------------------------------------------------------- knot extraction
def _polish_atoms(x, u, v, delta, scale=0.0):
    r"""Turn per-interval endpoint masses into exact knots that reproduce ``delta``.

    ``u[k, i]``, ``v[k, i]`` >= 0 (k = 0: positive atoms, k = 1: negative atoms) are the parts of
    the mass on :math:`[x_i,x_{i+1}]` attributed to the left and right endpoint (atom at
    :math:`t=(x_iu+x_{i+1}v)/(u+v)`, mass :math:`u+v`). The data constraints are linear in
    them: :math:`V_{j-1}+U_j=\delta_j` at interior points (signed sums). Steps:

    1. drop atoms lighter than ``MASS_REL_THRESHOLD`` x max(heaviest atom, ``scale``) (solver
       noise; ``scale`` is the size of the data's slopes, so that a problem whose solution has
       no knot does not keep noise atoms);
    2. snap atoms within ``SNAP_REL`` (relative position in the interval) of an endpoint onto
       it (interior-point methods split an atom that sits on a data point between the two
       neighbouring intervals);
    3. repair each interior equation by a multiplicative correction of the masses attributed
       to that point (each u/v entry enters exactly one equation, so this is exact and keeps
       signs while the correction is smaller than the mass); a point with no mass left and
       a non-zero residual gets an atom exactly at the data point.

    Returns knots, signed jumps and a diagnostics dict.
    """
    u = np.maximum(np.array(u, dtype=np.float64), 0.0)
    v = np.maximum(np.array(v, dtype=np.float64), 0.0)
    m = u + v
    mmax = max(float(np.max(m)) if m.size else 0.0, float(scale))
    dropped = 0
    if mmax > 0:
        small = m < MASS_REL_THRESHOLD * mmax
        dropped = int(np.count_nonzero(small & (m > 0)))
        u[small] = 0.0
        v[small] = 0.0
        m = u + v
        u[u < SNAP_REL * m] = 0.0
        v[v < SNAP_REL * m] = 0.0
        # Merge an atom sitting exactly on x_j into a same-sign atom of the neighbouring interval
        # (both lie in that closed interval, so by Jensen this never costs more; the mass stays
        # in the equation of x_j). The objective is extremely flat in such splits (~m1 m2 dt^2),
        # so the solver leaves them at its tolerance.
        if x.size > 2:
            uL, vL = u[:, :-1], v[:, :-1]  # interval j-1 of interior point j
            uR, vR = u[:, 1:], v[:, 1:]  # interval j
            right_on_point = (uR > 0) & (vR == 0) & (uL > 0)
            left_on_point = (vL > 0) & (uL == 0) & (vR > 0) & ~right_on_point
            vL += np.where(right_on_point, uR, 0.0)
            uR[right_on_point] = 0.0
            uR += np.where(left_on_point, vL, 0.0)
            vL[left_on_point] = 0.0
    extra_t, extra_J = [], []
    n = x.size
    if n > 2:
        sign = np.array([[1.0], [-1.0]])
        contrib = (sign * v[:, :-1]).sum(0) + (sign * u[:, 1:]).sum(0)
        mass_at = v[:, :-1].sum(0) + u[:, 1:].sum(0)
        r = delta - contrib
        ok = (mass_at > 0) & (np.abs(r) <= 0.5 * mass_at)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(ok, r / np.where(mass_at > 0, mass_at, 1.0), 0.0)
        # entries attributed to interior point j: v[:, j-1] and u[:, j]
        v[:, :-1] *= 1.0 + sign * rel[None, :]
        u[:, 1:] *= 1.0 + sign * rel[None, :]
        # A residual at rounding level needs no knot: it would only add a spurious 1e-16 jump.
        r_tol = 64 * np.finfo(float).eps * max(float(np.max(np.abs(delta))), mmax)
        bad = np.flatnonzero(~ok & (np.abs(r) > r_tol))
        if bad.size:
            # Put the residual curvature exactly on the data point (after undoing nothing: the
            # masses there were left unchanged because rel = 0).
            extra_t = list(x[1:-1][bad])
            extra_J = list(r[bad])
    m = u + v
    xl = np.broadcast_to(x[:-1], m.shape)
    xr = np.broadcast_to(x[1:], m.shape)
    nz = m > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(nz, (xl * u + xr * v) / np.where(nz, m, 1.0), 0.0)
    # Atoms on an endpoint get its exact value (so that halves from the two neighbouring
    # intervals coincide bit for bit and are merged); clip guards the last ulp otherwise.
    t = np.where(u == 0, xr, np.where(v == 0, xl, np.clip(t, xl, xr)))
    J = np.where(nz, np.array([[1.0], [-1.0]]) * m, 0.0)
    knots = np.concatenate([t[nz], np.asarray(extra_t, dtype=np.float64)])
    jumps = np.concatenate([J[nz], np.asarray(extra_J, dtype=np.float64)])
    return knots, jumps, {"dropped_atoms": dropped, "added_data_knots": len(extra_t)}


def _repair_jumps(x, knots, jumps, delta):
    r"""Minimal relative change of the jumps at fixed knots so that the curvature equations hold.

    A knot at :math:`t\in[x_i,x_{i+1}]` adds :math:`(1-\ell)J` to the discrete curvature at
    :math:`x_i` and :math:`\ell J` at :math:`x_{i+1}` (:math:`\ell=(t-x_i)/h_i`); knots outside
    the hull add nothing. With :math:`A` this (tridiagonally coupled) map restricted to the
    interior points, solve :math:`\min\|W^{-1/2}\Delta J\|` s.t. :math:`A(J+\Delta J)=\delta`,
    :math:`W=\mathrm{diag}|J|`, so zero jumps stay zero and signs are kept for small residuals.
    Used after dropping interior-point noise from a grid solution, whose many tiny jumps
    otherwise add up to a visible interpolation error. Returns knots, jumps, number of data
    knots added (points whose curvature no remaining knot can carry).
    """
    from scipy.sparse.linalg import spsolve

    n = x.size
    if n <= 2 or knots.size == 0 and not np.any(delta):
        return knots, jumps, 0
    inside = (knots >= x[0]) & (knots <= x[-1])
    k_in = np.flatnonzero(inside)
    t = knots[k_in]
    i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, n - 2)
    ell = (t - x[i]) / (x[i + 1] - x[i])
    rows = np.concatenate([i, i + 1]) - 1  # interior point j (1..n-2) -> row j-1
    cols = np.concatenate([k_in, k_in])
    vals = np.concatenate([1.0 - ell, ell])
    keep = (rows >= 0) & (rows < n - 2) & (vals != 0)
    A = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n - 2, knots.size))
    r = delta - A @ jumps
    W = sp.diags(np.abs(jumps))
    M = (A @ W @ A.T).tocsr()
    diag = M.diagonal()
    active = diag > 0
    added_t, added_J = [], []
    lost = np.flatnonzero(~active & (r != 0))
    if lost.size:
        added_t, added_J = list(x[1:-1][lost]), list(r[lost])
    if np.any(active):
        Ma = M[active][:, active]
        # A lone knot can carry two rows (rank deficient): a tiny ridge gives the least-squares
        # correction instead of a singular solve.
        ridge = 1e-13 * float(np.max(diag))
        yv = np.zeros(n - 2)
        yv[active] = spsolve((Ma + ridge * sp.identity(Ma.shape[0])).tocsc(), r[active])
        jumps = jumps + W @ (A.T @ yv)
    knots = np.concatenate([knots, added_t])
    jumps = np.concatenate([jumps, added_J])
    return knots, jumps, len(added_t)


def _fit_affine(x, target, knots, jumps):
    r"""PL function :math:`\alpha+\beta x+\sum J_k(x-t_k)_+` with (α, β) the least-squares fit
    of ``target`` minus the knot part (the residual is affine up to rounding once the
    curvature equations hold, so this interpolates). Centred x keeps it well conditioned."""
    base = PiecewiseLinear.from_knots(knots, jumps, 0.0, 0.0)
    res = target - base(x)
    xc = x - x.mean()
    denom = float(xc @ xc)
    beta = float(xc @ (res - res.mean()) / denom) if denom > 0 else 0.0
    alpha = float(res.mean() - beta * x.mean())
    return PiecewiseLinear.from_knots(knots, jumps, beta, alpha)


def _value_scale(x, y, lam):
    """Scale c for solving with y / c: the largest secant slope for interpolation (the jumps
    are differences of slopes), the spread of y for regression (fitted values live there)."""
    if lam is None:
        c = float(np.max(np.abs(np.diff(y) / np.diff(x)))) if y.size > 1 else 0.0
    else:
        c = float(np.max(np.abs(y - np.mean(y))))
    return c if c > 0 and np.isfinite(c) else 1.0


# ----------------------------------------------------------------------------- exact polish (V1/V2 regression)
#: Relative sizes below which a slope change of the conic solution is read as zero when its face is
#: identified (interior-point noise is ~1e-9 of the largest; genuine small kinks can be 1e-5).
_POLISH_THRESHOLDS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9)
#: Polish the V1/V2 grid regressions to the exact face solution (switch, for measurements).
POLISH_DATA_KNOT = True
def _data_knot_objective(x, y, w, lam, z, variant):
    r""":math:`\sum w(z-y)^2+\lambda R(z)` of the data-knot program (MATH B.1/B.2):
    :math:`R=V=\sum|(Dz)_i|` (V1) or :math:`\max(V,(V+|s_1+s_{n-1}|)/2)` (V2)."""
    _, s, d = _secants(x, z)
    V = float(np.sum(np.abs(d)))
    R = V if variant == "skip" else max(V, 0.5 * (V + abs(float(s[0] + s[-1]))))
    r = z - y
    return float(w @ (r * r)) + lam * R


def _face_solve(x, y, w, lam, sig, case, eps):
    r"""Exact minimiser of the data-knot regression on one face of its objective.

    Face: knots (non-zero slope changes) exactly where ``sig != 0``, with those signs, and for V2
    which term of :math:`R=\max(V,(V+|S|)/2)` is active (``case``: ``"V"``, ``"B"`` -- the
    boundary term, :math:`S=s_1+s_{n-1}` of sign ``eps`` -- or ``"tie"``, :math:`V=|S|`). On the
    face, z is the hat-function expansion :math:`z=Bv` of its node values v and the objective is
    :math:`\sum w(Bv-y)^2+\lambda c^\top v` with c linear, so the minimiser solves the normal
    equations :math:`2B^\top WBv+\lambda c=2B^\top Wy` (tridiagonal; bordered by the equality
    :math:`\sigma^\top D_Nv=\epsilon S_Nv` at a tie). Returns z.
    """
    from scipy.sparse.linalg import spsolve

    n = x.size
    nodes = np.concatenate(([0], np.flatnonzero(sig[1:-1]) + 1, [n - 1]))
    X = x[nodes]
    H = np.diff(X)
    m = X.size
    k = np.minimum(np.searchsorted(X, x, side="right") - 1, m - 2)
    phi = (x - X[k]) / H[k]
    B = sp.csr_matrix((np.concatenate([1.0 - phi, phi]), (np.tile(np.arange(n), 2), np.concatenate([k, k + 1]))),
                      shape=(n, m))
    G = (B.T @ sp.diags(w) @ B).tocsc()
    # sigma^T D_N v: second divided differences at the interior nodes, weighted by their signs
    cD = np.zeros(m)
    if m > 2:
        sg = sig[nodes[1:-1]].astype(np.float64)
        cD[:-2] += sg / H[:-1]
        cD[1:-1] -= sg * (1.0 / H[:-1] + 1.0 / H[1:])
        cD[2:] += sg / H[1:]
    # S_N v = first + last secant slope (z is linear between nodes, so these are the data secants)
    cS = np.zeros(m)
    cS[0] -= 1.0 / H[0]
    cS[1] += 1.0 / H[0]
    cS[-2] -= 1.0 / H[-1]
    cS[-1] += 1.0 / H[-1]
    rhs = 2.0 * (B.T @ (w * y))
    if case == "V":
        v = spsolve(2.0 * G, rhs - lam * cD)
    elif case == "B":
        v = spsolve(2.0 * G, rhs - 0.5 * lam * (cD + eps * cS))
    else:
        a = cD - eps * cS
        K = sp.bmat([[2.0 * G, sp.csc_matrix(a[:, None])], [sp.csc_matrix(a[None, :]), None]], format="csc")
        v = spsolve(K, np.concatenate([rhs - lam * cD, [0.0]]))[:m]
    z = B @ v
    z[nodes] = v
    return z


def polish_data_knot_regression(x, y, w, lam, z, variant):
    r"""Exact fitted values of the V1/V2 regression from a conic solver's approximate ones.

    The data-knot program :math:`\min_z\sum w(z-y)^2+\lambda R(z)` (MATH B.1/B.2, ``variant``
    ``"skip"`` or ``"no-skip"``) is a QP whose objective is quadratic on each face (signs of the
    slope changes, active term of the V2 max). Interior-point solutions stop ~1e-9 short of the
    optimum (up to 8e-9 relative measured for V2); the face is read off ``z`` (slope changes
    below each of ``_POLISH_THRESHOLDS`` times the largest are zero; for V2 each of the three cases of the max is
    tried) and solved exactly by :func:`_face_solve`. Returns the candidate with the lowest
    objective (``z`` itself when no face solution improves on it) and a diagnostics dict. The
    caller certifies the result with its own dual bound.
    """
    x, y, w, z = (np.asarray(a, dtype=np.float64) for a in (x, y, w, z))
    best_z, best = z, _data_knot_objective(x, y, w, lam, z, variant)
    info = {"objective_before": best, "face": None}
    # The conic point's objective is accurate to second order in its error but its dual bound only
    # to first order, so an exact face point within rounding of its objective is preferred.
    best += 1e-13 * max(1.0, abs(best))
    if x.size < 2 or lam <= 0 or (x.size == 2 and variant == "skip"):
        info["objective_after"] = info["objective_before"]
        return best_z, info
    _, s, d = _secants(x, z)
    # Scales the noise is measured against: the fit's own slope changes, the data's (when the fit
    # is a line every slope change of z is solver noise, and only the empty face, tried last, is
    # right) and the fit's slopes (kinks far smaller than the slopes they bend are noise too).
    d_fit = float(np.max(np.abs(d))) if d.size else 0.0
    d_data = float(np.max(np.abs(_secants(x, y)[2]))) if d.size else 0.0
    scales = (max(d_fit, d_data), d_fit, float(np.max(np.abs(s))))
    S = float(s[0] + s[-1])
    eps = 1.0 if S >= 0 else -1.0
    cases = ("V",) if variant == "skip" else ("V", "B", "tie")
    seen = set()
    for ref, thr in [(r, t) for r in scales for t in _POLISH_THRESHOLDS] + [(np.inf, 1.0)]:
        sig = np.zeros(x.size, dtype=np.int8)
        sig[1:-1] = np.where(np.abs(d) > thr * ref, np.sign(d), 0).astype(np.int8)
        if sig.tobytes() in seen:
            continue
        seen.add(sig.tobytes())
        for case in cases:
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a singular face (MatrixRankWarning): skipped below
                    zc = _face_solve(x, y, w, lam, sig, case, eps)
            except (RuntimeError, ValueError, np.linalg.LinAlgError):
                continue
            if not np.all(np.isfinite(zc)):
                continue
            val = _data_knot_objective(x, y, w, lam, zc, variant)
            if val < best:
                best_z, best = zc, val
                info["face"] = {"threshold": thr, "case": case, "knots": int(np.count_nonzero(sig))}
    info["objective_after"] = _data_knot_objective(x, y, w, lam, best_z, variant)
    return best_z, info


# ----------------------------------------------------------------------------- exact polish (V3/V4 SOCP)
#: Polish the V3/V4 SOCP answers to the exact stationary point of their support (switch, for measurements).
POLISH_CONIC = True
#: Atoms lighter than these fractions of the largest are left out of the support that is polished.
_CONIC_MASS_THRESHOLDS = (1e-3, 1e-5, 1e-7)
#: An atom whose left/right share is below this fraction of its mass is pinned at that data point.
_CONIC_PIN_THRESHOLDS = (1e-5, 1e-3)
_NEWTON_MAX_ITER = 60
#: Faces shrunk (coordinates that Newton drives to 0 removed) before a face is given up.
_ACTIVE_SET_MAX_STEPS = 40
#: Newton steps (sparse KKT solves) allowed in one polish, all faces together.
_POLISH_MAX_NEWTON_STEPS = 200
#: Larger problems keep the SOCP answer: there the one-coordinate-at-a-time active set runs out of
#: budget (hundreds of near-zero shares; measured n = 400: no face converged, 1-3 s spent), while
#: up to n = 100 it converged in 0.3-1 s on every set tried.
POLISH_MAX_N = 200


def _conic_face(x, u, v, aL, aR, thr, pin, variant):
    r"""Support (a *face*) of an SOCP point in the endpoint-mass coordinates of :func:`_socp`.

    Returns a list of coordinates ``(kind, sign, a, b, t0)`` and their start values: ``"pair"``
    (an atom strictly inside interval ``a``, two coordinates u, v), ``"u"``/``"v"`` (an atom pinned
    at the left/right end of interval ``a``) and ``"ray"`` (``a`` = 0 left, 1 right, V4 only).
    Atoms lighter than ``thr`` times the largest are dropped; an atom on an interior data point
    that the solver split between the two neighbouring intervals is merged into one coordinate.
    """
    N = u.shape[1]
    m = u + v
    rays = np.vstack([aL, aR]).T if aL is not None else np.zeros((2, 2))  # [sign, side]
    mmax = max(float(np.max(m)), float(np.max(rays)))
    if mmax <= 0:
        return [], np.zeros(0)
    coords, start = [], []
    pinned = {}  # (sign, data index) -> position in coords
    for k in range(2):
        for i in range(N):
            if m[k, i] <= thr * mmax:
                continue
            if v[k, i] <= pin * m[k, i]:
                point, kind = i, "u"
            elif u[k, i] <= pin * m[k, i]:
                point, kind = i + 1, "v"
            else:
                coords.append(("pair", k, i))
                start.append((u[k, i], v[k, i]))
                continue
            key = (k, point)
            if key in pinned and 0 < point < N:
                start[pinned[key]] = (start[pinned[key]][0] + m[k, i],)
                continue
            pinned[key] = len(coords)
            coords.append((kind, k, i))
            start.append((m[k, i],))
        if variant == "bias-no-skip":
            for side in range(2):
                mass = rays[k, side]
                if mass <= thr * mmax:
                    continue
                # A ray atom at a hull end (data on one side of 0) is the pin at that point.
                point = 0 if side == 0 else N
                key = (k, point)
                if key in pinned:
                    j = pinned[key]
                    coords[j] = ("ray", k, side)
                    start[j] = (start[j][0] + mass,)
                    continue
                pinned[key] = len(coords)
                coords.append(("ray", k, side))
                start.append((mass,))
    # At most one atom of each sign per closed interval (MATH B.3, from the strict concavity of
    # q - omega): a pin next to a same-sign interior atom is the solver's split of that atom, so it
    # joins the pair's coordinate that enters the same curvature equation.
    pair_at = {(c[1], c[2]): j for j, c in enumerate(coords) if c[0] == "pair"}
    drop = set()
    for (k, point), j in pinned.items():
        if coords[j][0] == "ray" or not 0 < point < N:
            continue
        for interval, side in ((point - 1, 1), (point, 0)):
            if (k, interval) in pair_at:
                jp = pair_at[(k, interval)]
                st = list(start[jp])
                st[side] += start[j][0]
                start[jp] = tuple(st)
                drop.add(j)
                break
    coords = [c for j, c in enumerate(coords) if j not in drop]
    start = [st for j, st in enumerate(start) if j not in drop]
    return coords, np.array([s for st in start for s in st], dtype=np.float64)


def _face_newton(x, coords, theta0, target, y_fit, lam, w, variant, case, eps, budget):
    r"""Exact minimiser of the SOCP restricted to one face, by Newton's method on its KKT system.

    On a face (fixed support and signs; for V4 also the active term of the max: ``case`` ``"A"``
    -- :math:`\int\omega\,d|\mu|`, ``"B"`` -- :math:`\int(\omega-1)\,d|\mu|+\epsilon D` or
    ``"tie"`` -- the first with :math:`\epsilon D=\|\mu\|`) the program

    .. math:: \min\ \lambda R(p) + \textstyle\sum_i w_i(z_i-y_i)^2
              \quad\text{s.t.}\quad V_{j-1}+U_j=\delta_j(z)

    (interpolation: :math:`\lambda=1`, :math:`z=y` fixed; regression: z starts at ``target`` and
    fits ``y_fit``) is smooth and convex: an interior atom
    costs :math:`\|(u+v,\,x_iu+x_{i+1}v)\|_2`, a pinned or ray atom :math:`\omega(t)\,a`. Returns
    (coordinates, z, multipliers of the curvature rows, multiplier of the tie row) or None when
    Newton does not converge or the shared step ``budget`` (a one-element list) runs out, and ``("blocked", coordinates, z)`` at the point where a step
    first drives coordinates to 0 (set to exactly 0 there).
    """
    from scipy.sparse.linalg import spsolve

    n = x.size
    N = n - 1
    P = theta0.size
    regression = lam is not None
    nz = n if regression else 0
    tL, tR = min(x[0], 0.0), max(x[-1], 0.0)
    bias_b = variant == "bias-no-skip" and case == "B"
    # Linear data of every coordinate: curvature row, sign, D coefficient, linear cost.
    rows, cols, vals = [], [], []
    dvec = np.zeros(P + nz)
    lin = np.zeros(P + nz)
    pairs = []
    col = 0
    for kind, k, a in coords:
        sg = 1.0 if k == 0 else -1.0
        if kind == "pair":
            pairs.append((col, a))
            members = ((col, a, -sg if a == 0 else 0.0), (col + 1, a + 1, sg if a == N - 1 else 0.0))
            for c, point, dc in members:
                if 0 < point < N:
                    rows.append(point - 1)
                    cols.append(c)
                    vals.append(sg)
                dvec[c] = dc
            col += 2
            continue
        if kind == "ray":
            point, t = (-1, tL) if a == 0 else (-1, tR)
            dvec[col] = -sg if a == 0 else sg
        else:
            point = a if kind == "u" else a + 1
            t = x[point]
            if 0 < point < N:
                rows.append(point - 1)
                cols.append(col)
                vals.append(sg)
            dvec[col] = -sg if point == 0 else (sg if point == N else 0.0)
        lin[col] = float(_omega(t)) - (1.0 if bias_b else 0.0)
        col += 1
    C = sp.csr_matrix((vals, (rows, cols)), shape=(max(n - 2, 0), P + nz))
    if regression:
        sec = _secant_operator(x, 0) + _secant_operator(x, -1)
        dvec[P:] = sec
        C = C - sp.hstack([sp.csr_matrix((max(n - 2, 0), P)), _curvature_operator(x)]) if n > 2 else C
        rhs = np.zeros(C.shape[0])
        S0 = 0.0
    else:
        _, s, delta = _secants(x, target)
        rhs = delta.copy()
        S0 = float(s[0] + s[-1])
    mass = np.zeros(P + nz)
    mass[:P] = 1.0
    if case == "B":
        lin = lin + eps * dvec
    if case == "tie":
        C = sp.vstack([C, sp.csr_matrix((eps * dvec - mass)[None, :])]).tocsr()
        rhs = np.concatenate([rhs, [-eps * S0]])
    lam_r = 1.0 if lam is None else lam
    theta = np.concatenate([theta0, target if regression else np.zeros(0)])
    m_rows = C.shape[0]

    pc = np.array([c for c, _ in pairs], dtype=np.int64)
    xa = x[np.array([i for _, i in pairs], dtype=np.int64)] if pairs else np.zeros(0)
    xb = x[np.array([i + 1 for _, i in pairs], dtype=np.int64)] if pairs else np.zeros(0)
    # Hessian sparsity: a 2x2 block per pair, the SSE diagonal for z.
    blk_r = np.concatenate([pc, pc, pc + 1, pc + 1])
    blk_c = np.concatenate([pc, pc + 1, pc, pc + 1])
    zi = np.arange(P, P + nz)

    def grad_hess(th):
        # pair cost ||(u+v, x_a u + x_b v)||: gradient L^T e, Hessian L^T (I - e e^T) L / ||.||
        g = lam_r * lin.copy()
        uu, vv = th[pc], th[pc + 1]
        w0, w1 = uu + vv, xa * uu + xb * vv
        nw = np.hypot(w0, w1)
        e0, e1 = w0 / nw, w1 / nw
        sub = 1.0 if bias_b else 0.0
        g[pc] += lam_r * (e0 + xa * e1 - sub)
        g[pc + 1] += lam_r * (e0 + xb * e1 - sub)
        # (I - e e^T) = f f^T with f = (-e1, e0), so the block is (L^T f)(L^T f)^T / ||.||
        fa = -e1 + xa * e0
        fb = -e1 + xb * e0
        sc = lam_r / nw
        Hv = np.concatenate([sc * fa * fa, sc * fa * fb, sc * fb * fa, sc * fb * fb])
        Hr, Hc = blk_r, blk_c
        if regression:
            g[P:] += 2.0 * w * (th[P:] - y_fit)
            Hr, Hc, Hv = np.concatenate([Hr, zi]), np.concatenate([Hc, zi]), np.concatenate([Hv, 2.0 * w])
        H = sp.csr_matrix((Hv, (Hr, Hc)), shape=(P + nz, P + nz))
        return g, H

    nu = np.zeros(m_rows)
    converged = False
    for _ in range(_NEWTON_MAX_ITER):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        g, H = grad_hess(theta)
        r = rhs - C @ theta
        hdiag = float(np.max(np.abs(H.diagonal()))) if H.nnz else 1.0
        rho = 1e-14 * max(hdiag, 1.0)
        # Proximal regularisation in both blocks (the Hessian of a degree-1 homogeneous cost is
        # singular along its ray, and a pinned atom has none): it vanishes at the fixed point, so
        # the limit is the exact KKT point, and it keeps a rank-deficient face solvable.
        K = sp.bmat([[H + rho * sp.identity(P + nz), C.T], [C, -rho * sp.identity(m_rows)]], format="csc") \
            if m_rows else (H + rho * sp.identity(P + nz)).tocsc()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sol = spsolve(K, np.concatenate([-g, r + rho * nu]))
        sol = np.atleast_1d(sol)
        if not np.all(np.isfinite(sol)):
            return None
        d = sol[:P + nz]
        nu = -sol[P + nz:]
        step = 1.0
        neg = d[:P] < 0
        if np.any(neg):
            ratios = -theta[:P][neg] / d[:P][neg]
            step = float(np.min(ratios))
            if step < 1.0:
                # A coordinate reaches 0: the support is smaller. Stop on the boundary and let the
                # caller shrink the face (an active-set step).
                theta = theta + step * d
                theta[np.flatnonzero(neg)[ratios <= step * (1.0 + 1e-9)]] = 0.0
                theta[:P] = np.maximum(theta[:P], 0.0)
                return "blocked", theta[:P], (theta[P:] if regression else target)
            step = 1.0
        theta = theta + step * d
        scale_th = 1.0 + float(np.max(np.abs(theta)))
        if step == 1.0 and float(np.max(np.abs(d))) <= 1e-14 * scale_th:
            converged = True
            break
    # Quadratic convergence can stall at rounding: accepted if the last step was at that level.
    if not converged and float(np.max(np.abs(d))) > 1e-11 * (1.0 + float(np.max(np.abs(theta)))):
        return None
    if np.any(theta[:P] <= 0):
        return None
    z = theta[P:] if regression else target
    nu_curv = nu[:max(n - 2, 0)]
    mu_tie = float(nu[-1]) if case == "tie" else None
    return theta[:P], z, nu_curv, mu_tie


def _shrink_face(x, coords, theta, variant):
    """The face of a point with some coordinates at exactly 0: an interior atom that lost one
    share is pinned at the other end, a pin that lost its mass is dropped (via :func:`_conic_face`
    with zero thresholds, which also re-merges pins into same-sign interior atoms)."""
    N = x.size - 1
    u, v = np.zeros((2, N)), np.zeros((2, N))
    rays = np.zeros((2, 2))
    col = 0
    for kind, k, a in coords:
        if kind == "pair":
            u[k, a] += theta[col]
            v[k, a] += theta[col + 1]
            col += 2
            continue
        if kind == "ray":
            rays[a, k] += theta[col]
        elif kind == "u":
            u[k, a] += theta[col]
        else:
            v[k, a] += theta[col]
        col += 1
    ray = (rays[0], rays[1]) if variant == "bias-no-skip" else (None, None)
    return _conic_face(x, u, v, *ray, 0.0, 0.0, variant)


def _face_function(x, coords, theta, values, c_scale):
    """PL function of a face point (scaled coordinates) through the unscaled ``values`` at x."""
    tL, tR = min(x[0], 0.0), max(x[-1], 0.0)
    knots, jumps = [], []
    col = 0
    for kind, k, a in coords:
        sg = 1.0 if k == 0 else -1.0
        if kind == "pair":
            uu, vv = theta[col], theta[col + 1]
            knots.append(float(np.clip((x[a] * uu + x[a + 1] * vv) / (uu + vv), x[a], x[a + 1])))
            jumps.append(sg * (uu + vv))
            col += 2
            continue
        if kind == "ray":
            knots.append(tL if a == 0 else tR)
        else:
            knots.append(x[a] if kind == "u" else x[a + 1])
        jumps.append(sg * theta[col])
        col += 1
    return _fit_affine(x, values, np.array(knots), c_scale * np.array(jumps))


def _polish_conic(x, y_scaled, w, lam, variant, u, v, aL, aR, c_scale, f_socp, y_orig):
    r"""Replace the SOCP function by the exact minimiser of its support when that is better.

    The support is read off the SOCP point for each pair of ``_CONIC_MASS_THRESHOLDS`` and
    ``_CONIC_PIN_THRESHOLDS`` (:func:`_conic_face`); on each face (for V4 each case of the max
    and sign of D) the smooth reduced problem is solved by :func:`_face_newton`. A candidate is
    kept only if every atom stays strictly inside its interval or on its data point with its
    sign, it interpolates (regression: its objective is lower) and its value is not above the
    SOCP's (rounding aside; fewer knots win ties). Returns the function, the candidate duals
    ``[(nu, kappa), ...]`` for the interpolation certificate, and a diagnostics dict.
    """
    regression = lam is not None
    wts = np.ones(x.size) if w is None else w

    def score(f):
        if regression:
            return float(np.sum(wts * (f(x) - y_orig) ** 2)) + lam * c_scale * tv2_cost(f, variant)
        return float(tv2_cost(f, variant))

    y_tol = 1e-13 * max(1.0, float(np.max(np.abs(y_orig))))
    res0 = float(np.max(np.abs(f_socp(x) - y_orig)))
    before = score(f_socp)
    duals, found = [], []
    target = y_scaled if not regression else f_socp(x) / c_scale
    if variant == "bias":
        cases = [("A", 1.0)]
    else:
        # The SOCP point's own case of the max first: the others are tried only if it fails.
        J = f_socp.jumps
        om = _omega(f_socp.knots)
        D = float(f_socp.slope_left + f_socp.slope_right)
        A_t, B_t = float(om @ np.abs(J)), float((om - 1.0) @ np.abs(J)) + abs(D)
        e = 1.0 if D >= 0 else -1.0
        tie_tol = 1e-6 * max(1.0, A_t)
        first = "tie" if abs(A_t - B_t) <= tie_tol else ("A" if A_t > B_t else "B")
        cases = [(first, e)] + [c for c in (("tie", e), ("A", 1.0), ("B", e), ("tie", -e), ("B", -e))
                                if c != (first, e)]
    budget = [_POLISH_MAX_NEWTON_STEPS]
    seen = set()
    certified = False
    for thr, pin, case, eps in [(t, p, c, e) for t in _CONIC_MASS_THRESHOLDS for p in _CONIC_PIN_THRESHOLDS
                                for c, e in cases]:
        if certified or budget[0] <= 0:
            break
        coords, theta0 = _conic_face(x, u, v, aL, aR, thr, pin, variant)
        key = (tuple(coords), case, eps)
        if key in seen:
            continue
        seen.add(key)
        if case == "A":
            # Atoms at the hull ends or on the rays only move D: zero when D does not count.
            keep = [c for c in coords if not (c[0] == "ray" or (c[0] == "u" and c[2] == 0)
                                              or (c[0] == "v" and c[2] == x.size - 2))]
            if len(keep) != len(coords):
                idx, col = [], 0
                for c in coords:
                    width = 2 if c[0] == "pair" else 1
                    if c in keep:
                        idx += list(range(col, col + width))
                    col += width
                cc, th0 = keep, theta0[idx]
            else:
                cc, th0 = coords, theta0
        else:
            cc, th0 = coords, theta0
        z0, out = target, None
        for _ in range(_ACTIVE_SET_MAX_STEPS):
            if not cc and not regression:
                break  # an empty face interpolates only collinear data, which the SOCP gets exactly
            out = _face_newton(x, cc, th0, z0, y_scaled, lam, wts, variant, case, eps, budget)
            if out is None or not isinstance(out[0], str):
                break
            _, thb, z0 = out
            out = None
            cc, th0 = _shrink_face(x, cc, thb, variant)
        if out is None:
            continue
        theta, z, nu, mu = out
        try:
            # Interpolation fits y itself: y / c * c is not y to the last bit.
            f = _face_function(x, cc, theta, c_scale * z if regression else y_orig, c_scale)
        except InputError:
            continue
        if not regression and float(np.max(np.abs(f(x) - y_orig))) > max(res0, y_tol):
            continue
        kappa = {"A": 0.0, "B": 1.0, "tie": abs(mu) if mu is not None else 0.0}[case]
        duals.append((nu, kappa))
        val = score(f)
        found.append((val, f, {"mass_threshold": thr, "pin_threshold": pin, "case": case,
                               "knots": int(f.knots.size)}))
        # Stop at the first candidate that its own duals certify to rounding.
        if regression:
            fit = f(x)
            q = _certificate_shape(_q_from_lambda(x, 2.0 * wts * (y_orig - fit) / (lam * c_scale)), variant)
            lb = _regression_bound(x, y_orig, wts, lam * c_scale, q, variant, 0.0)[0]
        else:
            lb = _socp_interpolation_bound(x, y_orig, variant, nu, kappa)[0]
        certified = val <= before + 1e-13 * max(1.0, abs(before)) and val - lb <= 1e-12 * max(1.0, abs(val))
    # Values within rounding of each other are the same optimum (a face with a spurious atom that
    # Newton keeps tiny): the sparsest of them wins. The exact point replaces the SOCP one unless
    # the SOCP one is lower by more than rounding (a wrong face).
    slack = 1e-13 * max(1.0, abs(before))
    if found:
        low = min(c[0] for c in found)
        val, f, face = min((c for c in found if c[0] <= low + slack), key=lambda c: (c[1].knots.size, c[0]))
        if val <= before + slack:
            return f, duals, {"face": face, "value_before": before, "value_after": val}
    return f_socp, duals, {"face": None, "value_before": before, "value_after": before}


# ----------------------------------------------------------------------------- exact SOCP (V3/V4)
def _socp(data, lam, variant, solver, allow_inaccurate, solver_options):
    r"""Build and solve the exact SOCP for V3 or V4, interpolation (lam None) or regression.

    Variables per interval :math:`I_i=[x_i,x_{i+1}]` and sign: :math:`u_i,v_i\ge0`, the mass
    attributed to the left/right endpoint. They are an invertible linear change of the
    (mass, first moment) pair of MATH B.3: :math:`m=u+v`, :math:`M=x_iu+x_{i+1}v`, and the
    moment constraint :math:`x_im\le M\le x_{i+1}m` becomes :math:`u,v\ge0`. The data enter
    only through the interior curvature equations :math:`V_{j-1}+U_j=\delta_j` (signed sums),
    a sparse, well-conditioned system. The atom cost is the perspective of ω,
    :math:`\|(m,M)\|_2`.

    V4 adds atoms on the two outer rays. With the free output bias their effect on the data
    is affine, so only their mass matters for D, and both :math:`\omega` and
    :math:`\omega-1` are smallest at the ray point nearest 0: the left-ray atom sits at
    :math:`\min(x_1,0)`, the right-ray one at :math:`\max(x_n,0)` (exact, no moment
    variable needed). With :math:`\beta=f'(-\infty)` eliminated by
    :math:`s_1=\beta+a_L+U_1`,

    .. math:: D = s_1 + s_{n-1} - a_L - U_1 + V_{n-1} + a_R,

    and the objective is :math:`\max(A, A-\textstyle\sum m + |D|)` with
    :math:`A=\sum\|(m,M)\|_2+\omega(t_L)|a_L|+\omega(t_R)|a_R|` (signed :math:`a` split into
    two nonnegative parts).
    """
    _cvx.check_size(data.n, f"the exact {variant!r} SOCP")
    x, y_orig, w = data.x, data.y, data.weights
    # Solve for y / c (and lam / c): both costs are positively homogeneous in f, and a unit
    # scale keeps the conic solver's absolute tolerances meaningful on badly scaled data.
    c_scale = _value_scale(x, y_orig, lam)
    y = y_orig / c_scale
    lam = None if lam is None else lam / c_scale
    n = x.size
    N = n - 1
    xl, xr = x[:-1], x[1:]
    u = cp.Variable((2, N), nonneg=True)
    v = cp.Variable((2, N), nonneg=True)
    r = cp.Variable(2 * N)
    m_flat = cp.reshape(u + v, (2 * N,), order="C")
    X_l = np.vstack([xl, xl])
    X_r = np.vstack([xr, xr])
    M_flat = cp.reshape(cp.multiply(X_l, u) + cp.multiply(X_r, v), (2 * N,), order="C")
    cons = [cp.SOC(r, cp.vstack([m_flat, M_flat]), axis=0)]
    U = u[0] - u[1]
    V = v[0] - v[1]

    if lam is None:
        z = None
        _, s, delta = _secants(x, y)
        s_first, s_last = s[0], s[-1]
    else:
        z = cp.Variable(n)
        delta = _curvature_operator(x) @ z if n > 2 else None
        s_first = _secant_operator(x, 0) @ z
        s_last = _secant_operator(x, -1) @ z
    eq = None
    if n > 2:
        eq = V[:-1] + U[1:] == delta
        cons.append(eq)

    A = cp.sum(r)
    extra = {}
    if variant == "bias-no-skip":
        aL = cp.Variable(2, nonneg=True)
        aR = cp.Variable(2, nonneg=True)
        tL, tR = min(x[0], 0.0), max(x[-1], 0.0)
        A = A + _omega(tL) * cp.sum(aL) + _omega(tR) * cp.sum(aR)
        mass = cp.sum(u) + cp.sum(v) + cp.sum(aL) + cp.sum(aR)
        D = s_first + s_last - (aL[0] - aL[1]) - U[0] + V[-1] + (aR[0] - aR[1])
        tau = cp.Variable()
        e = cp.Variable()
        c_A = A <= tau
        c_B = A - mass + e <= tau
        c_Dp = D <= e
        c_Dm = -D <= e
        cons += [c_A, c_B, c_Dp, c_Dm]
        R = tau
        extra = dict(aL=aL, aR=aR, tL=tL, tR=tR, c_A=c_A, c_Dp=c_Dp, c_Dm=c_Dm)
    else:
        R = A

    if lam is None:
        objective = R
    else:
        objective = cp.sum_squares(cp.multiply(np.sqrt(w), z - y)) + lam * R
    problem = cp.Problem(cp.Minimize(objective), cons)
    size = {"n": int(n), "variables": int(problem.size_metrics.num_scalar_variables)}
    label, status, seconds = _run(problem, solver, allow_inaccurate, size, solver_options)
    if u.value is None:
        raise SolverError("solver returned no primal solution", status=status, solver=label, size=size)

    target = y_orig if z is None else c_scale * np.asarray(z.value, dtype=np.float64)
    _, s_t, delta_t = _secants(x, target)
    knots, jumps, diag = _polish_atoms(x, c_scale * u.value, c_scale * v.value, delta_t, float(np.max(np.abs(s_t))))
    if variant == "bias-no-skip":
        aLv = c_scale * np.maximum(extra["aL"].value, 0.0)
        aRv = c_scale * np.maximum(extra["aR"].value, 0.0)
        scale = max(float(np.max(np.abs(jumps))) if jumps.size else 0.0, float(np.max(aLv)), float(np.max(aRv)),
                    float(np.max(np.abs(s_t))))
        ray_t, ray_J = [], []
        for tpos, a in ((extra["tL"], aLv), (extra["tR"], aRv)):
            J = float(a[0] - a[1])
            if abs(J) > MASS_REL_THRESHOLD * scale:
                ray_t.append(tpos)
                ray_J.append(J)
        knots = np.concatenate([knots, ray_t])
        jumps = np.concatenate([jumps, ray_J])
    f = _fit_affine(x, target, knots, jumps)
    dual_candidates = []
    if POLISH_CONIC and n <= POLISH_MAX_N:
        # The SOCP point is accurate to the solver tolerance only (knots ~1e-5 off where the cost
        # is flat in their position); the exact minimiser of its support replaces it when better.
        ray = (None, None)
        if variant == "bias-no-skip":
            ray = (np.maximum(extra["aL"].value, 0.0), np.maximum(extra["aR"].value, 0.0))
        f, dual_candidates, conic = _polish_conic(
            x, y, w, lam, variant, np.maximum(u.value, 0.0), np.maximum(v.value, 0.0), *ray, c_scale, f, y_orig)
        diag = {**diag, "conic": conic}

    nu = None
    if eq is not None and eq.dual_value is not None:
        nu = np.asarray(eq.dual_value, dtype=np.float64).ravel()
    kappa = None
    if variant == "bias-no-skip" and extra["c_Dp"].dual_value is not None:
        kappa = float(extra["c_Dp"].dual_value) - float(extra["c_Dm"].dual_value)
    obj = float(problem.value) * (c_scale if lam is None else c_scale**2)
    info = dict(label=label, status=status, seconds=seconds, solver_objective=obj,
                polish=diag, size=size, nu=nu, kappa=kappa, dual_candidates=dual_candidates, value_scale=c_scale,
                accuracy="conic", allow_inaccurate=allow_inaccurate)
    return f, info


def _socp_interpolation_bound(x, y, variant, nu, kappa, candidates=()):
    """Certificate from the SOCP duals: q = (kappa, nu, -kappa) (skip: kappa = 0).

    The relative sign of cvxpy's duals of the curvature equations and of the |D| epigraph is
    a convention; both choices are checked and each is a valid certificate on its own, so the
    larger bound is kept. ``candidates`` are further (nu, kappa) pairs (the KKT multipliers of
    the polished faces, :func:`_polish_conic`), rescaled and checked the same way."""
    n = x.size
    best = (-np.inf, None, None)
    for nu_c, kappa_c in [(nu, kappa)] + list(candidates):
        inner = np.zeros(n - 2) if nu_c is None else nu_c
        if variant in _SKIP_VARIANTS:
            kappas = [0.0]
        else:
            kappas = [kappa_c, -kappa_c] if kappa_c is not None else [0.0]
        for k in kappas:
            q = np.concatenate(([k], inner, [-k]))
            lb, s = _interp_bound(x, y, q, variant)
            if lb > best[0]:
                best = (lb, s, q)
    return best


def _finish_interpolation(data, f, info, variant, method, lb, scale, q, bound_kind, extra_cert=None):
    x, y = data.x, data.y
    value = tv2_cost(f, variant)
    cert = {
        "bound_kind": bound_kind,
        "dual_scale": scale,
        "dual_function_values": q,
        "solver_objective": info["solver_objective"],
        "interpolation_residual": float(np.max(np.abs(f(x) - y))),
        "n_knots": int(f.knots.size),
        "solve_seconds": info["seconds"],
        "size": info["size"],
    }
    if info.get("polish"):
        cert["polish"] = info["polish"]
    if extra_cert:
        cert.update(extra_cert)
    return Solution(function=f, value=float(value), lower_bound=float(lb), status=info["status"],
                    method=method, solver=info["label"], variant=variant, problem="interpolation",
                    x=x, y=y, certificate=cert, accuracy=info["accuracy"],
                    allow_inaccurate=info["allow_inaccurate"])


def _finish_regression(data, lam, f, info, variant, method, extra_cert=None):
    x, y, w = data.x, data.y, data.weights
    fitted = f(x)
    sse = float(np.sum(w * (fitted - y) ** 2)) + data.sse_offset
    cost = tv2_cost(f, variant)
    value = sse + lam * cost
    # Fenchel dual from the residual: at the optimum lam * g = 2 W (y - z) (stationarity in z).
    g_raw = 2.0 * w * (y - fitted) / lam
    q = _certificate_shape(_q_from_lambda(x, g_raw), variant)
    lb, sig = _regression_bound(x, y, w, lam, q, variant, data.sse_offset)
    cert = {
        "bound_kind": "continuous-fenchel-dual",
        "dual_scale": sig,
        "dual_function_values": q,
        "solver_objective": info["solver_objective"] + data.sse_offset,
        "sse": sse,
        "cost": float(cost),
        "n_knots": int(f.knots.size),
        "solve_seconds": info["seconds"],
        "size": info["size"],
    }
    if info.get("polish"):
        cert["polish"] = info["polish"]
    if extra_cert:
        cert.update(extra_cert)
    return Solution(function=f, value=float(value), lower_bound=float(lb), status=info["status"],
                    method=method, solver=info["label"], variant=variant, problem="regression",
                    x=x, y=y, lam=float(lam), fitted=fitted, certificate=cert, accuracy=info["accuracy"],
                    allow_inaccurate=info["allow_inaccurate"])


def _affine_solution(data, variant, problem, lam=None):
    """n = 2 with a free affine part: the line through both points, cost 0 (exact)."""
    x, y = data.x, data.y
    f = PiecewiseLinear.from_values(x, y)
    cert = {"bound_kind": "closed-form", "interpolation_residual": 0.0, "n_knots": 0}
    if problem == "interpolation":
        return Solution(function=f, value=0.0, lower_bound=0.0, status="optimal", method="exact",
                        solver="closed-form", variant=variant, problem=problem, x=x, y=y, certificate=cert,
                        accuracy="exact")
    return Solution(function=f, value=float(data.sse_offset), lower_bound=float(data.sse_offset),
                    status="optimal", method="exact", solver="closed-form", variant=variant,
                    problem=problem, x=x, y=y, lam=float(lam), fitted=y.copy(), certificate=cert, accuracy="exact")


def bias_interpolant(data, *, solver=None, allow_inaccurate=False, solver_options=None):
    r"""V3 minimum-norm interpolant (Boursier--Flammarion), exact SOCP (MATH B.3).

    .. math::
        \min_f \int\sqrt{1+t^2}\,d|f''|(t) \quad\text{s.t.}\quad f(x_i)=y_i,

    over all piecewise-linear :math:`f` with a free affine part. By Jensen's inequality the
    mass and first moment of :math:`f''` on each data interval suffice (one atom per sign
    at the barycentre), which gives the finite SOCP

    .. math::
        \min \sum_{i,\pm}\big\|(m_i^\pm,M_i^\pm)\big\|_2 \quad\text{s.t.}\quad
        x_im_i^\pm\le M_i^\pm\le x_{i+1}m_i^\pm,\ \text{data constraints},

    solved here in endpoint-mass coordinates (see :func:`_socp`). Knots are
    :math:`t=M/m` with jumps :math:`\pm m`; they are polished so the returned function
    interpolates to rounding (``certificate["interpolation_residual"]``), and then replaced by the
    exact minimiser of their support when that is not worse (:func:`_polish_conic`, up to
    ``POLISH_MAX_N`` points; ``certificate["polish"]["conic"]`` records the face and the values
    before and after).

    Parameters
    ----------
    data : Data
        Validated data (``validate_data``).
    solver : str, optional
        cvxpy conic solver; default CLARABEL with tolerances 1e-10.
    allow_inaccurate : bool
        Return status ``"inaccurate"`` instead of raising :class:`SolverError` when the solver
        reports ``optimal_inaccurate`` or the certificate misses the ``"conic"`` tolerance (1e-6
        relative gap; :class:`~solvers.Solution`).
    solver_options : dict, optional
        Overrides of the solver options (for experiments).

    Returns
    -------
    Solution
        ``value`` = :func:`tv2_cost` of the returned function; ``lower_bound`` = dual
        objective of the SOCP's dual certificate :math:`q` (PL, knots at the data, zero outside
        the hull) after rescaling so that :math:`|q(t)|\le\omega(t)` holds exactly for all
        :math:`t` (``certificate["bound_kind"] == "continuous-dual"``): a genuine lower bound on
        the continuous optimum.
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    if data.n == 2:
        return _affine_solution(data, "bias", "interpolation")
    f, info = _socp(data, None, "bias", solver, allow_inaccurate, solver_options)
    lb, s, q = _socp_interpolation_bound(data.x, data.y, "bias", info["nu"], None, info["dual_candidates"])
    return _finish_interpolation(data, f, info, "bias", "exact", lb, s, q, "continuous-dual")


def bias_no_skip_interpolant(data, *, solver=None, allow_inaccurate=False, solver_options=None):
    r"""V4 minimum-norm interpolant (bias penalised, no skip, free output bias), exact SOCP.

    .. math::
        \min_f \max\Big(\int\omega\,d|f''|,\ \int(\omega-1)\,d|f''| + |D|\Big),\quad
        D=f'(-\infty)+f'(+\infty), \quad\text{s.t. } f(x_i)=y_i  \qquad\text{(MATH A.2, B.4)}.

    DERIVED exact reformulation: :math:`\omega` and :math:`\omega-1` are both convex, so for
    fixed mass and first moment on an interval a single atom at the barycentre minimises both
    integrals at once (Jensen) and hence their maximum; data constraints and :math:`D`
    depend only on masses and moments. Knots may also lie on the outer rays, where they
    change :math:`D` but not the data fit; the best position on a ray is its point nearest
    0. See :func:`_socp` for the program; tests check it against the knot-grid LP.

    Returns
    -------
    Solution
        ``lower_bound`` from the dual certificate :math:`(q,\kappa,\theta)`:
        :math:`|\kappa|\le1-\theta`, :math:`|q(t)|\le\omega(t)-1+\theta` on :math:`\mathbb R`
        (checked exactly after rescaling), ``bound_kind == "continuous-dual"``.
        The minimiser need not be unique; one minimiser is returned.
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    f, info = _socp(data, None, "bias-no-skip", solver, allow_inaccurate, solver_options)
    lb, s, q = _socp_interpolation_bound(data.x, data.y, "bias-no-skip", info["nu"], info["kappa"],
                                         info["dual_candidates"])
    return _finish_interpolation(data, f, info, "bias-no-skip", "exact", lb, s, q, "continuous-dual")


def bias_regression(data, lam, *, solver=None, allow_inaccurate=False, solver_options=None):
    r"""V3 regression, exact SOCP (MATH B.3, Regression).

    .. math:: \min_f \sum_i w_i\,(f(x_i)-y_i)^2 + \lambda\int\omega\,d|f''|

    (sum of squares without 1/2; :math:`w` = multiplicities of merged duplicates; the reported
    value adds ``data.sse_offset`` so it is the SSE over the original points). Same SOCP as
    :func:`bias_interpolant` with free fitted values :math:`z` in place of :math:`y`.

    ``lower_bound`` is the Fenchel dual bound (:func:`_regression_bound`) of the dual function
    built from the residual, :math:`\lambda g = 2W(y-f(x))`, rescaled to exact feasibility.
    ``lam == 0`` returns the min-norm interpolant (the limit; the objective is then the SSE
    offset only).
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    if lam == 0:
        sol = bias_interpolant(data, solver=solver, allow_inaccurate=allow_inaccurate, solver_options=solver_options)
        return _as_zero_lam_regression(data, sol)
    if data.n == 2:
        return _affine_solution(data, "bias", "regression", lam)
    f, info = _socp(data, lam, "bias", solver, allow_inaccurate, solver_options)
    return _finish_regression(data, lam, f, info, "bias", "exact")


def bias_no_skip_regression(data, lam, *, solver=None, allow_inaccurate=False, solver_options=None):
    r"""V4 regression, exact SOCP:
    :math:`\min_f\sum_i w_i(f(x_i)-y_i)^2+\lambda\max(\int\omega\,d|f''|,\int(\omega-1)\,d|f''|+|D|)`.

    See :func:`bias_no_skip_interpolant` and :func:`bias_regression` for the program and the
    certificate (Fenchel dual, ``bound_kind == "continuous-fenchel-dual"``).
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    if lam == 0:
        sol = bias_no_skip_interpolant(data, solver=solver, allow_inaccurate=allow_inaccurate,
                                       solver_options=solver_options)
        return _as_zero_lam_regression(data, sol)
    f, info = _socp(data, lam, "bias-no-skip", solver, allow_inaccurate, solver_options)
    return _finish_regression(data, lam, f, info, "bias-no-skip", "exact")


def _as_zero_lam_regression(data, sol):
    off = float(data.sse_offset)
    fitted = sol.function(data.x)
    sse = float(np.sum(data.weights * (fitted - data.y) ** 2)) + off
    cert = dict(sol.certificate)
    cert["bound_kind"] = "lam=0: SSE offset (exact)"
    return Solution(function=sol.function, value=sse, lower_bound=off, status=sol.status, method=sol.method,
                    solver=sol.solver, variant=sol.variant, problem="regression", x=sol.x, y=sol.y, lam=0.0,
                    fitted=fitted, certificate=cert, accuracy=sol.accuracy)


# ----------------------------------------------------------------------------- knot-grid programs
def default_grid(x, variant, per_interval=None):
    r"""Default candidate knots for :func:`grid_interpolant` / :func:`grid_regression`.

    * ``"skip"``/``"no-skip"``: the data only (data knots suffice for V1/V2, so the grid
      program is exact); no-skip adds ``GRID_EXTENSION_POINTS`` points on each side out to
      one data range beyond the hull.
    * ``"bias"``/``"bias-no-skip"``: the data plus a uniform subdivision of every data
      interval into ``r = clip(ceil(GRID_BUDGET/(n-1)), GRID_MIN_SUBDIV, GRID_MAX_SUBDIV)``
      pieces (10 per interval up to n ~ 4000, then ~4e4 points in total, at least 2 per
      interval); bias-no-skip also adds the extension points and 0.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    parts = [x]
    if variant in ("bias", "bias-no-skip") and n > 1:
        r = per_interval or int(np.clip(np.ceil(GRID_BUDGET / (n - 1)), GRID_MIN_SUBDIV, GRID_MAX_SUBDIV))
        fr = np.arange(1, r) / r
        parts.append((x[:-1, None] + np.diff(x)[:, None] * fr[None, :]).ravel())
    if variant in ("no-skip", "bias-no-skip"):
        span = max(x[-1] - x[0], 1.0 if n == 1 else 0.0) or 1.0
        ext = span * np.arange(1, GRID_EXTENSION_POINTS + 1) / GRID_EXTENSION_POINTS
        parts += [x[0] - ext, x[-1] + ext]
        if variant == "bias-no-skip":
            parts.append([0.0])
    return np.unique(np.concatenate([np.ravel(p) for p in parts]))


def _grid_weights(t, variant):
    """(w1, w2): R = max(w1.|J|, w2.|J| + |D|) for no-skip variants, w1.|J| for skip ones."""
    if variant == "skip":
        return np.ones_like(t), None
    if variant == "bias":
        return _omega(t), None
    if variant == "no-skip":
        return np.ones_like(t), np.zeros_like(t)
    om = _omega(t)
    return om, om - 1.0


def _prepare_grid(x, variant, grid):
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; expected one of {', '.join(map(repr, VARIANTS))}")
    if grid is None:
        g = default_grid(x, variant)
    else:
        g = np.asarray(grid, dtype=np.float64).ravel()
        if g.size == 0 or not np.all(np.isfinite(g)):
            raise InputError("grid must be a non-empty 1-D array of finite knot positions")
        extra = [x, [0.0]] if variant == "bias-no-skip" else [x]
        g = np.unique(np.concatenate([g] + [np.ravel(e) for e in extra]))
    if variant in _SKIP_VARIANTS:
        # Knots outside the hull only add cost when the affine part is free.
        g = g[(g >= x[0]) & (g <= x[-1])]
    return g, np.searchsorted(g, x)


def _grid_program(data, lam, variant, solver, allow_inaccurate, grid, solver_options):
    r"""Knot-grid program on grid :math:`t_1<\dots<t_K` (containing the data).

    The dictionary :math:`f(x)=c\,x+d+\sum_k J_k(x-t_k)_+` is parametrised by the slopes
    :math:`\sigma_k` of :math:`f` on the grid intervals, the left slope :math:`c` and the right
    slope :math:`s_R`: :math:`J=(\sigma_1-c,\ \sigma_2-\sigma_1,\dots,\ s_R-\sigma_{K-1})`, and
    the free intercept is eliminated. The data enter as secant slopes,
    :math:`\sum_{k\subset[x_j,x_{j+1}]}(h_k/H_j)\,\sigma_k=s_j` (weights summing to 1), so the
    program is sparse and well conditioned. It is the same set of functions and the same
    objective as the dense relu-matrix LP of MATH B.1 (which, like cvxpy's ``cumsum``, does
    not scale to n = 1e4; value parametrisations are ill conditioned, ~1/h^2).
    """
    _cvx.check_size(data.n, "the cvxpy knot-grid program")
    x, y_orig, w = data.x, data.y, data.weights
    c_scale = _value_scale(x, y_orig, lam)  # see _socp
    y = y_orig / c_scale
    lam = None if lam is None else lam / c_scale
    g, _ = _prepare_grid(x, variant, grid)
    K = g.size
    if K < 2:
        raise InputError("the grid needs at least 2 points")
    n = x.size
    H = np.diff(x)
    hg = np.diff(g)
    mid = 0.5 * (g[:-1] + g[1:])
    owner = np.searchsorted(x, mid, side="right") - 1  # data interval of each grid interval
    inside = (owner >= 0) & (owner <= n - 2)
    cols = np.flatnonzero(inside)
    Ah = sp.csr_matrix((hg[cols], (owner[cols], cols)), shape=(n - 1, K - 1))
    sig = cp.Variable(K - 1)
    c = cp.Variable()
    sR = cp.Variable()
    E = sp.diags([np.ones(K - 1), -np.ones(K - 1)], [0, -1], shape=(K, K - 1), format="csr")
    e0 = np.zeros(K)
    e0[0] = 1.0
    eK = np.zeros(K)
    eK[-1] = 1.0
    J = E @ sig - c * e0 + sR * eK
    w1, w2 = _grid_weights(g, variant)
    absJ = cp.abs(J)
    if w2 is None:
        R = w1 @ absJ
    else:
        R = cp.maximum(w1 @ absJ, w2 @ absJ + cp.abs(c + sR))
    if lam is None:
        fit = sp.diags(1.0 / H) @ Ah @ sig == np.diff(y) / H
        cons = [fit]
        objective = R
        z = None
    else:
        z = cp.Variable(n)
        fit = None
        cons = [Ah @ sig == z[1:] - z[:-1]]
        objective = cp.sum_squares(cp.multiply(np.sqrt(w), z - y)) + lam * R
    problem = cp.Problem(cp.Minimize(objective), cons)
    size = {"n": int(n), "grid": int(K), "variables": int(problem.size_metrics.num_scalar_variables)}
    label, status, seconds = _run(problem, solver, allow_inaccurate, size, solver_options)
    if sig.value is None:
        raise SolverError("solver returned no primal solution", status=status, solver=label, size=size)

    Jv = c_scale * np.asarray(J.value, dtype=np.float64).ravel()
    target = y_orig if z is None else c_scale * np.asarray(z.value, dtype=np.float64)
    # Interior-point noise: drop jumps below MASS_REL_THRESHOLD of the largest jump or data slope.
    thr = MASS_REL_THRESHOLD * max(float(np.max(np.abs(Jv))), float(np.max(np.abs(np.diff(target) / H))))
    Jv = np.where(np.abs(Jv) > thr, Jv, 0.0)
    nz = Jv != 0
    _, _, delta_t = _secants(x, target)
    knots, jumps, added = _repair_jumps(x, g[nz], Jv[nz], delta_t)
    f = _fit_affine(x, target, knots, jumps)
    polish = None
    if z is not None and variant in ("skip", "no-skip") and POLISH_DATA_KNOT:
        # V1/V2 regression: the exact optimum has knots at the data (MATH B.1/B.2), so the conic
        # answer is replaced by the exact minimiser of its face when that is better
        zp, polish = polish_data_knot_regression(x, y_orig, w, lam * c_scale, f(x), variant)
        if polish["face"] is not None:
            from solvers.tv2.core import _fit_function

            fp = _fit_function(x, zp, "linear", variant)
            if _data_knot_objective(x, y_orig, w, lam * c_scale, fp(x), variant) < polish["objective_before"]:
                f = fp
    lam_dual = None
    if fit is not None and fit.dual_value is not None:
        # Dual mu_j of the secant equation j -> coefficient of f(x_j) in the Lagrangian.
        mu = np.asarray(fit.dual_value, dtype=np.float64).ravel() / H
        lam_dual = np.concatenate(([0.0], mu)) - np.concatenate((mu, [0.0]))
    obj = float(problem.value) * (c_scale if lam is None else c_scale**2)
    # V1/V2: knots at the data suffice, so the grid program is exact (solver tolerance only);
    # V3/V4: the grid optimum approaches the continuous one from above (discretisation error)
    info = dict(label=label, status=status, seconds=seconds, solver_objective=obj, value_scale=c_scale,
                size=size, lam_dual=lam_dual, allow_inaccurate=allow_inaccurate,
                accuracy="conic" if variant in ("skip", "no-skip") else "grid",
                polish={"dropped_jumps": int(np.count_nonzero(~nz)), "added_data_knots": added,
                        **({} if polish is None else {"exact_face": polish["face"],
                                                      "objective_before": polish["objective_before"],
                                                      "objective_after": polish["objective_after"]})})
    return f, info


def grid_interpolant(data, variant, *, solver=None, allow_inaccurate=False, grid=None, solver_options=None):
    r"""Minimum-norm interpolant on a knot grid, any variant (``method="cvxpy"``, MATH B.1/B.4).

    .. math::
        \min_{J,c,d} R(J,c) \quad\text{s.t.}\quad c\,x_i+d+\sum_k J_k(x_i-t_k)_+=y_i,

    with :math:`R=\sum w_k|J_k|` (V1: :math:`w=1`; V3: :math:`w=\omega(t_k)`) or
    :math:`R=\max(\sum w_k|J_k|,\ \sum (w_k-1)|J_k| + |2c+\sum J_k|)` (V2: :math:`w=1`;
    V4: :math:`w=\omega(t_k)`), and the grid :math:`t` from :func:`default_grid` (or ``grid``,
    to which the data, and 0 for V4, are added).

    The grid optimum is an **upper bound** on the continuous optimum that decreases to it as the
    grid is refined; it is **exact** for V1/V2 (knots at the data suffice, MATH B.1/B.2) and for
    V4 only the interior knots are approximated (the optimal outer-ray knots, at the data end
    or at 0, are on the grid). The independent cross-check of the exact paths.

    ``lower_bound`` is nevertheless a certified bound on the *continuous* problem: the duals
    :math:`\lambda` of the interpolation constraints define :math:`P(t)=\sum\lambda_j(x_j-t)_+`,
    which is feasible on the grid only; it is rescaled until it is feasible on all of
    :math:`\mathbb R` (:func:`_feasible_scale`), so ``gap`` measures the grid error too.
    Default solver CLARABEL (tolerance 1e-10).
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    f, info = _grid_program(data, None, variant, solver, allow_inaccurate, grid, solver_options)
    x, y = data.x, data.y
    if info["lam_dual"] is not None:
        q = _certificate_shape(_q_from_lambda(x, info["lam_dual"]), variant)
        lb, s = _interp_bound(x, y, q, variant)
        kind = "continuous-dual"
    else:  # pragma: no cover - solvers used here always return duals
        lb, s, q, kind = -np.inf, None, None, "unavailable"
    return _finish_interpolation(data, f, info, variant, "cvxpy", lb, s, q, kind,
                                 {"grid_size": info["size"]["grid"]})


def grid_regression(data, lam, variant, *, solver=None, allow_inaccurate=False, grid=None, solver_options=None):
    r"""Regression on a knot grid, any variant (``method="cvxpy"``):
    :math:`\min\sum_i w_i(f(x_i)-y_i)^2+\lambda R(f)` over the grid dictionary of
    :func:`grid_interpolant` (an upper bound, exact for V1/V2; MATH B.1 Regression).
    ``lower_bound`` is the Fenchel dual bound of the residual-based dual function, certified
    for the continuous problem (``bound_kind == "continuous-fenchel-dual"``).
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    if lam == 0:
        sol = grid_interpolant(data, variant, solver=solver, allow_inaccurate=allow_inaccurate, grid=grid,
                               solver_options=solver_options)
        return _as_zero_lam_regression(data, sol)
    f, info = _grid_program(data, lam, variant, solver, allow_inaccurate, grid, solver_options)
    return _finish_regression(data, lam, f, info, variant, "cvxpy", {"grid_size": info["size"]["grid"]})
