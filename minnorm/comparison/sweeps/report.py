"""Figures and a Markdown report for a sweep directory (``minnorm plot`` / ``minnorm report``).

Everything is drawn from the results store: each run stores its network's exact function and
each reference its samples, certificate and envelope, so no network is retrained.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from minnorm.comparison.sweeps.store import STORE_NAME, load_references, load_results, load_sweeps

__all__ = ["write_figures", "write_report", "SECONDARY_METRICS"]

#: Metrics shown beside the main one when a sweep has them (first found first).
SECONDARY_METRICS = ("linf", "l2", "rel_linf", "rel_l2", "envelope_violation", "rel_objective_gap", "cost_gap",
                     "train_mse")
FIGURES = "figures"
# Grid axes, in the order tables and labels show them.
AXES = ("n", "weight_decay_rule", "init_ratio", "output_scale", "optimizer", "lr", "width")


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
    return [a for a in AXES if a in df.columns and a not in exclude and df[a].nunique(dropna=True) > 1]


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
    from solvers import PiecewiseLinear

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
            plots.save_figure(fig, stem)  # PNG and PDF
            written.append(stem.with_suffix(".png"))
    written += _fit_figures(ok, out, figdir, n_fits)
    return written


class _StoredReference:
    """A reference rebuilt from its stored record (exact function when piecewise linear)."""

    def __init__(self, rec):
        self.name = rec["name"]
        grid, f = np.asarray(rec["grid"]), np.asarray(rec["f"])
        self.solution = _function(rec["function"]) if "function" in rec else (lambda t: np.interp(t, grid, f))
        env = rec.get("envelope")
        self.envelope = None
        if env is not None:
            lo, hi = np.asarray(env["lo"]), np.asarray(env["hi"])
            self.envelope = type("Envelope", (), {"lower": staticmethod(lambda t: np.interp(t, grid, lo)),
                                                  "upper": staticmethod(lambda t: np.interp(t, grid, hi))})()


def _fit_figures(ok, out, figdir, n_fits):
    """Network vs reference vs data for the narrowest and widest nets of the first seed per setting."""
    from minnorm.comparison import plots
    from minnorm.comparison.sweeps.run import _make_problem

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
        problem = _make_problem(spec) if spec else None
        f_net = _function(json.loads(row["function"]))
        path = _inside(figdir, figdir / f"fit_width{int(row['width'])}_{_safe_name(str(row['key'])[:8])}.png")
        title = f"width {int(row['width'])}, seed {row['seed']}, {_label(row)}"
        fig = plots.plot_fit(problem, f_net, _StoredReference(rec), title=title,
                             labels=[f"network (width {int(row['width'])})"],
                             interval=(rec["grid"][0], rec["grid"][-1]))
        plots.save_figure(fig, path.with_suffix(""))  # PNG and PDF
        written.append(path)
    return written


def _label(row):
    parts = [f"{a}={row[a]}" for a in ("n", "weight_decay_rule", "optimizer", "lr", "init_ratio", "output_scale")
             if a in row and row[a] is not None and not (isinstance(row[a], float) and np.isnan(row[a]))]
    return ", ".join(parts)


def rate_table(rates):
    """Fitted rates as a display table: group columns, metric, axis, slope with its 95 % CI, C, points."""
    import pandas as pd

    keep = [c for c in rates.columns if c not in ("x", "y", "exponent", "ci_low", "ci_high", "C", "n_points",
                                                  "n_dropped", "n_groups", "r2")]
    t = rates[keep].copy()
    t["metric"], t["vs"] = rates["y"], rates["x"]
    t["slope"] = -rates["exponent"]
    t["95% CI"] = [f"[{-hi:.3f}, {-lo:.3f}]" if np.isfinite(lo) else "" for lo, hi in
                   zip(rates["ci_low"], rates["ci_high"])]
    t["C"], t["points"], t["R²"] = rates["C"], rates["n_points"], rates["r2"]
    return pd.DataFrame(t)


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
    from minnorm.comparison.sweeps.run import compute_rates

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
    import pandas as pd

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
        by = [a for a in AXES if a in ok.columns and ok[a].nunique(dropna=True) >= 1 and ok[a].notna().any()]
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
        import pandas as pd

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
