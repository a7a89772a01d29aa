r"""Exact polish of the V3/V4 SOCP answers: Newton's method on the KKT system of their support.

The SOCP's knots are only ~1e-5 accurate where the cost is flat in their position. The support
(a *face*: atoms inside intervals, pinned at data points, on the outer rays) is read off the SOCP
point (:func:`_conic_face`), the smooth convex problem on that face is solved by Newton's method
(:func:`_face_newton`, shrinking the face when a coordinate reaches 0: :func:`_shrink_face`),
and the exact point replaces the SOCP one when it is not worse (:func:`_polish_conic`). Its KKT
multipliers are dual candidates tight to rounding (:mod:`solvers.tv2.certificates`).
"""

import warnings

import numpy as np
import scipy.sparse as sp

from solvers.errors import InputError
from solvers.piecewise import _omega, tv2_cost
from solvers.tv2.certificates import (
    _certificate_shape,
    _regression_bound,
    _socp_interpolation_bound,
)
from solvers.tv2.discrete import (
    _curvature_operator,
    _end_slopes_row,
    _q_from_lambda,
    _secants,
)
from solvers.tv2.knots import _fit_affine

#: Atoms lighter than these fractions of the largest are left out of the support that is polished.
_CONIC_MASS_THRESHOLDS = (1e-3, 1e-5, 1e-7)
#: An atom whose left/right share is below this fraction of its mass is pinned at that data point.
_CONIC_PIN_THRESHOLDS = (1e-5, 1e-3)
_NEWTON_MAX_ITER = 60
#: Faces shrunk (coordinates that Newton drives to 0 removed) before a face is given up.
_ACTIVE_SET_MAX_STEPS = 40
#: Newton steps (sparse KKT solves) allowed in one polish, all faces together.
_POLISH_MAX_NEWTON_STEPS = 200


def _conic_face(x, u, v, aL, aR, thr, pin, variant):
    r"""Support (a *face*) of an SOCP point in the endpoint-mass coordinates of :func:`~solvers.tv2.socp._socp`.

    Returns a list of coordinates ``(kind, sign, a, b, t0)`` and their start values: ``"pair"``
    (an atom strictly inside interval ``a``, two coordinates u, v), ``"u"``/``"v"`` (an atom pinned
    at the left/right end of interval ``a``) and ``"ray"`` (``a`` = 0 left, 1 right, V4 only).
    Atoms lighter than ``thr`` times the largest are dropped; an atom on an interior data point
    that the solver split between the two neighbouring intervals is merged into one coordinate.
    """
    N = u.shape[1]
    m = u + v
    rays = np.vstack([aL, aR]).T if aL is not None else np.zeros((2, 2))  # [sign, side]
    mmax = max(float(np.max(m)), float(np.max(rays)))
    if mmax <= 0:
        return [], np.zeros(0)
    coords, start = [], []
    pinned = {}  # (sign, data index) -> position in coords
    for k in range(2):
        for i in range(N):
            if m[k, i] <= thr * mmax:
                continue
            if v[k, i] <= pin * m[k, i]:
                point, kind = i, "u"
            elif u[k, i] <= pin * m[k, i]:
                point, kind = i + 1, "v"
            else:
                coords.append(("pair", k, i))
                start.append((u[k, i], v[k, i]))
                continue
            key = (k, point)
            if key in pinned and 0 < point < N:
                start[pinned[key]] = (start[pinned[key]][0] + m[k, i],)
                continue
            pinned[key] = len(coords)
            coords.append((kind, k, i))
            start.append((m[k, i],))
        if variant == "bias-no-skip":
            for side in range(2):
                mass = rays[k, side]
                if mass <= thr * mmax:
                    continue
                # A ray atom at a hull end (data on one side of 0) is the pin at that point.
                point = 0 if side == 0 else N
                key = (k, point)
                if key in pinned:
                    j = pinned[key]
                    coords[j] = ("ray", k, side)
                    start[j] = (start[j][0] + mass,)
                    continue
                pinned[key] = len(coords)
                coords.append(("ray", k, side))
                start.append((mass,))
    # At most one atom of each sign per closed interval (MATH B.3, from the strict concavity of
    # q - omega): a pin next to a same-sign interior atom is the solver's split of that atom, so it
    # joins the pair's coordinate that enters the same curvature equation.
    pair_at = {(c[1], c[2]): j for j, c in enumerate(coords) if c[0] == "pair"}
    drop = set()
    for (k, point), j in pinned.items():
        if coords[j][0] == "ray" or not 0 < point < N:
            continue
        for interval, side in ((point - 1, 1), (point, 0)):
            if (k, interval) in pair_at:
                jp = pair_at[(k, interval)]
                st = list(start[jp])
                st[side] += start[j][0]
                start[jp] = tuple(st)
                drop.add(j)
                break
    coords = [c for j, c in enumerate(coords) if j not in drop]
    start = [st for j, st in enumerate(start) if j not in drop]
    return coords, np.array([s for st in start for s in st], dtype=np.float64)


def _columns(coords):
    """``(kind, sign, a, col)`` for each coordinate of a face (:func:`_conic_face`): ``col`` is its
    first entry in the face point ``theta`` (an interior atom has two, u and v; the others one)."""
    col = 0
    for kind, k, a in coords:
        yield kind, k, a, col
        col += 2 if kind == "pair" else 1


def _face_newton(x, coords, theta0, target, y_fit, lam, w, variant, case, eps, budget):
    r"""Exact minimiser of the SOCP restricted to one face, by Newton's method on its KKT system.

    On a face (fixed support and signs; for V4 also the active term of the max: ``case`` ``"A"``
    -- :math:`\int\omega\,d|\mu|`, ``"B"`` -- :math:`\int(\omega-1)\,d|\mu|+\epsilon D` or
    ``"tie"`` -- the first with :math:`\epsilon D=\|\mu\|`) the program

    .. math:: \min\ \lambda R(p) + \textstyle\sum_i w_i(z_i-y_i)^2
              \quad\text{s.t.}\quad V_{j-1}+U_j=\delta_j(z)

    (interpolation: :math:`\lambda=1`, :math:`z=y` fixed; regression: z starts at ``target`` and
    fits ``y_fit``) is smooth and convex: an interior atom
    costs :math:`\|(u+v,\,x_iu+x_{i+1}v)\|_2`, a pinned or ray atom :math:`\omega(t)\,a`. Returns
    (coordinates, z, multipliers of the curvature rows, multiplier of the tie row) or None when
    Newton does not converge or the shared step ``budget`` (a one-element list) runs out, and ``("blocked", coordinates, z)`` at the point where a step
    first drives coordinates to 0 (set to exactly 0 there).
    """
    from scipy.sparse.linalg import spsolve

    n = x.size
    N = n - 1
    P = theta0.size
    regression = lam is not None
    nz = n if regression else 0
    tL, tR = min(x[0], 0.0), max(x[-1], 0.0)
    bias_b = variant == "bias-no-skip" and case == "B"
    # Linear data of every coordinate: curvature row, sign, D coefficient, linear cost.
    rows, cols, vals = [], [], []
    dvec = np.zeros(P + nz)
    lin = np.zeros(P + nz)
    pairs = []
    for kind, k, a, col in _columns(coords):
        sg = 1.0 if k == 0 else -1.0
        if kind == "pair":
            pairs.append((col, a))
            members = ((col, a, -sg if a == 0 else 0.0), (col + 1, a + 1, sg if a == N - 1 else 0.0))
            for c, point, dc in members:
                if 0 < point < N:
                    rows.append(point - 1)
                    cols.append(c)
                    vals.append(sg)
                dvec[c] = dc
            continue
        if kind == "ray":
            point, t = (-1, tL) if a == 0 else (-1, tR)
            dvec[col] = -sg if a == 0 else sg
        else:
            point = a if kind == "u" else a + 1
            t = x[point]
            if 0 < point < N:
                rows.append(point - 1)
                cols.append(col)
                vals.append(sg)
            dvec[col] = -sg if point == 0 else (sg if point == N else 0.0)
        lin[col] = float(_omega(t)) - (1.0 if bias_b else 0.0)
    C = sp.csr_matrix((vals, (rows, cols)), shape=(max(n - 2, 0), P + nz))
    if regression:
        sec = _end_slopes_row(x)
        dvec[P:] = sec
        C = C - sp.hstack([sp.csr_matrix((max(n - 2, 0), P)), _curvature_operator(x)]) if n > 2 else C
        rhs = np.zeros(C.shape[0])
        S0 = 0.0
    else:
        _, s, delta = _secants(x, target)
        rhs = delta.copy()
        S0 = float(s[0] + s[-1])
    mass = np.zeros(P + nz)
    mass[:P] = 1.0
    if case == "B":
        lin = lin + eps * dvec
    if case == "tie":
        C = sp.vstack([C, sp.csr_matrix((eps * dvec - mass)[None, :])]).tocsr()
        rhs = np.concatenate([rhs, [-eps * S0]])
    lam_r = 1.0 if lam is None else lam
    theta = np.concatenate([theta0, target if regression else np.zeros(0)])
    m_rows = C.shape[0]

    pc = np.array([c for c, _ in pairs], dtype=np.int64)
    xa = x[np.array([i for _, i in pairs], dtype=np.int64)] if pairs else np.zeros(0)
    xb = x[np.array([i + 1 for _, i in pairs], dtype=np.int64)] if pairs else np.zeros(0)
    # Hessian sparsity: a 2x2 block per pair, the SSE diagonal for z.
    blk_r = np.concatenate([pc, pc, pc + 1, pc + 1])
    blk_c = np.concatenate([pc, pc + 1, pc, pc + 1])
    zi = np.arange(P, P + nz)

    def grad_hess(th):
        # pair cost ||(u+v, x_a u + x_b v)||: gradient L^T e, Hessian L^T (I - e e^T) L / ||.||
        g = lam_r * lin.copy()
        uu, vv = th[pc], th[pc + 1]
        w0, w1 = uu + vv, xa * uu + xb * vv
        nw = np.hypot(w0, w1)
        e0, e1 = w0 / nw, w1 / nw
        sub = 1.0 if bias_b else 0.0
        g[pc] += lam_r * (e0 + xa * e1 - sub)
        g[pc + 1] += lam_r * (e0 + xb * e1 - sub)
        # (I - e e^T) = f f^T with f = (-e1, e0), so the block is (L^T f)(L^T f)^T / ||.||
        fa = -e1 + xa * e0
        fb = -e1 + xb * e0
        sc = lam_r / nw
        Hv = np.concatenate([sc * fa * fa, sc * fa * fb, sc * fb * fa, sc * fb * fb])
        Hr, Hc = blk_r, blk_c
        if regression:
            g[P:] += 2.0 * w * (th[P:] - y_fit)
            Hr, Hc, Hv = np.concatenate([Hr, zi]), np.concatenate([Hc, zi]), np.concatenate([Hv, 2.0 * w])
        H = sp.csr_matrix((Hv, (Hr, Hc)), shape=(P + nz, P + nz))
        return g, H

    nu = np.zeros(m_rows)
    converged = False
    for _ in range(_NEWTON_MAX_ITER):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        g, H = grad_hess(theta)
        r = rhs - C @ theta
        hdiag = float(np.max(np.abs(H.diagonal()))) if H.nnz else 1.0
        rho = 1e-14 * max(hdiag, 1.0)
        # Proximal regularisation in both blocks (the Hessian of a degree-1 homogeneous cost is
        # singular along its ray, and a pinned atom has none): it vanishes at the fixed point, so
        # the limit is the exact KKT point, and it keeps a rank-deficient face solvable.
        K = sp.bmat([[H + rho * sp.identity(P + nz), C.T], [C, -rho * sp.identity(m_rows)]], format="csc") \
            if m_rows else (H + rho * sp.identity(P + nz)).tocsc()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sol = spsolve(K, np.concatenate([-g, r + rho * nu]))
        sol = np.atleast_1d(sol)
        if not np.all(np.isfinite(sol)):
            return None
        d = sol[:P + nz]
        nu = -sol[P + nz:]
        step = 1.0
        neg = d[:P] < 0
        if np.any(neg):
            ratios = -theta[:P][neg] / d[:P][neg]
            step = float(np.min(ratios))
            if step < 1.0:
                # A coordinate reaches 0: the support is smaller. Stop on the boundary and let the
                # caller shrink the face (an active-set step).
                theta = theta + step * d
                theta[np.flatnonzero(neg)[ratios <= step * (1.0 + 1e-9)]] = 0.0
                theta[:P] = np.maximum(theta[:P], 0.0)
                return "blocked", theta[:P], (theta[P:] if regression else target)
            step = 1.0
        theta = theta + step * d
        scale_th = 1.0 + float(np.max(np.abs(theta)))
        if step == 1.0 and float(np.max(np.abs(d))) <= 1e-14 * scale_th:
            converged = True
            break
    # Quadratic convergence can stall at rounding: accepted if the last step was at that level.
    if not converged and float(np.max(np.abs(d))) > 1e-11 * (1.0 + float(np.max(np.abs(theta)))):
        return None
    if np.any(theta[:P] <= 0):
        return None
    z = theta[P:] if regression else target
    nu_curv = nu[:max(n - 2, 0)]
    mu_tie = float(nu[-1]) if case == "tie" else None
    return theta[:P], z, nu_curv, mu_tie


def _shrink_face(x, coords, theta, variant):
    """The face of a point with some coordinates at exactly 0: an interior atom that lost one
    share is pinned at the other end, a pin that lost its mass is dropped (via :func:`_conic_face`
    with zero thresholds, which also re-merges pins into same-sign interior atoms)."""
    N = x.size - 1
    u, v = np.zeros((2, N)), np.zeros((2, N))
    rays = np.zeros((2, 2))
    for kind, k, a, col in _columns(coords):
        if kind == "pair":
            u[k, a] += theta[col]
            v[k, a] += theta[col + 1]
        elif kind == "ray":
            rays[a, k] += theta[col]
        elif kind == "u":
            u[k, a] += theta[col]
        else:
            v[k, a] += theta[col]
    ray = (rays[0], rays[1]) if variant == "bias-no-skip" else (None, None)
    return _conic_face(x, u, v, *ray, 0.0, 0.0, variant)


def _face_function(x, coords, theta, values, c_scale):
    """PL function of a face point (scaled coordinates) through the unscaled ``values`` at x."""
    tL, tR = min(x[0], 0.0), max(x[-1], 0.0)
    knots, jumps = [], []
    for kind, k, a, col in _columns(coords):
        sg = 1.0 if k == 0 else -1.0
        if kind == "pair":
            uu, vv = theta[col], theta[col + 1]
            knots.append(float(np.clip((x[a] * uu + x[a + 1] * vv) / (uu + vv), x[a], x[a + 1])))
            jumps.append(sg * (uu + vv))
            continue
        if kind == "ray":
            knots.append(tL if a == 0 else tR)
        else:
            knots.append(x[a] if kind == "u" else x[a + 1])
        jumps.append(sg * theta[col])
    return _fit_affine(x, values, np.array(knots), c_scale * np.array(jumps))


def _polish_conic(x, y_scaled, w, lam, variant, u, v, aL, aR, c_scale, f_socp, y_orig):
    r"""Replace the SOCP function by the exact minimiser of its support when that is better.

    The support is read off the SOCP point for each pair of ``_CONIC_MASS_THRESHOLDS`` and
    ``_CONIC_PIN_THRESHOLDS`` (:func:`_conic_face`); on each face (for V4 each case of the max
    and sign of D) the smooth reduced problem is solved by :func:`_face_newton`. A candidate is
    kept only if every atom stays strictly inside its interval or on its data point with its
    sign, it interpolates (regression: its objective is lower) and its value is not above the
    SOCP's (rounding aside; fewer knots win ties). Returns the function, the candidate duals
    ``[(nu, kappa), ...]`` for the interpolation certificate, and a diagnostics dict.
    """
    regression = lam is not None
    wts = np.ones(x.size) if w is None else w

    def score(f):
        if regression:
            return float(np.sum(wts * (f(x) - y_orig) ** 2)) + lam * c_scale * tv2_cost(f, variant)
        return float(tv2_cost(f, variant))

    y_tol = 1e-13 * max(1.0, float(np.max(np.abs(y_orig))))
    res0 = float(np.max(np.abs(f_socp(x) - y_orig)))
    before = score(f_socp)
    duals, found = [], []
    target = y_scaled if not regression else f_socp(x) / c_scale
    if variant == "bias":
        cases = [("A", 1.0)]
    else:
        # The SOCP point's own case of the max first: the others are tried only if it fails.
        J = f_socp.jumps
        om = _omega(f_socp.knots)
        D = float(f_socp.slope_left + f_socp.slope_right)
        A_t, B_t = float(om @ np.abs(J)), float((om - 1.0) @ np.abs(J)) + abs(D)
        e = 1.0 if D >= 0 else -1.0
        tie_tol = 1e-6 * max(1.0, A_t)
        first = "tie" if abs(A_t - B_t) <= tie_tol else ("A" if A_t > B_t else "B")
        cases = [(first, e)] + [c for c in (("tie", e), ("A", 1.0), ("B", e), ("tie", -e), ("B", -e))
                                if c != (first, e)]
    budget = [_POLISH_MAX_NEWTON_STEPS]
    seen = set()
    certified = False
    for thr, pin, case, eps in [(t, p, c, e) for t in _CONIC_MASS_THRESHOLDS for p in _CONIC_PIN_THRESHOLDS
                                for c, e in cases]:
        if certified or budget[0] <= 0:
            break
        coords, theta0 = _conic_face(x, u, v, aL, aR, thr, pin, variant)
        key = (tuple(coords), case, eps)
        if key in seen:
            continue
        seen.add(key)
        if case == "A":
            # Atoms at the hull ends or on the rays only move D: zero when D does not count.
            keep = [c for c in coords if not (c[0] == "ray" or (c[0] == "u" and c[2] == 0)
                                              or (c[0] == "v" and c[2] == x.size - 2))]
            if len(keep) != len(coords):
                idx = []
                for kind, k, a, col in _columns(coords):
                    if (kind, k, a) in keep:
                        idx += list(range(col, col + (2 if kind == "pair" else 1)))
                cc, th0 = keep, theta0[idx]
            else:
                cc, th0 = coords, theta0
        else:
            cc, th0 = coords, theta0
        z0, out = target, None
        for _ in range(_ACTIVE_SET_MAX_STEPS):
            if not cc and not regression:
                break  # an empty face interpolates only collinear data, which the SOCP gets exactly
            out = _face_newton(x, cc, th0, z0, y_scaled, lam, wts, variant, case, eps, budget)
            if out is None or not isinstance(out[0], str):
                break
            _, thb, z0 = out
            out = None
            cc, th0 = _shrink_face(x, cc, thb, variant)
        if out is None:
            continue
        theta, z, nu, mu = out
        try:
            # Interpolation fits y itself: y / c * c is not y to the last bit.
            f = _face_function(x, cc, theta, c_scale * z if regression else y_orig, c_scale)
        except InputError:
            continue
        if not regression and float(np.max(np.abs(f(x) - y_orig))) > max(res0, y_tol):
            continue
        kappa = {"A": 0.0, "B": 1.0, "tie": abs(mu) if mu is not None else 0.0}[case]
        duals.append((nu, kappa))
        val = score(f)
        found.append((val, f, {"mass_threshold": thr, "pin_threshold": pin, "case": case,
                               "knots": int(f.knots.size)}))
        # Stop at the first candidate that its own duals certify to rounding.
        if regression:
            fit = f(x)
            q = _certificate_shape(_q_from_lambda(x, 2.0 * wts * (y_orig - fit) / (lam * c_scale)), variant)
            lb = _regression_bound(x, y_orig, wts, lam * c_scale, q, variant, 0.0)[0]
        else:
            lb = _socp_interpolation_bound(x, y_orig, variant, nu, kappa)[0]
        certified = val <= before + 1e-13 * max(1.0, abs(before)) and val - lb <= 1e-12 * max(1.0, abs(val))
    # Values within rounding of each other are the same optimum (a face with a spurious atom that
    # Newton keeps tiny): the sparsest of them wins. The exact point replaces the SOCP one unless
    # the SOCP one is lower by more than rounding (a wrong face).
    slack = 1e-13 * max(1.0, abs(before))
    if found:
        low = min(c[0] for c in found)
        val, f, face = min((c for c in found if c[0] <= low + slack), key=lambda c: (c[1].knots.size, c[0]))
        if val <= before + slack:
            return f, duals, {"face": face, "value_before": before, "value_after": val}
    return f_socp, duals, {"face": None, "value_before": before, "value_after": before}
