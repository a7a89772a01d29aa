r"""The envelope of the whole V1 or V2 solution set (MATH.md B.1 (a)--(c), B.2 corrected).

:func:`tv2_envelope` returns an :class:`Envelope`: exact piecewise-linear lower and upper bounds
attained pointwise by minimisers, the free intervals where the minimiser is not unique, and the
distance of any function from the set (:meth:`Envelope.violation`).
"""

from dataclasses import dataclass, field

import numpy as np

from solvers._validation import validate_choice, validate_data
from solvers.errors import InputError
from solvers.piecewise import VARIANTS, PiecewiseLinear
from solvers.tv2.discrete import _secants
from solvers.tv2.exact import (
    _EXACT_VARIANTS,
    _curvature_signs,
    _meet,
    _pair_knots,
    _v2_boundary,
)
from solvers.tv2.scaling import _rescale_exponents, _unscale_function, _unscale_value

__all__ = ["Envelope", "tv2_envelope"]

#: Default number of evaluation points of :meth:`Envelope.violation` for a non-PL callable.
_VIOLATION_GRID = 4001


@dataclass
class Envelope:
    r"""Pointwise bounds of the whole V1 or V2 solution set (MATH B.1 (a)--(c), B.2).

    ``variant="skip"``: :math:`\{f: f(x_i)=y_i,\ \int|f''|=V\}`. Every minimiser is the
    connect-the-dots interpolant with linear extension, except on *free* intervals
    :math:`[x_i,x_{i+1}]` (:math:`\eta_i=\eta_{i+1}\ne0`), where for :math:`\eta=+1`,
    :math:`\max(\ell_{i-1},\ell_{i+1})\le f\le\ell_i` (reversed for :math:`\eta=-1`).

    ``variant="no-skip"``: :math:`\{f: f(x_i)=y_i,\ R_{V2}(f)=R^*\}`. If :math:`|S|\le V`
    (:math:`S=s_1+s_{n-1}`) it is the V1 set and :attr:`tau` is 0. If :math:`S>V`, with
    :math:`\tau=(S-V)/2`, :math:`A(t)=y_1+(s_1-\tau)(t-x_1)` and :math:`B(t)=y_n+(s_{n-1}-\tau)(t-x_n)`:
    :math:`\ell_1\le f\le A` for :math:`t\le x_1`, :math:`B\le f\le\ell_{n-1}` for :math:`t\ge x_n`,
    :math:`\max(A,\ell_2)\le f\le\ell_1` on the first interval when :math:`\eta_2=+1`,
    :math:`\ell_{n-1}\le f\le\min(\ell_{n-2},B)` on the last when :math:`\eta_{n-1}=-1` (both
    then free), and the V1 bounds elsewhere; mirrored (:math:`y\to-y`) for :math:`S<-V`.

    Both bounds are exact piecewise-linear functions (:attr:`lower_function`,
    :attr:`upper_function`), attained pointwise by minimisers.

    Attributes
    ----------
    x, y : ndarray
        Validated data.
    free_intervals : ndarray, shape (m, 2)
        The free intervals :math:`(x_i, x_{i+1})`, in increasing order.
    free_signs : ndarray, shape (m,)
        Their curvature sign (+1 convex, -1 concave).
    lower_function, upper_function : PiecewiseLinear
    variant : {"skip", "no-skip"}
    tau : float
        Boundary excess :math:`(|S|-V)/2` of MATH B.2 (0 for ``"skip"`` and when :math:`|S|\le V`).
    """

    x: np.ndarray
    y: np.ndarray
    free_intervals: np.ndarray
    free_signs: np.ndarray
    lower_function: PiecewiseLinear
    upper_function: PiecewiseLinear
    certificate: dict = field(default_factory=dict)
    variant: str = "skip"
    tau: float = 0.0

    def lower(self, t):
        """Pointwise minimum over all minimisers at ``t`` (vectorised)."""
        return self.lower_function(t)

    def upper(self, t):
        """Pointwise maximum over all minimisers at ``t`` (vectorised)."""
        return self.upper_function(t)

    def __call__(self, t):
        return self.lower(t), self.upper(t)

    @property
    def breakpoints(self):
        """Nodes of both bounds (where ``upper - lower`` or a violation can change slope)."""
        return np.union1d(self.lower_function.nodes, self.upper_function.nodes)

    @property
    def width(self):
        """Maximal width upper - lower on the data hull (0 if the solution is unique there). For
        ``tau > 0`` the width also grows linearly outside the hull, as :math:`\tau|t-x_{1,n}|`."""
        nodes = self.breakpoints
        nodes = nodes[(nodes >= self.x[0]) & (nodes <= self.x[-1])]
        return float(np.max(self.upper(nodes) - self.lower(nodes)))

    def violation(self, f, grid=None, interval=None):
        r"""How far ``f`` leaves the envelope: :math:`\max_{a\le t\le b}\max(lo(t)-f(t),\,f(t)-hi(t),\,0)`.

        It is 0 iff ``f`` lies between the bounds on ``[a, b]``, and a lower bound on the L∞
        distance on ``[a, b]`` from ``f`` to the solution set.

        Parameters
        ----------
        f : PiecewiseLinear, Solution of one, or callable
            For a piecewise-linear ``f`` (anything with ``nodes``) the maximum is exact: the
            difference of two PL functions is PL, so it is attained at the union of all
            breakpoints, which are the evaluation points (restricted to ``interval``). For a
            general vectorised callable, smooth between the points of ``grid``: a dense grid
            (4001 points plus ``grid`` plus the envelope's breakpoints), then a bounded Brent
            search in the cells around the 5 largest values (location to 1e-12 relative).
        grid : array_like, optional
            Extra evaluation points: the breakpoints of a non-PL ``f`` (e.g. a spline's data).
        interval : (a, b), optional
            Where to measure (end points included). Default: the data hull widened by 25 % on
            each side, the comparison layer's default, so extrapolation counts.

        Notes
        -----
        Outside the outermost breakpoint all three functions are affine, so on the whole line the
        violation is infinite unless ``f``'s outer slopes lie in the envelope's; a trained network
        also has kinks of negligible mass far away (-b/w ~ 1e90 for units that weight decay
        switched off). Hence the maximum is always over a finite ``interval``.
        """
        fn = getattr(f, "function", f)
        if interval is None:
            span = self.x[-1] - self.x[0]
            interval = (self.x[0] - 0.25 * span, self.x[-1] + 0.25 * span)
        try:
            a, b = (float(v) for v in interval)
        except (TypeError, ValueError) as exc:
            raise InputError(f"interval must be a pair (a, b); got {interval!r}") from exc
        if not (np.isfinite(a) and np.isfinite(b) and a <= b):
            raise InputError(f"interval must be finite with a <= b; got {interval!r}")
        pl = hasattr(fn, "nodes")
        pts = [self.breakpoints, [a, b]]
        if pl:
            pts.append(np.asarray(fn.nodes, dtype=np.float64))
        if grid is not None:
            pts.append(np.asarray(grid, dtype=np.float64).ravel())
        t = np.unique(np.concatenate(pts))
        t = t[(t >= a) & (t <= b)]

        def viol(u):
            fu = np.asarray(fn(u), dtype=np.float64)
            return np.maximum(self.lower(u) - fu, fu - self.upper(u))

        if pl or a == b:
            return float(max(0.0, np.max(viol(t))))
        return max(0.0, _max_smooth(viol, t))

    def contains(self, f, tol=1e-9, **kw):
        """True when :meth:`violation` (keywords ``grid``, ``interval``) is at most
        ``tol * (1 + max|y|)``."""
        return self.violation(f, **kw) <= tol * (1.0 + float(np.max(np.abs(self.y))))


def _max_smooth(h, pts, *, n_grid=_VIOLATION_GRID, refine=5):
    """max of ``h`` on [pts[0], pts[-1]] for ``h`` smooth between consecutive ``pts``: a grid of about
    ``n_grid`` points containing ``pts``, then bounded Brent in the cells around the best values."""
    from scipy.optimize import minimize_scalar

    P = pts.size - 1
    m = int(np.clip(np.ceil(n_grid / max(P, 1)), 9, 257))
    frac = np.linspace(0.0, 1.0, m)
    t = np.unique((pts[:-1, None] + (pts[1:] - pts[:-1])[:, None] * frac[None, :]).ravel())
    v = h(t)
    best = float(np.max(v))
    xatol = 1e-12 * max(abs(pts[0]), abs(pts[-1]), pts[-1] - pts[0], 1e-300)
    for i in np.argsort(v)[::-1][:refine]:
        lo, hi = t[max(i - 1, 0)], t[min(i + 1, t.size - 1)]
        if hi <= lo:
            continue
        res = minimize_scalar(lambda u: -float(h(np.array([u]))[0]), bounds=(lo, hi), method="bounded",
                              options={"xatol": xatol, "maxiter": 200})
        best = max(best, -float(res.fun))
    return best


def tv2_envelope(x, y, variant="skip"):
    r"""Envelope of all minimum-norm interpolants, V1 (``"skip"``, MATH B.1) or V2 (``"no-skip"``,
    MATH B.2 corrected).

    Parameters
    ----------
    x, y : array_like
        Data as for :func:`~solvers.tv2_interpolant`.
    variant : {"skip", "no-skip"}
        The bias-penalised variants have a unique minimiser (use :func:`~solvers.tv2_interpolant`).

    Returns
    -------
    Envelope
        ``lower(t)``, ``upper(t)`` on all of :math:`\mathbb{R}`, ``free_intervals``,
        ``free_signs``, ``tau``, ``violation(f)`` and ``contains(f)``.
    """
    validate_choice(variant, "variant", VARIANTS)
    if variant not in _EXACT_VARIANTS:
        raise InputError(
            f"tv2_envelope: variant={variant!r} has a unique minimum-norm interpolant (MATH B.3/B.4), "
            "so there is no solution set to bound; use tv2_interpolant(x, y, variant=...) instead. "
            "Expected variant 'skip' or 'no-skip'"
        )
    data = validate_data(x, y, min_points=2, duplicates="merge-identical")
    x, y = data.x, data.y
    scale = _rescale_exponents(x, y)
    if scale is None:
        return _envelope_core(x, y, variant)
    ea, eb = scale
    env = _envelope_core(np.ldexp(x, ea), np.ldexp(y, eb), variant)
    lo, hi = (_unscale_function(g, ea, eb, "envelope bound") for g in (env.lower_function, env.upper_function))
    return Envelope(x=x, y=y, free_intervals=np.ldexp(env.free_intervals, -ea), free_signs=env.free_signs,
                    lower_function=lo, upper_function=hi, variant=variant, tau=_unscale_value(env.tau, ea, eb),
                    certificate=dict(env.certificate, rescaled_by_powers_of_two={"x": ea, "y": eb}))


def _envelope_core(x, y, variant):
    h, s, d = _secants(x, y)
    eta, _ = _curvature_signs(x, y, h, s, d)
    tau, sg = _v2_boundary(s, d, eta) if variant == "no-skip" else (0.0, 1)
    # Work with sg*y, so that S > V whenever tau > 0; the bounds are swapped and negated at the end.
    ys, ss, ds, es = sg * y, sg * s, sg * d, (sg * eta).astype(np.int8)
    if es.size >= 2:
        free_j = np.flatnonzero((es[:-1] == es[1:]) & (es[:-1] != 0))
    else:
        free_j = np.zeros(0, dtype=np.intp)
    seg = free_j + 1  # 0-based segment (and left point) index of each free interval
    signs = es[free_j].astype(np.int8)
    t_all, v_all = _pair_knots(x, ys, h, ss, ds, seg) if seg.size else (np.zeros(0), np.zeros(0))
    lo_slopes = hi_slopes = (ss[0], ss[-1])
    if tau > 0:
        lo_slopes, hi_slopes = (ss[0], ss[-1] - tau), (ss[0] - tau, ss[-1])
        ends_seg, ends_sign, ends_t, ends_v = [], [], [], []
        if es.size and es[0] == 1:  # first interval free: max(A, l_2) <= f <= l_1
            t1, v1 = _meet(x[0], ys[0], ss[0] - tau, x[1], ys[1], ss[1], h[0], tau, ds[0])
            ends_seg.append(0), ends_sign.append(1), ends_t.append(t1), ends_v.append(v1)
        if es.size and es[-1] == -1:  # last interval free: l_{n-1} <= f <= min(l_{n-2}, B)
            t2, v2 = _meet(x[-2], ys[-2], ss[-2], x[-1], ys[-1], ss[-1] - tau, h[-1], ds[-1], -tau)
            ends_seg.append(x.size - 2), ends_sign.append(-1), ends_t.append(t2), ends_v.append(v2)
        if ends_seg:
            seg = np.concatenate((seg, ends_seg)).astype(np.intp)
            signs = np.concatenate((signs, ends_sign)).astype(np.int8)
            t_all = np.concatenate((t_all, ends_t))
            v_all = np.concatenate((v_all, ends_v))
            order = np.argsort(seg, kind="stable")
            seg, signs, t_all, v_all = seg[order], signs[order], t_all[order], v_all[order]
    inner = (t_all > x[seg]) & (t_all < x[seg + 1])  # t* on an end point adds no breakpoint
    bounds = []
    for sgn, slopes in ((1, lo_slopes), (-1, hi_slopes)):  # convex runs move the lower bound
        m = inner & (signs == sgn)
        nodes = np.insert(x, seg[m] + 1, t_all[m])
        vals = np.insert(ys, seg[m] + 1, v_all[m])
        bounds.append(PiecewiseLinear(nodes, vals, *slopes))
    lower, upper = bounds
    if sg < 0:
        lower, upper = -upper, -lower
    free = np.column_stack((x[seg], x[seg + 1])) if seg.size else np.zeros((0, 2))
    return Envelope(x=x, y=y, free_intervals=free, free_signs=(sg * signs).astype(np.int8), lower_function=lower,
                    upper_function=upper, certificate={"eta": eta}, variant=variant, tau=float(tau))
