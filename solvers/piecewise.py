r"""Exact continuous piecewise-linear functions on the whole real line.

A minimum-norm interpolant and a trained shallow ReLU network are both of the form

.. math::  f(x) = s_L x + C + \sum_k J_k (x - t_k)_+ ,

so one exact type serves both, and distances between them are computed exactly.
"""

import numbers

import numpy as np
from scipy.interpolate import PPoly

from solvers._validation import as_real_array, validate_interval, validate_positive, validate_real
from solvers.errors import InputError

__all__ = ["PiecewiseLinear", "VARIANTS", "tv2_cost"]

#: Cost variants of MATH A.2.
VARIANTS = ("skip", "no-skip", "bias", "bias-no-skip")


def _omega(t):
    return np.hypot(1.0, t)


class PiecewiseLinear:
    r"""Continuous piecewise-linear function on :math:`\mathbb{R}`, linear outside its nodes.

    Stored as nodes :math:`t_0<\dots<t_{K-1}` (K >= 1) with values :math:`f(t_k)` and the two
    outer slopes; between nodes :math:`f` is the chord. Storing values rather than an
    intercept keeps the representation exact for interpolants (``f(x_i) == y_i`` bit for bit)
    and accurate far from the origin.

    Parameters
    ----------
    nodes : array_like, shape (K,)
        Strictly increasing, finite, K >= 1. Nodes where the slope does not change are kept
        as anchors but are not reported as :attr:`knots`.
    values : array_like, shape (K,)
        ``f(nodes)``.
    slope_left, slope_right : float
        :math:`f'(-\infty)` and :math:`f'(+\infty)`. For K == 1 they may differ (one knot).

    Notes
    -----
    ``f(t, nu=1)`` is right-continuous at knots. ``f(t, nu=2)`` is 0 away from knots: the
    second derivative is the measure :math:`\sum_k J_k \delta_{t_k}`, exposed as
    :attr:`knots` and :attr:`jumps`.
    """

    __slots__ = ("nodes", "values", "slope_left", "slope_right", "_slopes", "_jumps")

    def __init__(self, nodes, values, slope_left, slope_right):
        nodes = np.atleast_1d(as_real_array(nodes, "nodes", copy=False))
        values = np.atleast_1d(as_real_array(values, "values", copy=False))
        if nodes.ndim != 1 or nodes.size < 1 or nodes.shape != values.shape:
            raise InputError(
                f"nodes and values must be 1-D of equal length >= 1; got shapes {nodes.shape} and {values.shape}"
            )
        if not (np.all(np.isfinite(nodes)) and np.all(np.isfinite(values))):
            raise InputError("nodes and values must be finite")
        if np.any(np.diff(nodes) <= 0):
            raise InputError("nodes must be strictly increasing")
        sl, sr = validate_real(slope_left, "slope_left"), validate_real(slope_right, "slope_right")
        self.nodes, self.values = nodes, values
        self.slope_left, self.slope_right = sl, sr
        inner = np.diff(values) / np.diff(nodes)
        self._slopes = np.concatenate(([sl], inner, [sr]))  # slope on each of the K+1 pieces
        self._jumps = np.diff(self._slopes)

    @classmethod
    def _from_parts(cls, nodes, values, slopes, jumps):
        # Keeps slopes and jumps as given (e.g. a network's a|w|) instead of re-deriving them from
        # value differences, which would lose digits when knots are close.
        obj = cls(nodes, values, slopes[0], slopes[-1])
        obj._slopes = np.asarray(slopes, dtype=np.float64)
        obj._jumps = np.asarray(jumps, dtype=np.float64)
        return obj

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_values(cls, x, y, slope_left=None, slope_right=None):
        """Interpolant through (x, y) (x strictly increasing); outer slopes default to the
        first and last secant slopes (the linear extension)."""
        x = np.atleast_1d(as_real_array(x, "x", copy=False))
        y = np.atleast_1d(as_real_array(y, "y", copy=False))
        if x.size == 0 or x.shape != y.shape:
            raise InputError(f"x and y must be 1-D of equal length >= 1; got shapes {x.shape} and {y.shape}")
        if x.size == 1:
            if slope_left is None or slope_right is None:
                raise InputError("a single node needs both outer slopes")
            return cls(x, y, slope_left, slope_right)
        sec = np.diff(y) / np.diff(x)
        sl = sec[0] if slope_left is None else slope_left
        sr = sec[-1] if slope_right is None else slope_right
        return cls(x, y, sl, sr)

    @classmethod
    def from_knots(cls, knots, jumps, slope_left, intercept, *, merge_tol=0.0):
        r"""Build :math:`f(x)=s_L x + C + \sum_k J_k (x-t_k)_+`.

        Knots closer than ``merge_tol`` (absolute) are merged and their jumps added; knots with
        zero jump are dropped. With no knot left, ``f`` is affine.
        """
        t = as_real_array(knots, "knots", copy=False).ravel()
        J = as_real_array(jumps, "jumps", copy=False).ravel()
        if t.shape != J.shape:
            raise InputError(f"knots and jumps must have the same length; got {t.size} and {J.size}")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(J))):
            raise InputError("knots and jumps must be finite")
        sl, C = validate_real(slope_left, "slope_left"), validate_real(intercept, "intercept")
        merge_tol = validate_positive(merge_tol, "merge_tol", allow_zero=True)
        t, J = _merge_knots(t, J, merge_tol)
        if t.size == 0:
            return cls([0.0], [C], sl, sl)
        slopes = sl + np.concatenate(([0.0], np.cumsum(J)))
        # Values are accumulated outwards from x = 0, where f(0) = C + sum_{t_k<0} J_k (-t_k) is
        # exact up to rounding of each term. Accumulating from the leftmost knot instead loses
        # every digit when a unit of negligible weight has its kink at, say, -1e90.
        left = t < 0
        f0 = C + float(np.sum(J[left] * -t[left]))
        p = int(np.count_nonzero(left))  # knots t[:p] < 0 <= t[p:]
        v = np.empty_like(t)
        if p < t.size:
            v[p] = f0 + slopes[p] * t[p]
            v[p + 1:] = v[p] + np.cumsum(slopes[p + 1:-1] * np.diff(t[p:]))
        if p > 0:
            v[p - 1] = f0 + slopes[p] * t[p - 1]
            inc = slopes[1:p] * np.diff(t[:p])
            v[: p - 1] = v[p - 1] - np.cumsum(inc[::-1])[::-1]
        return cls._from_parts(t, v, slopes, J)

    @classmethod
    def from_network(cls, a, w, b, c=0.0, d=0.0, *, merge_tol=0.0):
        r"""Exact function of :math:`f(x)=\sum_j a_j\,\mathrm{relu}(w_j x+b_j) + c x + d` (MATH A.0).

        Each unit with :math:`w_j\ne0` has its kink at :math:`-b_j/w_j` with jump
        :math:`a_j|w_j|`; units with :math:`w_j=0` are constants :math:`a_j\,\mathrm{relu}(b_j)`.
        """
        a, w, b = (as_real_array(v, nm, copy=False).ravel() for v, nm in ((a, "a"), (w, "w"), (b, "b")))
        if not (a.shape == w.shape == b.shape):
            raise InputError(f"a, w, b must have the same length; got {a.size}, {w.size}, {b.size}")
        for nm, v in (("a", a), ("w", w), ("b", b)):
            if not np.all(np.isfinite(v)):
                j = int(np.flatnonzero(~np.isfinite(v))[0])
                # Dropping the unit would return a finite function for a network that is NaN everywhere.
                raise InputError(f"network parameters must be finite; unit {j} has {nm}[{j}] = {v[j]}")
        c, d = validate_real(c, "c"), validate_real(d, "d")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t_all = -b / np.where(w != 0, w, 1.0)
        kinked = (w != 0) & np.isfinite(t_all)
        const = w == 0
        # A kink beyond the float range (|b/w| overflows): the unit is affine on every
        # representable x, active everywhere or nowhere.
        always = (w != 0) & ~np.isfinite(t_all) & (((w > 0) & (t_all < 0)) | ((w < 0) & (t_all > 0)))
        neg = kinked & (w < 0)
        lin = neg | always
        sl = c + float(np.sum(a[lin] * w[lin]))
        C = d + float(np.sum(a[const] * np.maximum(b[const], 0.0))) + float(np.sum(a[lin] * b[lin]))
        t = t_all[kinked]
        J = a[kinked] * np.abs(w[kinked])
        return cls.from_knots(t, J, sl, C, merge_tol=merge_tol)

    # ------------------------------------------------------------------ properties
    @property
    def knots(self):
        """Nodes where the slope changes (the support of f'')."""
        return self.nodes[self._jump_mask()]

    @property
    def jumps(self):
        """Slope change f'(t+) - f'(t-) at each knot."""
        return self._jumps[self._jump_mask()]

    def _jump_mask(self):
        return self._jumps != 0

    @property
    def intercept(self):
        """C in f(x) = s_L x + C + sum J_k (x - t_k)_+  (the value of the left asymptote at 0)."""
        # f(0) minus the kinks left of 0; not values[0] - s_L * nodes[0], which cancels to noise
        # when the first node is far from 0.
        k = self.knots
        J = self.jumps
        neg = k < 0
        return float(self(0.0) - np.sum(J[neg] * -k[neg]))

    @property
    def slopes(self):
        """Slopes on the K+1 pieces (-inf, t_0), (t_0, t_1), ..., (t_{K-1}, inf)."""
        return self._slopes.copy()

    @property
    def ppoly(self):
        """The same function as a :class:`scipy.interpolate.PPoly` of degree 1 (extrapolating).

        PPoly expands every piece around its left breakpoint. For a trained network whose
        decayed units left kinks at |t| ~ 1e100, evaluating a piece far from its left end loses
        digits; ``f(t)`` itself anchors at the nearer node and stays exact.
        """
        t = self.nodes
        brk = np.concatenate(([t[0] - 1.0], t, [t[-1] + 1.0]))
        vals_left = np.concatenate(([self.values[0] - self.slope_left], self.values))
        coef = np.vstack([self._slopes, vals_left])
        return PPoly(coef, brk, extrapolate=True)

    # ------------------------------------------------------------------ evaluation
    def __call__(self, t, nu=0):
        t_arr = as_real_array(t, "t", copy=False)
        if nu not in (0, 1, 2):
            raise InputError(f"nu must be 0, 1 or 2; got {nu!r}")
        idx = np.searchsorted(self.nodes, t_arr, side="right")  # piece index 0..K
        if nu == 2:
            return np.zeros_like(t_arr)
        slope = self._slopes[idx]
        if nu == 1:
            return slope
        # Anchor at the nearer end node of the piece: anchoring at its left node loses every digit
        # when that node is far away (a decayed unit of a trained net can have its kink at -1e139,
        # with the node value ~1e139, while t is O(1)). Exact at nodes (distance 0).
        K = self.nodes.size
        left = np.maximum(idx - 1, 0)
        right = np.minimum(idx, K - 1)
        use_right = np.abs(t_arr - self.nodes[right]) < np.abs(t_arr - self.nodes[left])
        anchor = np.where(use_right, right, left)
        return self.values[anchor] + slope * (t_arr - self.nodes[anchor])

    def total_variation(self):
        """Total variation of f' on R, i.e. the integral of |f''|."""
        return float(np.sum(np.abs(self._jumps)))

    def cost(self, variant="skip"):
        """Infinite-width representation cost R(f); see :func:`tv2_cost`."""
        return tv2_cost(self, variant)

    # ------------------------------------------------------------------ arithmetic
    def _breaks_with(self, other):
        return np.union1d(self.nodes, other.nodes)

    def __add__(self, other):
        if isinstance(other, PiecewiseLinear):
            nodes = self._breaks_with(other)
            return PiecewiseLinear(
                nodes, self(nodes) + other(nodes),
                self.slope_left + other.slope_left, self.slope_right + other.slope_right,
            )
        if _is_number(other):
            return PiecewiseLinear(self.nodes, self.values + other, self.slope_left, self.slope_right)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self):
        return PiecewiseLinear(self.nodes, -self.values, -self.slope_left, -self.slope_right)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, s):
        if not _is_number(s):
            return NotImplemented
        return PiecewiseLinear(self.nodes, s * self.values, s * self.slope_left, s * self.slope_right)

    __rmul__ = __mul__

    # ------------------------------------------------------------------ exact norms
    def lp_norm(self, interval, p=2):
        r"""Exact :math:`\|f\|_{L^p(a,b)}` for p in {1, 2, inf}.

        On each linear piece the integral is closed-form, so the result is exact up to rounding.
        """
        a, b = validate_interval(interval, "interval")
        inner = self.nodes[(self.nodes > a) & (self.nodes < b)]
        pts = np.concatenate(([a], inner, [b]))
        v = self(pts)
        if p in (np.inf, "inf"):
            return float(np.max(np.abs(v)))
        h = np.diff(pts)
        p0, p1 = v[:-1], v[1:]
        if p == 2:
            return float(np.sqrt(np.sum(h * (p0 * p0 + p0 * p1 + p1 * p1) / 3.0)))
        if p == 1:
            same = p0 * p1 >= 0
            denom = np.where(same, 1.0, np.abs(p0) + np.abs(p1))
            # A piece that changes sign is two triangles split at its root.
            mixed = h * (p0 * p0 + p1 * p1) / (2.0 * denom)
            return float(np.sum(np.where(same, h * np.abs(p0 + p1) / 2.0, mixed)))
        raise InputError(f"p must be 1, 2 or inf; got {p!r}")

    # ------------------------------------------------------------------ export
    def to_dict(self):
        return {
            "type": "piecewise-linear",
            "knots": self.knots.tolist(),
            "jumps": self.jumps.tolist(),
            "slope_left": self.slope_left,
            "slope_right": self.slope_right,
            "intercept": self.intercept,
            "nodes": self.nodes.tolist(),
            "values": self.values.tolist(),
        }

    def __repr__(self):
        return (
            f"PiecewiseLinear({self.knots.size} knots, slope_left={self.slope_left:.6g}, "
            f"slope_right={self.slope_right:.6g})"
        )


def _is_number(v):
    """A real scalar for arithmetic (strings and bools are not: ``np.isscalar("a")`` is True)."""
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _merge_knots(t, J, tol):
    order = np.argsort(t, kind="stable")
    t, J = t[order], J[order]
    if t.size > 1:
        new_group = np.concatenate(([True], np.diff(t) > tol))
        starts = np.flatnonzero(new_group)
        Jm = np.add.reduceat(J, starts)
        # A merged knot sits at the jump-weighted centre of its group when tol > 0.
        if tol > 0:
            wsum = np.add.reduceat(np.abs(J), starts)
            tm = np.add.reduceat(np.abs(J) * t, starts) / np.where(wsum > 0, wsum, 1.0)
            tm = np.where(wsum > 0, tm, t[starts])
        else:
            tm = t[starts]
        t, J = tm, Jm
    keep = J != 0
    return t[keep], J[keep]


def tv2_cost(f, variant="skip"):
    r"""Exact infinite-width representation cost :math:`R(f)` of a piecewise-linear ``f`` (MATH A.2).

    With :math:`\mu=f''=\sum_k J_k\delta_{t_k}`, :math:`D=f'(-\infty)+f'(+\infty)` and
    :math:`\omega(t)=\sqrt{1+t^2}`:

    ================== =================================================================
    ``"skip"``         :math:`\int|f''| = \sum_k |J_k|`
    ``"no-skip"``      :math:`\max(\sum_k|J_k|,\ |D|)`  (Savarese et al.)
    ``"bias"``         :math:`\sum_k |J_k|\,\omega(t_k)`  (Boursier--Flammarion)
    ``"bias-no-skip"`` :math:`\sum_k|J_k|\omega(t_k) + (|D|-\sum_k|J_k|)_+`
    ================== =================================================================

    Parameters
    ----------
    f : PiecewiseLinear or object with ``knots``, ``jumps``, ``slope_left``, ``slope_right``
    variant : {"skip", "no-skip", "bias", "bias-no-skip"}
    """
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; expected one of {', '.join(map(repr, VARIANTS))}")
    t, J, sl, sr = _measure_of(f)
    J = np.abs(J)
    mass = float(np.sum(J))
    D = abs(sl + sr)
    if variant == "skip":
        return mass
    if variant == "no-skip":
        return max(mass, D)
    weighted = float(np.sum(J * _omega(t)))
    if variant == "bias":
        return weighted
    return weighted + max(D - mass, 0.0)


_PL_ATTRS = ("knots", "jumps", "slope_left", "slope_right")


def _measure_of(f):
    """``(knots, jumps, slope_left, slope_right)`` of a piecewise-linear ``f``, checked."""
    if isinstance(f, PiecewiseLinear):
        return f.knots, f.jumps, f.slope_left, f.slope_right
    missing = [a for a in _PL_ATTRS if not hasattr(f, a)]  # hasattr: a spline's knots raise
    if missing:
        hint = ""
        if hasattr(f, "forward") and hasattr(f, "parameters"):
            hint = "; convert a network with minnorm.to_function(net) first"
        elif hasattr(f, "function"):
            hint = "; pass its .function"
        raise InputError(
            f"f must be a PiecewiseLinear (or have {', '.join(_PL_ATTRS)}); got {type(f).__name__}, "
            f"which lacks {', '.join(missing)}{hint}"
        )
    t = as_real_array(f.knots, "f.knots", copy=False).ravel()
    J = as_real_array(f.jumps, "f.jumps", copy=False).ravel()
    if t.shape != J.shape or not (np.all(np.isfinite(t)) and np.all(np.isfinite(J))):
        raise InputError(f"f.knots and f.jumps must be finite and of equal length; got {t.size} and {J.size}")
    return t, J, validate_real(f.slope_left, "f.slope_left"), validate_real(f.slope_right, "f.slope_right")
