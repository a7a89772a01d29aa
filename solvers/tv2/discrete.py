r"""Discrete calculus of values at the data, shared by every TV2 path.

For data :math:`x_1<\dots<x_n` and values :math:`z` there: gaps :math:`h_i=x_{i+1}-x_i`, secant
slopes :math:`s_i=(z_{i+1}-z_i)/h_i` and slope changes :math:`\delta_i=s_i-s_{i-1}` at the
interior points (:func:`_secants`; as operators: :func:`_curvature_operator`,
:func:`_secant_operator`, :func:`_end_slopes_row`, :func:`_signed_curvature_row`), and the way
back, between a piecewise-linear function with knots at the data and the jumps of its slope
(:func:`_slope_jumps`, :func:`_p_from_jumps`, :func:`_q_from_lambda`).
"""

import numpy as np
import scipy.sparse as sp


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


def _end_slopes_row(x):
    r"""Row vector a with a @ z = :math:`s_1(z)+s_{n-1}(z)`, the boundary term of V2."""
    return _secant_operator(x, 0) + _secant_operator(x, -1)


def _signed_curvature_row(x, sig):
    r"""Row vector c with c @ z = :math:`\sum_j\sigma_j\,\delta_j(z)`: the slope changes at the
    interior points (n >= 3) weighted by ``sig`` (length n-2), i.e. :math:`D^\top\sigma` in
    the form of :func:`_curvature_operator`'s rows, assembled densely."""
    h = np.diff(x)
    sig = np.asarray(sig, dtype=np.float64)
    c = np.zeros(x.size)
    c[:-2] += sig / h[:-1]
    c[1:-1] -= sig * (1.0 / h[:-1] + 1.0 / h[1:])
    c[2:] += sig / h[1:]
    return c


def _slope_jumps(x, q):
    r"""Jumps :math:`g_j` of :math:`q'` at the data for the PL function ``q`` with knots at ``x``,
    constant outside the hull: :math:`\int q\,df''=\sum_j g_j f(x_j)` for the affine-free part,
    and :math:`\sum g_j=0`. With :math:`q=(0,u,0)` this is :math:`D^\top u` (``D`` the slope-change
    operator, :func:`_curvature_operator`)."""
    sig = np.concatenate(([0.0], np.diff(q) / np.diff(x), [0.0]))
    return np.diff(sig)


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


def _q_from_lambda(x, lam):
    r"""Node values of :math:`P(t)=\sum_j\lambda_j(x_j-t)_+` with :math:`\sum_j\lambda_j` set to 0.

    :math:`P` is piecewise linear with knots at the data, zero right of :math:`x_n` and
    constant left of :math:`x_1` once :math:`\sum\lambda=0`. Computed by the recurrence
    :math:`P(x_i)=P(x_{i+1})+h_i\Lambda_{i+1}` (suffix sums :math:`\Lambda`), which avoids the
    cancellation of :math:`\sum\lambda_j x_j - x_k\sum\lambda_j` when :math:`|x|` is large.
    The mirror image of :func:`_p_from_jumps` (anchored at :math:`x_n` instead of :math:`x_1`, and
    with no projection: the conic paths' duals are only shaped afterwards).
    """
    h = np.diff(x)
    Lam = np.cumsum(lam[::-1])[::-1]  # Lam[k] = sum_{j >= k} lam_j
    contrib = h * Lam[1:]
    q = np.zeros_like(x)
    q[:-1] = np.cumsum(contrib[::-1])[::-1]
    return q
