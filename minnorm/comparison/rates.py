r"""Convergence rates: fit :math:`y \approx C\,x^{-\alpha}` on log--log scales with bootstrap intervals.

The exponent is the least-squares slope of :math:`\log y` against :math:`\log x`, sign-flipped:
``exponent = α > 0`` means the error *decreases* like :math:`x^{-\alpha}` (e.g. width
:math:`m^{-1/2}`); a negative exponent means it grows (e.g. error vs λ).

The confidence interval is a percentile bootstrap that resamples whole seeds (groups) with
replacement, so that runs sharing a seed -- hence sharing data and initialisation -- are kept
together; without seeds it resamples points (a pairs bootstrap).

:func:`compute_rates` fits the stored results of a sweep (one fit per setting of the other
varying grid axes); :func:`format_rates` and :func:`rate_table` show a fit table as text and as
a display table, with ``slope = -exponent``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from solvers import InputError

__all__ = ["RateFit", "fit_rate", "fit_rates", "compute_rates", "format_rates", "rate_table", "SWEEP_AXES",
           "sweep_axes"]

#: The columns of a :func:`fit_rates` table that describe the fit (the others are its group).
_FIT_COLUMNS = ("x", "y", "exponent", "ci_low", "ci_high", "C", "n_points", "n_dropped", "n_groups", "r2")
#: Grid axes of a sweep's results table (besides seed and weight decay), in the order tables show them.
#: The weight decay and the lr are their rule labels: a rule such as lr = c/m gives each width its own
#: value, and the runs of one rule belong to one fit.
SWEEP_AXES = ("n", "weight_decay_rule", "init_ratio", "output_scale", "optimizer", "lr_rule", "width")


def sweep_axes(df):
    """:data:`SWEEP_AXES` for the results table ``df``; stores written before lr rules have no
    ``lr_rule`` column and are split by ``lr`` itself."""
    return tuple("lr" if a == "lr_rule" and "lr_rule" not in df.columns else a for a in SWEEP_AXES)


@dataclass
class RateFit:
    r"""Result of :func:`fit_rate`: :math:`y \approx C x^{-\mathrm{exponent}}`.

    Attributes
    ----------
    exponent : float
        :math:`\alpha` (least squares on the log--log points).
    ci_low, ci_high : float
        Bootstrap percentile interval for :math:`\alpha` at ``level`` (NaN if it could not be
        formed: fewer than 3 points).
    C : float
        Prefactor :math:`e^{\text{intercept}}`.
    n_points : int
        Points used (positive and finite).
    n_dropped : int
        Points ignored (non-positive or NaN in x or y).
    n_groups : int
        Number of bootstrap groups (seeds, or points without seeds).
    level : float
    r2 : float
        Coefficient of determination of the log--log fit.
    """

    exponent: float
    ci_low: float
    ci_high: float
    C: float
    n_points: int
    n_dropped: int = 0
    n_groups: int = 0
    level: float = 0.95
    r2: float = float("nan")
    resampled: str = "seeds"

    def predict(self, x):
        """:math:`C x^{-\\alpha}`."""
        return self.C * np.asarray(x, dtype=np.float64) ** (-self.exponent)

    def to_dict(self):
        return {"exponent": self.exponent, "ci_low": self.ci_low, "ci_high": self.ci_high, "C": self.C,
                "n_points": self.n_points, "n_dropped": self.n_dropped, "n_groups": self.n_groups,
                "level": self.level, "r2": self.r2}

    def __str__(self):
        ci = (f"[{self.ci_low:.3g}, {self.ci_high:.3g}] ({100 * self.level:g}% bootstrap CI over "
              f"{self.n_groups} {self.resampled})") if np.isfinite(self.ci_low) else "(no CI)"
        return (f"y ≈ {self.C:.4g}·x^(-{self.exponent:.3f}) {ci}, n={self.n_points}"
                + (f", {self.n_dropped} dropped" if self.n_dropped else ""))


def _ols(lx, ly):
    """Slope and intercept of least squares ly ~ a + b lx."""
    mx, my = lx.mean(), ly.mean()
    dx = lx - mx
    sxx = float(np.dot(dx, dx))
    if sxx == 0:
        return np.nan, np.nan
    b = float(np.dot(dx, ly - my)) / sxx
    return b, my - b * mx


def fit_rate(values_x, values_y, *, seeds=None, n_boot=1000, seed=0, level=0.95) -> RateFit:
    r"""Fit :math:`y \approx C x^{-\alpha}` by least squares on :math:`(\log x, \log y)`.

    Parameters
    ----------
    values_x, values_y : array_like
        E.g. widths and errors, one point per run. Points with non-positive or NaN ``x`` or
        ``y`` are ignored, with a :class:`RuntimeWarning` giving the count.
    seeds : array_like, optional
        Group label per point (the run's seed). The bootstrap resamples groups with
        replacement; without it, points are resampled.
    n_boot : int
        Bootstrap replicates (0: no interval).
    seed : int
        Seed of the bootstrap's random generator (the fit is deterministic given it).
    level : float
        Confidence level of the percentile interval.

    Returns
    -------
    RateFit
    """
    x = np.asarray(values_x, dtype=np.float64).ravel()
    y = np.asarray(values_y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise InputError(f"values_x and values_y must have the same length; got {x.size} and {y.size}")
    g = None if seeds is None else np.asarray(seeds).ravel()
    if g is not None and g.shape != x.shape:
        raise InputError(f"seeds must have one label per point; got {g.size} labels for {x.size} points")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1); got {level!r}")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    dropped = int(np.sum(~ok))
    if dropped:
        warnings.warn(f"fit_rate: ignored {dropped} of {x.size} points with non-positive or NaN values",
                      RuntimeWarning, stacklevel=2)
    lx, ly = np.log(x[ok]), np.log(y[ok])
    if lx.size < 2 or np.unique(lx).size < 2:
        raise InputError(f"fit_rate needs at least 2 distinct positive x values; got {np.unique(lx).size} "
                         f"(after dropping {dropped} invalid points)")
    b, a = _ols(lx, ly)
    resid = ly - (a + b * lx)
    sst = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.dot(resid, resid)) / sst if sst > 0 else 1.0

    if g is None:
        labels = np.arange(lx.size)
        resampled = "points"
    else:
        _, labels = np.unique(g[ok], return_inverse=True)
        resampled = "seeds"
    n_groups = int(labels.max()) + 1
    if n_groups < 2 and g is not None:
        # One seed only: resampling groups is degenerate, so fall back to the points.
        labels, n_groups, resampled = np.arange(lx.size), lx.size, "points"

    lo = hi = np.nan
    if n_boot > 0 and lx.size >= 3:
        rng = np.random.default_rng(seed)
        members = [np.flatnonzero(labels == k) for k in range(n_groups)]
        slopes = []
        for _ in range(int(n_boot)):
            pick = rng.integers(0, n_groups, size=n_groups)
            idx = np.concatenate([members[k] for k in pick])
            bb, _ = _ols(lx[idx], ly[idx])
            if np.isfinite(bb):  # a resample with a single distinct x has no slope
                slopes.append(bb)
        if len(slopes) >= max(10, n_boot // 10):
            q = np.quantile(-np.asarray(slopes), [(1 - level) / 2, (1 + level) / 2])
            lo, hi = float(q[0]), float(q[1])
    return RateFit(exponent=float(-b), ci_low=lo, ci_high=hi, C=float(np.exp(a)), n_points=int(lx.size),
                   n_dropped=dropped, n_groups=n_groups, level=level, r2=r2, resampled=resampled)


def fit_rates(df, x="width", y="linf", by=None, *, seed_col="seed", n_boot=1000, seed=0, level=0.95):
    """Fit a rate per group of a results table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per run.
    x, y : str
        Columns of the abscissa (width, n, lam) and the error.
    by : list of str, optional
        Group columns; one fit per combination (one fit overall if empty/None).
    seed_col : str
        Bootstrap group column (ignored if absent).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, then ``x``, ``y`` (the column names fitted), ``exponent``,
        ``ci_low``, ``ci_high``, ``C``, ``n_points``, ``n_dropped``, ``n_groups``, ``r2``.
        Groups that cannot be fitted (fewer than 2 distinct valid x) get NaN.
    """
    import pandas as pd

    by = [by] if isinstance(by, str) else list(by or [])
    for col in [x, y] + by:
        if col not in df.columns:
            raise InputError(f"column {col!r} not in the results table; columns: {', '.join(map(str, df.columns))}")
    groups = df.groupby(by, dropna=False, sort=True) if by else [((), df)]
    rows = []
    total_dropped = 0
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row.update({"x": x, "y": y})
        seeds = sub[seed_col].to_numpy() if seed_col in sub.columns else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fit = fit_rate(sub[x].to_numpy(dtype=float), sub[y].to_numpy(dtype=float), seeds=seeds,
                               n_boot=n_boot, seed=seed, level=level)
            row.update(fit.to_dict())
            row.pop("level")
            total_dropped += fit.n_dropped
        except InputError:
            row.update({"exponent": np.nan, "ci_low": np.nan, "ci_high": np.nan, "C": np.nan,
                        "n_points": 0, "n_dropped": int(len(sub)), "n_groups": 0, "r2": np.nan})
            total_dropped += int(len(sub))
        rows.append(row)
    if total_dropped:
        warnings.warn(f"fit_rates: ignored {total_dropped} of {len(df)} rows with non-positive or NaN "
                      f"{x!r}/{y!r} (or too few valid points in their group)", RuntimeWarning, stacklevel=2)
    return pd.DataFrame(rows, columns=by + list(_FIT_COLUMNS))


# ----------------------------------------------------------------------------- sweep results
def _rate_groups(df, x):
    """Columns that split a sweep's results into separate rate fits (the other varying axes)."""
    cand = [a for a in sweep_axes(df) if a != "width"]
    if x == "n":
        cand = ["width" if c == "n" else c for c in cand]
    return [c for c in cand if c != x and c in df.columns and df[c].nunique(dropna=True) > 1]


def compute_rates(df, metric, x="width"):
    """Fitted rates of ``metric`` vs ``x`` for the ``ok`` runs of a sweep's results table.

    One fit per setting of the other varying grid axes (:data:`SWEEP_AXES`), bootstrapped over
    seeds; exact zeros and NaN (metric not applicable) carry no rate and are left out.

    Returns
    -------
    pandas.DataFrame or None
        As :func:`fit_rates`; None if ``metric`` or ``x`` is missing or ``x`` takes fewer than two values.
    """
    ok = df[(df["status"] == "ok")] if "status" in df else df
    if metric not in ok.columns or x not in ok.columns or ok[x].nunique() < 2:
        return None
    vals = ok[metric].astype(float)
    ok = ok[np.isfinite(vals) & (vals > 0)]
    if ok[x].nunique() < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fit_rates(ok, x=x, y=metric, by=_rate_groups(ok, x))


def _group_columns(rates):
    return [c for c in rates.columns if c not in _FIT_COLUMNS]


def format_rates(rates):
    """One line per fitted group of a :func:`fit_rates` table: ``slope [95% CI] C=.. (points)``."""
    out = []
    groups = _group_columns(rates)
    for _, r in rates.iterrows():
        label = ", ".join(f"{k}={r[k]}" for k in groups) or "all runs"
        ci = (f" [{-r['ci_high']:+.3f}, {-r['ci_low']:+.3f}]" if np.isfinite(r["ci_low"]) else "")
        out.append(f"  {label}: slope {-r['exponent']:+.3f}{ci}  C={r['C']:.3g}  ({int(r['n_points'])} points)")
    return "\n".join(out)


def rate_table(rates):
    """A :func:`fit_rates` table for display: group columns, metric, axis, slope with its 95 % CI, C, points."""
    import pandas as pd

    t = rates[_group_columns(rates)].copy()
    t["metric"], t["vs"] = rates["y"], rates["x"]
    t["slope"] = -rates["exponent"]
    t["95% CI"] = [f"[{-hi:.3f}, {-lo:.3f}]" if np.isfinite(lo) else "" for lo, hi in
                   zip(rates["ci_low"], rates["ci_high"])]
    t["C"], t["points"], t["R²"] = rates["C"], rates["n_points"], rates["r2"]
    return pd.DataFrame(t)
