"""Run a selection of studies and write one Markdown report (``report.md``) with the verdicts and figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

from minnorm.studies._base import Timer, fmt
from minnorm.studies.registry import STUDIES, select

__all__ = ["reproduce", "write_study_report"]


def reproduce(names="all", full=False, out_dir="reproduce", *, seed=0, progress=False) -> Path:
    """Run studies and write ``out_dir/report.md``.

    Parameters
    ----------
    names : "all", str or list of str
        Study names (see :data:`minnorm.studies.STUDIES`).
    full : bool
        Full forms instead of the reduced (CI) forms.
    out_dir : path
        Each study writes into ``out_dir/<name>/``; the report and ``results.json`` go to
        ``out_dir``.
    seed : int
        Base seed passed to every study.
    progress : bool
        Print one line per study as it finishes.

    Returns
    -------
    Path
        The report's path.
    """
    selected = select(names)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    total = Timer()
    for name in selected:
        res = STUDIES[name].run(out / name, full=full, seed=seed)
        results.append(res)
        if progress:
            print(f"[{name}] {res.verdict}: {res.measured} ({res.runtime_s:.1f} s)", flush=True)
    (out / "results.json").write_text(json.dumps([r.to_dict() for r in results], indent=2))
    return write_study_report(results, out / "report.md", full=full, total_s=total.elapsed)


def _cell(text):
    # A Markdown table cell must not contain a raw pipe or newline.
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_study_report(results, path, *, full=False, total_s=None) -> Path:
    """Write the reproductions' Markdown report for ``results`` (a list of :class:`StudyResult`) to ``path``.

    (A sweep's report is :func:`minnorm.comparison.sweeps.report.write_report`.)
    """
    path = Path(path)
    base = path.parent
    lines = ["# minnorm: reproduction of the seed papers' claims", ""]
    form = "full" if full else "reduced (CI)"
    lines.append(f"Form: **{form}**." + (f" Total wall time {total_s:.1f} s." if total_s is not None else ""))
    lines.append("")
    lines.append("Verdicts are computed from the measured numbers by the rule stated in each study's "
                 "module docstring; a measurement that contradicts the paper is reported as is.")
    lines.append("")
    lines.append("Each study's headline verdict is about the paper's own claim; our stronger hypotheses are "
                 "listed separately with their own verdicts.")
    lines.append("")
    lines.append("| study | paper | paper's claim | measured | verdict | our hypotheses | runtime |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in results:
        hyp = "; ".join(h.verdict for h in r.hypotheses) or "none"
        lines.append(f"| {r.name} | {_cell(r.paper)} | {_cell(r.claim)} | {_cell(r.measured)} | "
                     f"**{r.verdict}** | {_cell(hyp)} | {r.runtime_s:.1f} s |")
    lines.append("")
    for r in results:
        lines += [f"## {r.name}: {r.paper}", "", f"*Paper's claim.* {r.claim}", "", f"*Measured.* {r.measured}", "",
                  f"*Verdict on the paper's claim:* **{r.verdict}** ({'full' if r.full else 'reduced'} form, "
                  f"{r.runtime_s:.1f} s)", ""]
        if r.optimisation:
            lines += [f"*Optimisation state.* {r.optimisation}", ""]
        if r.hypotheses:
            lines += ["| our hypothesis | measured | verdict |", "|---|---|---|"]
            lines += [f"| {_cell(h.statement)} | {_cell(h.measured)} | **{h.verdict}** |" for h in r.hypotheses]
            lines.append("")
        for d in r.details:
            lines.append(f"- {d}")
        if r.details:
            lines.append("")
        for fig in r.figures:
            rel = os.path.relpath(Path(fig).resolve(), base.resolve())
            lines += [f"![{r.name}: {Path(fig).stem}]({Path(rel).as_posix()})", ""]
        if r.numbers:
            lines += ["<details><summary>numbers</summary>", "", "| key | value |", "|---|---|"]
            lines += [f"| {_cell(k)} | {fmt(v, 4)} |" for k, v in r.numbers.items()]
            lines += ["", "</details>", ""]
    path.write_text("\n".join(lines))
    return path
