r"""Exact V1/V2 regression :math:`\min_f\sum_i w_i(f(x_i)-y_i)^2+\lambda R(f)` (MATH.md B.1, B.2).

Knots at the data suffice, so the problem is the *data-knot program*
:math:`\min_z\sum w(z-y)^2+\lambda R(z)` over the fitted values :math:`z`:

- V1 by a primal--dual active-set method with banded solves (:func:`_v1_regression_pdas`),
  falling back to the cvxpy data-knot QP (:func:`_v1_data_knot_cvxpy`) if it does not converge;
- V2 by the data-knot conic program, polished exactly on its active face
  (:func:`polish_data_knot_regression`, also used by the knot-grid programs of
  :mod:`solvers.tv2.grid`);
- either way certified by a dual-feasible point (:func:`_dual_bound`), and the returned function
  is the ``select``-ed interpolant of the fitted values (:mod:`solvers.tv2.exact`).
"""

import warnings

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from scipy.linalg import solveh_banded

from solvers import _cvx
from solvers._validation import Data
from solvers.errors import InputError
from solvers.piecewise import tv2_cost
from solvers.solution import Solution
from solvers.tv2.discrete import (
    _end_slopes_row,
    _p_from_jumps,
    _secants,
    _signed_curvature_row,
    _slope_jumps,
)
from solvers.tv2.exact import (
    _curvature_signs,
    _exact_interpolant,
    _fit_function,
    _v1_function,
    _with_flat_ends,
)
from solvers.tv2.scaling import _rescale_exponents, _unscale_function

__all__ = ["polish_data_knot_regression"]

# ----------------------------------------------------------------------------- objective, dual bound, Solution
def _sse(w, z, y, offset):
    r = z - y
    return float(np.dot(w, r * r)) + offset


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
    dy = _secants(x, y)[2]
    info = {}
    if variant == "no-skip":
        Svec = _end_slopes_row(x)
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
    g = _slope_jumps(x, np.concatenate(([0.0], u, [0.0]))) if n > 2 else np.zeros(n)
    lin = float(np.dot(u, dy)) if n > 2 else 0.0
    if variant == "no-skip":
        g = g + q * Svec
        lin += q * float((y[1] - y[0]) / h[0] + (y[-1] - y[-2]) / h[-1])
    bound = lam * lin - 0.25 * lam * lam * float(np.dot(g, g / w)) + offset
    info.update({"dual_scale": kappa, "max_abs_u_before_scaling": m, "boundary_multiplier": q})
    return bound, info


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


# ----------------------------------------------------------------------------- V1: active set on the data-knot problem
def _hat_basis(x, nodes):
    r"""The PL functions with nodes ``x[nodes]`` (data indices, both ends included) at the data:
    :math:`z=v_k(1-\phi)+v_{k+1}\phi` with node values ``v``. Returns ``(X, k, phi)``, ``X = x[nodes]``."""
    X = x[nodes]
    H = np.diff(X)
    m = X.size
    k = np.empty(x.size, dtype=np.intp)
    k[:-1] = np.repeat(np.arange(m - 1), np.diff(nodes))
    k[-1] = m - 2
    return X, k, (x - X[k]) / H[k]


def _reduced_fit(x, y, w, lam, nodes, sig):
    r"""Exact minimiser over PL functions with knots only at ``nodes`` (data indices, both ends
    included) of :math:`\sum w(z-y)^2+\lambda\sum_a\sigma_a\,(Dz)_a`.

    In the hat basis of the nodes the normal matrix :math:`B^\top WB` is tridiagonal and SPD
    (each node is a data point), so one banded Cholesky solve gives the node values ``v``.
    """
    X, k, phi = _hat_basis(x, nodes)
    m = X.size
    a = 1.0 - phi
    wa, wp = w * a, w * phi
    diag = np.bincount(k, wa * a, minlength=m) + np.bincount(k + 1, wp * phi, minlength=m)
    off = np.bincount(k, wa * phi, minlength=m)[: m - 1]
    rhs = np.bincount(k, wa * y, minlength=m) + np.bincount(k + 1, wp * y, minlength=m)
    if m > 2:
        rhs -= 0.5 * lam * _signed_curvature_row(X, sig)
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
            mu = _secants(x[nodes], v)[2]
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


def _v1_data_knot_cvxpy(data, lam, solver, allow_inaccurate, variant="skip"):
    """The data-knot program of MATH B.1/B.2 (Regression) in cvxpy; returns (z, label, status)."""
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
        dz = _secants(x, zc)[2]
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


# ----------------------------------------------------------------------------- exact face polish of a conic solution
#: Relative sizes below which a slope change of the conic solution is read as zero when its face is
#: identified (interior-point noise is ~1e-9 of the largest; genuine small kinks can be 1e-5).
_POLISH_THRESHOLDS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9)


def _data_knot_objective(x, y, w, lam, z, variant):
    r""":math:`\sum w(z-y)^2+\lambda R(z)` of the data-knot program (MATH B.1/B.2):
    :math:`R=V=\sum|(Dz)_i|` (V1) or :math:`\max(V,(V+|s_1+s_{n-1}|)/2)` (V2)."""
    _, s, d = _secants(x, z)
    V = float(np.sum(np.abs(d)))
    R = V if variant == "skip" else max(V, 0.5 * (V + abs(float(s[0] + s[-1]))))
    r = z - y
    return float(w @ (r * r)) + lam * R


def _face_solve(x, y, w, lam, sig, case, eps):
    r"""Exact minimiser of the data-knot regression on one face of its objective.

    Face: knots (non-zero slope changes) exactly where ``sig != 0``, with those signs, and for V2
    which term of :math:`R=\max(V,(V+|S|)/2)` is active (``case``: ``"V"``, ``"B"`` -- the
    boundary term, :math:`S=s_1+s_{n-1}` of sign ``eps`` -- or ``"tie"``, :math:`V=|S|`). On the
    face, z is the hat-function expansion :math:`z=Bv` of its node values v and the objective is
    :math:`\sum w(Bv-y)^2+\lambda c^\top v` with c linear, so the minimiser solves the normal
    equations :math:`2B^\top WBv+\lambda c=2B^\top Wy` (tridiagonal; bordered by the equality
    :math:`\sigma^\top D_Nv=\epsilon S_Nv` at a tie). Returns z.
    """
    from scipy.sparse.linalg import spsolve

    n = x.size
    nodes = np.concatenate(([0], np.flatnonzero(sig[1:-1]) + 1, [n - 1]))
    X, k, phi = _hat_basis(x, nodes)
    m = X.size
    B = sp.csr_matrix((np.concatenate([1.0 - phi, phi]), (np.tile(np.arange(n), 2), np.concatenate([k, k + 1]))),
                      shape=(n, m))
    G = (B.T @ sp.diags(w) @ B).tocsc()
    # sigma^T D_N v: second divided differences at the interior nodes, weighted by their signs
    cD = _signed_curvature_row(X, sig[nodes[1:-1]]) if m > 2 else np.zeros(m)
    # S_N v = first + last secant slope (z is linear between nodes, so these are the data secants)
    cS = _end_slopes_row(X)
    rhs = 2.0 * (B.T @ (w * y))
    if case == "V":
        v = spsolve(2.0 * G, rhs - lam * cD)
    elif case == "B":
        v = spsolve(2.0 * G, rhs - 0.5 * lam * (cD + eps * cS))
    else:
        a = cD - eps * cS
        K = sp.bmat([[2.0 * G, sp.csc_matrix(a[:, None])], [sp.csc_matrix(a[None, :]), None]], format="csc")
        v = spsolve(K, np.concatenate([rhs - lam * cD, [0.0]]))[:m]
    z = B @ v
    z[nodes] = v
    return z


def polish_data_knot_regression(x, y, w, lam, z, variant):
    r"""Exact fitted values of the V1/V2 regression from a conic solver's approximate ones.

    The data-knot program :math:`\min_z\sum w(z-y)^2+\lambda R(z)` (MATH B.1/B.2, ``variant``
    ``"skip"`` or ``"no-skip"``) is a QP whose objective is quadratic on each face (signs of the
    slope changes, active term of the V2 max). Interior-point solutions stop ~1e-9 short of the
    optimum (up to 8e-9 relative measured for V2); the face is read off ``z`` (slope changes
    below each of ``_POLISH_THRESHOLDS`` times the largest are zero; for V2 each of the three cases of the max is
    tried) and solved exactly by :func:`_face_solve`. Returns the candidate with the lowest
    objective (``z`` itself when no face solution improves on it) and a diagnostics dict. The
    caller certifies the result with its own dual bound.
    """
    x, y, w, z = (np.asarray(a, dtype=np.float64) for a in (x, y, w, z))
    best_z, best = z, _data_knot_objective(x, y, w, lam, z, variant)
    info = {"objective_before": best, "face": None}
    # The conic point's objective is accurate to second order in its error but its dual bound only
    # to first order, so an exact face point within rounding of its objective is preferred.
    best += 1e-13 * max(1.0, abs(best))
    if x.size < 2 or lam <= 0 or (x.size == 2 and variant == "skip"):
        info["objective_after"] = info["objective_before"]
        return best_z, info
    _, s, d = _secants(x, z)
    # Scales the noise is measured against: the fit's own slope changes, the data's (when the fit
    # is a line every slope change of z is solver noise, and only the empty face, tried last, is
    # right) and the fit's slopes (kinks far smaller than the slopes they bend are noise too).
    d_fit = float(np.max(np.abs(d))) if d.size else 0.0
    d_data = float(np.max(np.abs(_secants(x, y)[2]))) if d.size else 0.0
    scales = (max(d_fit, d_data), d_fit, float(np.max(np.abs(s))))
    S = float(s[0] + s[-1])
    eps = 1.0 if S >= 0 else -1.0
    cases = ("V",) if variant == "skip" else ("V", "B", "tie")
    seen = set()
    for ref, thr in [(r, t) for r in scales for t in _POLISH_THRESHOLDS] + [(np.inf, 1.0)]:
        sig = np.zeros(x.size, dtype=np.int8)
        sig[1:-1] = np.where(np.abs(d) > thr * ref, np.sign(d), 0).astype(np.int8)
        if sig.tobytes() in seen:
            continue
        seen.add(sig.tobytes())
        for case in cases:
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a singular face (MatrixRankWarning): skipped below
                    zc = _face_solve(x, y, w, lam, sig, case, eps)
            except (RuntimeError, ValueError, np.linalg.LinAlgError):
                continue
            if not np.all(np.isfinite(zc)):
                continue
            val = _data_knot_objective(x, y, w, lam, zc, variant)
            if val < best:
                best_z, best = zc, val
                info["face"] = {"threshold": thr, "case": case, "knots": int(np.count_nonzero(sig))}
    info["objective_after"] = _data_knot_objective(x, y, w, lam, best_z, variant)
    return best_z, info


# ----------------------------------------------------------------------------- entry (solvers.tv2.tv2_regression)
def _exact_regression(data, lam, variant, select, solver, allow_inaccurate):
    """V1/V2 regression, solved on power-of-two rescaled data when the slopes of the given data
    under/overflow (:func:`~solvers.tv2.scaling._rescale_exponents`)."""
    scale = _rescale_exponents(data.x, data.y) if lam > 0 else None
    if scale is None:
        return _exact_regression_core(data, lam, variant, select, solver, allow_inaccurate)
    return _rescaled_regression(data, lam, variant, select, solver, allow_inaccurate, *scale)


def _rescaled_regression(data, lam, variant, select, solver, allow_inaccurate, a, b):
    r"""The regression on :math:`x2^a`, :math:`y2^b` (:func:`_rescale_exponents`) with
    :math:`\lambda 2^{a+b}`, whose objective is exactly :math:`2^{2b}` times the original one."""
    with np.errstate(over="ignore", under="ignore"):
        lam_s = float(np.ldexp(lam, a + b))
    if not np.isfinite(lam_s) or lam_s == 0.0:
        raise InputError(f"lam = {lam!r} is outside the range this data's scale allows (lam * 2**{a + b} "
                         "must be a finite non-zero float64); rescale x or y")
    scaled = Data(np.ldexp(data.x, a), np.ldexp(data.y, b), data.weights, float(np.ldexp(data.sse_offset, 2 * b)))
    sol = _exact_regression_core(scaled, lam_s, variant, select, solver, allow_inaccurate)
    f = _unscale_function(sol.function, a, b)
    cert = dict(sol.certificate, rescaled_by_powers_of_two={"x": a, "y": b, "lam": a + b},
                note="certificate entries are those of the problem with x*2**a, y*2**b, lam*2**(a+b)")
    out = _regression_solution(data, lam, variant, f, np.ldexp(sol.fitted, -b), sol.method, sol.solver,
                               sol.status, cert, select, bound=float(np.ldexp(sol.lower_bound, -2 * b)),
                               allow_inaccurate=allow_inaccurate)
    if not (np.isfinite(out.value) and np.isfinite(out.lower_bound)):
        raise InputError("the regression objective of this problem is outside the float64 range; rescale x or y")
    return out


def _exact_regression_core(data, lam, variant, select, solver, allow_inaccurate):
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
    zp, polish = polish_data_knot_regression(x, y, w, lam, z, "no-skip")
    if polish.get("face") is not None:
        z, label = zp, f"{label} + exact polish on its active set"
    cert["polish"] = polish
    f = _best_v2_function(data, lam, z, select)
    cert["bound_kind"] = "data-knot conic program (MATH B.2) + dual-feasible point from stationarity"
    return _regression_solution(data, lam, variant, f, z, "exact", label, status, cert, select,
                                allow_inaccurate=allow_inaccurate)


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
