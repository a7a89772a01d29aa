r"""Weighted cubic splines: the kernel / random-feature limit of wide shallow ReLU networks.

MATH D.2–D.3. For a kink density :math:`g` (see :mod:`solvers.spline.kink_density`):

.. math::

    \text{interpolation:}\quad \min_f \int \frac{f''(t)^2}{g(t)}\,dt \quad\text{s.t.}\quad f(x_i) = y_i,

    \text{smoothing:}\quad \min_f \sum_i w_i\,(f(x_i) - y_i)^2 + \lambda \int \frac{f''(t)^2}{g(t)}\,dt,

with a free affine part (``skip=True``; the network has a skip connection, or both layers
train). The sum of squares carries no 1/2, as in :func:`scipy.interpolate.make_smoothing_spline`
(w_i = multiplicity of x_i after averaging repeated abscissae). For
:math:`g \equiv 1` this is the natural cubic spline (smoothing spline), linear outside the data.

Structure of the solution (Euler–Lagrange): :math:`u = f''/g` is continuous, piecewise linear
with knots at the data, and :math:`u(x_1) = u(x_n) = 0`, so :math:`f` is linear outside
:math:`[x_1, x_n]` for any g. The nodal values solve the SPD tridiagonal system :math:`Tu = Dy`
(T = Gram matrix of the hat functions in :math:`L^2(g)`, D = second divided differences), or the
pentadiagonal Reinsch system :math:`(T + \lambda D W^{-1} D^\top) u = Dy` for smoothing, with fitted
values :math:`z = y - \lambda W^{-1} D^\top u`.

``skip=False`` is the kernel limit without skip connection (MATH D.2): minimum RKHS norm for
:math:`K(x,x') = E[\sigma(wx+b)\sigma(wx'+b)]`, solved exactly by the kernel system.
"""

import numpy as np
from scipy.interpolate import PPoly
from scipy.linalg import LinAlgError, cholesky_banded, solve, solve_banded, solveh_banded

from solvers import _cvx
from solvers._validation import validate_bool, validate_choice, validate_data, validate_int, validate_lam
from solvers.errors import InputError, SolverError
from solvers.spline.kink_density import KinkDensity
from solvers.solution import Solution

__all__ = ["WeightedSplineFunction", "KernelExpansion", "GalerkinSplineFunction", "weighted_spline"]

#: Largest n for the dense O(n^3) kernel system (skip=False) and the cvxpy Galerkin QP.
KERNEL_MAX_N = 4000
GALERKIN_MAX_N = 20_000

_GL8_NODES, _GL8_WEIGHTS = np.polynomial.legendre.leggauss(8)


# ---------------------------------------------------------------------------------------------
# the exact solution for skip=True
class WeightedSplineFunction:
    r"""The exact weighted spline: :math:`f'' = g\,u` on :math:`[x_1, x_n]`, linear outside.

    On :math:`I_i = [x_i, x_{i+1}]` (MATH D.3, Green's function of :math:`d^2/dt^2` with zero
    boundary values on :math:`I_i`):

    .. math::  f(t) = z_i + s_i (t - x_i) - \frac{x_{i+1}-t}{h_i}\int_{x_i}^t (s-x_i)\,g u\,ds
               - \frac{t-x_i}{h_i}\int_t^{x_{i+1}} (x_{i+1}-s)\,g u\,ds,

    :math:`f'(t) = s_i + (\int_{x_i}^t (s-x_i) g u - \int_t^{x_{i+1}} (x_{i+1}-s) g u)/h_i`, with
    :math:`u` linear on :math:`I_i`. The integrals are the closed-form moments of
    :meth:`KinkDensity.quad_moment` (quadrature for a custom g), split at g's breakpoints.
    Where g is constant on the hull, f is a cubic spline and is evaluated through :attr:`ppoly`.

    Attributes
    ----------
    x, z : ndarray
        Knots and the values f takes there (``z = y`` for interpolation).
    u : ndarray
        :math:`f''/g` at the knots (``u[0] = u[-1] = 0``).
    density : KinkDensity or None
        ``None`` means :math:`g \equiv 1`.
    slope_left, slope_right : float
        :math:`f'` on :math:`(-\infty, x_1]` and :math:`[x_n, \infty)`.
    """

    def __init__(self, x, z, u, density, moments, const_g):
        self.x, self.z, self.u = x, z, u
        self.density = density
        self._a, self._b, self._c = moments
        self.const_g = const_g
        n = x.size
        self._h = np.diff(x)
        self._s = np.diff(z) / self._h
        if n == 2:
            self.slope_left = self.slope_right = float(self._s[0])
        else:
            self.slope_left = float(self._s[0] - self._a[0] * u[0] - self._b[0] * u[1])
            self.slope_right = float(self._s[-1] + self._b[-1] * u[-2] + self._c[-1] * u[-1])
        self._ppoly = None  # built on first use (costs as much as the solve at n = 1e6)

    # ------------------------------------------------------------------ representations
    def _build_ppoly(self):
        x, z, h, s = self.x, self.z, self._h, self._s
        M = self.const_g * self.u  # f'' at the knots
        c = np.empty((4, x.size + 1))
        # linear piece on [x_1 - h_1, x_1], extrapolated to -inf (scipy extrapolates end pieces)
        L0 = h[0]
        c[:, 0] = (0.0, 0.0, self.slope_left, z[0] - self.slope_left * L0)
        c[0, 1:-1] = (M[1:] - M[:-1]) / (6.0 * h)
        c[1, 1:-1] = M[:-1] / 2.0
        c[2, 1:-1] = s - h * (2.0 * M[:-1] + M[1:]) / 6.0
        c[3, 1:-1] = z[:-1]
        c[:, -1] = (0.0, 0.0, self.slope_right, z[-1])
        breaks = np.concatenate([[x[0] - L0], x, [x[-1] + h[-1]]])
        return PPoly(c, breaks, extrapolate=True)

    @property
    def ppoly(self):
        """:class:`scipy.interpolate.PPoly` (cubic inside the hull, linear pieces outside, exact
        on all of R); only where g is constant on the data hull."""
        if self._ppoly is None and self.const_g is not None:
            self._ppoly = self._build_ppoly()
        if self._ppoly is None:
            raise AttributeError(
                "ppoly is defined only when g is constant on the data hull (then f is a cubic spline); "
                f"here g = {self.density!r} varies, so f'' = g*u is not piecewise polynomial. "
                "Call the function instead (exact Green's-function evaluation)."
            )
        return self._ppoly

    def integral_curvature(self):
        r""":math:`J(f) = \int f''^2/g = \sum_i a_i u_i^2 + 2 b_i u_i u_{i+1} + c_i u_{i+1}^2 = u^\top T u`."""
        u = self.u
        return float(np.sum(self._a * u[:-1] ** 2 + 2.0 * self._b * u[:-1] * u[1:] + self._c * u[1:] ** 2))

    # ------------------------------------------------------------------ evaluation
    def __call__(self, t, nu=0):
        if nu not in (0, 1, 2):
            raise InputError(f"nu must be 0, 1 or 2; got {nu!r}")
        if nu == 0 and (t is self.x or (np.shape(t) == self.x.shape and np.array_equal(t, self.x))):
            # at the knots f = z by construction (Green's integrals vanish; PPoly's c0 = z)
            return self.z.copy()
        t = np.asarray(t, dtype=np.float64)
        if self.const_g is not None:
            out = self.ppoly(t, nu)
            if nu == 2:
                # PPoly's linear end pieces give exactly 0; keep that (and f'' at x_1, x_n is 0)
                out = np.where((t < self.x[0]) | (t > self.x[-1]), 0.0, out)
            return out
        return self._green(t, nu)

    def _green(self, t, nu):
        x, z, u = self.x, self.z, self.u
        shape = t.shape
        t = t.ravel()
        out = np.empty(t.shape)
        left = t < x[0]
        right = t > x[-1]
        inside = ~(left | right | np.isnan(t))
        out[np.isnan(t)] = np.nan
        if nu == 0:
            out[left] = z[0] + self.slope_left * (t[left] - x[0])
            out[right] = z[-1] + self.slope_right * (t[right] - x[-1])
        elif nu == 1:
            out[left] = self.slope_left
            out[right] = self.slope_right
        else:
            out[left | right] = 0.0
        ti = t[inside]
        j = np.searchsorted(x, ti)  # x[j-1] < ti <= x[j]
        knot = x[np.minimum(j, x.size - 1)] == ti
        res = np.empty(ti.shape)
        if np.any(knot):
            # at a knot the Green's integrals vanish: f = z, f' = s_i - a_i u_i - b_i u_{i+1}, f'' = g u
            k = j[knot]
            if nu == 0:
                res[knot] = z[k]
            elif nu == 1:
                kk = np.minimum(k, x.size - 2)
                right_d = self._s[kk] - self._a[kk] * u[kk] - self._b[kk] * u[kk + 1]
                res[knot] = np.where(k == x.size - 1, self.slope_right, right_d)
            else:
                res[knot] = self.density.g(ti[knot]) * u[k]
        m = ~knot
        if np.any(m):
            tt = ti[m]
            i = j[m] - 1
            xl, xr, h = x[i], x[i + 1], self._h[i]
            ul, ur = u[i], u[i + 1]
            if nu == 2:
                res[m] = self.density.g(tt) * (ul * (xr - tt) + ur * (tt - xl)) / h
            else:
                Q = self.density.quad_moment
                I1 = (ul * -Q(xl, tt, xl, xr) + ur * Q(xl, tt, xl, xl)) / h  # int_xl^t (s-xl) g u
                I2 = (ul * Q(tt, xr, xr, xr) + ur * -Q(tt, xr, xl, xr)) / h  # int_t^xr (xr-s) g u
                if nu == 0:
                    res[m] = z[i] + self._s[i] * (tt - xl) - ((xr - tt) * I1 + (tt - xl) * I2) / h
                else:
                    res[m] = self._s[i] + (I1 - I2) / h
        out[inside] = res
        return out.reshape(shape)

    def to_dict(self):
        return {"type": "WeightedSplineFunction", "x": self.x.tolist(), "z": self.z.tolist(),
                "u": self.u.tolist(), "weight": repr(self.density) if self.density is not None else "g=1",
                "slope_left": self.slope_left, "slope_right": self.slope_right}

    def __repr__(self):
        return f"WeightedSplineFunction(n={self.x.size}, weight={self.density!r})"


# ---------------------------------------------------------------------------------------------
# kernel expansion for skip=False
class KernelExpansion:
    r"""The kernel-limit function without skip connection: :math:`f(t) = \sum_i \beta_i K(t, x_i) + d`.

    :math:`f''(t) = g_+(t)\sum_i\beta_i(x_i-t)_+ + g_-(t)\sum_i\beta_i(t-x_i)_+ = \tfrac{g(t)}{2}\sum_i\beta_i|t-x_i|`
    for the (sign-symmetric) built-in laws.
    """

    def __init__(self, x, beta, d, density):
        self.x, self.beta, self.d, self.density = x, beta, float(d), density

    def __call__(self, t, nu=0):
        if nu not in (0, 1, 2):
            raise InputError(f"nu must be 0, 1 or 2; got {nu!r}")
        t = np.asarray(t, dtype=np.float64)
        shape = t.shape
        t = t.ravel()
        out = np.empty(t.shape)
        step = max(1, 2_000_000 // max(1, self.x.size))
        for k in range(0, t.size, step):
            tk = t[k:k + step, None]
            if nu == 0:
                out[k:k + step] = self.density.kernel(tk, self.x[None, :]) @ self.beta + self.d
            elif nu == 1:
                out[k:k + step] = self.density.kernel_dx(tk, self.x[None, :]) @ self.beta
            else:
                out[k:k + step] = 0.5 * self.density.g(tk[:, 0]) * (np.abs(tk - self.x[None, :]) @ self.beta)
        return out.reshape(shape)

    def rkhs_norm2(self):
        r""":math:`\|f - d\|_H^2 = \beta^\top K \beta`."""
        K = self.density.kernel(self.x[:, None], self.x[None, :])
        return float(self.beta @ K @ self.beta)

    def integral_curvature(self):
        r""":math:`\int f''^2/g = \tfrac14\int g(t)\,S(t)^2 dt`, :math:`S(t) = \sum_i\beta_i|t-x_i|` (exact:
        S is linear between knots and in the tails)."""
        x, beta, kd = self.x, self.beta, self.density
        S = np.abs(x[:, None] - x[None, :]) @ beta
        total = 0.0
        if x.size > 1:
            a, b, c = kd.spline_moments(x)
            total += float(np.sum(a * S[:-1] ** 2 + 2.0 * b * S[:-1] * S[1:] + c * S[1:] ** 2))
        sig = float(np.sum(beta))  # S(t) = S_e + sig*|t - x_e| in both tails
        for lo, hi, xe, Se, sgn in ((x[-1], np.inf, x[-1], S[-1], 1.0), (-np.inf, x[0], x[0], S[0], -1.0)):
            m0 = float(kd.mass(lo, hi))
            m1 = sgn * float(kd.lin_moment(lo, hi, xe))  # int |t - x_e| g over the tail
            m2 = float(kd.quad_moment(lo, hi, xe, xe))
            total += Se * Se * m0 + 2.0 * Se * sig * m1 + sig * sig * m2
        return 0.25 * total

    def boundary_term(self):
        r"""MATH D.2 boundary part :math:`e^\top Q^{-1}e` for a sign-symmetric law with E[wb] = 0:
        :math:`(f'(\infty)+f'(-\infty))^2/E[w^2] + (C^+ + C^-)^2/E[b^2]`, which for
        :math:`f = \sum\beta_i K(\cdot,x_i)` equals
        :math:`E[w^2](\sum\beta_i x_i)^2/4 + E[b^2](\sum\beta_i)^2/4` (the output bias d is free)."""
        kd = self.density
        return float(kd.second_moment * np.sum(self.beta * self.x) ** 2 / 4.0
                     + kd.E_b2 * np.sum(self.beta) ** 2 / 4.0)

    def to_dict(self):
        return {"type": "KernelExpansion", "x": self.x.tolist(), "beta": self.beta.tolist(), "d": self.d,
                "weight": repr(self.density)}

    def __repr__(self):
        return f"KernelExpansion(n={self.x.size}, weight={self.density!r})"


# ---------------------------------------------------------------------------------------------
# Galerkin function for method="cvxpy"
class GalerkinSplineFunction:
    r""":math:`f(t) = \alpha + \beta t + \int (t-s)_+ v(s)\,ds` with :math:`v = f''` continuous
    piecewise linear on a mesh (0 outside it), evaluated exactly."""

    def __init__(self, mesh, v, alpha, beta):
        self.mesh, self.v, self.alpha, self.beta = mesh, v, float(alpha), float(beta)

    def __call__(self, t, nu=0):
        if nu not in (0, 1, 2):
            raise InputError(f"nu must be 0, 1 or 2; got {nu!r}")
        t = np.asarray(t, dtype=np.float64)
        shape = t.shape
        t = t.ravel()
        if nu == 2:
            out = np.interp(t, self.mesh, self.v, left=0.0, right=0.0)
        else:
            out = np.empty(t.shape)
            step = max(1, 2_000_000 // self.mesh.size)
            for k in range(0, t.size, step):
                A = _galerkin_matrix(self.mesh, t[k:k + step], nu)
                out[k:k + step] = A @ self.v + (self.alpha + self.beta * t[k:k + step] if nu == 0 else self.beta)
        return out.reshape(shape)

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


# ---------------------------------------------------------------------------------------------
def _resolve_weight(weight, support, breakpoints):
    if weight is None:
        if support is not None or breakpoints is not None:
            raise InputError("support and breakpoints apply only to a callable weight")
        return None
    if isinstance(weight, KinkDensity):
        if support is not None or breakpoints is not None:
            raise InputError("support and breakpoints apply only to a callable weight; a KinkDensity has its own")
        return weight
    if callable(weight):
        return KinkDensity.from_callable(weight, support=(-np.inf, np.inf) if support is None else support,
                                         breakpoints=() if breakpoints is None else breakpoints)
    raise InputError(f"weight must be None, a KinkDensity or a callable g(t); got {type(weight).__name__}")


def _check_hull(density, x):
    """g > 0 on the data hull, else the penalty is infinite there (MATH D.3)."""
    if density is None:
        return
    lo, hi = float(x[0]), float(x[-1])
    if not density.positive_on(lo, hi):
        raise InputError(
            f"weight: g vanishes on part of the data hull [{lo:.6g}, {hi:.6g}] (support of g is "
            f"{density.support}); the penalty int f''^2/g is infinite there (MATH D.3), so f would have to be "
            "linear on that part. Widen the law (e.g. a larger bias range c) or restrict the data."
        )
    if density.law == "custom":
        probe = np.concatenate([x, 0.5 * (x[:-1] + x[1:])])
        try:
            gv = np.asarray(density.g(probe), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"weight: g(t) must return one real number per entry of t (an array of t's shape); "
                             f"evaluating it at the data failed: {exc}") from exc
        if gv.shape != probe.shape:
            raise InputError(f"weight: g(t) must return an array of the same shape as t; for t of shape "
                             f"{probe.shape} it returned shape {gv.shape}")
        bad = ~(np.isfinite(gv) & (gv > 0))
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"weight: g({probe[k]:.6g}) = {gv[k]!r} is not > 0 on the data hull; the penalty "
                "int f''^2/g is infinite there (MATH D.3)"
            )


def _moments(density, x):
    h = np.diff(x)
    if density is None:
        return h / 3.0, h / 6.0, h / 3.0
    a, b, c = density.spline_moments(x)
    if density.law == "custom" and not (np.all(a > 0) and np.all(c > 0) and np.all(np.isfinite(b))):
        raise InputError("weight: the moments of g on the data intervals are not positive; g must be > 0 "
                         "on the data hull")
    return a, b, c


def _second_differences(x, w):
    """Rows of D (coefficients at columns k, k+1, k+2) and the bands of D W^-1 D^T."""
    p = 1.0 / np.diff(x)
    d0, d1, d2 = p[:-1], -(p[:-1] + p[1:]), p[1:]
    iw = 1.0 / w
    main = d0**2 * iw[:-2] + d1**2 * iw[1:-1] + d2**2 * iw[2:]
    off1 = d1[:-1] * d0[1:] * iw[1:-2] + d2[:-1] * d1[1:] * iw[2:-1]
    off2 = d2[:-2] * d0[2:] * iw[2:-2]
    return (d0, d1, d2), (main, off1, off2)


def _Dt_times(drows, v, n):
    d0, d1, d2 = drows
    out = np.zeros(n)
    out[:-2] += d0 * v
    out[1:-1] += d1 * v
    out[2:] += d2 * v
    return out


def _band_matvec(ab, v):
    """M v for a symmetric band matrix M in upper storage."""
    out = ab[-1] * v
    for k in range(1, ab.shape[0]):
        band = ab[-1 - k, k:]
        out[:-k] += band * v[k:]
        out[k:] += band * v[:-k]
    return out


def _solve_spd_band(ab, rhs):
    """Solve with a symmetric band matrix in upper storage: Cholesky, or pivoted banded LU when
    rounding makes the matrix numerically indefinite.

    The smoothing matrix T + lam D W^-1 D^T mixes entries of size h and lam/h^2; with gaps of
    1e-10 (1e5 random points) its condition number exceeds 1/eps and Cholesky can break down
    although the matrix is SPD. Partial pivoting is backward stable there, and the returned
    certificate (system residual, duality gap) shows the accuracy actually reached.

    Returns the solution and the name of the routine that produced it.
    """
    try:
        return solveh_banded(ab, rhs, check_finite=False), "scipy.linalg.solveh_banded"
    except LinAlgError:
        # Symmetric diagonal equilibration first: the entries span h ~ 1e-10 to lam/h^2 ~ 1e15, and
        # scaling rows and columns to a unit diagonal cut the residual term u.r of the certificate
        # 20x on 1e5 random points (measured); the solution is mapped back exactly (u = d * v).
        k = ab.shape[0] - 1
        d = 1.0 / np.sqrt(ab[-1])
        sab = ab.copy()
        for j in range(k + 1):
            sab[k - j, j:] *= d[j:] * d[: d.size - j]
        full = np.zeros((2 * k + 1, ab.shape[1]))
        full[: k + 1] = sab
        for j in range(1, k + 1):  # lower bands mirror the upper ones
            full[k + j, :-j] = sab[k - j, j:]
        v = solve_banded((k, k), full, d * rhs, check_finite=False)
        return d * v, "scipy.linalg.solve_banded (pivoted LU, equilibrated)"


def _exact_skip(data, density, lam):
    x, y, w = data.x, data.y, data.weights
    n = x.size
    a, b, c = _moments(density, x)
    s = np.diff(y) / np.diff(x)
    Dy = np.diff(s)
    diag = c[:-1] + a[1:]
    off = b[1:-1]
    uint = np.zeros(0)
    r = np.zeros(0)
    drows = None
    routine = "direct (n <= 3)"
    if n > 2:
        if lam == 0.0:
            ab = np.zeros((2, n - 2))
            ab[0, 1:] = off
            ab[1] = diag
        else:
            drows, (pm, p1, p2) = _second_differences(x, w)
            ab = np.zeros((3, n - 2))
            ab[0, 2:] = lam * p2
            ab[1, 1:] = off + lam * p1
            ab[2] = diag + lam * pm
        try:
            if n == 3:  # a 1x1 system (LAPACK's ptsv rejects an empty off-diagonal)
                if not ab[-1][0] > 0:
                    raise LinAlgError("1x1 system is not positive")
                uint = Dy / ab[-1]
            else:
                uint, routine = _solve_spd_band(ab, Dy)
        except LinAlgError as exc:  # SPD in exact arithmetic; failure means g or x are degenerate
            raise SolverError(f"banded solve failed: {exc}", status="singular",
                              solver="scipy.linalg.solve_banded", size={"n": n}) from exc
        # residual of the banded system: the slope jumps of the returned f at the interior knots
        r = _band_matvec(ab, uint) - Dy
    u = np.concatenate([[0.0], uint, [0.0]])
    if lam > 0.0 and n > 2:
        z = y - lam * _Dt_times(drows, uint, n) / w
    else:
        z = y.copy()
    const_g = 1.0 if density is None else density.constant_on(x[0], x[-1])
    fn = WeightedSplineFunction(x, z, u, density, (a, b, c), const_g)
    J = fn.integral_curvature()
    # weak duality: J*(y) = max_v 2 v.Dy - v.Tv  (and lam*(2 v.Dy - v.(T + lam D W^-1 D^T) v) for smoothing)
    # P(u) - D(u) = 2 u.(M u - D y) = 2 u.r exactly (M = T, or T + lam D W^-1 D^T over lam), so the
    # bound is taken as value - 2|u.r| (times lam for smoothing): the direct 2u.Dy - u.Mu cancels
    # catastrophically when M is ill-conditioned (gaps of 1e-10 make it exceed 1/eps).
    slack = 2.0 * abs(float(uint @ r))
    # Rounding scale: J* = Dy.T^-1 Dy moves by 2 u.delta(Dy) when y is rounded, and by u.delta(T) u
    # when T is, so |u|.(|D||y| + |T||u|) is what the data in double precision determine J* to.
    # (Not |u|.|M||u|: the lam D W^-1 D^T part reaches 1e15 at gaps of 1e-10 and would excuse any gap.)
    mag = 0.0
    if n > 2:
        au = np.abs(uint)
        p = 1.0 / np.diff(x)
        ay = np.abs(y)
        Dabs = p[:-1] * ay[:-2] + (p[:-1] + p[1:]) * ay[1:-1] + p[1:] * ay[2:]
        T_abs = np.zeros((2, n - 2))
        T_abs[0, 1:] = np.abs(off)
        T_abs[1] = np.abs(diag)
        mag = float(au @ (Dabs + _band_matvec(T_abs, au)))
    cert = {
        "bound_kind": ("dual: weak duality J*(y) >= 2 v.Dy - v.Tv (smoothing: sse_offset + "
                       "lam*(2 v.Dy - v.(T + lam D W^-1 D^T) v)) at v = the computed u, evaluated in the "
                       "cancellation-free form value - 2|u.r| (times lam), r = the banded system's residual; "
                       "rigorous up to floating-point rounding of T, Dy and r"
                       + ("" if density is None or density.law != "custom" else
                          "; T from adaptive quadrature of the custom g (rtol 1e-13)")),
        "system": "tridiagonal T u = D y" if lam == 0.0 else "pentadiagonal (T + lam D W^-1 D^T) u = D y",
        "banded_solver": routine,
        "kkt_residual": float(np.linalg.norm(r) / max(np.linalg.norm(Dy), np.finfo(float).tiny)) if n > 2 else 0.0,
        "max_slope_jump": float(np.max(np.abs(r))) if n > 2 else 0.0,
        "natural_conditions": (float(u[0]), float(u[-1])),
        "moments": "closed-form" if density is None or density.law != "custom" else "adaptive Gauss-Legendre",
        "J": J,
    }
    if lam == 0.0:
        fitted = fn(x)
        cert["interpolation_residual"] = float(np.max(np.abs(fitted - y)))
        value = J
        lower = value - slack
        scale = abs(value) + mag
    else:
        fitted = fn(x)
        value = float(np.sum(w * (fitted - y) ** 2)) + data.sse_offset + lam * J
        lower = value - lam * slack
        scale = abs(value) + float(np.sqrt(abs(value) * np.sum(w * y * y))) + lam * mag
    cert["rounding_scale"] = scale
    return fn, value, lower, fitted, cert


def _exact_kernel(data, density, lam, output_bias):
    x, y, w = data.x, data.y, data.weights
    n = x.size
    if n > KERNEL_MAX_N:
        raise InputError(f"skip=False uses a dense O(n^3) kernel system; n = {n} exceeds the limit "
                         f"{KERNEL_MAX_N} (solvers.spline.core.KERNEL_MAX_N)")
    K = density.kernel(x[:, None], x[None, :])
    Kl = K + np.diag(lam / w) if lam > 0 else K
    label = "scipy.linalg.solve (symmetric)"
    try:
        if output_bias:
            A = np.zeros((n + 1, n + 1))
            A[:n, :n] = Kl
            A[:n, n] = A[n, :n] = 1.0
            sol = solve(A, np.concatenate([y, [0.0]]), assume_a="sym", check_finite=False)
            beta, d = sol[:n], sol[n]
        else:
            beta, d = solve(Kl, y, assume_a="pos", check_finite=False), 0.0
    except (LinAlgError, ValueError) as exc:
        raise SolverError(f"kernel system is singular: {exc}", status="singular", solver=label,
                          size={"n": n}) from exc
    resid = Kl @ beta + d - y
    fn = KernelExpansion(x, beta, d, density)
    H = float(beta @ K @ beta)
    fitted = K @ beta + d
    # Dual bound: J* >= D(b) = 2 b.y - b.Kl b for every b (with 1.b = 0 when the bias is free), at
    # b = beta - mean(beta). With r = Kl beta + d - y this is exactly
    #   D = beta.Kl beta - mean(beta)^2 1.Kl 1 - 2 b.r,
    # and -2|b.r| is used for -2 b.r: the direct form cancels catastrophically (K is smooth, its
    # condition number reaches 1e8 at n = 6) and gave bounds above the value.
    bmean = float(np.mean(beta)) if output_bias else 0.0
    bt = beta - bmean
    Klb = Kl @ beta
    bKlb = float(beta @ Klb)
    ones_term = bmean * bmean * float(np.sum(Kl)) if output_bias else 0.0
    dual = bKlb - ones_term - 2.0 * abs(float(bt @ resid))
    ab_ = np.abs(beta)
    mag = float(ab_ @ (np.abs(Kl) @ ab_) + np.abs(bt) @ (np.abs(y) + np.abs(d))) + abs(ones_term)
    cert = {
        "bound_kind": ("dual: weak duality J* >= 2 b.y - b.(K + lam W^-1) b"
                       + (" over 1.b = 0, b = beta - mean(beta)," if output_bias else " at b = beta,")
                       + " evaluated as beta.Kl beta - mean(beta)^2 1.Kl 1 - 2|b.r| (r = the system's residual); "
                       "rigorous up to rounding of K"),
        "system": "[K + lam W^-1, 1; 1^T, 0]" if output_bias else "K + lam W^-1",
        "kkt_residual": float(np.linalg.norm(resid) / max(np.linalg.norm(y), np.finfo(float).tiny)),
        "condition_number": float(np.linalg.cond(Kl)),
        "output_bias": bool(output_bias),
        "sum_beta": float(np.sum(beta)),
        "rkhs_norm2": H,
    }
    if lam == 0.0:
        cert["interpolation_residual"] = float(np.max(np.abs(fitted - y)))
        cert["rounding_scale"] = abs(H) + mag
        return fn, H, dual, fitted, cert, label
    value = float(np.sum(w * (fitted - y) ** 2)) + data.sse_offset + lam * H
    cert["rounding_scale"] = abs(value) + float(np.sqrt(abs(value) * np.sum(w * y * y))) + lam * mag
    return fn, value, data.sse_offset + lam * dual, fitted, cert, label


def _galerkin_cvxpy(data, density, lam, solver, allow_inaccurate, mesh_size):
    import cvxpy as cp

    x, y, w = data.x, data.y, data.weights
    n = x.size
    if n > GALERKIN_MAX_N:
        raise InputError(f"method='cvxpy' (the Galerkin cross-check QP) is limited to n <= {GALERKIN_MAX_N}; got n = {n}. Use method='exact'")
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
    import scipy.sparse as sp
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
    J_s = float(np.sum(mLL * vv[:-1] ** 2 + 2 * mLR * vv[:-1] * vv[1:] + mRR * vv[1:] ** 2))
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
    value = float(np.sum(w * (fitted - y) ** 2)) + data.sse_offset + lam * J
    return fn, value, data.sse_offset + lam_s * dual, fitted, cert, label, status


def weighted_spline(x, y, *, weight=None, lam=0.0, skip=True, method="exact", solver=None,
                    allow_inaccurate=False, support=None, breakpoints=None, output_bias=True,
                    mesh_size=400):
    r"""Minimum-curvature interpolant or smoothing spline with kink weight g (MATH D.2–D.3).

    .. math::

        \text{lam} = 0:\ \min_f \int\frac{f''(t)^2}{g(t)}dt\ \text{ s.t. } f(x_i)=y_i, \qquad
        \text{lam} > 0:\ \min_f \sum_i (f(x_i)-y_i)^2 + \text{lam}\int\frac{f''(t)^2}{g(t)}dt.

    The sum of squares has no 1/2 (scipy's ``make_smoothing_spline`` convention; for g ≡ 1 the
    results coincide). With ``skip=True`` (network with a skip connection, or the kernel regime
    with free affine terms) the affine part of f is free and the solution is linear outside
    :math:`[x_1, x_n]`; ``skip=False`` is the kernel limit without skip connection (below).

    Parameters
    ----------
    x, y : array_like
        Data, 1-D, finite, at least 2 distinct x. Unsorted x is sorted. Interpolation merges
        identical (x, y) pairs and rejects a repeated x with different y; smoothing averages
        repeated x (weights = counts; the removed part of the sum of squares is added back).
    weight : None, KinkDensity or callable
        The kink density g. ``None``: g ≡ 1 (natural cubic spline). A :class:`KinkDensity`
        from :func:`kink_density`. A callable ``g(t)`` (vectorised over ndarrays): give its
        ``support=(lo, hi)`` (g is treated as 0 outside and never evaluated there) and the
        ``breakpoints`` where it is not smooth; its moments are computed by adaptive
        Gauss–Legendre quadrature split there. g must be > 0 on the data hull, else
        :class:`InputError` (the penalty would be infinite there; MATH D.3).
    lam : float
        >= 0; 0 means interpolation.
    skip : bool
        ``True``: free affine part, the exact O(n) banded solver. ``False``: minimum-RKHS-norm
        fit for :math:`K(x,x') = E[\sigma(wx+b)\sigma(wx'+b)]` (needs a :class:`KinkDensity`
        of a built-in law): :math:`f = \sum_i\beta_i K(\cdot,x_i) + d`, from
        :math:`[K + \text{lam}\,W^{-1}, 1; 1^\top, 0][\beta; d] = [y; 0]`. The network's output
        bias d is free by default; ``output_bias=False`` drops it (:math:`(K+\text{lam}W^{-1})\beta=y`).
        The value is :math:`\beta^\top K\beta` (+ the data term), which equals
        :math:`\int f''^2/g + e^\top Q^{-1}e` (MATH D.2). Dense O(n^3), n <= 4000.
    method : {"exact", "cvxpy"}
        ``"exact"``: the banded systems (skip=True) or the kernel system (skip=False).
        ``"cvxpy"`` (skip=True only): an independent Galerkin QP — :math:`v = f''` continuous
        piecewise linear on a mesh of ``mesh_size`` elements (plus the data and g's
        breakpoints) over the hull extended by half its width on each side (clipped to g's
        support), f from v by integrating twice with a free affine part, objective
        :math:`v^\top M v` with the exact mass matrix of :math:`L^2(1/g)`; solved by cvxpy.
    solver : str, optional
        cvxpy solver for ``method="cvxpy"`` (default CLARABEL).
    allow_inaccurate : bool
        Return status ``"inaccurate"`` instead of raising :class:`SolverError` when the certificate
        misses its tolerance (see :class:`Solution`; exact paths 1e-9, the Galerkin QP 1e-6 for
        constant g and 2e-2 otherwise) or cvxpy reports ``optimal_inaccurate``.
    support, breakpoints
        Only with a callable weight (see ``weight``).
    output_bias : bool
        Only for ``skip=False``: whether the output bias d is free (default True).
    mesh_size : int
        Only for ``method="cvxpy"``: number of uniform mesh elements, >= 1 (default 400).

    Returns
    -------
    Solution
        ``function`` is a :class:`WeightedSplineFunction` (exact on all of R; ``.ppoly`` where g
        is constant on the hull), a :class:`KernelExpansion` (skip=False) or a
        :class:`GalerkinSplineFunction` (cvxpy). ``value`` is recomputed from it: :math:`J(f) =
        u^\top T u` (interpolation) or :math:`\sum_i (f(x_i)-y_i)^2 + \text{lam}\,J(f)`.
        ``lower_bound`` is the weak-duality bound :math:`2u^\top Dy - u^\top Tu` (see
        ``certificate["bound_kind"]``); by the projection identity :math:`J(h) - J^* = \int
        (h-f^*)''^2/g` for every interpolant h, so the gap is the exact distance to the optimum.
        ``certificate`` holds the relative KKT residual of the linear system, the largest slope
        jump of f at the knots (what that residual means for f), the natural conditions
        ``(u(x_1), u(x_n))`` and the interpolation residual.

    Raises
    ------
    InputError
        Bad data, negative lam, unknown method, g <= 0 on the data hull, skip=False without a
        built-in law, too large n for the dense paths.
    SolverError
        A singular system, a cvxpy status other than optimal, or a certificate whose gap exceeds
        its tolerance (unless ``allow_inaccurate=True``).
    """
    lam = validate_lam(lam)
    validate_choice(method, "method", ("exact", "cvxpy"))
    skip = validate_bool(skip, "skip")
    output_bias = validate_bool(output_bias, "output_bias")
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    mesh_size = validate_int(mesh_size, "mesh_size", min_value=1)
    if solver is not None:
        _cvx.validate_solver(solver)
    data = validate_data(x, y, min_points=2, duplicates="merge-identical" if lam == 0.0 else "average")
    density = _resolve_weight(weight, support, breakpoints)
    _check_hull(density, data.x)
    problem = "interpolation" if lam == 0.0 else "regression"
    status = "optimal"
    if not skip:
        if density is None or density.law == "custom":
            raise InputError("skip=False (kernel limit without skip connection) needs weight=kink_density(...) of a "
                             "built-in law: the kernel depends on g_+ and g_- and on E[b^2], not on g alone")
        if method != "exact":
            raise InputError("method='cvxpy' is available for skip=True only; skip=False is solved exactly "
                             "by the kernel system")
        fn, value, lower, fitted, cert, label = _exact_kernel(data, density, lam, output_bias)
        variant = "no-skip" if output_bias else "no-skip-no-output-bias"
    elif method == "exact":
        fn, value, lower, fitted, cert = _exact_skip(data, density, lam)
        label = f"closed-form banded ({cert['banded_solver']})"
        variant = "skip"
    else:
        fn, value, lower, fitted, cert, label, status = _galerkin_cvxpy(data, density, lam, solver,
                                                                        allow_inaccurate, mesh_size)
        variant = "skip"
    cert["weight"] = "g=1" if density is None else repr(density)
    return Solution(function=fn, value=float(value), lower_bound=float(lower), status=status, method=method,
                    solver=label, variant=variant, problem=problem, x=data.x, y=data.y,
                    lam=lam, fitted=fitted, certificate=cert, family="spline",
                    accuracy=cert.get("accuracy", "exact"), rounding_scale=cert.get("rounding_scale"),
                    allow_inaccurate=allow_inaccurate)
