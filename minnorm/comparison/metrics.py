r"""Distances and gaps between a trained network and the variational limit it should approach.

Naming: ``net_*`` is a quantity of the finite-width network, ``ref_*`` one of the limit object
(the reference solution); unprefixed names (``l2``, ``cost_gap``, ...) compare the two.

Exactness
---------
* Two :class:`~solvers.PiecewiseLinear` functions: L¹, L², L∞ distances, envelope violation,
  representation costs and knot counts are exact (closed forms per linear piece).
* A non-piecewise-linear function (a weighted spline, a target like :math:`x^2`): L² by
  composite Gauss--Legendre quadrature on pieces split at every breakpoint of both functions
  (the PL knots, the data points of a spline, the breakpoints of its weight ``g``), so each
  piece integrates a smooth function. With the defaults (``order=20`` nodes, ``subdivisions=2``
  per piece) the rule is exact for polynomials of degree 39 per sub-piece; for the cubic-in-
  pieces natural spline the error is rounding (~1e-15 relative). L∞ by a dense grid per
  piece (including the breakpoints) followed by a bounded Brent refinement of the best
  candidates; the located maximum is accurate to ~``xatol``² in value because the derivative
  vanishes there.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

import solvers
from solvers import VARIANTS, InputError, PiecewiseLinear, SolverError, tv2_cost
from solvers._validation import (validate_choice, validate_int, validate_interval, validate_lam, validate_positive,
                                 validate_vector)

__all__ = [
    "as_function",
    "l2_distance",
    "l1_distance",
    "linf_distance",
    "lp_norm",
    "rel_l2_distance",
    "rel_linf_distance",
    "envelope_violation",
    "net_cost",
    "min_cost",
    "cost_gap",
    "rel_cost_gap",
    "net_objective",
    "objective_gap",
    "rel_objective_gap",
    "KnotCounts",
    "knots_per_interval",
    "train_loss",
    "compare",
]


# ----------------------------------------------------------------------------- helpers
def as_function(obj):
    """The function behind ``obj``: a :class:`~solvers.PiecewiseLinear` when possible.

    Accepts a ``PiecewiseLinear``, a :class:`~solvers.Solution` or a
    :class:`~minnorm.comparison.references.Reference` (their ``function``), a torch module (converted
    exactly by :func:`minnorm.training.convert.to_function`), or any vectorised callable.
    """
    if isinstance(obj, PiecewiseLinear):
        return obj
    if hasattr(obj, "solution") and hasattr(obj.solution, "function"):
        return as_function(obj.solution.function)
    if hasattr(obj, "function") and hasattr(obj, "lower_bound"):  # a solvers.Solution
        return as_function(obj.function)
    if hasattr(obj, "parameters") and hasattr(obj, "forward"):  # a torch.nn.Module: exact conversion
        from minnorm.training.convert import to_function

        return to_function(obj)
    if callable(obj):
        return obj
    raise InputError(f"expected a function (PiecewiseLinear, Solution, network or callable); got {type(obj).__name__}")


def _is_pl(f):
    return isinstance(f, PiecewiseLinear)


def _breakpoints(obj):
    """Points where ``obj`` may be non-smooth: PL nodes, spline data points, weight breakpoints."""
    pts = []
    seen = set()
    stack = [obj]
    while stack:
        o = stack.pop()
        if o is None or id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, PiecewiseLinear):
            pts.append(o.nodes)
            continue
        for attr in ("breakpoints", "nodes", "knots", "x"):
            v = getattr(o, attr, None)
            if v is None or callable(v):
                continue
            try:
                arr = np.asarray(v, dtype=np.float64).ravel()
            except (TypeError, ValueError):
                continue
            pts.append(arr[np.isfinite(arr)])
        for attr in ("solution", "function", "weight", "density", "g", "lower_function", "upper_function", "base"):
            v = getattr(o, attr, None)
            if v is not None and not isinstance(v, (np.ndarray, float, int)):
                stack.append(v)
    if not pts:
        return np.empty(0)
    return np.unique(np.concatenate(pts))


def _data(x, y=None):
    """Validated data arrays (finite, 1-D, real; equal lengths), in the caller's order."""
    x = validate_vector(x, "x")
    if y is None:
        return x
    y = validate_vector(y, "y")
    if x.size != y.size:
        raise InputError(f"x and y must have the same length; got len(x)={x.size}, len(y)={y.size}")
    return x, y


def _check_p(p):
    if p in (1, 2, np.inf, "inf") and not isinstance(p, (bool, np.bool_)):
        return p
    raise InputError(f"p must be 1, 2 or inf; got {p!r}")


def _pieces(a, b, *objs, extra=None):
    bp = [np.array([a, b])] + [_breakpoints(o) for o in objs]
    if extra is not None:
        bp.append(np.asarray(extra, dtype=np.float64).ravel())
    pts = np.unique(np.concatenate(bp))
    return pts[(pts >= a) & (pts <= b)]


def _gauss_nodes(pts, order, subdivisions):
    """Composite Gauss--Legendre nodes and weights on the pieces between consecutive ``pts``."""
    xi, wi = np.polynomial.legendre.leggauss(order)
    # Sub-pieces: each [p_k, p_{k+1}] split into `subdivisions` equal parts.
    frac = np.linspace(0.0, 1.0, subdivisions + 1)
    lo = pts[:-1, None] + (pts[1:] - pts[:-1])[:, None] * frac[None, :-1]
    hi = pts[:-1, None] + (pts[1:] - pts[:-1])[:, None] * frac[None, 1:]
    lo, hi = lo.ravel(), hi.ravel()
    half = 0.5 * (hi - lo)
    mid = 0.5 * (hi + lo)
    nodes = mid[:, None] + half[:, None] * xi[None, :]
    weights = half[:, None] * wi[None, :]
    return nodes.ravel(), weights.ravel()


#: Gauss nodes beyond which a distance with many pieces (a wide net) takes fewer nodes per piece,
#: and the fewest it then takes: 4 nodes are exact for degree <= 7 on a piece, and between
#: consecutive breakpoints both functions are smooth, so on the short pieces of a wide net the
#: difference is integrated to rounding (a spline reference is cubic there for the uniform laws).
_NODE_BUDGET, _MIN_ORDER = 16384, 4


def _order_for(pieces, order, subdivisions):
    """Gauss order per sub-piece: ``order``, lowered (not below :data:`_MIN_ORDER`) when the pieces
    are so many that ``order`` would exceed :data:`_NODE_BUDGET` nodes (evaluating a kernel
    reference at 60 000 nodes cost 1 s per wide net)."""
    if pieces * subdivisions * order <= _NODE_BUDGET:
        return order
    return max(min(order, _MIN_ORDER), -(-_NODE_BUDGET // (pieces * subdivisions)))


def _eval(f, t):
    return np.asarray(f(t), dtype=np.float64)


def _diff_fn(f, g):
    return lambda t: _eval(f, t) - _eval(g, t)


def _sup_abs(h, pts, *, grid=4096, xatol=None):
    """max |h| on [pts[0], pts[-1]] for h smooth between consecutive ``pts``: dense grid + Brent."""
    P = pts.size - 1
    # at least 5 points per piece (ends, quarters): the Brent step below refines the best cells
    m = int(np.clip(np.ceil(grid / max(P, 1)), 5, 257))
    frac = np.linspace(0.0, 1.0, m)
    t = (pts[:-1, None] + (pts[1:] - pts[:-1])[:, None] * frac[None, :]).ravel()
    v = np.abs(_eval(h, t))
    best = float(np.max(v))
    scale = max(abs(pts[0]), abs(pts[-1]), pts[-1] - pts[0])
    xatol = 1e-12 * scale if xatol is None else xatol
    # Refine the best few grid maxima inside their neighbouring grid cells (|h| is smooth there
    # because the grid contains every breakpoint).
    order = np.argsort(v)[::-1]
    done = 0
    for i in order[:20]:
        if done >= 5:
            break
        lo, hi = t[max(i - 1, 0)], t[min(i + 1, t.size - 1)]
        if hi <= lo:
            continue
        done += 1
        res = minimize_scalar(lambda s: -abs(float(_eval(h, np.array([s]))[0])), bounds=(lo, hi),
                              method="bounded", options={"xatol": xatol, "maxiter": 200})
        best = max(best, -float(res.fun))
    return best


# ----------------------------------------------------------------------------- distances
def lp_norm(f, interval, p=2, *, order=20, subdivisions=2, breakpoints=None):
    r""":math:`\|f\|_{L^p(a,b)}` for p in {1, 2, inf}: exact for piecewise-linear ``f``,
    otherwise composite Gauss--Legendre (p = 1, 2) or grid + Brent (p = inf) between breakpoints."""
    return _distance(f, None, interval, p, order=order, subdivisions=subdivisions, breakpoints=breakpoints)


def _distance(f, g, interval, p, *, order=20, subdivisions=2, breakpoints=None):
    a, b = validate_interval(interval, "interval")
    p = _check_p(p)
    order = validate_int(order, "order", min_value=1)
    subdivisions = validate_int(subdivisions, "subdivisions", min_value=1)
    if breakpoints is not None:
        breakpoints = validate_vector(np.atleast_1d(breakpoints).ravel(), "breakpoints")
    ff = as_function(f)
    gg = None if g is None else as_function(g)
    if _is_pl(ff) and (gg is None or _is_pl(gg)):
        d = ff if gg is None else ff - gg
        return d.lp_norm((a, b), p)
    pts = _pieces(a, b, f, ff, g, gg, extra=breakpoints)
    h = (lambda t: _eval(ff, t)) if gg is None else _diff_fn(ff, gg)
    if p in (np.inf, "inf"):
        return _sup_abs(h, pts)
    if p not in (1, 2):
        raise InputError(f"p must be 1, 2 or inf; got {p!r}")
    nodes, weights = _gauss_nodes(pts, _order_for(pts.size - 1, order, subdivisions), subdivisions)
    v = _eval(h, nodes)
    if p == 2:
        return float(np.sqrt(np.sum(weights * v * v)))
    # |h| has kinks at the roots of h; more sub-pieces compensate (L1 is a secondary metric).
    nodes, weights = _gauss_nodes(pts, order, max(subdivisions, 64))
    return float(np.sum(weights * np.abs(_eval(h, nodes))))


def l2_distance(f, g, interval, *, order=20, subdivisions=2, breakpoints=None):
    r"""L² distance :math:`\|f-g\|_{L^2(a,b)} = (\int_a^b (f-g)^2\,dt)^{1/2}`.

    Exact when both are piecewise linear (``(f-g).lp_norm``). Otherwise composite
    Gauss--Legendre quadrature with ``order`` nodes on ``subdivisions`` equal parts of every
    piece between consecutive breakpoints (PL nodes, the data points ``x`` of a spline
    solution, the breakpoints of its weight, and ``breakpoints`` if given); accurate to
    rounding for functions polynomial of degree < 2·order per piece.

    Parameters
    ----------
    f, g : PiecewiseLinear, Solution, Reference, torch module or callable
    interval : (float, float)
    """
    return _distance(f, g, interval, 2, order=order, subdivisions=subdivisions, breakpoints=breakpoints)


def l1_distance(f, g, interval, *, order=20, subdivisions=2, breakpoints=None):
    r"""L¹ distance :math:`\int_a^b |f-g|\,dt` (exact for two PL functions)."""
    return _distance(f, g, interval, 1, order=order, subdivisions=subdivisions, breakpoints=breakpoints)


def linf_distance(f, g, interval, *, breakpoints=None):
    r"""Sup distance :math:`\|f-g\|_{L^\infty(a,b)} = \max_{a\le t\le b}|f(t)-g(t)|`.

    Exact for two PL functions (the maximum of a PL function is at a node or an end). Otherwise
    a grid of ~4096 points containing every breakpoint, then a bounded Brent search in the cells
    around the 5 best grid points (location to 1e-12 relative; value error second order).
    """
    return _distance(f, g, interval, np.inf, breakpoints=breakpoints)


def _relative(dist, norm):
    if norm > 0:
        return dist / norm
    return 0.0 if dist == 0 else float("nan")


def rel_l2_distance(f, ref, interval, **kw):
    r""":math:`\|f-r\|_{L^2(a,b)} / \|r\|_{L^2(a,b)}` (NaN if the reference is 0 and ``f`` is not)."""
    return _relative(l2_distance(f, ref, interval, **kw), lp_norm(ref, interval, 2))


def rel_linf_distance(f, ref, interval, **kw):
    r""":math:`\|f-r\|_{L^\infty(a,b)} / \|r\|_{L^\infty(a,b)}`."""
    return _relative(linf_distance(f, ref, interval, **kw), lp_norm(ref, interval, np.inf))


def envelope_violation(f, envelope, interval):
    r"""How far ``f`` leaves the pointwise envelope of a solution set.

    .. math:: \max_{a\le t\le b}\ \max\big(\mathrm{lower}(t)-f(t),\ f(t)-\mathrm{upper}(t),\ 0\big).

    It is 0 iff ``f`` lies between the bounds on ``[a, b]``, and a lower bound on the L∞
    distance from ``f`` to the solution set (every minimiser lies inside the envelope).

    One algorithm, in the solver layer: :meth:`solvers.Envelope.violation` (exact for
    piecewise-linear ``f``; grid + Brent refinement between the breakpoints of a smooth ``f``,
    which are passed on from here, e.g. a spline's data points).

    Parameters
    ----------
    f : PiecewiseLinear, Solution, Reference, torch module or callable
    envelope : solvers.Envelope
        From :func:`solvers.tv2_envelope` (or a reference's ``envelope``).
    interval : (float, float)
    """
    a, b = validate_interval(interval, "interval")
    if not callable(getattr(envelope, "violation", None)):
        raise InputError(f"envelope must be a solvers.Envelope (from solvers.tv2_envelope); got {type(envelope).__name__}")
    ff = as_function(f)
    grid = None if _is_pl(ff) else _breakpoints(f)
    return float(envelope.violation(ff, grid=grid, interval=(a, b)))


# ----------------------------------------------------------------------------- costs
def net_cost(f_net, variant="skip"):
    r"""Exact representation cost :math:`R(f_{net})` of a piecewise-linear function (MATH A.2).

    ``"skip"``: :math:`\int|f''|`; ``"no-skip"``: :math:`\max(\int|f''|, |f'(-\infty)+f'(+\infty)|)`;
    ``"bias"``: :math:`\int\sqrt{1+t^2}\,d|f''|`; ``"bias-no-skip"``: V4. This is the infimum over
    all networks representing ``f`` -- a lower bound on the parameter cost of the given network.
    """
    f = as_function(f_net)
    if not _is_pl(f):
        raise InputError("net_cost needs a piecewise-linear function")
    return tv2_cost(f, variant)


def min_cost(x, y, variant="skip"):
    r""":math:`R^*(x, y) = \min\{R(g) : g(x_i)=y_i\}` (the solver's value, recomputed from its minimiser)."""
    return float(solvers.tv2_interpolant(x, y, variant=variant).value)


def _cost_pair(f, x, variant):
    x = _data(x)
    validate_choice(variant, "variant", VARIANTS)
    own = _eval(f, x)
    return tv2_cost(f, variant), min_cost(x, own, variant)


def cost_gap(f_net, x, variant="skip"):
    r"""Representation-cost gap of a network w.r.t. its own fitted values (MATH E, Vardi--Shamir).

    .. math:: R(f_{net}) - \min\{R(g) : g(x_i) = f_{net}(x_i)\ \forall i\}.

    It is >= 0, and 0 iff ``f_net`` is a minimum-norm interpolant of its own values; it needs no
    assumption on the training objective (no weight decay, any optimiser). For ``"skip"`` the
    minimum is the closed form :math:`\sum_i |s_i - s_{i-1}|` and the gap is exact; for the
    conic variants it carries the solver's tolerance (~1e-8) and may be slightly negative.
    """
    f = as_function(f_net)
    r, rstar = _cost_pair(f, x, variant)
    return float(r - rstar)


def rel_cost_gap(f_net, x, variant="skip"):
    r"""Cost gap divided by :math:`\min\{R(g): g(x_i)=f_{net}(x_i)\}` (NaN if that minimum is 0 and the gap is not)."""
    f = as_function(f_net)
    r, rstar = _cost_pair(f, x, variant)
    return _relative(r - rstar, rstar)


def net_objective(f_net, x, y, lam, variant="skip"):
    r"""Function-space objective :math:`\sum_i (f(x_i)-y_i)^2 + \lambda R(f)` (sum of squares without ½)."""
    f = as_function(f_net)
    x, y = _data(x, y)
    lam = validate_lam(lam)
    r = _eval(f, x) - y
    return float(np.dot(r, r) + lam * tv2_cost(f, variant))


def _objective_pair(f_net, x, y, lam, variant, solution=None):
    if solution is None:
        solution = solvers.tv2_regression(x, y, lam, variant=variant)
    # Both objectives recomputed the same way, on the caller's (x, y), so rounding is symmetric.
    return net_objective(f_net, x, y, lam, variant), net_objective(solution.function, x, y, lam, variant)


def objective_gap(f_net, x, y, lam, variant="skip", *, solution=None):
    r"""Objective gap of a weight-decay-trained network at the mapped ``lam`` (MATH A.2).

    .. math:: \Big[\sum_i (f_{net}(x_i)-y_i)^2 + \lambda R(f_{net})\Big] - \min_f \Big[\sum_i (f(x_i)-y_i)^2 + \lambda R(f)\Big],

    the minimum from :func:`solvers.tv2_regression` (or ``solution``, a solved regression
    on the same data, lam and variant). >= 0 up to the solver's tolerance; 0 iff the network
    is a function-space minimiser.
    """
    net, ref = _objective_pair(f_net, x, y, lam, variant, solution)
    return float(net - ref)


def rel_objective_gap(f_net, x, y, lam, variant="skip", *, solution=None):
    """:func:`objective_gap` divided by the minimal objective."""
    net, ref = _objective_pair(f_net, x, y, lam, variant, solution)
    return _relative(net - ref, ref)


# ----------------------------------------------------------------------------- knots
@dataclass
class KnotCounts:
    """Knots of a PL function after clustering, located relative to the data.

    Attributes
    ----------
    knots, jumps : ndarray
        Clustered knot positions (jump-weighted centres) and their summed slope changes,
        after dropping small jumps.
    per_interval : ndarray of int, shape (n-1,)
        Knots strictly inside each open data interval (x_i, x_{i+1}) (and not at a data point).
    at_data : ndarray of int, shape (n,)
        Knots within ``data_tol`` of each data point.
    near_data : ndarray of bool, shape (len(knots),)
        Whether each clustered knot is within ``data_tol`` of a data point.
    left, right : int
        Knots left of x_1 / right of x_n (and not at them).
    data_tol : float
    num_raw : int
        Knots before clustering.
    """

    knots: np.ndarray
    jumps: np.ndarray
    per_interval: np.ndarray
    at_data: np.ndarray
    left: int
    right: int
    data_tol: float
    num_raw: int = 0
    near_data: np.ndarray = None

    @property
    def mass_at_data(self):
        r"""Fraction of the kept curvature carried by knots at the data (NaN without knots).

        .. math:: \frac{\sum_k |J_k|\,[\min_i |t_k - x_i| \le \text{data\_tol}]}{\sum_k |J_k|}

        Williams et al.'s "knots cluster at the sample points" read as a number (1 = all of it).
        """
        if self.near_data is None:
            raise ValueError("KnotCounts.mass_at_data needs near_data (the counts from knots_per_interval carry it)")
        mass = np.abs(self.jumps)
        total = float(np.sum(mass))
        if not total > 0:
            return float("nan")
        return float(np.sum(mass[self.near_data]) / total)

    @property
    def max_per_interval(self):
        return int(self.per_interval.max()) if self.per_interval.size else 0

    @property
    def total(self):
        return int(self.knots.size)

    @property
    def outside(self):
        return int(self.left + self.right)

    def histogram(self):
        """``h[k]`` = number of open data intervals holding exactly ``k`` knots."""
        return np.bincount(self.per_interval, minlength=4)


def knots_per_interval(f, x, *, merge_tol=1e-2, jump_tol=1e-2, data_tol=None) -> KnotCounts:
    r"""Count the knots of a PL function per open data interval (MATH E, Shevchenko et al.: <= 3).

    Procedure: (1) merge kinks closer than ``merge_tol * (x_n - x_1)`` (single linkage; the
    merged knot sits at the ``|jump|``-weighted centre and carries the summed jump, so nearly
    cancelling kinks vanish); (2) drop merged knots with
    :math:`|J| < \text{jump\_tol}\cdot\int|f''|`; (3) a knot within ``data_tol`` of a data point
    counts "at data" (default ``min(merge_tol*(x_n-x_1), min_i h_i/4)``), any other knot in
    ``(x_i, x_{i+1})`` counts for that interval, the rest are outside the hull.

    Parameters
    ----------
    f : PiecewiseLinear (or anything :func:`as_function` converts to one)
    x : array_like, the data abscissae
    """
    ff = as_function(f)
    if not _is_pl(ff):
        raise InputError("knots_per_interval needs a piecewise-linear function")
    merge_tol = validate_positive(merge_tol, "merge_tol", allow_zero=True)
    jump_tol = validate_positive(jump_tol, "jump_tol", allow_zero=True)
    if data_tol is not None:
        data_tol = validate_positive(data_tol, "data_tol", allow_zero=True)
    xs = np.unique(_data(x))
    if xs.size < 2:
        raise InputError("knots_per_interval needs at least 2 distinct data points")
    span = xs[-1] - xs[0]
    t_raw, J_raw = ff.knots, ff.jumps
    tv = float(np.sum(np.abs(J_raw)))
    merged = PiecewiseLinear.from_knots(t_raw, J_raw, 0.0, 0.0, merge_tol=merge_tol * span) if t_raw.size else None
    t = merged.knots if merged is not None else np.empty(0)
    J = merged.jumps if merged is not None else np.empty(0)
    keep = np.abs(J) >= jump_tol * tv
    t, J = t[keep], J[keep]
    if data_tol is None:
        data_tol = min(merge_tol * span, 0.25 * float(np.min(np.diff(xs))))
    nearest = np.clip(np.searchsorted(xs, t), 1, xs.size - 1)
    d_left = np.abs(t - xs[nearest - 1])
    d_right = np.abs(t - xs[nearest])
    near_idx = np.where(d_left <= d_right, nearest - 1, nearest)
    at = np.minimum(d_left, d_right) <= data_tol
    at_data = np.bincount(near_idx[at], minlength=xs.size)
    rest = t[~at]
    left = int(np.sum(rest < xs[0]))
    right = int(np.sum(rest > xs[-1]))
    inside = rest[(rest > xs[0]) & (rest < xs[-1])]
    per = np.bincount(np.searchsorted(xs, inside) - 1, minlength=xs.size - 1)
    return KnotCounts(knots=t, jumps=J, per_interval=per.astype(int), at_data=at_data.astype(int),
                      left=left, right=right, data_tol=float(data_tol), num_raw=int(t_raw.size), near_data=at)


def train_loss(f, x, y):
    r"""Mean squared training error :math:`\frac1n\sum_i (f(x_i)-y_i)^2`."""
    x, y = _data(x, y)
    r = _eval(as_function(f), x) - y
    return float(np.mean(r * r))


# ----------------------------------------------------------------------------- compare
_NAN = float("nan")


def _safe(fn, name):
    try:
        return fn()
    except SolverError as exc:
        warnings.warn(f"metric {name} not computed: {exc}", RuntimeWarning, stacklevel=3)
        return _NAN


def compare(f_net, reference, problem, *, lam=None, interval=None, merge_tol=1e-2, jump_tol=1e-2,
            cost_gap_variant=None) -> dict:
    r"""All applicable metrics for one trained network, as a flat dict (JSON-serialisable).

    Parameters
    ----------
    f_net : PiecewiseLinear (or torch module / callable)
        The trained network as a function.
    reference : minnorm.comparison.references.Reference
        The limit object, solved on ``problem``'s data.
    problem : minnorm.comparison.problems.Problem
    lam : float, optional
        Function-space regularisation constant of weight-decay training (objective
        Σ(f(x_i)-y_i)² + lam·R(f)); defaults to ``reference.lam``. Enables the objective gap.
    interval : (float, float), optional
        Comparison interval; default ``problem.eval_interval`` (hull widened by 50 %).
    cost_gap_variant : str, optional
        Variant for ``net_cost``/``cost_gap``/``objective_gap``; default the reference's variant
        (spline references have none: these are NaN unless given).

    Returns
    -------
    dict[str, float | int]
        ``l2``, ``linf``, ``rel_l2``, ``rel_linf`` (relative to the reference's norm on the
        interval), ``ref_l2_norm``, ``ref_linf_norm``, ``eval_lo``, ``eval_hi``;
        ``envelope_violation``, ``rel_envelope_violation`` (V1/V2 references; NaN otherwise);
        ``net_cost`` (variant), ``net_cost_skip``, ``net_cost_no_skip``, ``net_cost_bias``,
        ``net_cost_bias_no_skip``; ``ref_value`` (reference's optimal objective),
        ``ref_certificate_gap``; ``cost_gap``, ``rel_cost_gap``, ``net_values_min_cost``;
        ``net_objective``, ``ref_objective``, ``objective_gap``, ``rel_objective_gap`` (lam
        given); ``max_knots_per_interval``, ``net_num_knots`` (after clustering),
        ``net_num_knots_raw``, ``knots_at_data``, ``knots_outside``; ``train_mse``,
        ``train_max_abs_residual``. NaN where not applicable.
    """
    for obj, name, attrs in ((reference, "reference", ("solution", "envelope", "variant", "lam")),
                             (problem, "problem", ("x", "y", "eval_interval"))):
        missing = [at for at in attrs if not hasattr(obj, at)]
        if missing:
            kind = "minnorm.comparison.references.Reference" if name == "reference" else "minnorm.comparison.problems.Problem"
            raise InputError(f"{name} must be a {kind}; got {type(obj).__name__} (no {', '.join(missing)})")
    if lam is not None:
        lam = validate_lam(lam)
    if cost_gap_variant is not None:
        validate_choice(cost_gap_variant, "cost_gap_variant", VARIANTS)
    merge_tol = validate_positive(merge_tol, "merge_tol", allow_zero=True)
    jump_tol = validate_positive(jump_tol, "jump_tol", allow_zero=True)
    ff = as_function(f_net)
    pl = _is_pl(ff)
    a, b = validate_interval(problem.eval_interval if interval is None else interval, "interval")
    ref_fn = reference.solution.function
    x, y = _data(problem.x, problem.y)
    out = {"eval_lo": a, "eval_hi": b}

    ref_l2 = lp_norm(reference.solution, (a, b), 2)
    ref_linf = lp_norm(reference.solution, (a, b), np.inf)
    out["l2"] = l2_distance(ff, reference.solution, (a, b))
    out["linf"] = linf_distance(ff, reference.solution, (a, b))
    out["rel_l2"] = _relative(out["l2"], ref_l2)
    out["rel_linf"] = _relative(out["linf"], ref_linf)
    out["ref_l2_norm"], out["ref_linf_norm"] = ref_l2, ref_linf

    if reference.envelope is not None:
        out["envelope_violation"] = envelope_violation(ff, reference.envelope, (a, b))
        out["rel_envelope_violation"] = _relative(out["envelope_violation"], ref_linf)
    else:
        out["envelope_violation"] = out["rel_envelope_violation"] = _NAN

    variant = cost_gap_variant or reference.variant
    for v in VARIANTS:
        out["net_cost_" + v.replace("-", "_")] = tv2_cost(ff, v) if pl else _NAN
    out["net_cost"] = tv2_cost(ff, variant) if (pl and variant) else _NAN
    out["ref_value"] = float(reference.solution.value)
    out["ref_certificate_gap"] = float(reference.solution.gap)

    out["cost_gap"] = out["rel_cost_gap"] = out["net_values_min_cost"] = _NAN
    if pl and variant:
        own_min = _safe(lambda: min_cost(x, _eval(ff, x), variant), "cost_gap")
        out["net_values_min_cost"] = own_min
        out["cost_gap"] = out["net_cost"] - own_min
        out["rel_cost_gap"] = _relative(out["cost_gap"], own_min) if np.isfinite(own_min) else _NAN

    lam = reference.lam if lam is None else lam
    out["net_objective"] = out["ref_objective"] = out["objective_gap"] = out["rel_objective_gap"] = _NAN
    if lam is not None and float(lam) > 0 and pl and variant:
        lam = float(lam)
        reuse = (float(reference.lam) == lam and reference.variant == variant
                 and _is_pl(ref_fn))
        pair = _safe(lambda: _objective_pair(ff, x, y, lam, variant, reference.solution if reuse else None),
                     "objective_gap")
        if isinstance(pair, tuple):
            net_obj, ref_obj = pair
            out["net_objective"], out["ref_objective"] = net_obj, ref_obj
            out["objective_gap"] = net_obj - ref_obj
            out["rel_objective_gap"] = _relative(net_obj - ref_obj, ref_obj)

    if pl:
        kc = knots_per_interval(ff, x, merge_tol=merge_tol, jump_tol=jump_tol)
        out["max_knots_per_interval"] = kc.max_per_interval
        out["net_num_knots"] = kc.total
        out["net_num_knots_raw"] = kc.num_raw
        out["knots_at_data"] = int(kc.at_data.sum())
        out["knots_outside"] = kc.outside
    else:
        for k in ("max_knots_per_interval", "net_num_knots", "net_num_knots_raw", "knots_at_data", "knots_outside"):
            out[k] = _NAN

    res = _eval(ff, x) - y
    out["train_mse"] = float(np.mean(res * res))
    out["train_max_abs_residual"] = float(np.max(np.abs(res)))
    return {k: (float(v) if isinstance(v, (float, np.floating)) else int(v) if isinstance(v, (int, np.integer))
                else v) for k, v in out.items()}
