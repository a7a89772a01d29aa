r"""Exact minimum-norm interpolation and regression for the TV2 family (MATH.md B.1, B.2).

Notation (MATH.md): data :math:`x_1<\dots<x_n`, gaps :math:`h_i=x_{i+1}-x_i`, secant slopes
:math:`s_i=(y_{i+1}-y_i)/h_i`, slope changes :math:`d_i=s_i-s_{i-1}` at interior points,
curvature signs :math:`\eta_i=\operatorname{sign}(d_i)` and :math:`V=\sum_i|d_i|`.

Fast exact paths (numpy/scipy only):

- V1 ``"skip"`` (:math:`R=\int|f''|`): value :math:`V` with the dual certificate of B.1, the
  connect-the-dots and the sparsest minimiser, and the envelope of the whole solution set.
- V2 ``"no-skip"`` (:math:`R=\max(\int|f''|,|f'(-\infty)+f'(\infty)|)`): value
  :math:`\max(V,(V+|s_1+s_{n-1}|)/2)` with the canonical minimisers of B.2.
- V1 regression by a primal--dual active-set method on the data-knot problem (banded solves),
  V2 regression by the data-knot conic program; both certified by a dual-feasible point.

The bias-penalised variants and every ``method="cvxpy"`` request are dispatched to
:mod:`solvers.tv2_conic`.

Floating point: a slope change below the rounding level of the data (see
:func:`_curvature_signs`) is treated as exactly zero curvature. Such points break runs of
same-sign curvature and are not knots of the returned functions, so collinear data give
value 0 and no knots.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solveh_banded

from . import _cvx
from ._validation import validate_choice, validate_data, validate_lam
from .errors import InputError, SolverError
from .piecewise import VARIANTS, PiecewiseLinear, tv2_cost
from .solution import Solution

__all__ = ["Envelope", "tv2_envelope", "tv2_interpolant", "tv2_regression"]

METHODS = ("exact", "cvxpy")
SELECTS = ("linear", "sparsest")
_EXACT_VARIANTS = ("skip", "no-skip")

_EPS = np.finfo(np.float64).eps
#: A slope change is "zero" when below this multiple of the data-rounding bound.
_ZERO_CURVATURE_FACTOR = 4.0


# ============================================================================ helpers
def _secants(x, y):
    h = np.diff(x)
    s = np.diff(y) / h
    d = np.diff(s)
    return h, s, d


def _curvature_signs(x, y, h, s, d):
    r"""Robust :math:`\eta_i=\operatorname{sign}(d_i)` with a data-rounding dead zone.

    Rounding ``x`` and ``y`` to double precision (e.g. computing ``y = a*x + b``) moves each
    secant slope by about :math:`\epsilon(|y_i|+|y_{i+1}|+|s_i|(|x_i|+|x_{i+1}|))/h_i`, so a
    slope change below ``4 *`` the sum of the two adjacent bounds carries no information about
    the sign of the curvature. It is set to zero: collinear data in floating point then give
    exactly zero curvature. The bound is invariant under scaling ``x`` or ``y``.

    Returns
    -------
    eta : int8 array of length n-2 (values -1, 0, +1)
    tol : float array of length n-2 (the dead zone)
    """
    if d.size == 0:
        return np.zeros(0, dtype=np.int8), np.zeros(0)
    ay = np.abs(y)
    ax = np.abs(x)
    e = ax[:-1] + ax[1:]
    e *= np.abs(s)
    e += ay[:-1]
    e += ay[1:]
    e /= h
    tol = e[:-1] + e[1:]
    tol *= _ZERO_CURVATURE_FACTOR * _EPS
    eta = np.sign(d).astype(np.int8)
    eta[np.abs(d) <= tol] = 0
    return eta, tol


def _with_flat_ends(nodes, values):
    """PiecewiseLinear whose outer slopes equal the first/last inner slopes bit for bit, so the
    end nodes are anchors and never spurious knots."""
    if nodes.size == 1:  # pragma: no cover - callers always pass >= 2 nodes
        return PiecewiseLinear(nodes, values, 0.0, 0.0)
    sl = (values[1] - values[0]) / (nodes[1] - nodes[0])
    sr = (values[-1] - values[-2]) / (nodes[-1] - nodes[-2])
    return PiecewiseLinear(nodes, values, sl, sr)


def _pair_knots(x, y, h, s, d, i):
    r"""Sparsest knot replacing the data kinks at :math:`x_i, x_{i+1}` (0-based point ``i``).

    Intersection of :math:`\ell_{i-1}` and :math:`\ell_{i+1}` written relative to :math:`x_i`:
    :math:`t^*=x_i+h_i\,d_{i+1}/(d_i+d_{i+1})`, which lies in :math:`[x_i,x_{i+1}]` because
    both slope changes have the same sign (clipped against rounding). The value is evaluated
    on the line whose anchor is nearer, to keep the interpolation error at rounding level.
    """
    di, dn = d[i - 1], d[i]  # slope changes at points i and i+1 (d is indexed from point 1)
    r = np.clip(dn / (di + dn), 0.0, 1.0)
    t = np.clip(x[i] + h[i] * r, x[i], x[i + 1])
    left = y[i] + s[i - 1] * (t - x[i])
    right = y[i + 1] - s[i + 1] * (x[i + 1] - t)
    v = np.where(r <= 0.5, left, right)
    return t, v


def _run_positions(eta):
    """Position of each point inside its maximal run of equal non-zero signs (-1 for zeros)."""
    m = eta.size
    prev = np.empty_like(eta)
    prev[0] = 0
    prev[1:] = eta[:-1]
    nz = eta != 0
    start = nz & (eta != prev)
    starts = np.flatnonzero(start)
    run_id = np.cumsum(start) - 1
    pos = np.arange(m) - starts[np.maximum(run_id, 0)] if starts.size else np.zeros(m, dtype=np.intp)
    return np.where(nz, pos, -1)


def _v1_function(x, y, h, s, d, eta, select, with_index=False):
    r"""A V1 minimiser for data with curvature signs ``eta`` (MATH B.1 (i) or (iii)).

    ``"linear"``: nodes at the data with non-zero curvature (plus both ends), linear extension.
    ``"sparsest"``: in each maximal run of k equal signs, consecutive points are paired left to
    right and each pair's two kinks are replaced by one at :math:`t^*`; an odd run keeps its last
    data kink. Knot count :math:`\sum_{runs}\lceil k/2\rceil`. O(n), vectorised.
    """
    n = x.size
    if n == 2 or not np.any(eta) or select == "linear":
        f = _v1_linear(x, y, eta)
        return (f, None) if with_index else f
    f, idx = _v1_sparsest(x, y, h, s, d, eta)
    return (f, idx) if with_index else f


def _v1_linear(x, y, eta):
    if x.size == 2 or not np.any(eta):
        return _with_flat_ends(x[[0, -1]], y[[0, -1]])
    if np.all(eta):
        return _with_flat_ends(x, y)
    keep = np.concatenate(([True], eta != 0, [True]))
    return _with_flat_ends(x[keep], y[keep])


def _v1_sparsest(x, y, h, s, d, eta):
    n = x.size
    pos = _run_positions(eta)
    nxt = np.zeros_like(eta)
    nxt[:-1] = eta[1:]
    even = (pos >= 0) & (pos % 2 == 0)
    leader = even & (nxt == eta)  # first of a pair: the next point continues the run
    chosen = np.flatnonzero(even)  # leaders and the single last point of odd runs
    pts = chosen + 1  # 0-based point index
    t = x[pts].copy()
    v = y[pts].copy()
    lead = leader[chosen]
    if np.any(lead):
        t[lead], v[lead] = _pair_knots(x, y, h, s, d, pts[lead])
    nodes = np.concatenate((x[:1], t, x[-1:]))
    values = np.concatenate((y[:1], v, y[-1:]))
    f = _with_flat_ends(nodes, values)
    # Piece index of every data point without a search: point j lies right of x_0 and of the
    # nodes chosen at points < j (a pair's t* <= x_{i+1}), and left of the others.
    cnt = np.zeros(n, dtype=np.intp)
    cnt[np.where(lead, pts + 1, pts)] = 1  # a single's node is at its own point (side="right")
    f_idx = 1 + np.cumsum(cnt)
    f_idx[-1] = nodes.size
    return f, f_idx


def _fitted_from_index(f, x, y, idx):
    """f(x) given the piece index of each x (as ``PiecewiseLinear.__call__`` computes it)."""
    anchor = idx - 1
    slopes = np.diff(f.values) / np.diff(f.nodes)
    sl = np.concatenate(([f.slope_left], slopes, [f.slope_right]))
    out = f.values[anchor] + sl[idx] * (x - f.nodes[anchor])
    return out


def _v2_adjust(f1, select):
    r"""Canonical V2 minimiser from a V1 minimiser (MATH B.2).

    If :math:`|S|>V` with :math:`S=f'(-\infty)+f'(\infty)`, let :math:`\tau=(|S|-V)/2` and lower
    :math:`|S|` by :math:`\tau` through outer kinks at the hull's ends: half on each side for
    ``"linear"``, all on the left for ``"sparsest"`` (one extra knot). Then
    :math:`\int|f''|=V+\tau=|S|-\tau=(V+|S|)/2`.
    """
    V = f1.total_variation()
    S = f1.slope_left + f1.slope_right
    if abs(S) <= V:
        return f1, 0.0
    tau = 0.5 * (abs(S) - V)
    sg = np.sign(S)
    if select == "sparsest":
        sl, sr = f1.slope_left - sg * tau, f1.slope_right
    else:
        sl, sr = f1.slope_left - sg * 0.5 * tau, f1.slope_right - sg * 0.5 * tau
    return PiecewiseLinear(f1.nodes, f1.values, sl, sr), float(tau)


def _eval_at_data(f, x, y):
    """f(x); exact copy of y when the nodes are the data (no evaluation needed)."""
    if f.nodes.size == x.size and np.array_equal(f.nodes, x):
        return y.copy()  # f(node) is the stored value bit for bit
    return f(x)


# ============================================================================ certificate
def _v1_certificate(x, y, h, s, d, eta):
    r"""Dual certificate of MATH B.1 for the V1 interpolation problem.

    :math:`p` is the PL function with :math:`p(x_1)=p(x_n)=0`, :math:`p(x_i)=\eta_i`, zero outside
    the hull; :math:`\lambda_i` are the jumps of :math:`p'`. For every interpolant :math:`f`,
    :math:`\sum_i\lambda_i y_i=\int p\,f''\le\max|p|\int|f''|`, so with :math:`|p|\le1` the dual
    objective is a lower bound whatever ``eta`` is. By summation by parts it equals
    :math:`\sum_i\eta_i d_i`, which is used as the bound because it is free of the cancellation
    in :math:`\sum\lambda_i y_i` (terms of size :math:`|y|/h`); the direct sum is reported too.
    """
    n = x.size
    e = np.zeros(n)
    e[1:-1] = eta
    dp = np.diff(e)
    dp /= h  # p' on each data interval
    lam = np.empty(n)
    lam[0] = dp[0]
    lam[-1] = -dp[-1]
    np.subtract(dp[1:], dp[:-1], out=lam[1:-1])
    bound = float(np.dot(e[1:-1], d)) if d.size else 0.0
    scale = float(np.sum(np.abs(lam))) or 1.0
    half = 0.5 * (x[-1] - x[0])
    xc = x - (x[0] + half)  # centred: the residual is origin-independent since sum(lam)=0
    sum_lam = float(np.sum(lam))
    sum_lam_x = float(np.dot(lam, xc))
    cert = {
        "kind": "dual piecewise-linear function p (MATH B.1)",
        "eta": eta,
        "lambda": lam,
        "dual_objective": bound,
        "dual_objective_direct": float(np.dot(lam, y)),
        "sum_lambda": sum_lam,
        "sum_lambda_x": sum_lam_x,
        "relative_sum_lambda": abs(sum_lam) / scale,
        "relative_sum_lambda_x": abs(sum_lam_x) / (scale * half),
        "max_abs_p": float(np.max(np.abs(eta))) if eta.size else 0.0,
        "zero_curvature_points": int(eta.size - np.count_nonzero(eta)),
    }
    return bound, cert


# ============================================================================ interpolation
def tv2_interpolant(x, y, *, variant="skip", select="linear", method="exact", solver=None,
                    allow_inaccurate=False):
    r"""Minimum-norm interpolant: :math:`\min R(f)` s.t. :math:`f(x_i)=y_i` (MATH B).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Data, n >= 2 distinct abscissae, finite. Unsorted ``x`` is sorted (the result is
        identical to that for sorted input); identical repeated pairs are merged; a repeated
        ``x`` with different ``y`` raises :class:`InputError`.
    variant : {"skip", "no-skip", "bias", "bias-no-skip"}
        Cost :math:`R` (MATH A.2): ``"skip"`` :math:`\int|f''|` (V1);
        ``"no-skip"`` :math:`\max(\int|f''|,|f'(-\infty)+f'(\infty)|)` (V2, Savarese);
        ``"bias"`` :math:`\int\sqrt{1+t^2}\,d|f''|` (V3); ``"bias-no-skip"`` (V4).
    select : {"linear", "sparsest"}
        Which minimiser to return where the V1/V2 solution set is not a point:
        ``"linear"`` connects the dots (linear extension; for V2 plus symmetric outer kinks),
        ``"sparsest"`` has the fewest knots, :math:`\sum_{runs}\lceil k/2\rceil` (+1 for V2
        when the boundary term binds). V3/V4 solutions are unique: ``select`` does not apply.
    method : {"exact", "cvxpy"}
        ``"exact"``: closed form, O(n) (V1, V2) or the exact SOCP (V3, V4, in
        :mod:`solvers.tv2_conic`). ``"cvxpy"``: independent knot-grid program (cross-check).
    solver : str, optional
        cvxpy solver for the conic paths (CLARABEL by default); unused by the closed forms.
    allow_inaccurate : bool
        Accept ``optimal_inaccurate`` from a conic solver (the status is carried in the result).

    Returns
    -------
    Solution
        ``value`` is :func:`tv2_cost` of the returned function. For V1, ``lower_bound`` is the
        dual objective :math:`\sum\lambda_i y_i=\sum\eta_i d_i` of the certificate (MATH B.1),
        and ``certificate`` holds :math:`\eta`, :math:`\lambda` and the residuals
        :math:`\sum\lambda_i`, :math:`\sum\lambda_i x_i`, :math:`\max|p|`. For V2 the bound is
        :math:`\max(L,(L+|s_1+s_{n-1}|)/2)` with :math:`L` the V1 bound: every interpolant
        has :math:`\int|f''|\ge L+|s_1-f'(-\infty)|+|f'(\infty)-s_{n-1}|`.

    Notes
    -----
    V1 value :math:`V=\sum_{i=2}^{n-1}|s_i-s_{i-1}|`; V2 value
    :math:`\max(V,(V+|s_1+s_{n-1}|)/2)`, :math:`|s_1|` for n = 2 (MATH B.2).
    Slope changes below the data-rounding level count as zero curvature (module docstring).
    """
    validate_choice(variant, "variant", VARIANTS)
    validate_choice(method, "method", METHODS)
    validate_choice(select, "select", SELECTS)
    if variant not in _EXACT_VARIANTS and select != "linear":
        raise InputError(
            f"select={select!r} does not apply to variant={variant!r}: the V3/V4 minimum-norm "
            "interpolant is unique, so there is nothing to select"
        )
    if method == "cvxpy" and select != "linear":
        raise InputError(
            f"select={select!r} applies to method='exact' only; the knot-grid program of "
            "method='cvxpy' returns whichever minimiser its solver finds"
        )
    data = validate_data(x, y, min_points=2, duplicates="merge-identical")
    if method == "cvxpy":
        from . import tv2_conic

        return tv2_conic.grid_interpolant(data, variant, solver=solver, allow_inaccurate=allow_inaccurate)
    if variant == "bias":
        from . import tv2_conic

        return tv2_conic.bias_interpolant(data, solver=solver, allow_inaccurate=allow_inaccurate)
    if variant == "bias-no-skip":
        from . import tv2_conic

        return tv2_conic.bias_no_skip_interpolant(data, solver=solver, allow_inaccurate=allow_inaccurate)
    return _exact_interpolant(data.x, data.y, variant, select)


def _exact_interpolant(x, y, variant, select):
    h, s, d = _secants(x, y)
    eta, tol = _curvature_signs(x, y, h, s, d)
    f, idx = _v1_function(x, y, h, s, d, eta, select, with_index=True)
    bound, cert = _v1_certificate(x, y, h, s, d, eta)
    if variant == "no-skip":
        S = float(s[0] + s[-1])
        cert["v1_lower_bound"] = bound
        cert["boundary_sum_slopes"] = S
        bound = max(bound, 0.5 * (bound + abs(S)))
        f, tau = _v2_adjust(f, select)
        cert["boundary_tau"] = tau
        cert["kind"] = "closed-form V2 bound max(L, (L+|s_1+s_{n-1}|)/2) from the V1 dual certificate L"
    fitted = _eval_at_data(f, x, y) if idx is None else _fitted_from_index(f, x, y, idx)
    cert["interpolation_residual"] = float(np.max(np.abs(fitted - y)))
    return Solution(
        function=f, value=tv2_cost(f, variant), lower_bound=float(bound), status="optimal",
        method="exact", solver="closed-form", variant=variant, problem="interpolation",
        x=x, y=y, fitted=fitted, certificate=cert, select=select,
    )


# ============================================================================ envelope
@dataclass
class Envelope:
    r"""Pointwise bounds of the whole V1 solution set :math:`\{f: f(x_i)=y_i,\ \int|f''|=V\}`.

    MATH B.1 (a)--(c): every minimiser is the connect-the-dots interpolant with linear
    extension, except on *free* intervals :math:`[x_i,x_{i+1}]` (:math:`\eta_i=\eta_{i+1}\ne0`),
    where for :math:`\eta=+1`, :math:`\max(\ell_{i-1},\ell_{i+1})\le f\le\ell_i` (reversed for
    :math:`\eta=-1`). Both bounds are piecewise linear (:attr:`lower_function`,
    :attr:`upper_function`) and attained pointwise.

    Attributes
    ----------
    x, y : ndarray
        Validated data.
    free_intervals : ndarray, shape (m, 2)
        The free intervals :math:`(x_i, x_{i+1})`.
    free_signs : ndarray, shape (m,)
        Their curvature sign (+1 convex, -1 concave).
    lower_function, upper_function : PiecewiseLinear
    """

    x: np.ndarray
    y: np.ndarray
    free_intervals: np.ndarray
    free_signs: np.ndarray
    lower_function: PiecewiseLinear
    upper_function: PiecewiseLinear
    certificate: dict = field(default_factory=dict)

    def lower(self, t):
        """Pointwise minimum over all V1 minimisers at ``t`` (vectorised)."""
        return self.lower_function(t)

    def upper(self, t):
        """Pointwise maximum over all V1 minimisers at ``t`` (vectorised)."""
        return self.upper_function(t)

    def __call__(self, t):
        return self.lower(t), self.upper(t)

    @property
    def width(self):
        """Maximal width upper - lower (attained at a free interval's t*; 0 if unique)."""
        nodes = np.union1d(self.lower_function.nodes, self.upper_function.nodes)
        return float(np.max(self.upper(nodes) - self.lower(nodes)))

    def violation(self, f, grid=None, interval=None):
        r"""How far ``f`` leaves the envelope: :math:`\max_t\max(lo(t)-f(t),\,f(t)-hi(t),\,0)`.

        Parameters
        ----------
        f : PiecewiseLinear, Solution of one, or callable
            For a piecewise-linear ``f`` (anything with ``nodes``) the maximum is exact: the
            difference of two PL functions is PL, so it is attained at the union of all
            breakpoints, which are the evaluation points (restricted to ``interval``).
        grid : array_like, optional
            Evaluation points for a general callable (added to the breakpoints for PL ``f``).
            Default for a general callable: 4001 points over ``interval`` plus the envelope's
            breakpoints.
        interval : (a, b), optional
            Where to measure (end points included). Default: the data hull widened by 25 % on
            each side, the comparison layer's default, so extrapolation counts.

        Notes
        -----
        Outside the outermost breakpoint all three functions are affine, so on the whole line the
        violation is infinite unless ``f``'s outer slopes equal the first/last secant slopes; a
        trained network also has kinks of negligible mass far away (-b/w ~ 1e90 for units that
        weight decay switched off). Hence the maximum is always over a finite ``interval``.
        """
        fn = getattr(f, "function", f)
        if interval is None:
            span = self.x[-1] - self.x[0]
            interval = (self.x[0] - 0.25 * span, self.x[-1] + 0.25 * span)
        a, b = (float(v) for v in interval)
        if not a <= b:
            raise InputError(f"interval must satisfy a <= b; got {interval!r}")
        pts = [self.lower_function.nodes, self.upper_function.nodes, [a, b]]
        if hasattr(fn, "nodes"):
            pts.append(np.asarray(fn.nodes, dtype=np.float64))
        elif grid is None:
            pts.append(np.linspace(a, b, 4001))
        if grid is not None:
            pts.append(np.asarray(grid, dtype=np.float64).ravel())
        t = np.unique(np.concatenate(pts))
        t = t[(t >= a) & (t <= b)]
        ft = np.asarray(fn(t), dtype=np.float64)
        viol = np.maximum(self.lower(t) - ft, ft - self.upper(t))
        return float(max(0.0, np.max(viol)))

    def contains(self, f, tol=1e-9, **kw):
        """True when :meth:`violation` is at most ``tol * (1 + max|y|)``."""
        return self.violation(f, **kw) <= tol * (1.0 + float(np.max(np.abs(self.y))))


def tv2_envelope(x, y):
    r"""Envelope of the V1 (``"skip"``) minimum-norm interpolants (MATH B.1 (a)--(c)).

    Parameters
    ----------
    x, y : array_like
        Data as for :func:`tv2_interpolant`.

    Returns
    -------
    Envelope
        ``lower(t)``, ``upper(t)`` on all of :math:`\mathbb{R}` (the solution is unique
        outside the free intervals, including outside :math:`[x_1,x_n]`), ``free_intervals``
        and ``violation(f)``.
    """
    data = validate_data(x, y, min_points=2, duplicates="merge-identical")
    x, y = data.x, data.y
    h, s, d = _secants(x, y)
    eta, _ = _curvature_signs(x, y, h, s, d)
    if eta.size >= 2:
        free_j = np.flatnonzero((eta[:-1] == eta[1:]) & (eta[:-1] != 0))
    else:
        free_j = np.zeros(0, dtype=np.intp)
    seg = free_j + 1  # 0-based segment (and left point) index of each free interval
    signs = eta[free_j].astype(np.int8)
    lo_x, lo_y, hi_x, hi_y = x, y, x, y
    if seg.size:
        t, v = _pair_knots(x, y, h, s, d, seg)
        inner = (t > x[seg]) & (t < x[seg + 1])  # t* on an end point adds no breakpoint
        for sg, which in ((1, "lo"), (-1, "hi")):
            m = inner & (signs == sg)
            nodes = np.insert(x, seg[m] + 1, t[m])
            vals = np.insert(y, seg[m] + 1, v[m])
            if which == "lo":
                lo_x, lo_y = nodes, vals
            else:
                hi_x, hi_y = nodes, vals
    lower = PiecewiseLinear.from_values(lo_x, lo_y, s[0], s[-1])
    upper = PiecewiseLinear.from_values(hi_x, hi_y, s[0], s[-1])
    free = np.column_stack((x[seg], x[seg + 1])) if seg.size else np.zeros((0, 2))
    return Envelope(x=x, y=y, free_intervals=free, free_signs=signs, lower_function=lower,
                    upper_function=upper, certificate={"eta": eta})


# ============================================================================ regression
def _second_diff(x, h, z):
    """(Dz)_i = slope change of the interpolant of z at interior x_i."""
    return np.diff(np.diff(z) / h)


def _D_transpose(h, u):
    r""":math:`D^\top u`: jumps of :math:`p'` for the PL function with values ``u`` at interior
    points and 0 at both ends (exactly in the range of :math:`D^\top` by construction)."""
    e = np.zeros(h.size + 1)
    e[1:-1] = u
    dp = np.diff(e) / h
    g = np.empty(h.size + 1)
    g[0] = dp[0]
    g[-1] = -dp[-1]
    g[1:-1] = np.diff(dp)
    return g


def _p_from_jumps(x, h, g):
    r"""Values at ``x`` of :math:`p(t)=\sum_j g_j(t-x_j)_+`, after projecting ``g`` onto the
    orthogonal complement of affine functions (= range of :math:`D^\top`), so that ``p`` vanishes
    at both ends up to rounding."""
    n = x.size
    xc = x - np.mean(x)
    g = g - np.mean(g)
    nx = float(np.dot(xc, xc))
    if nx > 0:
        g = g - (np.dot(g, xc) / nx) * xc
    slope = np.cumsum(g[:-1])
    p = np.empty(n)
    p[0] = 0.0
    p[1:] = np.cumsum(slope * h)
    return p


def _sse(w, z, y, offset):
    r = z - y
    return float(np.dot(w, r * r)) + offset


def _dual_bound(x, y, w, offset, lam, h, z, variant):
    r"""A certified lower bound on :math:`\min_z \sum w(z-y)^2+\lambda R(z)` from a primal point.

    :math:`R` is a support function, :math:`R(z)=\max_{g\in G}g^\top z`, with
    :math:`G=\{D^\top u:\|u\|_\infty\le1\}` for V1 and
    :math:`G=\{D^\top\tilde u+qS:\ \|\tilde u\|_\infty\le\alpha,\ |q|\le1-\alpha,\ \alpha\in[\tfrac12,1]\}`
    for V2 (:math:`S^\top z=s_1+s_{n-1}`; :math:`\alpha=1` gives :math:`V`, :math:`\alpha=\frac12`
    gives :math:`(V+|S|)/2`). For any :math:`g\in G`, weak duality gives

    .. math:: \min_z \sum w(z-y)^2+\lambda g^\top z = \lambda g^\top y-\tfrac{\lambda^2}{4}g^\top W^{-1}g,

    a lower bound. :math:`g` is built from the stationarity condition
    :math:`g^*=\tfrac2\lambda W(y-z)` at ``z``, decomposed and scaled into :math:`G`; so the gap
    is 0 at the exact optimum and otherwise measures how far ``z`` is from it.
    """
    n = x.size
    gstar = (2.0 / lam) * w * (y - z)
    dy = _second_diff(x, h, y)
    info = {}
    if variant == "no-skip":
        Svec = np.zeros(n)
        Svec[0] -= 1.0 / h[0]
        Svec[1] += 1.0 / h[0]
        Svec[-2] -= 1.0 / h[-1]
        Svec[-1] += 1.0 / h[-1]
        q = 0.5 * float(np.dot(gstar, x - np.mean(x)))  # <S, x> = 2 and <S, 1> = 0
        rest = gstar - q * Svec
    else:
        q, Svec, rest = 0.0, None, gstar
    p = _p_from_jumps(x, h, rest)[1:-1]
    m = float(np.max(np.abs(p))) if p.size else 0.0
    c = abs(q)
    if variant == "no-skip":
        kappa = min(1.0, 1.0 / (m + c) if m + c > 0 else 1.0, 0.5 / c if c > 0 else 1.0)
    else:
        kappa = min(1.0, 1.0 / m if m > 0 else 1.0)
    u = kappa * p
    q = kappa * q
    g = _D_transpose(h, u) if n > 2 else np.zeros(n)
    lin = float(np.dot(u, dy)) if n > 2 else 0.0
    if variant == "no-skip":
        g = g + q * Svec
        lin += q * float((y[1] - y[0]) / h[0] + (y[-1] - y[-2]) / h[-1])
    bound = lam * lin - 0.25 * lam * lam * float(np.dot(g, g / w)) + offset
    info.update({"dual_scale": kappa, "max_abs_u_before_scaling": m, "boundary_multiplier": q})
    return bound, info


def _ls_line(x, y, w):
    xm = np.dot(w, x) / np.sum(w)
    xc = x - xm
    ym = np.dot(w, y) / np.sum(w)
    b = np.dot(w * xc, y - ym) / np.dot(w * xc, xc)
    return ym + b * xc, float(b), float(ym - b * xm)


def _lam_max(x, h, y, w):
    r"""Smallest :math:`\lambda` at which the weighted least-squares line is the V1 fit:
    :math:`\lambda_{max}=2\max_i|p(x_i)|` with :math:`p''=\sum_j w_j(y_j-\hat y_j)\delta_{x_j}`
    (KKT: :math:`2W(z-y)+\lambda D^\top u=0`, :math:`|u|\le1`)."""
    zls, slope, icpt = _ls_line(x, y, w)
    if x.size <= 2:
        return 0.0, zls, slope, icpt
    p = _p_from_jumps(x, h, w * (y - zls))
    return 2.0 * float(np.max(np.abs(p[1:-1]))), zls, slope, icpt


def _reduced_fit(x, y, w, lam, nodes, sig):
    r"""Exact minimiser over PL functions with knots only at ``nodes`` (data indices, both ends
    included) of :math:`\sum w(z-y)^2+\lambda\sum_a\sigma_a\,(Dz)_a`.

    In the hat basis of the nodes the normal matrix :math:`B^\top WB` is tridiagonal and SPD
    (each node is a data point), so one banded Cholesky solve gives the node values ``v``.
    """
    n = x.size
    X = x[nodes]
    H = np.diff(X)
    m = X.size
    k = np.empty(n, dtype=np.intp)
    k[:-1] = np.repeat(np.arange(m - 1), np.diff(nodes))
    k[-1] = m - 2
    phi = (x - X[k]) / H[k]
    a = 1.0 - phi
    wa, wp = w * a, w * phi
    diag = np.bincount(k, wa * a, minlength=m) + np.bincount(k + 1, wp * phi, minlength=m)
    off = np.bincount(k, wa * phi, minlength=m)[: m - 1]
    rhs = np.bincount(k, wa * y, minlength=m) + np.bincount(k + 1, wp * y, minlength=m)
    if m > 2:
        cs = sig.astype(np.float64)
        jt = np.zeros(m)
        jt[:-2] += cs / H[:-1]
        jt[1:-1] -= cs * (1.0 / H[:-1] + 1.0 / H[1:])
        jt[2:] += cs / H[1:]
        rhs -= 0.5 * lam * jt
    ab = np.zeros((2, m))
    ab[0, 1:] = off
    ab[1] = diag
    v = solveh_banded(ab, rhs, check_finite=False)
    z = v[k] * a + v[k + 1] * phi
    z[nodes] = v  # exact at the nodes
    return v, z


def _v1_regression_pdas(x, y, w, lam, sig0=None, maxiter=500, tol=1e-10):
    r"""Active-set method for :math:`\min_z\sum w(z-y)^2+\lambda\|Dz\|_1` (exact, O(n) per step).

    KKT: :math:`2W(z-y)+\lambda D^\top u=0`, :math:`u_i=\operatorname{sign}((Dz)_i)` where
    :math:`(Dz)_i\ne0`, :math:`|u_i|\le1` elsewhere. Given signed knots (the active set), the
    reduced problem is one tridiagonal least-squares solve (:func:`_reduced_fit`), and ``u``
    follows in O(n) as the values of the PL function whose slope jumps are
    :math:`\frac2\lambda W(y-z)`. Working on the primal knots instead of the dual box QP avoids
    the :math:`O(n^4)` conditioning of :math:`DW^{-1}D^\top`.

    Update (a damped primal--dual active-set step): every knot whose slope change has the wrong
    sign is dropped, and in each maximal block of consecutive points with :math:`|u_i|>1` (same
    sign) only the point of largest :math:`|u_i|` becomes a knot. Plain PDAS (adding every
    violator) oscillates here because :math:`DW^{-1}D^\top` is not an M-matrix. If an active set
    repeats (a cycle), the next few steps make single changes by the least-index rule (Murty's
    method, finite for this P-matrix complementarity problem), then block steps resume.

    Returns (sig, nodes, v, z, iterations, converged).
    """
    n = x.size
    sig = np.zeros(n, dtype=np.int8) if sig0 is None else sig0.astype(np.int8).copy()
    sig[0] = sig[-1] = 0
    seen = set()
    single = 0  # remaining single-change iterations after a detected cycle
    h = np.diff(x)
    for it in range(1, maxiter + 1):
        nodes = np.concatenate(([0], np.flatnonzero(sig), [n - 1]))
        v, z = _reduced_fit(x, y, w, lam, nodes, sig[nodes[1:-1]])
        u = _p_from_jumps(x, h, (2.0 / lam) * w * (y - z))
        if nodes.size > 2:
            mu = _second_diff(x[nodes], np.diff(x[nodes]), v)
            act = nodes[1:-1]
            wrong = act[sig[act] * mu <= 0]
        else:
            wrong = np.zeros(0, dtype=np.intp)
        inact = sig == 0
        inact[0] = inact[-1] = False
        viol = np.zeros(n, dtype=np.int8)
        viol[inact & (u > 1.0 + tol)] = 1
        viol[inact & (u < -1.0 - tol)] = -1
        vidx = np.flatnonzero(viol)
        if wrong.size == 0 and vidx.size == 0:
            return sig, nodes, v, z, it, True
        new = sig.copy()
        if single:
            single -= 1
            first_w = wrong[0] if wrong.size else n
            first_v = vidx[0] if vidx.size else n
            if first_w < first_v:
                new[first_w] = 0
            else:
                new[first_v] = viol[first_v]
        else:
            new[wrong] = 0
            if vidx.size:
                vv = viol[vidx]
                block = np.cumsum(np.concatenate(([True], (np.diff(vidx) != 1) | (vv[1:] != vv[:-1])))) - 1
                order = np.lexsort((-np.abs(u[vidx]), block))
                firsts = order[np.concatenate(([True], block[order][1:] != block[order][:-1]))]
                pick = vidx[firsts]
                new[pick] = viol[pick]
            key = new.tobytes()
            if key in seen:
                single = 8
            seen.add(key)
        sig = new
    return sig, nodes, v, z, maxiter, False


def _regression_solution(data, lam, variant, f, z_hint, method, solver, status, cert, select):
    x, y, w = data.x, data.y, data.weights
    h = np.diff(x)
    fitted = f(x)
    value = _sse(w, fitted, y, data.sse_offset) + lam * tv2_cost(f, variant)
    if lam > 0:
        bound, info = _dual_bound(x, y, w, data.sse_offset, lam, h, z_hint, variant)
        cert.update(info)
    else:
        bound = data.sse_offset  # every f has SSE >= the part removed by averaging duplicates
    cert["primal_objective"] = value
    cert["dual_objective"] = bound
    return Solution(
        function=f, value=value, lower_bound=float(bound), status=status, method=method, solver=solver,
        variant=variant, problem="regression", x=x, y=y, lam=lam, fitted=fitted, certificate=cert,
        select=select,
    )


def _v1_data_knot_cvxpy(data, lam, solver, allow_inaccurate, variant="skip"):
    """The data-knot program of MATH B.1/B.2 (Regression) in cvxpy; returns (z, label, status)."""
    import cvxpy as cp

    _cvx.check_size(data.n, "the cvxpy data-knot program")

    x, y, w = data.x, data.y, data.weights
    n = x.size
    h = np.diff(x)
    z = cp.Variable(n)
    s = cp.multiply(1.0 / h, cp.diff(z))
    V = cp.norm1(cp.diff(s)) if n > 2 else 0.0
    if variant == "no-skip":
        R = cp.maximum(V, 0.5 * (V + cp.abs(s[0] + s[n - 2])))
    else:
        R = V
    obj = cp.sum_squares(cp.multiply(np.sqrt(w), z - y)) + lam * R
    prob = cp.Problem(cp.Minimize(obj))
    label, status = _cvx.solve(prob, solver, allow_inaccurate=allow_inaccurate,
                               size={"n": n, "variables": n})
    return np.asarray(z.value, dtype=np.float64), label, status


def tv2_regression(x, y, lam, *, variant="skip", method="exact", select="linear", solver=None,
                   allow_inaccurate=False):
    r"""Minimum-norm regression :math:`\min_f\ \sum_i(f(x_i)-y_i)^2+\mathrm{lam}\cdot R(f)`.

    The loss is the plain sum of squares **without** a factor 1/2, as in scipy's
    ``make_smoothing_spline``. The objective :math:`\frac12\sum(f(x_i)-y_i)^2+\lambda' R(f)`
    corresponds to ``lam = 2*lambda'``; weight decay :math:`\frac{wd}{2}\|\theta\|^2` on the
    loss :math:`\sum(f(x_i)-y_i)^2` corresponds to ``lam = wd`` (MATH A.1--A.2).

    Parameters
    ----------
    x, y : array_like
        Data. Repeated ``x`` are merged into the mean ``y`` with weight = count; the reported
        ``value`` is still the sum of squares over the original points.
    lam : float
        Regularisation constant, >= 0. ``lam = 0`` is interpolation of the (averaged) data.
    variant : {"skip", "no-skip", "bias", "bias-no-skip"}
        Cost :math:`R` (MATH A.2).
    method : {"exact", "cvxpy"}
        ``"exact"``: V1 by a primal--dual active-set method on the data-knot problem
        :math:`\min_z\sum w_i(z_i-y_i)^2+\mathrm{lam}\sum|s_i(z)-s_{i-1}(z)|` (knots at the
        data suffice, MATH B.1) with banded solves, falling back to the cvxpy data-knot QP
        if it does not converge (recorded in ``solver``); V2 by the data-knot conic program of
        MATH B.2; V3/V4 by the exact SOCPs of :mod:`solvers.tv2_conic`. ``"cvxpy"``: knot-grid
        programs of :mod:`solvers.tv2_conic`.
    select : {"linear", "sparsest"}
        V1/V2: which interpolant of the (unique) fitted values to return.
    solver : str, optional
        cvxpy solver for conic paths (default CLARABEL).
    allow_inaccurate : bool
        Accept ``optimal_inaccurate`` from a conic solver.

    Returns
    -------
    Solution
        ``value`` recomputed from the returned function; ``lower_bound`` from a dual-feasible
        point (:func:`_dual_bound`); for V1 ``certificate["lam_max"]``, the smallest ``lam``
        for which the fit is the (weighted) least-squares line, and that line.
    """
    validate_choice(variant, "variant", VARIANTS)
    validate_choice(method, "method", METHODS)
    validate_choice(select, "select", SELECTS)
    lam = validate_lam(lam)
    if variant not in _EXACT_VARIANTS and select != "linear":
        raise InputError(
            f"select={select!r} does not apply to variant={variant!r}: the V3/V4 fit is unique"
        )
    if method == "cvxpy" and select != "linear":
        raise InputError(f"select={select!r} applies to method='exact' only")
    data = validate_data(x, y, min_points=2, duplicates="average")
    if method == "cvxpy" or variant not in _EXACT_VARIANTS:
        from . import tv2_conic

        kw = {"solver": solver, "allow_inaccurate": allow_inaccurate}
        if method == "cvxpy":
            return tv2_conic.grid_regression(data, lam, variant, **kw)
        if variant == "bias":
            return tv2_conic.bias_regression(data, lam, **kw)
        return tv2_conic.bias_no_skip_regression(data, lam, **kw)

    x, y, w = data.x, data.y, data.weights
    h = np.diff(x)
    lam_max, zls, slope, icpt = _lam_max(x, h, y, w)
    cert = {"lam_max": lam_max, "ls_line": (slope, icpt)} if variant == "skip" else {}
    if lam == 0.0 or x.size == 2:
        # lam = 0 interpolates; with 2 points and V1 the interpolating line costs nothing.
        # (V2 with 2 points and lam > 0 still trades the boundary term: conic path below.)
        if lam == 0.0 or variant == "skip":
            sol = _exact_interpolant(x, y, variant, select)
            return _regression_solution(data, lam, variant, sol.function, y, "exact", "closed-form",
                                        "optimal", cert, select)
    if variant == "skip":
        return _v1_regression(data, lam, select, solver, allow_inaccurate, cert, lam_max)
    z, label, status = _v1_data_knot_cvxpy(data, lam, solver, allow_inaccurate, variant="no-skip")
    f = _best_v2_function(data, lam, z, select)
    cert["kind"] = "data-knot conic program (MATH B.2) + dual-feasible point from stationarity"
    return _regression_solution(data, lam, variant, f, z, "exact", label, status, cert, select)


def _fit_function(x, z, select, variant, eta=None):
    h, s, d = _secants(x, z)
    if eta is None:
        eta, _ = _curvature_signs(x, z, h, s, d)
    f = _v1_function(x, z, h, s, d, eta, select)
    if variant == "no-skip":
        f, _ = _v2_adjust(f, select)
    return f


def _best_v2_function(data, lam, z, select):
    """V2 interpolant of the solver's fitted values, or of a version with solver-noise
    curvature (below 1e-7 of the largest slope change) removed, whichever has the lower
    objective (both values are honest: recomputed from the function)."""
    x, y, w = data.x, data.y, data.weights
    cands = [_fit_function(x, z, select, "no-skip")]
    if x.size > 2:
        h, s, d = _secants(x, z)
        eta, _ = _curvature_signs(x, z, h, s, d)
        big = np.max(np.abs(d))
        eta = np.where(np.abs(d) > 1e-7 * big, eta, 0).astype(np.int8)
        cands.append(_fit_function(x, z, select, "no-skip", eta=eta))
    vals = [_sse(w, f(x), y, 0.0) + lam * tv2_cost(f, "no-skip") for f in cands]
    return cands[int(np.argmin(vals))]


def _v1_regression(data, lam, select, solver, allow_inaccurate, cert, lam_max):
    x, y, w = data.x, data.y, data.weights
    label = "active-set (banded Cholesky, scipy)"
    if lam >= lam_max:
        # The LS line is optimal (KKT holds with u = p/lam*2, |u| <= 1): no iteration needed.
        sig = np.zeros(x.size, dtype=np.int8)
        nodes = np.array([0, x.size - 1])
        z = _ls_line(x, y, w)[0]
        v = z[nodes]
        its, ok = 0, True
    else:
        sig, nodes, v, z, its, ok = _v1_regression_pdas(x, y, w, lam)
    if not ok:
        zc, clabel, status = _v1_data_knot_cvxpy(data, lam, solver, allow_inaccurate)
        # Warm-start the active-set method from the conic solution's knots: if it converges the
        # result is exact again; otherwise the conic solution is returned with its dual bound.
        dz = _second_diff(x, np.diff(x), zc)
        thr = 1e-6 * (np.max(np.abs(dz)) if dz.size else 0.0)
        sig0 = np.zeros(x.size, dtype=np.int8)
        sig0[1:-1] = np.where(np.abs(dz) > thr, np.sign(dz), 0)
        sig, nodes, v, z, its2, ok = _v1_regression_pdas(x, y, w, lam, sig0=sig0)
        its += its2
        if ok:
            label = f"active-set warm-started by {clabel}"
        else:
            cert.update({"active_set_iterations": its, "active_set_converged": False,
                         "kind": "cvxpy data-knot QP (active set did not converge)"})
            f = _fit_function(x, zc, select, "skip")
            return _regression_solution(data, lam, "skip", f, zc, "exact", clabel, status, cert, select)
    cert.update({"active_set_iterations": its, "active_set_converged": True, "n_knots_active": int(nodes.size - 2),
                 "kind": "active-set KKT + dual-feasible point (weak duality)"})
    if select == "linear":
        f = _with_flat_ends(x[nodes], v)
    else:
        h, s, d = _secants(x, z)
        eta = sig[1:-1].copy()
        f = _v1_function(x, z, h, s, d, eta, select)
    return _regression_solution(data, lam, "skip", f, z, "exact", label, "optimal", cert, select)
