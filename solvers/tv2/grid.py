r"""Knot-grid programs for all four variants (``method="cvxpy"``, MATH.md B.1, B.4).

The dictionary :math:`f(x)=c\,x+d+\sum_k J_k (x-t_k)_+` on a finite grid of candidate knots
(:func:`default_grid`). They are the independent cross-check of the exact paths and give upper
bounds that converge from above as the grid is refined (exact for V1/V2, whose data knots
suffice); their lower bounds are certified for the continuous problem all the same
(:mod:`solvers.tv2.certificates`).

The functions here take validated :class:`~solvers._validation.Data`; the public entry points
are :func:`solvers.tv2_interpolant` and :func:`solvers.tv2_regression` with ``method="cvxpy"``.
"""

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from solvers import _cvx
from solvers._validation import validate_bool
from solvers.errors import InputError, SolverError
from solvers.piecewise import VARIANTS, _omega
from solvers.tv2.certificates import (
    _SKIP_VARIANTS,
    _as_zero_lam_regression,
    _certificate_shape,
    _finish_interpolation,
    _finish_regression,
    _interp_bound,
)
from solvers.tv2.discrete import _q_from_lambda, _secants
from solvers.tv2.exact import _fit_function
from solvers.tv2.knots import MASS_REL_THRESHOLD, _fit_affine, _repair_jumps
from solvers.tv2.regression import _data_knot_objective, polish_data_knot_regression
from solvers.tv2.scaling import _value_scale

__all__ = ["default_grid", "grid_interpolant", "grid_regression"]

#: Default grid: subdivisions per data interval are min(10, ceil(GRID_BUDGET / (n-1))), >= 2.
GRID_BUDGET = 40_000
GRID_MAX_SUBDIV = 10
GRID_MIN_SUBDIV = 2
#: Points added on each side of the hull for the no-skip variants (out to one data range).
GRID_EXTENSION_POINTS = 10
#: Polish the V1/V2 grid regressions to the exact face solution (switch, for measurements).
POLISH_DATA_KNOT = True


def default_grid(x, variant, per_interval=None):
    r"""Default candidate knots for :func:`grid_interpolant` / :func:`grid_regression`.

    * ``"skip"``/``"no-skip"``: the data only (data knots suffice for V1/V2, so the grid
      program is exact); no-skip adds ``GRID_EXTENSION_POINTS`` points on each side out to
      one data range beyond the hull.
    * ``"bias"``/``"bias-no-skip"``: the data plus a uniform subdivision of every data
      interval into ``r = clip(ceil(GRID_BUDGET/(n-1)), GRID_MIN_SUBDIV, GRID_MAX_SUBDIV)``
      pieces (10 per interval up to n ~ 4000, then ~4e4 points in total, at least 2 per
      interval); bias-no-skip also adds the extension points and 0.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    parts = [x]
    if variant in ("bias", "bias-no-skip") and n > 1:
        r = per_interval or int(np.clip(np.ceil(GRID_BUDGET / (n - 1)), GRID_MIN_SUBDIV, GRID_MAX_SUBDIV))
        fr = np.arange(1, r) / r
        parts.append((x[:-1, None] + np.diff(x)[:, None] * fr[None, :]).ravel())
    if variant in ("no-skip", "bias-no-skip"):
        span = max(x[-1] - x[0], 1.0 if n == 1 else 0.0) or 1.0
        ext = span * np.arange(1, GRID_EXTENSION_POINTS + 1) / GRID_EXTENSION_POINTS
        parts += [x[0] - ext, x[-1] + ext]
        if variant == "bias-no-skip":
            parts.append([0.0])
    return np.unique(np.concatenate([np.ravel(p) for p in parts]))


def _grid_weights(t, variant):
    """(w1, w2): R = max(w1.|J|, w2.|J| + |D|) for no-skip variants, w1.|J| for skip ones."""
    if variant == "skip":
        return np.ones_like(t), None
    if variant == "bias":
        return _omega(t), None
    if variant == "no-skip":
        return np.ones_like(t), np.zeros_like(t)
    om = _omega(t)
    return om, om - 1.0


def _prepare_grid(x, variant, grid):
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; expected one of {', '.join(map(repr, VARIANTS))}")
    if grid is None:
        g = default_grid(x, variant)
    else:
        g = np.asarray(grid, dtype=np.float64).ravel()
        if g.size == 0 or not np.all(np.isfinite(g)):
            raise InputError("grid must be a non-empty 1-D array of finite knot positions")
        extra = [x, [0.0]] if variant == "bias-no-skip" else [x]
        g = np.unique(np.concatenate([g] + [np.ravel(e) for e in extra]))
    if variant in _SKIP_VARIANTS:
        # Knots outside the hull only add cost when the affine part is free.
        g = g[(g >= x[0]) & (g <= x[-1])]
    return g, np.searchsorted(g, x)


def _grid_program(data, lam, variant, solver, allow_inaccurate, grid, solver_options):
    r"""Knot-grid program on grid :math:`t_1<\dots<t_K` (containing the data).

    The dictionary :math:`f(x)=c\,x+d+\sum_k J_k(x-t_k)_+` is parametrised by the slopes
    :math:`\sigma_k` of :math:`f` on the grid intervals, the left slope :math:`c` and the right
    slope :math:`s_R`: :math:`J=(\sigma_1-c,\ \sigma_2-\sigma_1,\dots,\ s_R-\sigma_{K-1})`, and
    the free intercept is eliminated. The data enter as secant slopes,
    :math:`\sum_{k\subset[x_j,x_{j+1}]}(h_k/H_j)\,\sigma_k=s_j` (weights summing to 1), so the
    program is sparse and well conditioned. It is the same set of functions and the same
    objective as the dense relu-matrix LP of MATH B.1 (which, like cvxpy's ``cumsum``, does
    not scale to n = 1e4; value parametrisations are ill conditioned, ~1/h^2).
    """
    _cvx.check_size(data.n, "the cvxpy knot-grid program")
    x, y_orig, w = data.x, data.y, data.weights
    c_scale = _value_scale(x, y_orig, lam)  # see socp._socp
    y = y_orig / c_scale
    lam = None if lam is None else lam / c_scale
    g, _ = _prepare_grid(x, variant, grid)
    K = g.size
    if K < 2:
        raise InputError("the grid needs at least 2 points")
    n = x.size
    H = np.diff(x)
    hg = np.diff(g)
    mid = 0.5 * (g[:-1] + g[1:])
    owner = np.searchsorted(x, mid, side="right") - 1  # data interval of each grid interval
    inside = (owner >= 0) & (owner <= n - 2)
    cols = np.flatnonzero(inside)
    Ah = sp.csr_matrix((hg[cols], (owner[cols], cols)), shape=(n - 1, K - 1))
    sig = cp.Variable(K - 1)
    c = cp.Variable()
    sR = cp.Variable()
    E = sp.diags([np.ones(K - 1), -np.ones(K - 1)], [0, -1], shape=(K, K - 1), format="csr")
    e0 = np.zeros(K)
    e0[0] = 1.0
    eK = np.zeros(K)
    eK[-1] = 1.0
    J = E @ sig - c * e0 + sR * eK
    w1, w2 = _grid_weights(g, variant)
    absJ = cp.abs(J)
    if w2 is None:
        R = w1 @ absJ
    else:
        R = cp.maximum(w1 @ absJ, w2 @ absJ + cp.abs(c + sR))
    if lam is None:
        fit = sp.diags(1.0 / H) @ Ah @ sig == np.diff(y) / H
        cons = [fit]
        objective = R
        z = None
    else:
        z = cp.Variable(n)
        fit = None
        cons = [Ah @ sig == z[1:] - z[:-1]]
        objective = cp.sum_squares(cp.multiply(np.sqrt(w), z - y)) + lam * R
    problem = cp.Problem(cp.Minimize(objective), cons)
    size = {"n": int(n), "grid": int(K), "variables": int(problem.size_metrics.num_scalar_variables)}
    label, status, seconds = _cvx.solve_tight(problem, solver, allow_inaccurate, size, solver_options)
    if sig.value is None:
        raise SolverError("solver returned no primal solution", status=status, solver=label, size=size)

    Jv = c_scale * np.asarray(J.value, dtype=np.float64).ravel()
    target = y_orig if z is None else c_scale * np.asarray(z.value, dtype=np.float64)
    # Interior-point noise: drop jumps below MASS_REL_THRESHOLD of the largest jump or data slope.
    thr = MASS_REL_THRESHOLD * max(float(np.max(np.abs(Jv))), float(np.max(np.abs(np.diff(target) / H))))
    Jv = np.where(np.abs(Jv) > thr, Jv, 0.0)
    nz = Jv != 0
    _, _, delta_t = _secants(x, target)
    knots, jumps, added = _repair_jumps(x, g[nz], Jv[nz], delta_t)
    f = _fit_affine(x, target, knots, jumps)
    polish = None
    if z is not None and variant in ("skip", "no-skip") and POLISH_DATA_KNOT:
        # V1/V2 regression: the exact optimum has knots at the data (MATH B.1/B.2), so the conic
        # answer is replaced by the exact minimiser of its face when that is better
        zp, polish = polish_data_knot_regression(x, y_orig, w, lam * c_scale, f(x), variant)
        if polish["face"] is not None:
            fp = _fit_function(x, zp, "linear", variant)
            if _data_knot_objective(x, y_orig, w, lam * c_scale, fp(x), variant) < polish["objective_before"]:
                f = fp
    lam_dual = None
    if fit is not None and fit.dual_value is not None:
        # Dual mu_j of the secant equation j -> coefficient of f(x_j) in the Lagrangian.
        mu = np.asarray(fit.dual_value, dtype=np.float64).ravel() / H
        lam_dual = np.concatenate(([0.0], mu)) - np.concatenate((mu, [0.0]))
    obj = float(problem.value) * (c_scale if lam is None else c_scale**2)
    # V1/V2: knots at the data suffice, so the grid program is exact (solver tolerance only);
    # V3/V4: the grid optimum approaches the continuous one from above (discretisation error)
    info = dict(label=label, status=status, seconds=seconds, solver_objective=obj, value_scale=c_scale,
                size=size, lam_dual=lam_dual, allow_inaccurate=allow_inaccurate,
                accuracy="conic" if variant in ("skip", "no-skip") else "grid",
                polish={"dropped_jumps": int(np.count_nonzero(~nz)), "added_data_knots": added,
                        **({} if polish is None else {"exact_face": polish["face"],
                                                      "objective_before": polish["objective_before"],
                                                      "objective_after": polish["objective_after"]})})
    return f, info


def grid_interpolant(data, variant, *, solver=None, allow_inaccurate=False, grid=None, solver_options=None):
    r"""Minimum-norm interpolant on a knot grid, any variant (``method="cvxpy"``, MATH B.1/B.4).

    .. math::
        \min_{J,c,d} R(J,c) \quad\text{s.t.}\quad c\,x_i+d+\sum_k J_k(x_i-t_k)_+=y_i,

    with :math:`R=\sum w_k|J_k|` (V1: :math:`w=1`; V3: :math:`w=\omega(t_k)`) or
    :math:`R=\max(\sum w_k|J_k|,\ \sum (w_k-1)|J_k| + |2c+\sum J_k|)` (V2: :math:`w=1`;
    V4: :math:`w=\omega(t_k)`), and the grid :math:`t` from :func:`default_grid` (or ``grid``,
    to which the data, and 0 for V4, are added).

    The grid optimum is an **upper bound** on the continuous optimum that decreases to it as the
    grid is refined; it is **exact** for V1/V2 (knots at the data suffice, MATH B.1/B.2) and for
    V4 only the interior knots are approximated (the optimal outer-ray knots, at the data end
    or at 0, are on the grid). The independent cross-check of the exact paths.

    ``lower_bound`` is nevertheless a certified bound on the *continuous* problem: the duals
    :math:`\lambda` of the interpolation constraints define :math:`P(t)=\sum\lambda_j(x_j-t)_+`,
    which is feasible on the grid only; it is rescaled until it is feasible on all of
    :math:`\mathbb R` (:func:`~solvers.tv2.certificates._feasible_scale`), so ``gap`` measures the grid error too.
    Default solver CLARABEL (tolerance 1e-10).
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    f, info = _grid_program(data, None, variant, solver, allow_inaccurate, grid, solver_options)
    x, y = data.x, data.y
    if info["lam_dual"] is not None:
        q = _certificate_shape(_q_from_lambda(x, info["lam_dual"]), variant)
        lb, s = _interp_bound(x, y, q, variant)
        kind = "continuous-dual"
    else:  # pragma: no cover - solvers used here always return duals
        lb, s, q, kind = -np.inf, None, None, "unavailable"
    return _finish_interpolation(data, f, info, variant, "cvxpy", lb, s, q, kind,
                                 {"grid_size": info["size"]["grid"]})


def grid_regression(data, lam, variant, *, solver=None, allow_inaccurate=False, grid=None, solver_options=None):
    r"""Regression on a knot grid, any variant (``method="cvxpy"``):
    :math:`\min\sum_i w_i(f(x_i)-y_i)^2+\lambda R(f)` over the grid dictionary of
    :func:`grid_interpolant` (an upper bound, exact for V1/V2; MATH B.1 Regression).
    ``lower_bound`` is the Fenchel dual bound of the residual-based dual function, certified
    for the continuous problem (``bound_kind == "continuous-fenchel-dual"``).
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    if lam == 0:
        sol = grid_interpolant(data, variant, solver=solver, allow_inaccurate=allow_inaccurate, grid=grid,
                               solver_options=solver_options)
        return _as_zero_lam_regression(data, sol)
    f, info = _grid_program(data, lam, variant, solver, allow_inaccurate, grid, solver_options)
    return _finish_regression(data, lam, f, info, variant, "cvxpy", {"grid_size": info["size"]["grid"]})
