r"""Closed-form minimum-norm interpolation for V1 and V2 (MATH.md B.1, B.2).

Notation (MATH.md): data :math:`x_1<\dots<x_n`, gaps :math:`h_i=x_{i+1}-x_i`, secant slopes
:math:`s_i=(y_{i+1}-y_i)/h_i`, slope changes :math:`d_i=s_i-s_{i-1}` at interior points,
curvature signs :math:`\eta_i=\operatorname{sign}(d_i)` and :math:`V=\sum_i|d_i|`.

- V1 ``"skip"`` (:math:`R=\int|f''|`): value :math:`V` with the dual certificate of B.1, the
  connect-the-dots and the sparsest minimiser.
- V2 ``"no-skip"`` (:math:`R=\max(\int|f''|,|f'(-\infty)+f'(\infty)|)`): value
  :math:`\max(V,(V+|s_1+s_{n-1}|)/2)`, the canonical and the sparsest minimisers (virtual end
  signs when the boundary term binds).

O(n), numpy only. Data whose secant slopes under/overflow are solved exactly on power-of-two
rescaled copies (:mod:`solvers.tv2.scaling`). The envelope of the whole solution set is in
:mod:`solvers.tv2.envelope`, the regression in :mod:`solvers.tv2.regression`.

Floating point: a slope change below the rounding level of the data (see
:func:`_curvature_signs`) is treated as exactly zero curvature. Such points break runs of
same-sign curvature and are not knots of the returned functions, so collinear data give
value 0 and no knots.
"""

import numpy as np

from solvers.piecewise import PiecewiseLinear, tv2_cost
from solvers.solution import Solution
from solvers.tv2.discrete import _secants, _slope_jumps
from solvers.tv2.scaling import _rescale_exponents, _unscale_function, _unscale_value

#: The variants with closed forms (the bias-penalised ones go to :mod:`solvers.tv2.socp`).
_EXACT_VARIANTS = ("skip", "no-skip")
_EPS = np.finfo(np.float64).eps
#: A slope change is "zero" when below this multiple of the data-rounding bound.
_ZERO_CURVATURE_FACTOR = 4.0


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


def _fit_function(x, z, select, variant, eta=None):
    h, s, d = _secants(x, z)
    if eta is None:
        eta, _ = _curvature_signs(x, z, h, s, d)
    if variant == "no-skip":
        return _v2_function(x, z, h, s, d, eta, select)[0]
    return _v1_function(x, z, h, s, d, eta, select)


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
    lam = _slope_jumps(x, e)
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
