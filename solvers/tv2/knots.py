r"""From a conic solver's approximate measure :math:`f''` to exact knots that interpolate.

Interior-point answers carry noise atoms, atoms split across a data point and curvature
equations that hold to the solver tolerance only. :func:`_polish_atoms` (SOCP endpoint masses)
and :func:`_repair_jumps` (knot-grid jumps) clean them so that the curvature equations hold to
rounding, and :func:`_fit_affine` adds the affine part, so the returned function interpolates.
"""

import numpy as np
import scipy.sparse as sp

from solvers.piecewise import PiecewiseLinear

#: Masses below this fraction of the largest atom are treated as solver noise (interior-point
#: methods never return exact zeros; at tolerance 1e-9 their noise atoms reach ~2e-7 of the
#: largest). The polish step repairs the interpolation afterwards, and since the value is
#: recomputed from the returned function, a dropped genuine atom would show in the gap.
MASS_REL_THRESHOLD = 1e-6
#: An atom within this fraction of its interval from an endpoint is snapped onto it: an atom on
#: a data point comes back split between the two neighbouring intervals at positions accurate
#: to ~1e-7 of the gap (solver tolerance 1e-9), and snapping both halves merges them exactly.
SNAP_REL = 1e-6


def _polish_atoms(x, u, v, delta, scale=0.0):
    r"""Turn per-interval endpoint masses into exact knots that reproduce ``delta``.

    ``u[k, i]``, ``v[k, i]`` >= 0 (k = 0: positive atoms, k = 1: negative atoms) are the parts of
    the mass on :math:`[x_i,x_{i+1}]` attributed to the left and right endpoint (atom at
    :math:`t=(x_iu+x_{i+1}v)/(u+v)`, mass :math:`u+v`). The data constraints are linear in
    them: :math:`V_{j-1}+U_j=\delta_j` at interior points (signed sums). Steps:

    1. drop atoms lighter than ``MASS_REL_THRESHOLD`` x max(heaviest atom, ``scale``) (solver
       noise; ``scale`` is the size of the data's slopes, so that a problem whose solution has
       no knot does not keep noise atoms);
    2. snap atoms within ``SNAP_REL`` (relative position in the interval) of an endpoint onto
       it (interior-point methods split an atom that sits on a data point between the two
       neighbouring intervals);
    3. repair each interior equation by a multiplicative correction of the masses attributed
       to that point (each u/v entry enters exactly one equation, so this is exact and keeps
       signs while the correction is smaller than the mass); a point with no mass left and
       a non-zero residual gets an atom exactly at the data point.

    Returns knots, signed jumps and a diagnostics dict.
    """
    u = np.maximum(np.array(u, dtype=np.float64), 0.0)
    v = np.maximum(np.array(v, dtype=np.float64), 0.0)
    m = u + v
    mmax = max(float(np.max(m)) if m.size else 0.0, float(scale))
    dropped = 0
    if mmax > 0:
        small = m < MASS_REL_THRESHOLD * mmax
        dropped = int(np.count_nonzero(small & (m > 0)))
        u[small] = 0.0
        v[small] = 0.0
        m = u + v
        u[u < SNAP_REL * m] = 0.0
        v[v < SNAP_REL * m] = 0.0
        # Merge an atom sitting exactly on x_j into a same-sign atom of the neighbouring interval
        # (both lie in that closed interval, so by Jensen this never costs more; the mass stays
        # in the equation of x_j). The objective is extremely flat in such splits (~m1 m2 dt^2),
        # so the solver leaves them at its tolerance.
        if x.size > 2:
            uL, vL = u[:, :-1], v[:, :-1]  # interval j-1 of interior point j
            uR, vR = u[:, 1:], v[:, 1:]  # interval j
            right_on_point = (uR > 0) & (vR == 0) & (uL > 0)
            left_on_point = (vL > 0) & (uL == 0) & (vR > 0) & ~right_on_point
            vL += np.where(right_on_point, uR, 0.0)
            uR[right_on_point] = 0.0
            uR += np.where(left_on_point, vL, 0.0)
            vL[left_on_point] = 0.0
    extra_t, extra_J = [], []
    n = x.size
    if n > 2:
        sign = np.array([[1.0], [-1.0]])
        contrib = (sign * v[:, :-1]).sum(0) + (sign * u[:, 1:]).sum(0)
        mass_at = v[:, :-1].sum(0) + u[:, 1:].sum(0)
        r = delta - contrib
        ok = (mass_at > 0) & (np.abs(r) <= 0.5 * mass_at)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(ok, r / np.where(mass_at > 0, mass_at, 1.0), 0.0)
        # entries attributed to interior point j: v[:, j-1] and u[:, j]
        v[:, :-1] *= 1.0 + sign * rel[None, :]
        u[:, 1:] *= 1.0 + sign * rel[None, :]
        # A residual at rounding level needs no knot: it would only add a spurious 1e-16 jump.
        r_tol = 64 * np.finfo(float).eps * max(float(np.max(np.abs(delta))), mmax)
        bad = np.flatnonzero(~ok & (np.abs(r) > r_tol))
        if bad.size:
            # Put the residual curvature exactly on the data point (after undoing nothing: the
            # masses there were left unchanged because rel = 0).
            extra_t = list(x[1:-1][bad])
            extra_J = list(r[bad])
    m = u + v
    xl = np.broadcast_to(x[:-1], m.shape)
    xr = np.broadcast_to(x[1:], m.shape)
    nz = m > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(nz, (xl * u + xr * v) / np.where(nz, m, 1.0), 0.0)
    # Atoms on an endpoint get its exact value (so that halves from the two neighbouring
    # intervals coincide bit for bit and are merged); clip guards the last ulp otherwise.
    t = np.where(u == 0, xr, np.where(v == 0, xl, np.clip(t, xl, xr)))
    J = np.where(nz, np.array([[1.0], [-1.0]]) * m, 0.0)
    knots = np.concatenate([t[nz], np.asarray(extra_t, dtype=np.float64)])
    jumps = np.concatenate([J[nz], np.asarray(extra_J, dtype=np.float64)])
    return knots, jumps, {"dropped_atoms": dropped, "added_data_knots": len(extra_t)}


def _repair_jumps(x, knots, jumps, delta):
    r"""Minimal relative change of the jumps at fixed knots so that the curvature equations hold.

    A knot at :math:`t\in[x_i,x_{i+1}]` adds :math:`(1-\ell)J` to the discrete curvature at
    :math:`x_i` and :math:`\ell J` at :math:`x_{i+1}` (:math:`\ell=(t-x_i)/h_i`); knots outside
    the hull add nothing. With :math:`A` this (tridiagonally coupled) map restricted to the
    interior points, solve :math:`\min\|W^{-1/2}\Delta J\|` s.t. :math:`A(J+\Delta J)=\delta`,
    :math:`W=\mathrm{diag}|J|`, so zero jumps stay zero and signs are kept for small residuals.
    Used after dropping interior-point noise from a grid solution, whose many tiny jumps
    otherwise add up to a visible interpolation error. Returns knots, jumps, number of data
    knots added (points whose curvature no remaining knot can carry).
    """
    from scipy.sparse.linalg import spsolve

    n = x.size
    if n <= 2 or knots.size == 0 and not np.any(delta):
        return knots, jumps, 0
    inside = (knots >= x[0]) & (knots <= x[-1])
    k_in = np.flatnonzero(inside)
    t = knots[k_in]
    i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, n - 2)
    ell = (t - x[i]) / (x[i + 1] - x[i])
    rows = np.concatenate([i, i + 1]) - 1  # interior point j (1..n-2) -> row j-1
    cols = np.concatenate([k_in, k_in])
    vals = np.concatenate([1.0 - ell, ell])
    keep = (rows >= 0) & (rows < n - 2) & (vals != 0)
    A = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n - 2, knots.size))
    r = delta - A @ jumps
    W = sp.diags(np.abs(jumps))
    M = (A @ W @ A.T).tocsr()
    diag = M.diagonal()
    active = diag > 0
    added_t, added_J = [], []
    lost = np.flatnonzero(~active & (r != 0))
    if lost.size:
        added_t, added_J = list(x[1:-1][lost]), list(r[lost])
    if np.any(active):
        Ma = M[active][:, active]
        # A lone knot can carry two rows (rank deficient): a tiny ridge gives the least-squares
        # correction instead of a singular solve.
        ridge = 1e-13 * float(np.max(diag))
        yv = np.zeros(n - 2)
        yv[active] = spsolve((Ma + ridge * sp.identity(Ma.shape[0])).tocsc(), r[active])
        jumps = jumps + W @ (A.T @ yv)
    knots = np.concatenate([knots, added_t])
    jumps = np.concatenate([jumps, added_J])
    return knots, jumps, len(added_t)


def _fit_affine(x, target, knots, jumps):
    r"""PL function :math:`\alpha+\beta x+\sum J_k(x-t_k)_+` with (α, β) the least-squares fit
    of ``target`` minus the knot part (the residual is affine up to rounding once the
    curvature equations hold, so this interpolates). Centred x keeps it well conditioned."""
    base = PiecewiseLinear.from_knots(knots, jumps, 0.0, 0.0)
    res = target - base(x)
    xc = x - x.mean()
    denom = float(xc @ xc)
    beta = float(xc @ (res - res.mean()) / denom) if denom > 0 else 0.0
    alpha = float(res.mean() - beta * x.mean())
    return PiecewiseLinear.from_knots(knots, jumps, beta, alpha)
