r"""The kernel limit without skip connection (``weighted_spline(..., skip=False)``, MATH D.2).

Minimum RKHS norm for the random-feature kernel :math:`K(x,x') = E[\sigma(wx+b)\sigma(wx'+b)]`
of a built-in law, solved exactly by the dense kernel system
:math:`[K + \lambda W^{-1}, 1; 1^\top, 0][\beta; d] = [y; 0]` (the output bias d free) or
:math:`(K + \lambda W^{-1})\beta = y` (no output bias). The RKHS norm :math:`\beta^\top K\beta` equals
:math:`\int f''^2/g` plus the boundary term :math:`e^\top Q^{-1}e` of MATH D.2.
"""

import numpy as np
from scipy import integrate
from scipy.linalg import LinAlgError, solve

from solvers.errors import InputError, SolverError
from solvers.spline._function import (
    _element_energy,
    _evaluate_in_blocks,
    _smoothing_rounding_scale,
    _smoothing_value,
)

__all__ = ["KernelExpansion", "KERNEL_MAX_N", "kernel_by_quadrature"]

#: Largest n for the dense O(n^3) kernel system.
KERNEL_MAX_N = 4000


class KernelExpansion:
    r"""The kernel-limit function without skip connection: :math:`f(t) = \sum_i \beta_i K(t, x_i) + d`.

    :math:`f''(t) = g_+(t)\sum_i\beta_i(x_i-t)_+ + g_-(t)\sum_i\beta_i(t-x_i)_+ = \tfrac{g(t)}{2}\sum_i\beta_i|t-x_i|`
    for the (sign-symmetric) built-in laws.
    """

    def __init__(self, x, beta, d, density):
        self.x, self.beta, self.d, self.density = x, beta, float(d), density

    def __call__(self, t, nu=0):
        return _evaluate_in_blocks(t, nu, self.x.size, self._block)

    def _block(self, t, nu):
        tk, xr = t[:, None], self.x[None, :]
        if nu == 0:
            return self.density.kernel(tk, xr) @ self.beta + self.d
        if nu == 1:
            return self.density.kernel_dx(tk, xr) @ self.beta
        return 0.5 * self.density.g(t) * (np.abs(tk - xr) @ self.beta)

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
            total += _element_energy(*kd.spline_moments(x), S)
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


def _exact_kernel(data, density, lam, output_bias):
    x, y, w = data.x, data.y, data.weights
    n = x.size
    if n > KERNEL_MAX_N:
        raise InputError(f"skip=False uses a dense O(n^3) kernel system; n = {n} exceeds the limit "
                         f"{KERNEL_MAX_N} (solvers.spline.kernel.KERNEL_MAX_N)")
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
    value = _smoothing_value(data, fitted, lam, H)
    cert["rounding_scale"] = _smoothing_rounding_scale(value, data, lam, mag)
    return fn, value, data.sse_offset + lam * dual, fitted, cert, label


def kernel_by_quadrature(density, x, xp):
    """Reference kernel by scalar adaptive quadrature of MATH D.2's g-formula (tests, custom checks)."""
    g = density.g
    lo, hi = min(x, xp), max(x, xp)
    pts = [p for p in density.breakpoints if np.isfinite(p)]

    def piece(a, b, fn):
        edges = [a] + sorted(p for p in pts if a < p < b) + [b]
        return sum(integrate.quad(fn, e0, e1, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                   for e0, e1 in zip(edges[:-1], edges[1:]))

    left = piece(-np.inf, lo, lambda t: 0.5 * g(t) * (x - t) * (xp - t))
    right = piece(hi, np.inf, lambda t: 0.5 * g(t) * (t - x) * (t - xp))
    return left + right
