r"""The independent cross-check of the weighted spline (``weighted_spline(..., method="cvxpy")``,
skip=True): a Galerkin QP solved by cvxpy.

:math:`v = f''` is continuous piecewise linear on a mesh (uniform elements plus the data and g's
breakpoints) over the data hull extended by half its width on each side (clipped to g's support);
f follows from v by integrating twice with a free affine part, and the objective is
:math:`v^\top M v` with the mass matrix of :math:`L^2(1/g)`. Its lower bound is the weak-duality
bound of the continuous problem (:mod:`solvers.spline.banded`) at :math:`u_i = v(x_i)/g(x_i)`.
"""

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from scipy.linalg import cholesky_banded

from solvers import _cvx
from solvers.errors import InputError
from solvers.spline._function import _element_energy, _evaluate_in_blocks, _smoothing_value
from solvers.spline.banded import _Dt_times, _moments, _second_differences

__all__ = ["GalerkinSplineFunction", "GALERKIN_MAX_N"]

#: Largest n for the cvxpy Galerkin QP.
GALERKIN_MAX_N = 20_000

_GL8_NODES, _GL8_WEIGHTS = np.polynomial.legendre.leggauss(8)


class GalerkinSplineFunction:
    r""":math:`f(t) = \alpha + \beta t + \int (t-s)_+ v(s)\,ds` with :math:`v = f''` continuous
    piecewise linear on a mesh (0 outside it), evaluated exactly."""

    def __init__(self, mesh, v, alpha, beta):
        self.mesh, self.v, self.alpha, self.beta = mesh, v, float(alpha), float(beta)

    def __call__(self, t, nu=0):
        return _evaluate_in_blocks(t, nu, self.mesh.size, self._block)

    def _block(self, t, nu):
        if nu == 2:
            return np.interp(t, self.mesh, self.v, left=0.0, right=0.0)
        return _galerkin_matrix(self.mesh, t, nu) @ self.v + (self.alpha + self.beta * t if nu == 0 else self.beta)

    def to_dict(self):
        return {"type": "GalerkinSplineFunction", "mesh": self.mesh.tolist(), "v": self.v.tolist(),
                "alpha": self.alpha, "beta": self.beta}


def _galerkin_matrix(mesh, t, nu):
    r"""Rows: :math:`\int (t-s)_+\phi_k(s)ds` (nu=0) or :math:`\int_{-\infty}^t\phi_k` (nu=1) for the hat
    functions :math:`\phi_k` of ``mesh`` (exact, element by element)."""
    L = np.diff(mesh)[None, :]
    d = t[:, None] - mesh[None, :-1]
    tau = np.clip(d / L, 0.0, 1.0)
    beyond = np.maximum(t[:, None] - mesh[None, 1:], 0.0)
    if nu == 0:
        left = L * L * (tau**2 / 2 - tau**3 / 6) + beyond * L / 2
        right = L * L * tau**3 / 6 + beyond * L / 2
    else:
        left = L * (tau - tau**2 / 2)
        right = L * tau**2 / 2
    A = np.zeros((t.size, mesh.size))
    A[:, :-1] += left
    A[:, 1:] += right
    return A


def _galerkin_cvxpy(data, density, lam, solver, allow_inaccurate, mesh_size):
    x, y, w = data.x, data.y, data.weights
    n = x.size
    if n > GALERKIN_MAX_N:
        raise InputError(f"method='cvxpy' (the Galerkin cross-check QP) is limited to n <= {GALERKIN_MAX_N}; "
                         f"got n = {n}. Use method='exact'")
    span = x[-1] - x[0]
    ext = 0.5 * span
    lo, hi = x[0] - ext, x[-1] + ext
    special = list(x)
    if density is not None:
        lo, hi = max(lo, density.support[0]), min(hi, density.support[1])
        special += [p for p in density.breakpoints if lo < p < hi]
    special += [lo, hi]
    special = np.unique(np.asarray(special, dtype=np.float64))
    grid = np.linspace(lo, hi, int(mesh_size) + 1)
    tol = 1e-6 * (hi - lo) / max(1, int(mesh_size))
    near = np.min(np.abs(grid[:, None] - special[None, :]), axis=1) < max(tol, 0.05 * (hi - lo) / mesh_size)
    mesh = np.unique(np.concatenate([grid[~near], special]))
    # Solve in xi = (x - x_1) / span (and y / yscale below): with x spread over 1e-6 the bound
    # 2 u.Dy - u.Mu cancelled at 1e59 and came out as -1e37. In xi units the objective is the same
    # with lam / span^3 (J scales as span^-3) and g(x_1 + span * xi) as the weight.
    x0 = float(x[0])
    xs = (x - x0) / span
    mesh_x = mesh
    mesh = (mesh_x - x0) / span
    mesh[np.searchsorted(mesh_x, x)] = xs  # the data stay mesh nodes bit for bit
    lam_s = lam / span**3
    L = np.diff(mesh)
    # element mass matrices in L^2(1/g): 8-point Gauss-Legendre, exact for the built-in laws
    # (1/g is a polynomial of degree <= 4 on every element, breakpoints being mesh nodes)
    sn = 0.5 * (mesh[:-1] + mesh[1:])[None, :] + 0.5 * L[None, :] * _GL8_NODES[:, None]
    gv = np.ones_like(sn) if density is None else np.asarray(density.g(x0 + span * sn), dtype=np.float64)
    if not np.all(np.isfinite(gv) & (gv > 0)):
        raise InputError("weight: g is not > 0 on the Galerkin mesh inside its support")
    lq = (sn - mesh[:-1][None, :]) / L[None, :]
    wq = 0.5 * L[None, :] * _GL8_WEIGHTS[:, None] / gv
    mLL = np.sum(wq * (1 - lq) ** 2, axis=0)
    mLR = np.sum(wq * lq * (1 - lq), axis=0)
    mRR = np.sum(wq * lq**2, axis=0)
    diag = np.zeros(mesh.size)
    diag[:-1] += mLL
    diag[1:] += mRR
    ab = np.zeros((2, mesh.size))
    ab[0, 1:] = mLR
    ab[1] = diag
    U = cholesky_banded(ab)  # upper: M = U^T U
    R = sp.diags([U[1], U[0, 1:]], [0, 1], format="csr")
    # f and f' at the mesh nodes follow from v = f'' by exact local recurrences (v linear per
    # element), so every constraint is sparse; a dense f(x_i) = A v formulation made Clarabel
    # factor an n x mesh dense block (10 s at n = 1e3).
    # Unknowns in natural units (y, secant slopes, slope jumps per gap): rough data make f''
    # ~1e5 while f ~ 1, and unscaled the solver stops with interpolation errors of ~1e-3.
    yscale = max(float(np.max(np.abs(y))), 1e-300)
    h = np.diff(xs)
    sec = np.diff(y) / h
    pscale = max(float(np.max(np.abs(sec))), yscale)
    vscale = pscale
    if n > 2:
        vscale = max(vscale, float(np.max(np.abs(np.diff(sec)) / np.minimum(h[:-1], h[1:]))))
    # Every constraint and the objective are written in these units with numpy-computed
    # coefficients, so the conic solver only ever sees O(1) numbers: with y ~ 1e12 the earlier form
    # (scaled variables inside sum_squares(pred - y) / yscale^2) put 1e24 into the cone and
    # Clarabel returned 'optimal' at a value 85 % above the optimum (gap 0.998).
    v_ = cp.Variable(mesh.size)
    f_ = cp.Variable(mesh.size)
    p_ = cp.Variable(mesh.size)
    recur = [
        p_[1:] == p_[:-1] + cp.multiply(L * (vscale / (2 * pscale)), v_[:-1] + v_[1:]),
        f_[1:] == f_[:-1] + cp.multiply(L * (pscale / yscale), p_[:-1])
        + cp.multiply(L * L * (vscale / (6 * yscale)), 2 * v_[:-1] + v_[1:]),
    ]
    pred = f_[np.searchsorted(mesh, xs)]  # the data are mesh nodes
    if lam == 0.0:
        prob = cp.Problem(cp.Minimize(cp.sum_squares(R @ v_)), [pred == y / yscale, *recur])
    else:
        prob = cp.Problem(cp.Minimize(cp.sum_squares(cp.multiply(np.sqrt(w), pred - y / yscale))
                                      + (lam_s * vscale**2 / yscale**2) * cp.sum_squares(R @ v_)), recur)
    label, status = _cvx.solve(prob, solver, allow_inaccurate=allow_inaccurate,
                               size={"n": n, "mesh_nodes": int(mesh.size)})
    vv = vscale * np.asarray(v_.value, dtype=np.float64)  # F'' in xi units
    beta = pscale * float(p_.value[0]) / span  # f' left of the mesh, x units
    fn = GalerkinSplineFunction(mesh_x, vv / span**2, yscale * float(f_.value[0]) - beta * mesh_x[0], beta)
    J_s = _element_energy(mLL, mLR, mRR, vv)
    J = J_s / span**3
    fitted = fn(x)
    # certified lower bound: weak duality of the continuous problem at u_i = v(x_i)/g(x_i), in xi
    # units (moments of g(x_1 + span xi) are those in x over span)
    a, b, c = (m / span for m in _moments(density, x))
    gx = np.ones(n) if density is None else density.g(x)
    uint = (np.interp(xs, mesh, vv) / gx)[1:-1]
    Dy = np.diff(np.diff(y) / np.diff(xs))
    if n > 2:
        Tu = (c[:-1] + a[1:]) * uint
        Tu[:-1] += b[1:-1] * uint[1:]
        Tu[1:] += b[1:-1] * uint[:-1]
        if lam > 0:
            drows, _ = _second_differences(xs, w)
            d0, d1, d2 = drows
            Dtu = _Dt_times(drows, uint, n) / w
            Tu = Tu + lam_s * (d0 * Dtu[:-2] + d1 * Dtu[1:-1] + d2 * Dtu[2:])
        dual = 2.0 * float(uint @ Dy) - float(uint @ Tu)
    else:
        dual = 0.0
    cert = {
        "bound_kind": ("dual: weak duality of the continuous problem at u_i = v(x_i)/g(x_i) from the "
                       "Galerkin solution; the gap includes the discretisation error"),
        "mesh_nodes": int(mesh.size),
        "mesh": (float(lo), float(hi)),
        "solver_status": status,
        "J": J,
        # f'' = g u is piecewise linear with knots at the data (mesh nodes) when g is constant on the
        # mesh: the Galerkin space then contains the optimum and only the solver's tolerance remains
        "accuracy": "conic" if density is None or density.constant_on(lo, hi) is not None else "grid",
    }
    if lam == 0.0:
        cert["interpolation_residual"] = float(np.max(np.abs(fitted - y)))
        return fn, J, dual / span**3, fitted, cert, label, status
    value = _smoothing_value(data, fitted, lam, J)
    return fn, value, data.sse_offset + lam_s * dual, fitted, cert, label, status
