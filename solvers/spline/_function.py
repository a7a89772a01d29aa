"""What the three weighted-spline paths (banded, kernel, Galerkin) share: the derivative-order
check and blockwise evaluation of their function types, the curvature energy as a quadratic form
over elements, and the smoothing objective with its rounding scale."""

import numpy as np

from solvers.errors import InputError

#: Entries of one block of a dense evaluation (points x basis functions): bounds the memory of
#: evaluating an expansion with thousands of terms at a million points.
_BLOCK_ENTRIES = 2_000_000


def _check_nu(nu):
    if nu not in (0, 1, 2):
        raise InputError(f"nu must be 0, 1 or 2; got {nu!r}")


def _evaluate_in_blocks(t, nu, width, block):
    """The ``nu``-th derivative at ``t`` from ``block(tk, nu)`` on consecutive flat pieces ``tk`` of
    ``t`` with ``tk.size * width`` at most :data:`_BLOCK_ENTRIES`; the result has ``t``'s shape."""
    _check_nu(nu)
    t = np.asarray(t, dtype=np.float64)
    shape = t.shape
    t = t.ravel()
    out = np.empty(t.shape)
    step = max(1, _BLOCK_ENTRIES // max(1, width))
    for k in range(0, t.size, step):
        out[k:k + step] = block(t[k:k + step], nu)
    return out.reshape(shape)


def _element_energy(a, b, c, u):
    r""":math:`\sum_i a_i u_i^2 + 2 b_i u_i u_{i+1} + c_i u_{i+1}^2`: :math:`u^\top T u` for the
    Gram matrix T of hat functions assembled from its element moments a, b, c."""
    return float(np.sum(a * u[:-1] ** 2 + 2.0 * b * u[:-1] * u[1:] + c * u[1:] ** 2))


def _smoothing_value(data, fitted, lam, J):
    r"""The smoothing objective :math:`\sum_i w_i (f(x_i)-y_i)^2 + \text{lam}\,J` on the averaged
    data, plus the part of the sum of squares that averaging repeated x removed."""
    return float(np.sum(data.weights * (fitted - data.y) ** 2)) + data.sse_offset + lam * J


def _smoothing_rounding_scale(value, data, lam, mag):
    """What double precision determines a smoothing value to: the value, the cross term of the data
    fit, and ``lam`` times ``mag``, the rounding scale of the curvature term."""
    return abs(value) + float(np.sqrt(abs(value) * np.sum(data.weights * data.y * data.y))) + lam * mag
