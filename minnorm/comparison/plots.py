"""Figures for the comparison layer (matplotlib, no pyplot state).

Every function builds a :class:`matplotlib.figure.Figure` directly (rendered by the Agg canvas,
so it works headless and never changes the user's pyplot backend), returns it, and saves it
when ``path`` is given: a path ending in ``.png``, ``.pdf`` or ``.svg`` is written in that
format; a path without one of these suffixes is written twice, as ``path.png`` and ``path.pdf``.
:func:`new_figure` and :func:`save_figure` are the same helpers for figures drawn elsewhere
(the studies, the sweep report).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from solvers import InputError, PiecewiseLinear

__all__ = ["plot_fit", "plot_convergence", "plot_knot_histogram", "plot_training_curves", "new_figure", "save_figure"]

_FORMATS = (".png", ".pdf", ".svg")


def _new_figure(figsize=(6.4, 4.2), **kw):
    fig = Figure(figsize=figsize, layout="constrained", **kw)
    FigureCanvasAgg(fig)
    return fig


def new_figure(nrows=1, ncols=1, *, size=(5.0, 3.8)):
    """A figure of ``nrows x ncols`` panels of ``size`` inches each, and its 2-D array of axes."""
    fig = _new_figure(figsize=(size[0] * ncols, size[1] * nrows))
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def save_figure(fig, path, *, dpi=150):
    """Save ``fig`` to ``path`` (see module docstring for the formats), creating its folder.

    Returns
    -------
    Path
        The file written, or ``path.png`` when ``path`` has no format suffix (PNG and PDF written).
    """
    path = os.fspath(path)
    _, ext = os.path.splitext(path)
    targets = [path] if ext.lower() in _FORMATS else [path + ".png", path + ".pdf"]
    for p in targets:
        d = os.path.dirname(p)
        if d:
            os.makedirs(d, exist_ok=True)
        fig.savefig(p, dpi=dpi)
    return Path(targets[0])


def _figure_and_axes(ax, figsize=(6.4, 4.2)):
    """``(figure, axes)`` to draw into: the caller's ``ax`` and its figure, or a new one-panel figure."""
    if ax is not None:
        return ax.figure, ax
    fig = _new_figure(figsize=figsize)
    return fig, fig.add_subplot()


def _maybe_save(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


def _grid(a, b, *fns, n=1500):
    pts = [np.linspace(a, b, n)]
    for f in fns:
        f = getattr(f, "function", f)
        if isinstance(f, PiecewiseLinear):
            pts.append(f.nodes[(f.nodes > a) & (f.nodes < b)])
    return np.unique(np.concatenate(pts))


def plot_fit(problem, f_net, reference=None, *, envelope=None, path=None, interval=None, labels=None,
             show_target=True, title=None, ax=None):
    """Networks vs reference vs data, on the comparison interval (extrapolation included).

    Parameters
    ----------
    problem : minnorm.comparison.problems.Problem or None
        Gives the data points, the target and the default interval (``None``: no data drawn,
        ``interval`` required).
    f_net : callable or list of callables (PiecewiseLinear networks)
    reference : minnorm.comparison.references.Reference or callable, optional
    envelope : object with ``lower``/``upper``, optional
        Shaded band of the whole solution set; defaults to ``reference.envelope`` (present when
        the minimisers are not unique).
    interval : (float, float), optional
        Default ``problem.eval_interval``. The region outside the data hull is tinted.
    labels : list of str, optional
        One per network.
    show_target : bool
        Draw the noiseless target when known.
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.
    """
    nets = list(f_net) if isinstance(f_net, (list, tuple)) else ([] if f_net is None else [f_net])
    if labels is not None and len(labels) != len(nets):
        raise InputError(f"labels must have one entry per network; got {len(labels)} for {len(nets)}")
    if envelope is None and reference is not None:
        envelope = getattr(reference, "envelope", None)
    if problem is None and interval is None:
        raise InputError("plot_fit needs a problem or an interval")
    a, b = problem.eval_interval if interval is None else interval
    ref_fn = None if reference is None else getattr(reference, "solution", reference)
    t = _grid(a, b, *(nets + ([ref_fn] if ref_fn is not None else [])))
    fig, ax = _figure_and_axes(ax)
    if problem is not None:
        x0, x1 = float(np.min(problem.x)), float(np.max(problem.x))
        ax.axvspan(a, x0, color="0.93", zorder=0, lw=0)
        ax.axvspan(x1, b, color="0.93", zorder=0, lw=0, label="extrapolation")
    if envelope is not None:
        ax.fill_between(t, envelope.lower(t), envelope.upper(t), color="tab:orange", alpha=0.25, lw=0,
                        label="solution set (envelope)", zorder=1)
    if show_target and getattr(problem, "target", None) is not None:
        ax.plot(t, problem.target(t), color="0.5", ls=":", lw=1.2, label="target", zorder=2)
    if ref_fn is not None:
        name = getattr(reference, "name", "reference")
        ax.plot(t, np.asarray(ref_fn(t)), color="tab:orange", lw=2.2, label=f"reference {name}", zorder=3)
    cmap = (["tab:blue"] if len(nets) == 1 else
            [f"C{i % 10}" if i % 10 != 1 else "tab:purple" for i in range(len(nets))])
    for i, f in enumerate(nets):
        fn = getattr(f, "function", f)
        lab = labels[i] if labels is not None else ("network" if len(nets) == 1 else f"network {i}")
        ax.plot(t, np.asarray(fn(t)), color=cmap[i], lw=1.3, alpha=0.9 if len(nets) < 4 else 0.6, label=lab,
                zorder=4)
    if problem is not None:
        ax.scatter(problem.x, problem.y, s=22, color="k", zorder=5, label="data")
    ax.set_xlim(a, b)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    if title is None:
        title = getattr(problem, "name", None)
    if title:
        ax.set_title(title, fontsize=9)
    # Below the axes: inside, the legend would hide data or the envelope.
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    return _maybe_save(fig, path)


def plot_convergence(df, x="width", y="linf", *, hue=None, rate=None, path=None, seed_col="seed", ax=None,
                     n_boot=500):
    r"""Log--log error vs width / n / λ, one colour per ``hue`` value, with the fitted rate.

    Each run is a faint point; the per-x median is a marker; the fitted line
    :math:`C x^{-\alpha}` (:func:`minnorm.comparison.rates.fit_rate`, bootstrap over ``seed_col``) is
    drawn over the data range with :math:`\alpha` and its interval in the legend.

    Parameters
    ----------
    df : pandas.DataFrame
    x, y : str
        Columns.
    hue : str, optional
        Column splitting the data into curves.
    rate : None, False, RateFit or dict
        ``None`` fits each curve; ``False`` draws no fitted line; a :class:`RateFit` (no hue)
        or a dict ``{hue value: RateFit}`` draws the given fits.
    """
    from minnorm.comparison.rates import RateFit, fit_rate

    for col in [x, y] + ([hue] if hue else []):
        if col not in df.columns:
            raise InputError(f"column {col!r} not in the results table; columns: {', '.join(map(str, df.columns))}")
    fig, ax = _figure_and_axes(ax)
    groups = list(df.groupby(hue, sort=True)) if hue else [(None, df)]
    for i, (key, sub) in enumerate(groups):
        color = f"C{i % 10}"
        xv = sub[x].to_numpy(dtype=float)
        yv = sub[y].to_numpy(dtype=float)
        ok = np.isfinite(xv) & np.isfinite(yv) & (xv > 0) & (yv > 0)
        if not ok.any():
            continue
        ax.scatter(xv[ok], yv[ok], s=10, color=color, alpha=0.35, lw=0)
        ux = np.unique(xv[ok])
        med = np.array([np.median(yv[ok][xv[ok] == u]) for u in ux])
        base = f"{hue}={key}" if hue else y
        ax.plot(ux, med, "o", color=color, ms=5, label=base if rate is False else None)
        fit = None
        if rate is None and ux.size >= 2:
            seeds = sub[seed_col].to_numpy()[ok] if seed_col in sub.columns else None
            fit = fit_rate(xv[ok], yv[ok], seeds=seeds, n_boot=n_boot)
        elif isinstance(rate, RateFit):
            fit = rate
        elif isinstance(rate, Mapping):
            fit = rate.get(key)
        if fit is not None:
            xx = np.geomspace(ux.min(), ux.max(), 50)
            # The interval is reported for the slope (= -exponent), in the slope's own sign.
            ci = (f" [{-fit.ci_high:.2f}, {-fit.ci_low:.2f}]" if np.isfinite(fit.ci_low) else "")
            ax.plot(xx, fit.predict(xx), "-", color=color, lw=1.5,
                    label=f"{base}: slope {-fit.exponent:.2f}{ci}")
        elif rate is not False:
            ax.plot(ux, med, "-", color=color, lw=1, label=base)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return _maybe_save(fig, path)


def _as_counts(counts):
    """Per-interval knot counts from KnotCounts object(s) or integer arrays, pooled."""
    if hasattr(counts, "per_interval"):
        return np.asarray(counts.per_interval, dtype=int)
    if isinstance(counts, np.ndarray) and counts.dtype != object:
        return counts.astype(int).ravel()
    if isinstance(counts, Sequence) or isinstance(counts, np.ndarray):
        parts = [_as_counts(c) if (hasattr(c, "per_interval") or np.ndim(c) > 0) else np.array([int(c)])
                 for c in counts]
        return np.concatenate(parts) if parts else np.empty(0, dtype=int)
    raise InputError(f"counts must be KnotCounts, a list of them, or integer arrays; got {type(counts).__name__}")


def plot_knot_histogram(counts, path=None, *, bound=3, title=None, ax=None):
    """Histogram of knots per open data interval (pooled over intervals and runs).

    Parameters
    ----------
    counts : KnotCounts, list of KnotCounts, or array(s) of per-interval counts
    bound : int or None
        Draw the theoretical bound (Shevchenko et al.: at most 3 knots per interval).
    """
    c = _as_counts(counts)
    fig, ax = _figure_and_axes(ax, figsize=(5.0, 3.6))
    top = int(max(c.max() if c.size else 0, bound or 0))
    freq = np.bincount(c, minlength=top + 1) if c.size else np.zeros(top + 1, dtype=int)
    ks = np.arange(freq.size)
    colors = ["tab:blue" if (bound is None or k <= bound) else "tab:red" for k in ks]
    ax.bar(ks, freq, color=colors, width=0.8)
    if bound is not None:
        ax.axvline(bound + 0.5, color="k", ls="--", lw=1, label=f"bound ≤ {bound}")
        ax.legend(fontsize=8)
    ax.set_xticks(ks)
    ax.set_xlabel("knots in open data interval")
    ax.set_ylabel("number of intervals")
    ax.set_title(title or f"{c.size} intervals, max {int(c.max()) if c.size else 0}", fontsize=9)
    return _maybe_save(fig, path)


def _histories(histories):
    if isinstance(histories, Mapping) and "step" in histories:
        return {"run": histories}
    if isinstance(histories, Mapping):
        return dict(histories)
    if isinstance(histories, Sequence):
        return {f"run {i}": h for i, h in enumerate(histories)}
    if hasattr(histories, "columns") and "step" in histories.columns:  # a DataFrame
        return {"run": histories}
    raise InputError("histories must be a dict with 'step' and 'loss'/'objective' arrays, a dict of such "
                     "dicts, or a list of them")


def plot_training_curves(histories, path=None, *, keys=("loss", "objective"), logy=True, ax=None):
    """Training curves: one panel per quantity (``loss``, ``objective``) present, vs ``step``.

    Parameters
    ----------
    histories : dict or list
        ``{"step": [...], "loss": [...], "objective": [...]}``, a dict ``{label: history}`` or a
        list of histories.
    keys : sequence of str
        Quantities to plot when present.
    """
    hs = _histories(histories)
    present = [k for k in keys if any(k in h for h in hs.values())]
    if not present:
        raise InputError(f"no history has any of the keys {list(keys)}")
    if ax is None:
        fig = _new_figure(figsize=(4.2 * len(present), 3.6))
        axes = fig.subplots(1, len(present), squeeze=False)[0]
    else:
        fig, axes = ax.figure, [ax] * len(present)
    for j, k in enumerate(present):
        a = axes[j]
        for i, (label, h) in enumerate(hs.items()):
            if k not in h:
                continue
            v = np.asarray(h[k], dtype=float)
            s = np.asarray(h["step"], dtype=float) if "step" in h else np.arange(v.size)
            if logy:
                v = np.where(v > 0, v, np.nan)
            a.plot(s, v, color=f"C{i % 10}", lw=1.2, label=str(label) if len(hs) > 1 else None)
        if logy:
            a.set_yscale("log")
        a.set_xlabel("step")
        a.set_ylabel(k)
        a.grid(True, alpha=0.3)
        if len(hs) > 1 and j == 0:
            a.legend(fontsize=7)
    return _maybe_save(fig, path)
