r"""Certified lower bounds on the continuous problems for the conic paths (V1--V4).

A dual piecewise-linear function :math:`q` (knots at the data; built from a solver's duals, from
the KKT multipliers of a polished face, or from the residual of a regression) is shaped for the
variant's dual cone (:func:`_certificate_shape`) and rescaled until it is *exactly* feasible for
the continuous dual -- checked in closed form on every data interval and on both outer rays
(:func:`_feasible_scale`). Its dual objective is then a genuine lower bound
(:func:`_interp_bound`, :func:`_regression_bound`). :func:`_finish_interpolation` and
:func:`_finish_regression` turn a conic answer and its bound into a :class:`~solvers.Solution`.

Notation: :math:`\omega(t)=\sqrt{1+t^2}`.
"""

import numpy as np

from solvers.piecewise import _omega, tv2_cost
from solvers.solution import Solution
from solvers.tv2.discrete import _q_from_lambda, _slope_jumps

_SKIP_VARIANTS = ("skip", "bias")


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
    :math:`(sq)'` (:func:`_slope_jumps`).
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
    lin = float(_slope_jumps(x, q) @ y)
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
    g = _slope_jumps(x, q)
    a = float(g @ y)
    Q = float(np.sum(g * g / w))
    if Q == 0.0 or lam == 0.0:
        return offset, 0.0
    sig = 2.0 * a / (lam * Q)
    sig = float(np.clip(sig, -smax, smax))
    return offset + lam * sig * a - 0.25 * lam * lam * sig * sig * Q, sig


def _socp_interpolation_bound(x, y, variant, nu, kappa, candidates=()):
    """Certificate from the SOCP duals: q = (kappa, nu, -kappa) (skip: kappa = 0).

    The relative sign of cvxpy's duals of the curvature equations and of the |D| epigraph is
    a convention; both choices are checked and each is a valid certificate on its own, so the
    larger bound is kept. ``candidates`` are further (nu, kappa) pairs (the KKT multipliers of
    the polished faces, :func:`~solvers.tv2.polish._polish_conic`), rescaled and checked the same way."""
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
    cert = {
        "bound_kind": bound_kind,
        "dual_scale": scale,
        "dual_function_values": q,
        "solver_objective": info["solver_objective"],
        "interpolation_residual": float(np.max(np.abs(f(x) - y))),
    }
    return _conic_solution(data, f, info, variant, method, "interpolation", tv2_cost(f, variant), lb, cert,
                           extra_cert)


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
    }
    return _conic_solution(data, f, info, variant, method, "regression", value, lb, cert, extra_cert,
                           lam=float(lam), fitted=fitted)


def _conic_solution(data, f, info, variant, method, problem, value, lb, cert, extra_cert, **fields):
    """The :class:`~solvers.Solution` of a conic path: ``cert`` (the problem's own entries) completed
    by the solve's diagnostics (``info`` of :func:`~solvers.tv2.socp._socp` or of the grid program)."""
    cert.update({"n_knots": int(f.knots.size), "solve_seconds": info["seconds"], "size": info["size"]})
    if info.get("polish"):
        cert["polish"] = info["polish"]
    if extra_cert:
        cert.update(extra_cert)
    return Solution(function=f, value=float(value), lower_bound=float(lb), status=info["status"],
                    method=method, solver=info["label"], variant=variant, problem=problem,
                    x=data.x, y=data.y, certificate=cert, accuracy=info["accuracy"],
                    allow_inaccurate=info["allow_inaccurate"], **fields)


def _as_zero_lam_regression(data, sol):
    off = float(data.sse_offset)
    fitted = sol.function(data.x)
    sse = float(np.sum(data.weights * (fitted - data.y) ** 2)) + off
    cert = dict(sol.certificate)
    cert["bound_kind"] = "lam=0: SSE offset (exact)"
    return Solution(function=sol.function, value=sse, lower_bound=off, status=sol.status, method=sol.method,
                    solver=sol.solver, variant=sol.variant, problem="regression", x=sol.x, y=sol.y, lam=0.0,
                    fitted=fitted, certificate=cert, accuracy=sol.accuracy)
