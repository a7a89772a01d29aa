r"""Exact SOCPs for minimum-norm interpolation and regression with the bias-penalised costs.

V3 (``"bias"``, Boursier--Flammarion) and V4 (``"bias-no-skip"``), MATH.md B.3, B.4. They are
*exact* finite reformulations of the continuous problems: on each data interval only the mass and
the first moment of :math:`f''` enter the data constraints, and Jensen's inequality puts one atom
at the barycentre (:func:`_socp`). The interior-point answer is turned into exact knots
(:mod:`solvers.tv2.knots`) and then *polished* (:mod:`solvers.tv2.polish`): the smooth problem on
its support is solved by Newton's method, which gives knots and values exact to rounding and,
from the KKT multipliers, a dual certificate tight to rounding. Every result carries a certified
lower bound on the continuous problem (:mod:`solvers.tv2.certificates`).

The knot-grid cross-checks of all four variants (``method="cvxpy"``) are in :mod:`solvers.tv2.grid`.

Notation: data :math:`x_1<\dots<x_n`, :math:`h_i=x_{i+1}-x_i`, secant slopes
:math:`s_i=(y_{i+1}-y_i)/h_i`, discrete curvature :math:`\delta_j=s_j-s_{j-1}` at interior
points, :math:`\omega(t)=\sqrt{1+t^2}`.

The public entry points are :func:`solvers.tv2_interpolant` and :func:`solvers.tv2_regression`;
the functions here take validated :class:`~solvers._validation.Data`.
"""

import cvxpy as cp
import numpy as np

from solvers import _cvx
from solvers._validation import validate_bool
from solvers.errors import SolverError
from solvers.piecewise import PiecewiseLinear, _omega
from solvers.solution import Solution
from solvers.tv2.certificates import (
    _as_zero_lam_regression,
    _finish_interpolation,
    _finish_regression,
    _socp_interpolation_bound,
)
from solvers.tv2.discrete import _curvature_operator, _secant_operator, _secants
from solvers.tv2.knots import MASS_REL_THRESHOLD, _fit_affine, _polish_atoms
from solvers.tv2.polish import _polish_conic
from solvers.tv2.scaling import _value_scale

__all__ = ["bias_interpolant", "bias_no_skip_interpolant", "bias_regression", "bias_no_skip_regression"]

#: Polish the V3/V4 SOCP answers to the exact stationary point of their support (switch, for measurements).
POLISH_CONIC = True
#: Larger problems keep the SOCP answer: there the one-coordinate-at-a-time active set runs out of
#: budget (hundreds of near-zero shares; measured n = 400: no face converged, 1-3 s spent), while
#: up to n = 100 it converged in 0.3-1 s on every set tried.
POLISH_MAX_N = 200


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
    label, status, seconds = _cvx.solve_tight(problem, solver, allow_inaccurate, size, solver_options)
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
        ``value`` = :func:`~solvers.tv2_cost` of the returned function; ``lower_bound`` = dual
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

    ``lower_bound`` is the Fenchel dual bound (:func:`~solvers.tv2.certificates._regression_bound`) of the dual function
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
