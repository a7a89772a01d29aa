"""Input validation shared by every solver: one place that turns user data into sorted,
finite, duplicate-free float64 arrays or raises :class:`~solvers.errors.InputError`."""

from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = ["Data", "validate_data", "validate_lam", "validate_choice", "validate_bool", "validate_int",
           "validate_seed", "validate_positive"]


@dataclass(frozen=True)
class Data:
    """Validated data: strictly increasing ``x``, values ``y`` and multiplicities ``weights``.

    For regression, repeated abscissae with different values are merged into their mean
    with weight equal to the count; ``sse_offset`` is the part of the sum of squares that
    the merge removes, so that ``sum w (f(x)-y)^2 + sse_offset`` equals the original sum.
    """

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    sse_offset: float = 0.0

    @property
    def n(self):
        return self.x.size


def _as_1d_float(a, name):
    try:
        arr = np.array(a, dtype=np.float64)  # a copy: solvers may work in place on Data arrays
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a 1-D array of real numbers; got {type(a).__name__}") from exc
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D; got an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InputError(f"{name} must be finite; {name}[{bad}] = {arr[bad]}")
    return arr


def validate_data(x, y, *, min_points=2, duplicates="merge-identical"):
    """Validate and sort data.

    Parameters
    ----------
    x, y : array_like
        Abscissae and values, 1-D, same length, finite. Unsorted ``x`` is sorted (``y``
        follows), so results do not depend on the input order.
    min_points : int
        Minimal number of distinct abscissae.
    duplicates : {"merge-identical", "average"}
        ``"merge-identical"`` (interpolation): identical (x, y) pairs are merged; a repeated
        x with a different y is an error, since no function interpolates both.
        ``"average"`` (regression): repeated x are merged into the mean y, weighted by count.
    """
    x = _as_1d_float(x, "x")
    y = _as_1d_float(y, "y")
    if x.size != y.size:
        raise InputError(f"x and y must have the same length; got len(x)={x.size}, len(y)={y.size}")
    if not np.all(x[1:] > x[:-1]):  # sorted input (the common case) skips the O(n log n) sort
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    weights = np.ones_like(x)
    offset = 0.0
    if x.size > 1 and np.any(x[1:] == x[:-1]):
        xu, start, counts = np.unique(x, return_index=True, return_counts=True)
        if duplicates == "merge-identical":
            ymin = np.minimum.reduceat(y, start)
            ymax = np.maximum.reduceat(y, start)
            clash = np.flatnonzero(ymin != ymax)
            if clash.size:
                k = clash[0]
                raise InputError(
                    f"x contains the repeated value {float(xu[k])!r} with different y values "
                    f"({float(ymin[k])!r} and {float(ymax[k])!r}); an interpolant cannot pass through both. "
                    "Remove or average the duplicates, or use a regression."
                )
            y = ymin
        elif duplicates == "average":
            sums = np.add.reduceat(y, start)
            ymean = sums / counts
            offset = float(np.sum((y - np.repeat(ymean, counts)) ** 2))
            y = ymean
            weights = counts.astype(np.float64)
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown duplicates policy {duplicates!r}")
        x = xu
    if x.size < min_points:
        raise InputError(f"need at least {min_points} distinct x values; got {x.size}")
    span = x[-1] - x[0]
    if x.size > 1:
        gaps = np.diff(x)
        # Relative spacing below ~1e-13 leaves no significant digits in secant slopes.
        scale = max(np.max(np.abs(x)), span)
        if np.min(gaps) <= 1e-13 * scale:
            k = int(np.argmin(gaps))
            raise InputError(
                f"x values {float(x[k])!r} and {float(x[k + 1])!r} are closer than 1e-13 relative to the data scale "
                f"{scale:.3g}; secant slopes would have no significant digits. Merge or rescale them."
            )
    return Data(x=x, y=y, weights=weights, sse_offset=offset)


def validate_lam(lam, name="lam"):
    """A finite, non-negative regularisation constant as float."""
    try:
        val = float(lam)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a non-negative real number; got {lam!r}") from exc
    if not np.isfinite(val) or val < 0:
        raise InputError(f"{name} must be finite and >= 0; got {lam!r}")
    return val


def validate_choice(value, name, choices):
    """Check that ``value`` is one of ``choices`` (strings)."""
    if value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise InputError(f"unknown {name} {value!r}; expected one of {opts}")
    return value


def validate_bool(value, name):
    """A real bool (Python or numpy); strings, numbers and None are errors, since ``"no"`` is truthy."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InputError(f"{name} must be True or False; got {value!r} ({type(value).__name__})")


def validate_int(value, name, *, min_value=None, max_value=None):
    """An integer (Python or numpy int, or an integral float such as ``1e3``) within the bounds.

    Bools and non-integral numbers are errors: ``1.5`` silently truncated to 1 is a different run.
    """
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be an integer; got the bool {value!r}")
    if isinstance(value, (int, np.integer)):
        val = int(value)
    elif isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        val = int(value)
    else:
        raise InputError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    if min_value is not None and val < min_value:
        raise InputError(f"{name} must be >= {min_value}; got {val}")
    if max_value is not None and val > max_value:
        raise InputError(f"{name} must be <= {max_value}; got {val}")
    return val


#: Seeds feed numpy's and torch's generators, which take 64-bit integers.
SEED_MAX = 2**63 - 1


def validate_seed(seed, name="seed", *, allow_none=True):
    """``None`` (when allowed) or an integer in [0, 2**63 - 1]."""
    if seed is None and allow_none:
        return None
    return validate_int(seed, name, min_value=0, max_value=SEED_MAX)


def validate_positive(value, name, *, allow_zero=False):
    """A finite real number > 0 (>= 0 with ``allow_zero``) as float; bools and strings are errors."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    val = float(value)
    if not np.isfinite(val) or val < 0 or (val == 0 and not allow_zero):
        expected = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be finite and {expected}; got {value!r}")
    return val
