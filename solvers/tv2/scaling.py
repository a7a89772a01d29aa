r"""Rescaling a problem before it is solved.

* Exact power-of-two rescaling (:func:`_rescale_exponents`): data whose secant slopes under- or
  overflow (e.g. x spaced 1e-310) are solved on copies :math:`x2^a`, :math:`y2^b`, which is the
  same problem because powers of two commute with rounding; the answer is mapped back exactly
  (:func:`_unscale_value`, :func:`_unscale_function`), or :class:`InputError` when it is outside
  the float64 range.
* The value scale of the conic programs (:func:`_value_scale`): they solve for :math:`y/c` so that
  the solvers' absolute tolerances are meaningful on badly scaled data.
"""

import numpy as np

from solvers.errors import InputError
from solvers.piecewise import PiecewiseLinear

_TINY = np.finfo(np.float64).tiny
#: After rescaling, the largest secant slope is below 2**_SLOPE_EXP / n, so slope changes and
#: their sums (V, S) cannot overflow.
_SLOPE_EXP = 900


def _rescale_exponents(x, y):
    r"""Exponents ``(a, b)`` with which :math:`x 2^a`, :math:`y 2^b` keep every closed-form quantity
    finite and normal, or ``None`` when the data need no rescaling.

    Needed when a gap or its reciprocal (the dual certificate's :math:`p'`), a difference of ``y``, a secant slope, a slope change or their sums overflow,
    or a non-zero slope underflows (e.g. x spaced 1e-310). Powers of two commute with rounding
    (barring under/overflow), so the rescaled problem is the same problem: every slope scales by
    :math:`2^{b-a}`, knots by :math:`2^{-a}`... exactly. ``y`` is brought below :math:`2^{-2}`
    and ``x`` first below :math:`2^{-2}`, then scaled up until the largest slope is below
    :math:`2^{900}/n` (never above :math:`2^{1020}`, since gaps are at least :math:`2^{-1074}`).
    """
    with np.errstate(all="ignore"):
        h = np.diff(x)
        dy = np.diff(y)
        s = dy / h
        d = np.diff(s)
        ok = (np.all(np.isfinite(h)) and np.all(np.isfinite(1.0 / h)) and np.all(np.isfinite(dy)) and np.all(np.isfinite(s))
              and np.all(np.isfinite(d)) and np.isfinite(np.sum(np.abs(d)) + abs(s[0]) + abs(s[-1]))
              and not np.any((np.abs(s) < _TINY) & (dy != 0)))
    if ok:
        return None
    ymax = float(np.max(np.abs(y)))
    b = -int(np.frexp(ymax)[1]) - 2 if ymax > 0 else 0
    a = -int(np.frexp(float(np.max(np.abs(x))))[1]) - 2
    hs, dys = np.diff(np.ldexp(x, a)), np.diff(np.ldexp(y, b))
    nz = dys != 0
    if np.any(nz):
        e_slope = int(np.max(np.frexp(dys[nz])[1] - np.frexp(hs[nz])[1])) + 1  # |s| < 2**e_slope
        a += max(0, e_slope + int(np.ceil(np.log2(2 * x.size))) - _SLOPE_EXP)
    return a, b


def _unscale_value(v, a, b, what="value"):
    """A quantity in slope units of the rescaled problem, in the original units (exact), or
    InputError when it is not representable in float64."""
    with np.errstate(over="ignore", under="ignore"):
        out = float(np.ldexp(v, a - b))
    if v != 0 and (not np.isfinite(out) or out == 0.0):
        raise InputError(
            f"the {what} of this problem is about 2**{int(np.frexp(v)[1]) + a - b}, outside the float64 range "
            "(|x| spacing and |y| scale give secant slopes that cannot be represented); rescale x or y"
        )
    return out


def _unscale_function(f, a, b, what="minimiser"):
    """PiecewiseLinear of the original problem from one of the rescaled problem (exact), keeping
    slopes and jumps as computed (value differences may overflow where slopes do not)."""
    with np.errstate(over="ignore", under="ignore"):
        slopes = np.ldexp(f.slopes, a - b)
        jumps = np.ldexp(f._jumps, a - b)
    bad = (~np.isfinite(slopes)) | ((slopes == 0) & (f.slopes != 0))
    if np.any(bad):
        _unscale_value(float(f.slopes[np.flatnonzero(bad)[0]]), a, b, f"slope of the {what}")
    with np.errstate(over="ignore", invalid="ignore"):
        return PiecewiseLinear._from_parts(np.ldexp(f.nodes, -a), np.ldexp(f.values, -b), slopes, jumps)


def _value_scale(x, y, lam):
    """Scale c for solving with y / c: the largest secant slope for interpolation (the jumps
    are differences of slopes), the spread of y for regression (fitted values live there)."""
    if lam is None:
        c = float(np.max(np.abs(np.diff(y) / np.diff(x)))) if y.size > 1 else 0.0
    else:
        c = float(np.max(np.abs(y - np.mean(y))))
    return c if c > 0 and np.isfinite(c) else 1.0
