"""Input validation shared by every layer: one place that turns user data into sorted,
finite, duplicate-free float64 arrays, and user scalars into checked numbers, or raises
:class:`~solvers.errors.InputError` naming the argument."""

import numbers
from dataclasses import dataclass

import numpy as np

from solvers.errors import InputError

__all__ = ["Data", "validate_data", "validate_lam", "validate_choice", "validate_bool", "validate_int",
           "validate_seed", "validate_positive", "validate_real", "validate_interval", "as_real_array",
           "validate_vector", "physical_memory", "INT64_MAX"]


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


#: numpy dtype kinds that are real numbers: signed/unsigned integers and floats.
_REAL_KINDS = "iuf"


def as_real_array(a, name, *, copy=True):
    """``a`` as a float64 array of any shape (a new one unless ``copy=False``), refusing what
    float64 conversion would garble.

    Errors (never a silent conversion): complex values (the imaginary part would be dropped with
    only a ComplexWarning), numpy masked arrays with masked entries (the mask would be ignored
    and the masked values used), strings (numeric-looking ones would be parsed), bools, dates,
    and objects that are not real numbers. Anything whose ``__array__`` fails (e.g. a torch
    tensor with ``requires_grad``) is reported with the library's own reason.
    """
    if np.ma.isMaskedArray(a) and np.ma.getmaskarray(a).any():
        k = int(np.ma.getmaskarray(a).sum())
        raise InputError(
            f"{name} is a masked array with {k} masked entr{'y' if k == 1 else 'ies'}; masks are not honoured. "
            f"Drop the masked points from all arrays first (e.g. {name}.compressed() with the same mask applied "
            "to the other array), or pass np.ma.getdata if the values are meant to be used"
        )
    try:
        raw = np.asarray(np.ma.getdata(a) if np.ma.isMaskedArray(a) else a)
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise InputError(f"{name} could not be read as an array of real numbers ({exc})") from exc
    kind = raw.dtype.kind
    if kind == "c":
        raise InputError(
            f"{name} must be real numbers; got complex values (dtype {raw.dtype}). Pass np.real({name}) "
            "if the imaginary parts are meant to be dropped"
        )
    if kind in "US":
        raise InputError(f"{name} must be real numbers; got strings (dtype {raw.dtype}); convert them explicitly")
    if kind == "b":
        raise InputError(f"{name} must be real numbers; got a bool array (use {name}.astype(float) if intended)")
    if kind == "O" and raw.ndim == 0:
        raise InputError(f"{name} must be an array of real numbers; got {type(a).__name__}")
    if kind == "O":
        flat = raw.ravel()
        for i, el in enumerate(flat):
            if isinstance(el, (bool, np.bool_)) or not isinstance(el, numbers.Real):
                where = f"{name}[{i}]" if raw.ndim == 1 else f"element {i} of {name}"
                raise InputError(f"{name} must be real numbers; {where} is {el!r} ({type(el).__name__})")
    elif kind not in _REAL_KINDS:
        raise InputError(f"{name} must be real numbers; got dtype {raw.dtype}")
    try:
        # copy by default: solvers may work in place on Data arrays
        return np.array(raw, dtype=np.float64) if copy else np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{name} could not be read as an array of real numbers ({exc})") from exc


def validate_vector(a, name):
    """A finite 1-D float64 copy of ``a`` (see :func:`as_real_array` for what is refused)."""
    arr = as_real_array(a, name)
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D; got an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InputError(f"{name} must be finite; {name}[{bad}] = {arr[bad]}")
    return arr


_as_1d_float = validate_vector  # the historical name (other branches may still import it)


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
    x = validate_vector(x, "x")
    y = validate_vector(y, "y")
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


#: Largest signed 64-bit integer: what numpy and torch can index and seed with.
INT64_MAX = 2**63 - 1
#: Seeds feed numpy's and torch's generators, which take 64-bit integers.
SEED_MAX = INT64_MAX


def validate_seed(seed, name="seed", *, allow_none=True):
    """``None`` (when allowed) or an integer in [0, 2**63 - 1]."""
    if seed is None and allow_none:
        return None
    return validate_int(seed, name, min_value=0, max_value=SEED_MAX)


def validate_positive(value, name, *, allow_zero=False):
    """A finite real number > 0 (>= 0 with ``allow_zero``) as float; bools and strings are errors."""
    val = validate_real(value, name, finite=False)
    if not np.isfinite(val) or val < 0 or (val == 0 and not allow_zero):
        expected = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be finite and {expected}; got {value!r}")
    return val


def validate_real(value, name, *, finite=True):
    """A real number (Python, numpy, or a 0-d real array) as float; bools, strings and arrays are errors."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise InputError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    if isinstance(value, numbers.Real):  # Python and numpy scalars, Fraction
        try:
            val = float(value)
        except OverflowError as exc:
            raise InputError(f"{name} is beyond the float range (|{name}| > 1.8e308)") from exc
    else:  # a 0-d array or tensor
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"{name} must be a real number; got {type(value).__name__} ({exc})") from exc
        if arr.ndim != 0 or arr.dtype.kind not in _REAL_KINDS:
            what = f"an array of shape {arr.shape}" if arr.ndim else f"{value!r} ({type(value).__name__})"
            raise InputError(f"{name} must be a real number; got {what}")
        val = float(arr)
    if finite and not np.isfinite(val):
        raise InputError(f"{name} must be finite; got {value!r}")
    return val


def validate_interval(value, name):
    """``(a, b)``: a pair of finite real numbers with ``a < b`` (a domain, a comparison interval)."""
    try:
        a, b = (validate_real(v, name) for v in value)
    except (TypeError, ValueError) as exc:  # not a pair (InputError is a ValueError too)
        raise InputError(f"{name} must be a pair (a, b) of finite numbers; got {value!r}") from exc
    if not a < b:
        raise InputError(f"{name} must have a < b; got {value!r}")
    return a, b


def physical_memory():
    """This machine's physical memory in bytes, or None where the platform does not say.

    Size checks of every layer compare against it, so a run too large for the machine is refused
    before anything is allocated."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return None
