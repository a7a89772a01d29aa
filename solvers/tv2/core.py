r"""Exact minimum-norm interpolation and regression for the TV2 family (MATH.md B.1, B.2).

Notation (MATH.md): data :math:`x_1<\dots<x_n`, gaps :math:`h_i=x_{i+1}-x_i`, secant slopes
:math:`s_i=(y_{i+1}-y_i)/h_i`, slope changes :math:`d_i=s_i-s_{i-1}` at interior points,
curvature signs :math:`\eta_i=\operatorname{sign}(d_i)` and :math:`V=\sum_i|d_i|`.

Fast exact paths (numpy/scipy only):

- V1 ``"skip"`` (:math:`R=\int|f''|`): value :math:`V` with the dual certificate of B.1, the
  connect-the-dots and the sparsest minimiser, and the envelope of the whole solution set.
- V2 ``"no-skip"`` (:math:`R=\max(\int|f''|,|f'(-\infty)+f'(\infty)|)`): value
  :math:`\max(V,(V+|s_1+s_{n-1}|)/2)`, the canonical and the sparsest minimisers and the
  envelope of the solution set by the corrected B.2 (virtual end signs: when the boundary term
  binds, the first or last data interval can be free and the set widens outside the hull).
- V1 regression by a primal--dual active-set method on the data-knot problem (banded solves),
  V2 regression by the data-knot conic program polished exactly on its active set; both
  certified by a dual-feasible point.

Data whose secant slopes under/overflow (e.g. x spaced 1e-310) are solved exactly on
power-of-two rescaled copies; an answer outside the float64 range raises :class:`InputError`.

The bias-penalised variants and every ``method="cvxpy"`` request are dispatched to
:mod:`solvers.tv2.socp`.

Floating point: a slope change below the rounding level of the data (see
:func:`_curvature_signs`) is treated as exactly zero curvature. Such points break runs of
same-sign curvature and are not knots of the returned functions, so collinear data give
value 0 and no knots.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solveh_banded

from solvers import _cvx
from solvers._validation import validate_bool, validate_choice, validate_data, validate_lam
from solvers.errors import InputError
from solvers.piecewise import VARIANTS, PiecewiseLinear, tv2_cost
from solvers.solution import Solution

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


def _meet(xl, yl, sl, xr, yr, sr, h, dl, dr):
    r"""Intersection of the line through :math:`(x_l,y_l)` with slope :math:`s_l` and the line
    through :math:`(x_r,y_r)` with slope :math:`s_r` (:math:`x_r=x_l+h`), where the chord between
    them has slope :math:`s` and :math:`d_l=s-s_l`, :math:`d_r=s_r-s` have the same sign.

    Written relative to :math:`x_l`: :math:`t^*=x_l+h\,d_r/(d_l+d_r)\in[x_l,x_r]` (clipped
    against rounding). The value is taken on the line whose anchor is nearer, to keep the
    interpolation error at rounding level. Vectorised.
    """
    r = np.clip(dr / (dl + dr), 0.0, 1.0)
    t = np.clip(xl + h * r, xl, xr)
    left = yl + sl * (t - xl)
    right = yr - sr * (xr - t)
    v = np.where(r <= 0.5, left, right)
    return t, v


def _pair_knots(x, y, h, s, d, i):
    r"""Sparsest knot replacing the data kinks at :math:`x_i, x_{i+1}` (0-based point ``i``):
    the intersection of :math:`\ell_{i-1}` and :math:`\ell_{i+1}` (MATH B.1 (iii)), by :func:`_meet`."""
    return _meet(x[i], y[i], s[i - 1], x[i + 1], y[i + 1], s[i + 1], h[i], d[i - 1], d[i])


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


def _v2_boundary(s, d, eta):
    r"""Boundary excess of MATH B.2: :math:`\tau=(|S|-V)/2` if :math:`|S|>V`, else 0, with
    :math:`S=s_1+s_{n-1}`, :math:`V=\sum\eta_i d_i` (zero-curvature points excluded, as in the V1
    value), and :math:`\operatorname{sign}(S)` (+1 when :math:`\tau=0`). An excess below
    ``4 eps (|S| + V)`` counts as 0."""
    V = float(np.dot(eta, d)) if d.size else 0.0
    S = float(s[0] + s[-1])
    # An excess at the rounding level of V and S (a regression fit on the tie |S| = V) is no
    # boundary term: it would only add a knot with a jump of ~1e-16.
    if abs(S) - V <= _ZERO_CURVATURE_FACTOR * _EPS * (abs(S) + V):
        return 0.0, 1
    return 0.5 * (abs(S) - V), (1 if S > 0 else -1)


def _end_run_cost(eta, sign):
    """Extra knots for joining a virtual end sign ``sign`` to the run of ``eta`` next to that end
    (``eta`` ordered from that end inwards): 0 if that run has the same sign and odd length, else 1
    (MATH B.2, Sparsest)."""
    if eta.size == 0 or eta[0] != sign:
        return 1
    other = np.flatnonzero(eta != sign)
    k = int(other[0]) if other.size else eta.size
    return 0 if k % 2 == 1 else 1


def _v2_sparsest(x, y, h, s, d, eta, tau, sg):
    r"""Sparsest V2 minimiser when the boundary term binds (:math:`\tau>0`, MATH B.2).

    All of :math:`\tau` goes to the cheaper end (splitting it never saves a knot). Putting it on
    the left is the V1 problem with a virtual first point :math:`x_0=x_1-h_1` on the line
    :math:`A(t)=y_1+(s_1-\operatorname{sign}(S)\tau)(t-x_1)`, i.e. a virtual curvature sign
    :math:`\operatorname{sign}(S)` at :math:`x_1`; the V1 sparsest construction (B.1 (iii)) on the
    extended data then joins it to the adjacent run, the joined pair's knot being
    :math:`A\cap\ell_2`. Mirror on the right with :math:`B` and :math:`-\operatorname{sign}(S)`.
    Knot count: base :math:`+\min(\text{cost}_L,\text{cost}_R)`. The virtual node is dropped.
    """
    left = _end_run_cost(eta, sg) <= _end_run_cost(eta[::-1], -sg)
    one = np.array([1], dtype=np.int8)
    if left:
        sv = s[0] - sg * tau
        xe = np.concatenate((x[:1] - h[0], x))
        ye = np.concatenate((y[:1] - sv * h[0], y))
        he, se = np.concatenate((h[:1], h)), np.concatenate(([sv], s))
        de, ee = np.concatenate(([s[0] - sv], d)), np.concatenate((sg * one, eta))
    else:
        sv = s[-1] - sg * tau
        xe = np.concatenate((x, x[-1:] + h[-1]))
        ye = np.concatenate((y, y[-1:] + sv * h[-1]))
        he, se = np.concatenate((h, h[-1:])), np.concatenate((s, [sv]))
        de, ee = np.concatenate((d, [sv - s[-1]])), np.concatenate((eta, -sg * one))
    fe, _ = _v1_sparsest(xe, ye, he, se, de, ee.astype(np.int8))
    keep = slice(1, None) if left else slice(None, -1)
    return PiecewiseLinear(fe.nodes[keep], fe.values[keep], fe.slope_left, fe.slope_right)


def _v2_function(x, y, h, s, d, eta, select):
    r"""A V2 minimiser (MATH B.2) and :math:`\tau`.

    If :math:`|S|\le V` it is the V1 minimiser (the outer slopes are forced). Otherwise
    ``"linear"``: the connect-the-dots interpolant with the outer slopes lowered (in the direction
    of :math:`S`) by :math:`\tau/2` each, kinks at :math:`x_1` and :math:`x_n`;
    ``"sparsest"``: :func:`_v2_sparsest`. Either way
    :math:`\int|f''|=V+\tau=|f'(-\infty)+f'(\infty)|`.
    """
    tau, sg = _v2_boundary(s, d, eta)
    if tau == 0.0:
        f, idx = _v1_function(x, y, h, s, d, eta, select, with_index=True)
        return f, 0.0, idx
    if select == "sparsest":
        return _v2_sparsest(x, y, h, s, d, eta, tau, sg), tau, None
    f1, idx = _v1_function(x, y, h, s, d, eta, "linear", with_index=True)
    half = sg * 0.5 * tau
    return PiecewiseLinear(f1.nodes, f1.values, f1.slope_left - half, f1.slope_right - half), tau, idx


def _eval_at_data(f, x, y):
    """f(x); exact copy of y when the nodes are the data (no evaluation needed)."""
    if f.nodes.size == x.size and np.array_equal(f.nodes, x):
        return y.copy()  # f(node) is the stored value bit for bit
    return f(x)


# ============================================================================ rescaling
_TINY = np.finfo(np.float64).tiny
#: After rescaling, the largest secant slope is below 2**_SLOPE_EXP / n, so slope changes and
#: their sums (V, S) cannot overflow.
_SLOPE_EXP = 900


def _rescale_exponents(x, y):
    r"""Exponents ``(a, b)`` with which :math:`x 2^a`, :math:`y 2^b` keep every closed-form quantity
    finite and normal, or ``None`` when the data need no rescaling.

    Needed when a gap or its reciprocal (the dual certificate's :math:`p'`), a difference of ``y``, a secant slope, a slope change or their sums overflow,
    or a non-zero slope underflows (e.g. x spaced 1e-310). Powers of two commute with rounding
    (barring under/overflow), so the rescaled problem is the same problem: every slope scales by
    :math:`2^{b-a}`, knots by :math:`2^{-a}`... exactly. ``y`` is brought below :math:`2^{-2}`
    and ``x`` first below :math:`2^{-2}`, then scaled up until the largest slope is below
    :math:`2^{900}/n` (never above :math:`2^{1020}`, since gaps are at least :math:`2^{-1074}`).
    """
    with np.errstate(all="ignore"):
        h = np.diff(x)
        dy = np.diff(y)
        s = dy / h
        d = np.diff(s)
        ok = (np.all(np.isfinite(h)) and np.all(np.isfinite(1.0 / h)) and np.all(np.isfinite(dy)) and np.all(np.isfinite(s))
              and np.all(np.isfinite(d)) and np.isfinite(np.sum(np.abs(d)) + abs(s[0]) + abs(s[-1]))
              and not np.any((np.abs(s) < _TINY) & (dy != 0)))
    if ok:
        return None
    ymax = float(np.max(np.abs(y)))
    b = -int(np.frexp(ymax)[1]) - 2 if ymax > 0 else 0
    a = -int(np.frexp(float(np.max(np.abs(x))))[1]) - 2
    hs, dys = np.diff(np.ldexp(x, a)), np.diff(np.ldexp(y, b))
    nz = dys != 0
    if np.any(nz):
        e_slope = int(np.max(np.frexp(dys[nz])[1] - np.frexp(hs[nz])[1])) + 1  # |s| < 2**e_slope
        a += max(0, e_slope + int(np.ceil(np.log2(2 * x.size))) - _SLOPE_EXP)
    return a, b


def _unscale_value(v, a, b, what="value"):
    """A quantity in slope units of the rescaled problem, in the original units (exact), or
    InputError when it is not representable in float64."""
    with np.errstate(over="ignore", under="ignore"):
        out = float(np.ldexp(v, a - b))
    if v != 0 and (not np.isfinite(out) or out == 0.0):
        raise InputError(
            f"the {what} of this problem is about 2**{int(np.frexp(v)[1]) + a - b}, outside the float64 range "
            "(|x| spacing and |y| scale give secant slopes that cannot be represented); rescale x or y"
        )
    return out


def _unscale_function(f, a, b, what="minimiser"):
    """PiecewiseLinear of the original problem from one of the rescaled problem (exact), keeping
    slopes and jumps as computed (value differences may overflow where slopes do not)."""
    with np.errstate(over="ignore", under="ignore"):
        slopes = np.ldexp(f.slopes, a - b)
        jumps = np.ldexp(f._jumps, a - b)
    bad = (~np.isfinite(slopes)) | ((slopes == 0) & (f.slopes != 0))
    if np.any(bad):
        _unscale_value(float(f.slopes[np.flatnonzero(bad)[0]]), a, b, f"slope of the {what}")
    with np.errstate(over="ignore", invalid="ignore"):
        return PiecewiseLinear._from_parts(np.ldexp(f.nodes, -a), np.ldexp(f.values, -b), slopes, jumps)


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
        "bound_kind": "dual piecewise-linear function p (MATH B.1)",
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
        ``"sparsest"`` has the fewest knots, :math:`\sum_{runs}\lceil k/2\rceil` for V1; for V2
        when the boundary term binds, that base count + min(cost_left, cost_right), each 0 when
        the run at that end has the sign of the virtual end curvature and odd length, else 1
        (MATH B.2; e.g. MATH G4 has one knot). V3/V4 solutions are unique: ``select`` does not apply.
    method : {"exact", "cvxpy"}
        ``"exact"``: closed form, O(n) (V1, V2) or the exact SOCP (V3, V4, in
        :mod:`solvers.tv2.socp`). ``"cvxpy"``: independent knot-grid program (cross-check).
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
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
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
        from solvers.tv2 import socp as tv2_conic

        return tv2_conic.grid_interpolant(data, variant, solver=solver, allow_inaccurate=allow_inaccurate)
    if variant == "bias":
        from solvers.tv2 import socp as tv2_conic

        return tv2_conic.bias_interpolant(data, solver=solver, allow_inaccurate=allow_inaccurate)
    if variant == "bias-no-skip":
        from solvers.tv2 import socp as tv2_conic

        return tv2_conic.bias_no_skip_interpolant(data, solver=solver, allow_inaccurate=allow_inaccurate)
    return _exact_interpolant(data.x, data.y, variant, select)


def _exact_interpolant(x, y, variant, select):
    """Closed-form V1/V2 interpolant, solved on power-of-two rescaled data when the slopes of the
    given data under/overflow (:func:`_rescale_exponents`); exact either way, or InputError."""
    scale = _rescale_exponents(x, y)
    if scale is None:
        return _exact_interpolant_core(x, y, variant, select)
    a, b = scale
    sol = _exact_interpolant_core(np.ldexp(x, a), np.ldexp(y, b), variant, select)
    f = _unscale_function(sol.function, a, b)
    value = _unscale_value(sol.value, a, b)
    bound = _unscale_value(sol.lower_bound, a, b, "lower bound")
    if tv2_cost(f, variant) != value and np.isfinite(tv2_cost(f, variant)):
        value = tv2_cost(f, variant)  # the value is always that of the returned function
    cert = dict(sol.certificate, rescaled_by_powers_of_two={"x": a, "y": b},
                note="certificate arrays (lambda, sums) are those of the problem with x*2**a, y*2**b")
    cert["interpolation_residual"] = float(np.ldexp(cert["interpolation_residual"], -b))
    return Solution(
        function=f, value=value, lower_bound=bound, status="optimal", method="exact", solver="closed-form",
        variant=variant, problem="interpolation", x=x, y=y, fitted=np.ldexp(sol.fitted, -b), certificate=cert,
        select=select,
    )


def _exact_interpolant_core(x, y, variant, select):
    h, s, d = _secants(x, y)
    eta, tol = _curvature_signs(x, y, h, s, d)
    bound, cert = _v1_certificate(x, y, h, s, d, eta)
    if variant == "no-skip":
        f, tau, idx = _v2_function(x, y, h, s, d, eta, select)
        S = float(s[0] + s[-1])
        cert["v1_lower_bound"] = bound
        cert["boundary_sum_slopes"] = S
        bound = max(bound, 0.5 * (bound + abs(S)))
        cert["boundary_tau"] = tau
        cert["bound_kind"] = "closed-form V2 bound max(L, (L+|s_1+s_{n-1}|)/2) from the V1 dual certificate L"
    else:
        f, idx = _v1_function(x, y, h, s, d, eta, select, with_index=True)
    fitted = _eval_at_data(f, x, y) if idx is None else _fitted_from_index(f, x, y, idx)
    cert["interpolation_residual"] = float(np.max(np.abs(fitted - y)))
    return Solution(
        function=f, value=tv2_cost(f, variant), lower_bound=float(bound), status="optimal",
        method="exact", solver="closed-form", variant=variant, problem="interpolation",
        x=x, y=y, fitted=fitted, certificate=cert, select=select,
    )


# ============================================================================ envelope
#: Default number of evaluation points of :meth:`Envelope.violation` for a non-PL callable.
_VIOLATION_GRID = 4001


@dataclass
class Envelope:
    r"""Pointwise bounds of the whole V1 or V2 solution set (MATH B.1 (a)--(c), B.2).

    ``variant="skip"``: :math:`\{f: f(x_i)=y_i,\ \int|f''|=V\}`. Every minimiser is the
    connect-the-dots interpolant with linear extension, except on *free* intervals
    :math:`[x_i,x_{i+1}]` (:math:`\eta_i=\eta_{i+1}\ne0`), where for :math:`\eta=+1`,
    :math:`\max(\ell_{i-1},\ell_{i+1})\le f\le\ell_i` (reversed for :math:`\eta=-1`).

    ``variant="no-skip"``: :math:`\{f: f(x_i)=y_i,\ R_{V2}(f)=R^*\}`. If :math:`|S|\le V`
    (:math:`S=s_1+s_{n-1}`) it is the V1 set and :attr:`tau` is 0. If :math:`S>V`, with
    :math:`\tau=(S-V)/2`, :math:`A(t)=y_1+(s_1-\tau)(t-x_1)` and :math:`B(t)=y_n+(s_{n-1}-\tau)(t-x_n)`:
    :math:`\ell_1\le f\le A` for :math:`t\le x_1`, :math:`B\le f\le\ell_{n-1}` for :math:`t\ge x_n`,
    :math:`\max(A,\ell_2)\le f\le\ell_1` on the first interval when :math:`\eta_2=+1`,
    :math:`\ell_{n-1}\le f\le\min(\ell_{n-2},B)` on the last when :math:`\eta_{n-1}=-1` (both
    then free), and the V1 bounds elsewhere; mirrored (:math:`y\to-y`) for :math:`S<-V`.

    Both bounds are exact piecewise-linear functions (:attr:`lower_function`,
    :attr:`upper_function`), attained pointwise by minimisers.

    Attributes
    ----------
    x, y : ndarray
        Validated data.
    free_intervals : ndarray, shape (m, 2)
        The free intervals :math:`(x_i, x_{i+1})`, in increasing order.
    free_signs : ndarray, shape (m,)
        Their curvature sign (+1 convex, -1 concave).
    lower_function, upper_function : PiecewiseLinear
    variant : {"skip", "no-skip"}
    tau : float
        Boundary excess :math:`(|S|-V)/2` of MATH B.2 (0 for ``"skip"`` and when :math:`|S|\le V`).
    """

    x: np.ndarray
    y: np.ndarray
    free_intervals: np.ndarray
    free_signs: np.ndarray
    lower_function: PiecewiseLinear
    upper_function: PiecewiseLinear
    certificate: dict = field(default_factory=dict)
    variant: str = "skip"
    tau: float = 0.0

    def lower(self, t):
        """Pointwise minimum over all minimisers at ``t`` (vectorised)."""
        return self.lower_function(t)

    def upper(self, t):
        """Pointwise maximum over all minimisers at ``t`` (vectorised)."""
        return self.upper_function(t)

    def __call__(self, t):
        return self.lower(t), self.upper(t)

    @property
    def breakpoints(self):
        """Nodes of both bounds (where ``upper - lower`` or a violation can change slope)."""
        return np.union1d(self.lower_function.nodes, self.upper_function.nodes)

    @property
    def width(self):
        """Maximal width upper - lower on the data hull (0 if the solution is unique there). For
        ``tau > 0`` the width also grows linearly outside the hull, as :math:`\tau|t-x_{1,n}|`."""
        nodes = self.breakpoints
        nodes = nodes[(nodes >= self.x[0]) & (nodes <= self.x[-1])]
        return float(np.max(self.upper(nodes) - self.lower(nodes)))

    def violation(self, f, grid=None, interval=None):
        r"""How far ``f`` leaves the envelope: :math:`\max_{a\le t\le b}\max(lo(t)-f(t),\,f(t)-hi(t),\,0)`.

        It is 0 iff ``f`` lies between the bounds on ``[a, b]``, and a lower bound on the L∞
        distance on ``[a, b]`` from ``f`` to the solution set.

        Parameters
        ----------
        f : PiecewiseLinear, Solution of one, or callable
            For a piecewise-linear ``f`` (anything with ``nodes``) the maximum is exact: the
            difference of two PL functions is PL, so it is attained at the union of all
            breakpoints, which are the evaluation points (restricted to ``interval``). For a
            general vectorised callable, smooth between the points of ``grid``: a dense grid
            (4001 points plus ``grid`` plus the envelope's breakpoints), then a bounded Brent
            search in the cells around the 5 largest values (location to 1e-12 relative).
        grid : array_like, optional
            Extra evaluation points: the breakpoints of a non-PL ``f`` (e.g. a spline's data).
        interval : (a, b), optional
            Where to measure (end points included). Default: the data hull widened by 25 % on
            each side, the comparison layer's default, so extrapolation counts.

        Notes
        -----
        Outside the outermost breakpoint all three functions are affine, so on the whole line the
        violation is infinite unless ``f``'s outer slopes lie in the envelope's; a trained network
        also has kinks of negligible mass far away (-b/w ~ 1e90 for units that weight decay
        switched off). Hence the maximum is always over a finite ``interval``.
        """
        fn = getattr(f, "function", f)
        if interval is None:
            span = self.x[-1] - self.x[0]
            interval = (self.x[0] - 0.25 * span, self.x[-1] + 0.25 * span)
        try:
            a, b = (float(v) for v in interval)
        except (TypeError, ValueError) as exc:
            raise InputError(f"interval must be a pair (a, b); got {interval!r}") from exc
        if not (np.isfinite(a) and np.isfinite(b) and a <= b):
            raise InputError(f"interval must be finite with a <= b; got {interval!r}")
        pl = hasattr(fn, "nodes")
        pts = [self.breakpoints, [a, b]]
        if pl:
            pts.append(np.asarray(fn.nodes, dtype=np.float64))
        if grid is not None:
            pts.append(np.asarray(grid, dtype=np.float64).ravel())
        t = np.unique(np.concatenate(pts))
        t = t[(t >= a) & (t <= b)]

        def viol(u):
            fu = np.asarray(fn(u), dtype=np.float64)
            return np.maximum(self.lower(u) - fu, fu - self.upper(u))

        if pl or a == b:
            return float(max(0.0, np.max(viol(t))))
        return max(0.0, _max_smooth(viol, t))

    def contains(self, f, tol=1e-9, **kw):
        """True when :meth:`violation` (keywords ``grid``, ``interval``) is at most
        ``tol * (1 + max|y|)``."""
        return self.violation(f, **kw) <= tol * (1.0 + float(np.max(np.abs(self.y))))


def _max_smooth(h, pts, *, n_grid=_VIOLATION_GRID, refine=5):
    """max of ``h`` on [pts[0], pts[-1]] for ``h`` smooth between consecutive ``pts``: a grid of about
    ``n_grid`` points containing ``pts``, then bounded Brent in the cells around the best values."""
    from scipy.optimize import minimize_scalar

    P = pts.size - 1
    m = int(np.clip(np.ceil(n_grid / max(P, 1)), 9, 257))
    frac = np.linspace(0.0, 1.0, m)
    t = np.unique((pts[:-1, None] + (pts[1:] - pts[:-1])[:, None] * frac[None, :]).ravel())
    v = h(t)
    best = float(np.max(v))
    xatol = 1e-12 * max(abs(pts[0]), abs(pts[-1]), pts[-1] - pts[0], 1e-300)
    for i in np.argsort(v)[::-1][:refine]:
        lo, hi = t[max(i - 1, 0)], t[min(i + 1, t.size - 1)]
        if hi <= lo:
            continue
        res = minimize_scalar(lambda u: -float(h(np.array([u]))[0]), bounds=(lo, hi), method="bounded",
                              options={"xatol": xatol, "maxiter": 200})
        best = max(best, -float(res.fun))
    return best


def tv2_envelope(x, y, variant="skip"):
    r"""Envelope of all minimum-norm interpolants, V1 (``"skip"``, MATH B.1) or V2 (``"no-skip"``,
    MATH B.2 corrected).

    Parameters
    ----------
    x, y : array_like
        Data as for :func:`tv2_interpolant`.
    variant : {"skip", "no-skip"}
        The bias-penalised variants have a unique minimiser (use :func:`tv2_interpolant`).

    Returns
    -------
    Envelope
        ``lower(t)``, ``upper(t)`` on all of :math:`\mathbb{R}`, ``free_intervals``,
        ``free_signs``, ``tau``, ``violation(f)`` and ``contains(f)``.
    """
    validate_choice(variant, "variant", VARIANTS)
    if variant not in _EXACT_VARIANTS:
        raise InputError(
            f"tv2_envelope: variant={variant!r} has a unique minimum-norm interpolant (MATH B.3/B.4), "
            "so there is no solution set to bound; use tv2_interpolant(x, y, variant=...) instead. "
            "Expected variant 'skip' or 'no-skip'"
        )
    data = validate_data(x, y, min_points=2, duplicates="merge-identical")
    x, y = data.x, data.y
    scale = _rescale_exponents(x, y)
    if scale is None:
        return _envelope_core(x, y, variant)
    ea, eb = scale
    env = _envelope_core(np.ldexp(x, ea), np.ldexp(y, eb), variant)
    lo, hi = (_unscale_function(g, ea, eb, "envelope bound") for g in (env.lower_function, env.upper_function))
    return Envelope(x=x, y=y, free_intervals=np.ldexp(env.free_intervals, -ea), free_signs=env.free_signs,
                    lower_function=lo, upper_function=hi, variant=variant, tau=_unscale_value(env.tau, ea, eb),
                    certificate=dict(env.certificate, rescaled_by_powers_of_two={"x": ea, "y": eb}))


def _envelope_core(x, y, variant):
    h, s, d = _secants(x, y)
    eta, _ = _curvature_signs(x, y, h, s, d)
    tau, sg = _v2_boundary(s, d, eta) if variant == "no-skip" else (0.0, 1)
    # Work with sg*y, so that S > V whenever tau > 0; the bounds are swapped and negated at the end.
    ys, ss, ds, es = sg * y, sg * s, sg * d, (sg * eta).astype(np.int8)
    if es.size >= 2:
        free_j = np.flatnonzero((es[:-1] == es[1:]) & (es[:-1] != 0))
    else:
        free_j = np.zeros(0, dtype=np.intp)
    seg = free_j + 1  # 0-based segment (and left point) index of each free interval
    signs = es[free_j].astype(np.int8)
    t_all, v_all = _pair_knots(x, ys, h, ss, ds, seg) if seg.size else (np.zeros(0), np.zeros(0))
    lo_slopes = hi_slopes = (ss[0], ss[-1])
    if tau > 0:
        lo_slopes, hi_slopes = (ss[0], ss[-1] - tau), (ss[0] - tau, ss[-1])
        ends_seg, ends_sign, ends_t, ends_v = [], [], [], []
        if es.size and es[0] == 1:  # first interval free: max(A, l_2) <= f <= l_1
            t1, v1 = _meet(x[0], ys[0], ss[0] - tau, x[1], ys[1], ss[1], h[0], tau, ds[0])
            ends_seg.append(0), ends_sign.append(1), ends_t.append(t1), ends_v.append(v1)
        if es.size and es[-1] == -1:  # last interval free: l_{n-1} <= f <= min(l_{n-2}, B)
            t2, v2 = _meet(x[-2], ys[-2], ss[-2], x[-1], ys[-1], ss[-1] - tau, h[-1], ds[-1], -tau)
            ends_seg.append(x.size - 2), ends_sign.append(-1), ends_t.append(t2), ends_v.append(v2)
        if ends_seg:
            seg = np.concatenate((seg, ends_seg)).astype(np.intp)
            signs = np.concatenate((signs, ends_sign)).astype(np.int8)
            t_all = np.concatenate((t_all, ends_t))
            v_all = np.concatenate((v_all, ends_v))
            order = np.argsort(seg, kind="stable")
            seg, signs, t_all, v_all = seg[order], signs[order], t_all[order], v_all[order]
    inner = (t_all > x[seg]) & (t_all < x[seg + 1])  # t* on an end point adds no breakpoint
    bounds = []
    for sgn, slopes in ((1, lo_slopes), (-1, hi_slopes)):  # convex runs move the lower bound
        m = inner & (signs == sgn)
        nodes = np.insert(x, seg[m] + 1, t_all[m])
        vals = np.insert(ys, seg[m] + 1, v_all[m])
        bounds.append(PiecewiseLinear(nodes, vals, *slopes))
    lower, upper = bounds
    if sg < 0:
        lower, upper = -upper, -lower
    free = np.column_stack((x[seg], x[seg + 1])) if seg.size else np.zeros((0, 2))
    return Envelope(x=x, y=y, free_intervals=free, free_signs=(sg * signs).astype(np.int8), lower_function=lower,
                    upper_function=upper, certificate={"eta": eta}, variant=variant, tau=float(tau))


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


def _regression_solution(data, lam, variant, f, z_hint, method, solver, status, cert, select, bound=None,
                         allow_inaccurate=False):
    x, y, w = data.x, data.y, data.weights
    h = np.diff(x)
    fitted = f(x)
    value = _sse(w, fitted, y, data.sse_offset) + lam * tv2_cost(f, variant)
    if bound is not None:  # computed on a rescaled copy of the problem
        pass
    elif lam > 0:
        bound, info = _dual_bound(x, y, w, data.sse_offset, lam, h, z_hint, variant)
        cert.update(info)
    else:
        bound = data.sse_offset  # every f has SSE >= the part removed by averaging duplicates
    cert["primal_objective"] = value
    cert["dual_objective"] = bound
    return Solution(
        function=f, value=value, lower_bound=float(bound), status=status, method=method, solver=solver,
        variant=variant, problem="regression", x=x, y=y, lam=lam, fitted=fitted, certificate=cert,
        select=select, allow_inaccurate=allow_inaccurate,
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
        MATH B.2; V3/V4 by the exact SOCPs of :mod:`solvers.tv2.socp`. ``"cvxpy"``: knot-grid
        programs of :mod:`solvers.tv2.socp`.
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
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    lam = validate_lam(lam)
    if variant not in _EXACT_VARIANTS and select != "linear":
        raise InputError(
            f"select={select!r} does not apply to variant={variant!r}: the V3/V4 fit is unique"
        )
    if method == "cvxpy" and select != "linear":
        raise InputError(f"select={select!r} applies to method='exact' only")
    data = validate_data(x, y, min_points=2, duplicates="average")
    if method == "cvxpy" or variant not in _EXACT_VARIANTS:
        from solvers.tv2 import socp as tv2_conic

        kw = {"solver": solver, "allow_inaccurate": allow_inaccurate}
        if method == "cvxpy":
            return tv2_conic.grid_regression(data, lam, variant, **kw)
        if variant == "bias":
            return tv2_conic.bias_regression(data, lam, **kw)
        return tv2_conic.bias_no_skip_regression(data, lam, **kw)
    scale = _rescale_exponents(data.x, data.y) if lam > 0 else None
    if scale is None:
        return _exact_regression(data, lam, variant, select, solver, allow_inaccurate)
    return _rescaled_regression(data, lam, variant, select, solver, allow_inaccurate, *scale)


def _rescaled_regression(data, lam, variant, select, solver, allow_inaccurate, a, b):
    r"""The regression on :math:`x2^a`, :math:`y2^b` (:func:`_rescale_exponents`) with
    :math:`\lambda 2^{a+b}`, whose objective is exactly :math:`2^{2b}` times the original one."""
    from solvers._validation import Data

    with np.errstate(over="ignore", under="ignore"):
        lam_s = float(np.ldexp(lam, a + b))
    if not np.isfinite(lam_s) or lam_s == 0.0:
        raise InputError(f"lam = {lam!r} is outside the range this data's scale allows (lam * 2**{a + b} "
                         "must be a finite non-zero float64); rescale x or y")
    scaled = Data(np.ldexp(data.x, a), np.ldexp(data.y, b), data.weights, float(np.ldexp(data.sse_offset, 2 * b)))
    sol = _exact_regression(scaled, lam_s, variant, select, solver, allow_inaccurate)
    f = _unscale_function(sol.function, a, b)
    cert = dict(sol.certificate, rescaled_by_powers_of_two={"x": a, "y": b, "lam": a + b},
                note="certificate entries are those of the problem with x*2**a, y*2**b, lam*2**(a+b)")
    out = _regression_solution(data, lam, variant, f, np.ldexp(sol.fitted, -b), sol.method, sol.solver,
                               sol.status, cert, select, bound=float(np.ldexp(sol.lower_bound, -2 * b)),
                               allow_inaccurate=allow_inaccurate)
    if not (np.isfinite(out.value) and np.isfinite(out.lower_bound)):
        raise InputError("the regression objective of this problem is outside the float64 range; rescale x or y")
    return out


def _exact_regression(data, lam, variant, select, solver, allow_inaccurate):
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
    from solvers.tv2.socp import polish_data_knot_regression

    zp, polish = polish_data_knot_regression(x, y, w, lam, z, "no-skip")
    if polish.get("face") is not None:
        z, label = zp, f"{label} + exact polish on its active set"
    cert["polish"] = polish
    f = _best_v2_function(data, lam, z, select)
    cert["bound_kind"] = "data-knot conic program (MATH B.2) + dual-feasible point from stationarity"
    return _regression_solution(data, lam, variant, f, z, "exact", label, status, cert, select,
                                allow_inaccurate=allow_inaccurate)


def _fit_function(x, z, select, variant, eta=None):
    h, s, d = _secants(x, z)
    if eta is None:
        eta, _ = _curvature_signs(x, z, h, s, d)
    if variant == "no-skip":
        return _v2_function(x, z, h, s, d, eta, select)[0]
    return _v1_function(x, z, h, s, d, eta, select)


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
                         "bound_kind": "cvxpy data-knot QP (active set did not converge)"})
            f = _fit_function(x, zc, select, "skip")
            return _regression_solution(data, lam, "skip", f, zc, "exact", clabel, status, cert, select,
                                        allow_inaccurate=allow_inaccurate)
    cert.update({"active_set_iterations": its, "active_set_converged": True, "n_knots_active": int(nodes.size - 2),
                 "bound_kind": "active-set KKT + dual-feasible point (weak duality)"})
    if select == "linear":
        f = _with_flat_ends(x[nodes], v)
    else:
        h, s, d = _secants(x, z)
        eta = sig[1:-1].copy()
        f = _v1_function(x, z, h, s, d, eta, select)
    return _regression_solution(data, lam, "skip", f, z, "exact", label, "optimal", cert, select)
