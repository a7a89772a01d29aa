r"""Named training problems: a target function, a sampling design, noise and a seed.

A problem is data, not code: ``make_problem("sin", "uniform", n=10, noise=0.0, seed=0)``
gives the same arrays on every machine, so a sweep can store the four names and numbers
instead of the arrays.

Targets (:data:`TARGETS`)
-------------------------
================ ==========================================================================
``"sin"``         :math:`\sin(\pi x)`
``"abs"``         :math:`|x|` (exact :class:`~solvers.PiecewiseLinear`, one knot at 0)
``"square"``      :math:`x^2`
``"square-wave"`` :math:`\operatorname{sign}(\sin(\pi x))` -- the *unsmoothed* square wave
                  (value 0 exactly at the integers, where it jumps). With
                  ``target_params={"width": w}`` it is smoothed to
                  :math:`\tanh(\sin(\pi x)/w)` instead.
``"relu"``        :math:`\max(x, 0)` (exact piecewise linear)
``"random-pl"``   a random continuous piecewise-linear function drawn from the seed: ``knots``
                  (default 6) knots uniform in the domain, values standard normal, linear
                  extension outside (exact piecewise linear)
``"file:PATH"``   data from a CSV file with columns ``x, y`` (header optional); the design and
                  ``n`` are then not used, and the target is ``None`` (unknown)
================ ==========================================================================

A callable ``target`` is also accepted (named ``"callable"``).

Designs (:data:`DESIGNS`), on ``domain = (lo, hi)``, with ``L = hi - lo`` and ``c = (lo+hi)/2``
--------------------------------------------------------------------------------------------
================== ========================================================================
``"uniform"``       ``n`` equispaced points including both ends
``"random"``        ``n`` i.i.d. uniform points, sorted
``"clustered"``     two clusters: ``n//2`` uniform points in ``[lo+0.15L, lo+0.35L]`` and
                    the rest in ``[lo+0.65L, lo+0.85L]`` (sorted)
``"known-regions"`` dense equispaced samples on ``[lo, c-delta] ∪ [c+delta, hi]`` (MATH C;
                    ``[-1,-δ] ∪ [δ,1]`` for the default domain), both inner ends included:
                    ``n//2`` points on the left part, the rest on the right
================== ========================================================================

Randomness uses independent streams spawned from ``seed`` for the design, the target and the
noise, so e.g. changing ``noise`` does not move the sample points. :func:`problem_for_run` builds
the problem of a stored sweep run from its spec.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from solvers import InputError, PiecewiseLinear
from solvers._validation import (as_real_array, validate_int, validate_interval, validate_positive, validate_real,
                                 validate_seed)

__all__ = ["TARGETS", "DESIGNS", "Problem", "make_problem", "problem_for_run", "make_target", "load_csv_data"]


# ----------------------------------------------------------------------------- targets
def _sin(rng, **params):
    _no_params("sin", params)
    return lambda x: np.sin(np.pi * np.asarray(x, dtype=np.float64))


def _abs(rng, **params):
    _no_params("abs", params)
    return PiecewiseLinear([0.0], [0.0], -1.0, 1.0)


def _square(rng, **params):
    _no_params("square", params)
    return lambda x: np.asarray(x, dtype=np.float64) ** 2


def _square_wave(rng, width=None, **params):
    _no_params("square-wave", params)
    if width is None:
        return lambda x: np.sign(np.sin(np.pi * np.asarray(x, dtype=np.float64)))
    width = validate_positive(width, "target_params['width'] (square-wave)")
    return lambda x: np.tanh(np.sin(np.pi * np.asarray(x, dtype=np.float64)) / width)


def _relu(rng, **params):
    _no_params("relu", params)
    return PiecewiseLinear([0.0], [0.0], 0.0, 1.0)


def _random_pl(rng, knots=6, domain=(-1.0, 1.0), **params):
    _no_params("random-pl", params)
    k = validate_int(knots, "target_params['knots'] (random-pl)", min_value=1)
    lo, hi = validate_interval(domain, "target_params['domain'] (random-pl)")
    t = np.sort(rng.uniform(lo, hi, size=k))
    v = rng.standard_normal(k)
    if k == 1:
        s = rng.standard_normal(2)
        return PiecewiseLinear(t, v, s[0], s[1])
    return PiecewiseLinear.from_values(t, v)


def _no_params(name, params):
    if params:
        raise InputError(f"target {name!r} takes no target_params; got unknown key(s) {sorted(params)}")


#: Target factories: ``TARGETS[name](rng, **target_params) -> callable``. ``"file:PATH"`` is
#: handled by :func:`make_problem` (data, not a function).
TARGETS: dict[str, Callable[..., Callable]] = {
    "sin": _sin,
    "abs": _abs,
    "square": _square,
    "square-wave": _square_wave,
    "relu": _relu,
    "random-pl": _random_pl,
}


def make_target(name, *, seed=0, target_params=None, domain=(-1.0, 1.0)):
    """The target function called ``name`` (``random-pl`` drawn from ``seed``).

    Returns a vectorised callable; the piecewise-linear targets (``abs``, ``relu``,
    ``random-pl``) are exact :class:`~solvers.PiecewiseLinear` objects.
    """
    if name not in TARGETS:
        raise InputError(
            f"unknown target {name!r}; expected one of {', '.join(map(repr, TARGETS))} or 'file:PATH'"
        )
    params = _target_params(target_params)
    rng = np.random.default_rng(np.random.SeedSequence(_seed_int(seed)).spawn(3)[1])
    if name == "random-pl":
        params.setdefault("domain", domain)
    return TARGETS[name](rng, **params)


# ----------------------------------------------------------------------------- designs
def _uniform(n, rng, domain, delta):
    lo, hi = domain
    return np.linspace(lo, hi, n)


def _random(n, rng, domain, delta):
    lo, hi = domain
    return np.sort(rng.uniform(lo, hi, size=n))


def _clustered(n, rng, domain, delta):
    lo, hi = domain
    L = hi - lo
    k = n // 2
    left = rng.uniform(lo + 0.15 * L, lo + 0.35 * L, size=k)
    right = rng.uniform(lo + 0.65 * L, lo + 0.85 * L, size=n - k)
    return np.sort(np.concatenate([left, right]))


def _known_regions(n, rng, domain, delta):
    lo, hi = domain
    c = 0.5 * (lo + hi)
    k = n // 2
    # Both inner ends c -/+ delta are sampled: the one-sided slopes there fix the gap problem (MATH C).
    return np.concatenate([np.linspace(lo, c - delta, k), np.linspace(c + delta, hi, n - k)])


#: Sampling designs: ``DESIGNS[name](n, rng, domain, delta) -> sorted x``.
DESIGNS: dict[str, Callable[..., np.ndarray]] = {
    "uniform": _uniform,
    "random": _random,
    "clustered": _clustered,
    "known-regions": _known_regions,
}


# ----------------------------------------------------------------------------- problem
@dataclass
class Problem:
    """One training problem: sorted data ``(x, y)`` and how it was made.

    Attributes
    ----------
    name : str
        ``"{target}/{design}/n={n}/noise={noise}/seed={seed}"`` (``delta`` appended for
        known regions) -- a readable key, not a hash.
    x, y : ndarray of float64, shape (n,)
        Data, ``x`` strictly increasing. ``y = target(x) + noise * N(0, 1)``.
    target : callable or None
        The noiseless target (``None`` for data files).
    noise : float
        Standard deviation of the additive Gaussian noise.
    seed : int
    domain : (float, float)
        Interval the design samples from.
    delta : float or None
        Half-width of the gap for ``design="known-regions"``.
    eval_interval : (float, float)
        Where networks are compared with references. Default: the data hull
        ``[x_1, x_n]`` widened by 25 % of its length on each side (50 % in all), so that
        extrapolation counts.
    target_name, design : str
    y_clean : ndarray or None
        ``target(x)`` without noise.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    target: Callable | None
    noise: float
    seed: int
    domain: tuple
    delta: float | None = None
    eval_interval: tuple = None
    target_name: str = ""
    design: str = ""
    y_clean: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.eval_interval is None:
            self.eval_interval = widened_hull(self.x)

    @property
    def n(self):
        return int(self.x.size)

    @property
    def hull(self):
        """``(x_1, x_n)``."""
        return float(self.x[0]), float(self.x[-1])

    def to_dict(self):
        """Scalars describing the problem (JSON-serialisable; no arrays)."""
        return {
            "name": self.name,
            "target": self.target_name,
            "design": self.design,
            "n": self.n,
            "noise": float(self.noise),
            "seed": int(self.seed),
            "domain_lo": float(self.domain[0]),
            "domain_hi": float(self.domain[1]),
            "delta": None if self.delta is None else float(self.delta),
            "eval_lo": float(self.eval_interval[0]),
            "eval_hi": float(self.eval_interval[1]),
        }


def widened_hull(x, widen=0.5):
    """Data hull ``[x_1, x_n]`` widened by ``widen`` times its length, split equally on both sides."""
    lo, hi = float(np.min(x)), float(np.max(x))
    pad = 0.5 * widen * (hi - lo)
    return (lo - pad, hi + pad)


def _target_values(fn, x, target_name):
    """``fn(x)`` checked: one finite real value per point (a callable returning a scalar or NaN
    would otherwise give data of the wrong shape, or NaN targets, without a word)."""
    try:
        raw = fn(x)
    except Exception as exc:
        raise InputError(f"target {target_name!r} failed on the design points: {type(exc).__name__}: {exc}") from exc
    y = as_real_array(raw, f"the values of target {target_name!r}")
    if y.shape != x.shape:
        raise InputError(f"target {target_name!r} must return one value per point, shape {x.shape}; "
                         f"got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise InputError(f"target {target_name!r} returned a non-finite value {y[i]} at x = {x[i]!r}")
    return y


def load_csv_data(path):
    """Read ``x, y`` from a CSV file.

    Columns named ``x`` and ``y`` (case-insensitive) are used if present; otherwise the first
    two columns. A first row that is not numeric is taken as a header. Every way the file can be
    unusable (missing, a directory, empty, binary, ragged rows, not numbers) is an
    :class:`~solvers.InputError` that names the path.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"target data file {path!r} does not exist (relative paths are read from the working "
                         f"directory {os.getcwd()})")
    if os.path.isdir(path):
        raise InputError(f"target data file {path!r} is a directory, not a regular file; expected a CSV file with "
                         "columns x, y")
    if not os.path.isfile(path):
        raise InputError(f"target data file {path!r} is not a regular file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise InputError(f"cannot read target data file {path!r}: {exc.strerror or exc}") from None
    if not head.strip():
        raise InputError(f"target data file {path!r} is empty: not a CSV of x, y rows")
    if b"\0" in head:
        raise InputError(f"target data file {path!r} is binary, not a CSV text file of x, y")
    try:
        df = pd.read_csv(path, header=None, comment="#", skipinitialspace=True)
    except (ValueError, OSError) as exc:  # pandas' ParserError and EmptyDataError, UnicodeDecodeError
        reason = " ".join(str(exc).split())  # pandas' parser messages end in newlines; errors are one line
        raise InputError(f"target data file {path!r} is not a CSV of x, y rows: {reason}") from exc
    first = df.iloc[0].astype(str).tolist() if len(df) else []

    def _isnum(s):
        try:
            float(s)
            return True
        except ValueError:
            return False

    if first and not all(_isnum(s) for s in first[:2]):
        df = pd.read_csv(path, comment="#", skipinitialspace=True)
        cols = {str(c).strip().lower(): c for c in df.columns}
        if "x" in cols and "y" in cols:
            df = df[[cols["x"], cols["y"]]]
    if df.shape[1] < 2:
        raise InputError(f"target data file {path!r} needs two columns x, y; found {df.shape[1]}")
    try:
        x = df.iloc[:, 0].to_numpy(dtype=np.float64)
        y = df.iloc[:, 1].to_numpy(dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"target data file {path!r}: x and y must be numeric ({exc})") from exc
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError(f"target data file {path!r} contains NaN or inf")
    return x, y


def _seed_int(seed):
    return validate_seed(seed, "seed", allow_none=False)


def _target_params(target_params):
    if target_params is None:
        return {}
    if not isinstance(target_params, dict):
        raise InputError(f"target_params must be a dict or None; got {type(target_params).__name__}")
    return dict(target_params)


def make_problem(target="sin", design="uniform", n=10, *, noise=0.0, seed=0, domain=(-1.0, 1.0),
                 delta=None, target_params=None, eval_interval=None, widen=0.5) -> Problem:
    """Build a :class:`Problem`, deterministically from ``seed``.

    Parameters
    ----------
    target : str or callable
        A key of :data:`TARGETS`, ``"file:PATH"`` (CSV with x, y), or a vectorised callable.
    design : str
        A key of :data:`DESIGNS`.
    n : int
        Number of samples (>= 2; >= 4 for ``"known-regions"``). Unused for data files.
    noise : float
        Standard deviation of i.i.d. Gaussian noise added to ``y`` (>= 0).
    seed : int
        Seeds the design, the random target and the noise (independent streams).
    domain : (float, float)
        Sampling interval ``lo < hi``.
    delta : float or None
        Required for and only for ``design="known-regions"``: half-width of the unsampled gap,
        ``0 < delta < (hi - lo)/2``.
    target_params : dict, optional
        ``{"knots": k}`` for ``random-pl``, ``{"width": w}`` for a smoothed ``square-wave``.
    eval_interval : (float, float), optional
        Overrides the default comparison interval (the hull widened by ``widen``).
    widen : float
        Total relative widening of the hull for the default ``eval_interval`` (0.5 = 25 %
        each side).

    Raises
    ------
    solvers.InputError
        Unknown target/design, ``n`` too small, bad ``delta``/``noise``/``domain``/``seed``;
        the message names the key.
    """
    seed = _seed_int(seed)
    noise = validate_positive(noise, "noise", allow_zero=True)
    domain = lo, hi = validate_interval(domain, "domain")
    widen = validate_positive(widen, "widen", allow_zero=True)
    target_params = _target_params(target_params)
    ss_design, _, ss_noise = np.random.SeedSequence(seed).spawn(3)

    if isinstance(target, str) and target.startswith("file:"):
        path = target[len("file:"):]
        x, y_clean = load_csv_data(path)
        order = np.argsort(x, kind="stable")
        x, y_clean = x[order], y_clean[order]
        if x.size < 2:
            raise InputError(f"target data file {path!r} has fewer than 2 rows")
        if np.any(np.diff(x) == 0):
            raise InputError(f"target data file {path!r} has repeated x values")
        if delta is not None:
            raise InputError("delta applies only to design='known-regions', not to data files")
        fn, target_name, design_name = None, target, "file"
    else:
        if design not in DESIGNS:
            raise InputError(f"unknown design {design!r}; expected one of {', '.join(map(repr, DESIGNS))}")
        n = validate_int(n, "n", min_value=2)
        if design == "known-regions":
            if delta is None:
                raise InputError("delta is required for design='known-regions' (gap half-width)")
            delta = validate_real(delta, "delta")
            if not (0 < delta < 0.5 * (hi - lo)):
                raise InputError(f"delta must satisfy 0 < delta < (hi-lo)/2 = {0.5 * (hi - lo)}; got {delta!r}")
            if n < 4:
                raise InputError(f"n must be >= 4 for design='known-regions' (2 per side); got {n}")
        elif delta is not None:
            raise InputError(f"delta applies only to design='known-regions'; got delta={delta!r} "
                             f"with design={design!r}")
        if callable(target):
            fn, target_name = target, "callable"
        else:
            fn = make_target(target, seed=seed, target_params=target_params, domain=domain)
            target_name = target
        design_name = design
        x = np.asarray(DESIGNS[design](n, np.random.default_rng(ss_design), domain, delta), dtype=np.float64)
        if np.any(np.diff(x) <= 0):  # random designs: probability zero, but never return unsorted data
            raise InputError(f"design {design!r} produced repeated x values for seed={seed}; use another seed")
        y_clean = _target_values(fn, x, target_name)

    y = y_clean + noise * np.random.default_rng(ss_noise).standard_normal(x.size) if noise > 0 else y_clean.copy()
    name = f"{target_name}/{design_name}/n={x.size}/noise={noise:g}/seed={seed}"
    if delta is not None:
        name += f"/delta={delta:g}"
    if eval_interval is None:
        eval_interval = widened_hull(x, widen)
    else:
        eval_interval = validate_interval(eval_interval, "eval_interval")
    return Problem(
        name=name, x=x, y=np.asarray(y, dtype=np.float64), target=fn, noise=noise, seed=seed, domain=domain,
        delta=delta, eval_interval=tuple(float(v) for v in eval_interval), target_name=target_name,
        design=design_name, y_clean=y_clean, params=dict(target_params or {}),
    )


def problem_for_run(spec) -> Problem:
    """The :class:`Problem` of one sweep run, from the plain data that names it.

    Parameters
    ----------
    spec : dict
        A run's spec (:attr:`minnorm.comparison.sweeps.config.RunSpec.spec`, as stored with each
        result); its ``problem`` section holds the arguments of :func:`make_problem`.
    """
    p = spec["problem"]
    return make_problem(p["target"], p["design"], p["n"], noise=p["noise"], seed=p["seed"],
                        domain=tuple(p["domain"]), delta=p["delta"], target_params=p["target_params"] or None)
