"""Figures and a Markdown report for a sweep directory (``minnorm plot`` / ``minnorm report``).

Everything is drawn from the results store: each run stores its network's exact function and
each reference its samples, certificate and envelope, so no network is retrained.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from solvers import PiecewiseLinear

from minnorm.comparison.problems import problem_for_run
from minnorm.comparison.rates import compute_rates, rate_table, sweep_axes
from minnorm.comparison.sweeps.store import STORE_NAME, load_references, load_results, load_sweeps

__all__ = ["write_figures", "write_report", "SECONDARY_METRICS"]

#: Metrics shown beside the main one when a sweep has them (first found first).
SECONDARY_METRICS = ("linf", "l2", "rel_linf", "rel_l2", "envelope_violation", "rel_objective_gap", "cost_gap",
                     "train_mse")
FIGURES = "figures"


def _sweep_config(out):
    sweeps = load_sweeps(out / STORE_NAME)
    if not sweeps:
        return None, {}
    name = sorted(sweeps)[-1] if len(sweeps) > 1 else next(iter(sweeps))
    return name, sweeps[name]


def _metrics(df, main):
    names = list(df.attrs.get("metrics", []))
    from pandas.api.types import is_numeric_dtype

    numeric = [m for m in names if m in df.columns and is_numeric_dtype(df[m].dropna().infer_objects())]
    chosen = [main] if main in numeric else []
    chosen += [m for m in SECONDARY_METRICS if m in numeric and m not in chosen]
    return chosen, numeric


def _varying(df, exclude=("seed",)):
    return [a for a in sweep_axes(df) if a in df.columns and a not in exclude and df[a].nunique(dropna=True) > 1]


def _safe_name(text):
    """A file-name part made from store contents (metric names, run keys) that stays in its folder.

    Anything but letters, digits, ``_``, ``+``, ``-`` and ``=`` becomes ``_`` (no separator, no
    ``..``); a name that had to change gets a short hash of the original so two names never collide.
    """
    text = str(text)
    safe = re.sub(r"[^A-Za-z0-9_+=-]", "_", text)[:80]
    if safe != text:
        safe += "-" + hashlib.sha256(text.encode()).hexdigest()[:6]
    return safe


def _inside(folder, path):
    """``path``, after checking that it lies in ``folder`` (belt and braces for :func:`_safe_name`)."""
    if Path(folder).resolve() not in Path(path).resolve().parents:
        raise ValueError(f"refusing to write {path}: outside {folder}")
    return path


def _function(d):
    """The network's exact function from its stored :meth:`PiecewiseLinear.to_dict`."""
    return PiecewiseLinear(d["nodes"], d["values"], d["slope_left"], d["slope_right"])


def write_figures(out_dir, *, n_fits=4):
    """Write the convergence and fit figures of a sweep into ``out_dir/figures``.

    Parameters
    ----------
    out_dir : str or Path
        Sweep directory (holds ``results.sqlite``).
    n_fits : int
        How many runs get a fit plot (the widest and narrowest of the first seed, per setting).

    Returns
    -------
    list of Path
        The PNG files written (each also as PDF).
    """
    from minnorm.comparison import plots  # figures are drawn on Agg canvases: no pyplot state, works headless

    out = Path(out_dir)
    figdir = out / FIGURES
    df = load_results(out / STORE_NAME)  # an unusable store is reported before anything is written
    figdir.mkdir(parents=True, exist_ok=True)
    _, cfg = _sweep_config(out)
    main = (cfg.get("metrics") or {}).get("main", "linf")
    written = []
    ok = df[df["status"] == "ok"] if len(df) else df
    if ok.empty:
        return written
    chosen, _ = _metrics(df, main)
    hue_axes = [a for a in _varying(ok) if a != "width"]
    hue = hue_axes[0] if hue_axes else None
    for x in ("width", "n", "weight_decay"):
        if x not in ok.columns or ok[x].nunique() < 2:
            continue
        for metric in chosen:
            vals = ok[metric].astype(float)
            sub = ok[np.isfinite(vals) & (vals > 0)]
            if sub[x].nunique() < 2:
                continue
            stem = _inside(figdir, figdir / f"convergence_{_safe_name(metric)}_vs_{x}")
            fig = plots.plot_convergence(sub, x=x, y=metric, hue=hue if hue != x else None)
            written.append(plots.save_figure(fig, stem))  # PNG and PDF
    written += _fit_figures(ok, out, figdir, n_fits)
    return written


@dataclass(frozen=True)
class _SampledEnvelope:
    """A reference's envelope as stored: its bounds sampled on the reference's plot grid."""

    grid: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def lower(self, t):
        return np.interp(t, self.grid, self.lo)

    def upper(self, t):
        return np.interp(t, self.grid, self.hi)


class _StoredReference:
    """A reference rebuilt from its stored record (exact function when piecewise linear)."""

    def __init__(self, rec):
        self.name = rec["name"]
        grid, f = np.asarray(rec["grid"]), np.asarray(rec["f"])
        # Only a piecewise-linear reference is stored as its exact function; others (a spline's
        # kernel expansion, ...) are drawn from their stored samples.
        exact = rec.get("function", {}).get("type") == "piecewise-linear"  # the tag every to_dict writes
        self.solution = _function(rec["function"]) if exact else (lambda t: np.interp(t, grid, f))
        env = rec.get("envelope")
        self.envelope = None if env is None else _SampledEnvelope(grid, np.asarray(env["lo"]), np.asarray(env["hi"]))


def _fit_figures(ok, out, figdir, n_fits):
    """Network vs reference vs data for the narrowest and widest nets of the first seed per setting."""
    from minnorm.comparison import plots

    refs = load_references(out / STORE_NAME)
    seed0 = ok[ok["seed"] == ok["seed"].min()]
    by = _varying(seed0, exclude=("seed", "width"))
    picks = []
    for _, g in (seed0.groupby(by, dropna=False) if by else [(None, seed0)]):
        g = g.sort_values("width")
        picks += [g.iloc[0], g.iloc[-1]] if len(g) > 1 else [g.iloc[0]]
    written = []
    for row in picks[:n_fits]:
        if not isinstance(row["function"], str) or row["reference_key"] not in refs:
            continue
        _, rec = refs[row["reference_key"]]
        spec = json.loads(row["config"]) if isinstance(row.get("config"), str) else None
        problem = problem_for_run(spec) if spec else None
        f_net = _function(json.loads(row["function"]))
        stem = _inside(figdir, figdir / f"fit_width{int(row['width'])}_{_safe_name(str(row['key'])[:8])}")
        title = f"width {int(row['width'])}, seed {row['seed']}, {_label(row)}"
        fig = plots.plot_fit(problem, f_net, _StoredReference(rec), title=title,
                             labels=[f"network (width {int(row['width'])})"],
                             interval=(rec["grid"][0], rec["grid"][-1]))
        written.append(plots.save_figure(fig, stem))  # PNG and PDF
    return written


def _label(row):
    parts = [f"{a}={row[a]}" for a in ("n", "weight_decay_rule", "optimizer", "lr_rule", "init_ratio", "output_scale")
             if a in row and row[a] is not None and not (isinstance(row[a], float) and np.isnan(row[a]))]
    return ", ".join(parts)


def _md_table(df, floatfmt="{:.4g}"):
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (float, np.floating)):
                cells.append("" if np.isnan(v) else floatfmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(out_dir, *, figures=True):
    """Write ``out_dir/report.md`` for a sweep directory and return its path.

    Sections: the sweep (description and config), runs by status, fitted rates (exponent with
    its 95 % bootstrap interval) of each metric vs width / n / weight decay, a per-setting table
    of metrics (median over seeds), the figures, and the reference solutions' certificates.
    """
    import pandas as pd

    out = Path(out_dir)
    df = load_results(out / STORE_NAME)
    name, cfg = _sweep_config(out)
    main = (cfg.get("metrics") or {}).get("main", "linf")
    chosen, _ = _metrics(df, main)
    figs = sorted((out / FIGURES).glob("*.png")) if (out / FIGURES).exists() else []
    if figures and not figs:
        figs = write_figures(out)
    L = [f"# minnorm sweep report: {name or out.name}", ""]
    if cfg.get("description"):
        L += [cfg["description"], ""]
    L += [f"Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')} from `{out / STORE_NAME}`.", ""]
    vers = [c for c in df.columns if c.startswith("version.")]
    if vers and len(df):
        L += ["Versions: " + ", ".join(f"{c[8:]} {df[c].dropna().iloc[0]}" for c in vers if df[c].notna().any()), ""]

    L += ["## Runs", ""]
    counts = df["status"].value_counts().to_dict() if len(df) else {}
    L += [f"{len(df)} runs: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "diverged", "failed")), ""]
    if len(df) and "wall_time" in df:
        L += [f"Median wall time per run: {df['wall_time'].median():.3g} s "
              f"(total {df['wall_time'].sum():.1f} s of worker time).", ""]
    L += ["Main metric: `" + main + "`. Metrics are measured on the comparison interval (see "
          "`minnorm.comparison.metrics.compare`); the reference is `" + str((cfg.get("reference") or {}).get("name")) + "`"
          + (f" with lam = {cfg['reference'].get('lam')}" if (cfg.get("reference") or {}).get("lam") is not None
             else " (interpolation)") + ".", ""]

    ok = df[df["status"] == "ok"] if len(df) else df
    L += ["## Rates", "",
          "Least-squares fit of log(error) = log C + slope·log(x) over the successful runs; the interval is a "
          "95 % bootstrap over seeds. A negative slope means the error decreases (slope = −exponent of "
          "`minnorm.comparison.rates.fit_rates`).", ""]
    any_rate = False
    for x in ("width", "n", "weight_decay"):
        tables = []
        for metric in chosen:
            try:
                rates = compute_rates(ok, metric, x=x)
            except Exception as exc:  # noqa: BLE001 - a failed fit is reported, not fatal
                L += [f"- {metric} vs {x}: not fitted ({exc})"]
                continue
            if rates is not None and not rates.empty:
                tables.append(rate_table(rates))
        if tables:
            any_rate = True
            L += [f"### vs {x}", "", _md_table(pd.concat(tables, ignore_index=True)), ""]
    if not any_rate:
        L += ["No axis with two or more values: nothing to fit.", ""]

    L += ["## Metrics per setting (median over seeds)", ""]
    if len(ok) and chosen:
        by = [a for a in sweep_axes(ok) if a in ok.columns and ok[a].nunique(dropna=True) >= 1 and ok[a].notna().any()]
        by = [a for a in by if a in _varying(ok) or a == "width"]
        agg = ok.groupby(by, dropna=False)[chosen].median().reset_index()
        agg.insert(len(by), "seeds", ok.groupby(by, dropna=False).size().to_numpy())
        L += [_md_table(agg), ""]
    else:
        L += ["No successful runs.", ""]

    if figs:
        L += ["## Figures", ""]
        for f in figs:
            L += [f"![{f.stem}]({FIGURES}/{f.name})", ""]

    refs = load_references(out / STORE_NAME)
    L += ["## Reference solutions and certificates", ""]
    if refs:
        rows = []
        for k, (rname, rec) in sorted(refs.items(), key=lambda kv: (kv[1][0], str(kv[1][1].get("lam")))):
            rows.append({"reference": rname, "n": len(rec.get("x", [])), "lam": rec.get("lam"),
                         "status": rec.get("status"), "solver": rec.get("solver"), "value": rec.get("value"),
                         "lower bound": rec.get("lower_bound"), "gap": rec.get("gap")})
        L += [_md_table(pd.DataFrame(rows), floatfmt="{:.6g}"), ""]
    else:
        L += ["None stored.", ""]

    bad = df[df["status"] != "ok"] if len(df) else df
    if len(bad):
        L += ["## Failed and diverged runs", ""]
        for _, r in bad.head(10).iterrows():
            first = (r["error"] or "").strip().splitlines()
            L += [f"- `{r['key'][:12]}` ({r['status']}, width {r.get('width')}, seed {r['seed']}): "
                  f"{first[0] if first else ''}"]
        L += [""]

    if cfg:
        L += ["## Configuration", "", "```json", json.dumps(cfg, indent=2), "```", ""]
    path = out / "report.md"
    path.write_text("\n".join(L))
    return path
