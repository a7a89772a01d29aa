"""The ``minnorm`` command line: sweeps, exact solutions, plots and reports.

Exit codes: 0 success; 2 bad usage, bad configuration, bad input data or an unusable results
store (one message on stderr, no traceback); 1 an unexpected error (with its traceback);
``sweep`` also: 3 the sweep finished but some runs failed (their errors are in the summary and
the store), 128 + signal when interrupted (130 SIGINT, 143 SIGTERM; finished runs are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from solvers import VARIANTS
from solvers.spline.laws import LAW_DEFAULTS
from solvers.tv2 import SELECTS

__all__ = ["main", "build_parser"]

_EPILOG_MAIN = """\
examples:
  minnorm sweep examples/kernel_regime.toml           # the main job: run, then figures and report.md
  minnorm sweep examples/quickstart.toml              # the weight-decay regime example
  minnorm sweep cfg.toml --out runs/x --workers 8     # 8 local worker processes
  minnorm sweep cfg.toml --scheduler tcp://head:8786  # on a Dask cluster
  minnorm solve data.csv --variant skip               # exact minimum-norm interpolant
  minnorm solve data.csv --variant bias --lam 0.1 --json sol.json
  minnorm plot runs/quickstart && minnorm report runs/quickstart
  minnorm reproduce                                   # the five paper studies, reduced form
"""

_EPILOG_SWEEP = """\
examples:
  minnorm sweep examples/quickstart.toml
  minnorm sweep cfg.toml --out runs/big --workers 16
  minnorm sweep cfg.toml --serial --no-report         # debug in one process
  minnorm sweep cfg.toml --scheduler local-dask       # a local Dask cluster
  minnorm sweep cfg.toml --scheduler tcp://10.0.0.1:8786

Re-running the same command resumes: finished runs (keyed by a hash of their config) are
skipped. Results: OUT/results.sqlite; figures: OUT/figures; report: OUT/report.md.
"""

_EPILOG_SOLVE = """\
DATA.csv has columns x, y (header optional).

variants (MATH A.2):
  skip           min int|f''|                      (V1, free affine part)
  no-skip        min max(int|f''|, |f'(-inf)+f'(inf)|)   (V2, Savarese)
  bias           min int sqrt(1+t^2) d|f''|        (V3, Boursier-Flammarion)
  bias-no-skip   V4
  spline         min int f''^2/g, g of the init law --law (the random-feature limit)

examples:
  minnorm solve data.csv --variant skip
  minnorm solve data.csv --variant skip --select sparsest --csv knots.csv
  minnorm solve data.csv --variant no-skip --lam 0.05 --json sol.json
  minnorm solve data.csv --variant spline --law gaussian --law-param sigma_b=2
"""

_EPILOG_PLOT = """\
examples:
  minnorm plot runs/quickstart        # writes runs/quickstart/figures/*.png and *.pdf
"""

_EPILOG_REPRODUCE = """\
studies: htw, williams, shevchenko, ppw, vardi-shamir (or all)

examples:
  minnorm reproduce                          # all five, reduced form, into reproduce/
  minnorm reproduce htw williams --out runs/repro
  minnorm reproduce all --full               # full forms (minutes each on 2 cores)
"""

_EPILOG_REPORT = """\
examples:
  minnorm report runs/quickstart      # writes runs/quickstart/report.md (and its figures)
"""


class UsageError(Exception):
    """Bad usage detected after argument parsing (exit code 2)."""


def _writable_dir(path, what):
    """Check, before any work, that directory ``path`` exists or can be made, and can be written."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{what}: {str(path)!r} exists and is not a directory")
    probe = p
    while not probe.exists():  # the nearest existing ancestor is where mkdir would write
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{what}: cannot create {str(path)!r}: {str(probe)!r} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{what}: {str(probe)!r} is not writable")
    return p


def _writable_file(path, what):
    """Check, before any work, that file ``path`` can be written (its folder exists, it is no directory)."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{what}: {str(path)!r} is a directory; expected a file name")
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(f"{what}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{what}: {str(path)!r} is not writable")
    return p


def build_parser():
    """The argparse parser of ``minnorm`` (exposed for documentation and tests)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(
        prog="minnorm",
        description="Train shallow univariate ReLU networks and measure how they converge to exact "
                    "variational solutions (minimum-norm interpolants, weighted splines).",
        epilog=_EPILOG_MAIN, formatter_class=fmt)
    from minnorm._version import __version__

    p.add_argument("--version", action="version", version=f"minnorm {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("sweep", help="run (or resume) a sweep from a TOML config",
                       description="Run the Cartesian product of a TOML config's grids, store every run in "
                                   "SQLite, and write figures and a Markdown report.",
                       epilog=_EPILOG_SWEEP, formatter_class=fmt)
    s.add_argument("config", metavar="CONFIG.toml", help="sweep configuration")
    s.add_argument("--out", metavar="DIR", help="output directory (default: [output] dir or runs/<name>)")
    s.add_argument("--workers", type=int, metavar="N", help="parallel workers (default: all cores)")
    s.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address, or 'local-dask'")
    s.add_argument("--serial", action="store_true", help="run in this process (debugging)")
    s.add_argument("--no-report", action="store_true", help="skip figures and report.md")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_sweep)

    v = sub.add_parser("solve", help="print the exact solution for data in a CSV file",
                       description="Solve a minimum-norm interpolation / regression or weighted-spline problem "
                                   "exactly and print the solution with its certificate.",
                       epilog=_EPILOG_SOLVE, formatter_class=fmt)
    v.add_argument("data", metavar="DATA.csv", help="CSV with columns x, y")
    v.add_argument("--variant", required=True, choices=[*VARIANTS, "spline"])
    v.add_argument("--lam", type=float, default=None, help="regression constant (omit or 0: interpolation)")
    v.add_argument("--select", choices=list(SELECTS), default=None,
                   help="which minimiser where it is not unique (V1/V2; default: the solver's)")
    v.add_argument("--law", choices=list(LAW_DEFAULTS), default="uniform",
                   help="init law whose kink density weights the spline (variant spline)")
    v.add_argument("--law-param", action="append", default=[], metavar="KEY=VALUE",
                   help="law parameter, e.g. A=1, B=2, sigma_w=1, c=2 (repeatable)")
    out = v.add_mutually_exclusive_group()
    out.add_argument("--json", metavar="OUT", help="also write the full solution as JSON")
    out.add_argument("--csv", metavar="OUT", help="also write knots and jumps (spline: samples) as CSV")
    v.set_defaults(func=_cmd_solve)

    # plot and report: one sweep directory in, files from the stored results out.
    for name, func, epilog, summary, description in (
        ("plot", _cmd_plot, _EPILOG_PLOT, "write the figures of a sweep directory",
         "Draw convergence plots (one per metric) and fit plots of a few runs into DIR/figures, from the "
         "stored functions (no retraining)."),
        ("report", _cmd_report, _EPILOG_REPORT, "write DIR/report.md for a sweep directory",
         "Write a Markdown report: the sweep, rates with bootstrap CIs, per-config metrics (median over "
         "seeds), figures and solver certificates."),
    ):
        d = sub.add_parser(name, help=summary, description=description, epilog=epilog, formatter_class=fmt)
        d.add_argument("dir", metavar="DIR", help="sweep output directory (holds results.sqlite)")
        d.set_defaults(func=func)

    rp = sub.add_parser("reproduce", help="reproduce the seed papers' central claims",
                        description="Run the reproduction studies and write DIR/report.md with each study's "
                                    "figure, measured numbers and verdict.",
                        epilog=_EPILOG_REPRODUCE, formatter_class=fmt)
    rp.add_argument("names", nargs="*", default=["all"], metavar="NAME", help="studies to run (default: all)")
    rp.add_argument("--full", action="store_true", help="full form (slower; see each study's docstring)")
    rp.add_argument("--out", default="reproduce", metavar="DIR", help="output directory (default: reproduce)")
    rp.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    rp.set_defaults(func=_cmd_reproduce)
    return p


def _cmd_reproduce(args):
    from minnorm.studies import reproduce
    from minnorm.studies.registry import select

    try:  # the registry's one name check
        names = select("all" if (not args.names or "all" in args.names) else args.names)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    path = reproduce(names, full=args.full, out_dir=args.out, seed=args.seed, progress=True)
    print(f"report: {path}")
    return 0


def _cmd_sweep(args):
    from minnorm.comparison.sweeps.config import load_config
    from minnorm.comparison.sweeps.run import SweepInterrupted, run_sweep

    cfg = load_config(args.config)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: expected a positive integer, got {args.workers}")
    if args.serial and args.scheduler:
        raise UsageError("--serial and --scheduler are mutually exclusive")
    _writable_dir(args.out if args.out is not None else cfg.output_dir(),
                  "--out" if args.out is not None else "output.dir")
    try:
        summary = run_sweep(cfg, args.out, workers=args.workers, scheduler=args.scheduler, serial=args.serial,
                            progress=not args.no_progress, report=False if args.no_report else None)
    except SweepInterrupted as exc:
        print(exc.summary, file=sys.stderr)
        return exc.exit_code
    print(summary)
    if not args.no_report and cfg.output["report"]:
        print(f"report: {summary.out_dir / 'report.md'}")
    if summary.counts.get("failed"):
        print(f"minnorm sweep: {summary.counts['failed']} runs failed (exit status {summary.exit_code}); "
              f"fix the cause and re-run to retry them", file=sys.stderr)
    return summary.exit_code


def _law_params(items):
    out = {}
    for item in items:
        k, sep, val = item.partition("=")
        if not sep or not k:
            raise UsageError(f"--law-param: expected KEY=VALUE, got {item!r}")
        try:
            out[k.strip()] = float(val)
        except ValueError:
            raise UsageError(f"--law-param {k}: expected a number, got {val!r}") from None
    return out


def solve_data(x, y, variant, *, lam=None, select=None, law="uniform", law_params=None):
    """The exact solution ``minnorm solve`` prints (a :class:`solvers.Solution`).

    Interpolation (``lam`` None or 0): ``min R(f) s.t. f(x_i) = y_i``; regression:
    ``min sum_i (f(x_i) - y_i)^2 + lam R(f)``, whose ``value`` is that objective evaluated at
    the returned function (also with ``select``); ``spline``: ``min int f''^2/g`` (plus the loss).
    """
    import solvers

    if lam is not None and lam < 0:
        raise UsageError(f"--lam: expected a value >= 0, got {lam}")
    lam = None if not lam else float(lam)
    if variant == "spline":
        if select is not None:
            raise UsageError("--select applies to the TV2 variants, not to --variant spline")
        weight = solvers.kink_density(law, **(law_params or {}))
        return solvers.weighted_spline(x, y, weight=weight, lam=0.0 if lam is None else lam, skip=True)
    if law_params:
        raise UsageError("--law-param applies to --variant spline only")
    if select is not None and variant not in ("skip", "no-skip"):
        raise UsageError(f"--select applies to --variant skip or no-skip, whose minimiser is not unique; "
                         f"the {variant} solution is unique")
    kw = {} if select is None else {"select": select}
    if lam is None:
        return solvers.tv2_interpolant(x, y, variant=variant, **kw)
    # The regression's solver selects among its minimisers itself, so value and certificate stay
    # those of the regression objective, recomputed from the function it returns.
    return solvers.tv2_regression(x, y, lam, variant=variant, **kw)


def _cmd_solve(args):
    import numpy as np

    from minnorm.comparison.sweeps.config import read_data_file

    # Every check that can fail comes before the first line is printed.
    for flag in ("json", "csv"):
        if getattr(args, flag):
            _writable_file(getattr(args, flag), f"--{flag}")
    x, y = read_data_file(args.data, "DATA.csv")
    sol = solve_data(x, y, args.variant, lam=args.lam, select=args.select, law=args.law,
                     law_params=_law_params(args.law_param))
    lines = [
        f"problem:      {sol.problem} ({sol.family} {sol.variant}{', lam=%g' % sol.lam if sol.lam else ''})",
        f"data:         {np.size(sol.x)} points from {args.data}",
        f"status:       {sol.status}",
        f"solver:       {sol.solver} ({sol.method})",
        f"value:        {sol.value:.12g}",
        f"lower bound:  {sol.lower_bound:.12g}",
        f"gap:          {sol.gap:.3e}",
    ]
    fn = sol.function
    if hasattr(fn, "knots"):
        lines.append(f"slope_left:   {fn.slope_left:.12g}")
        lines.append(f"intercept:    {fn.intercept:.12g}")
        lines.append(f"knots:        {fn.knots.size}" + (f" (select={sol.select})" if sol.select else ""))
        lines.append("  knot                 jump")
        lines.extend(f"  {t:<20.12g} {j:.12g}" for t, j in zip(fn.knots, fn.jumps))
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(sol.to_dict(), indent=2))
        print(f"wrote {args.json}")
    if args.csv:
        import pandas as pd

        if hasattr(fn, "knots"):
            pd.DataFrame({"knot": fn.knots, "jump": fn.jumps}).to_csv(args.csv, index=False)
        else:
            lo, hi = float(np.min(sol.x)), float(np.max(sol.x))
            pad = 0.25 * (hi - lo)
            t = np.linspace(lo - pad, hi + pad, 1001)
            pd.DataFrame({"x": t, "f": sol(t)}).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def _sweep_dir(d):
    from minnorm.comparison.sweeps.store import STORE_NAME

    p = Path(d)
    if not (p / STORE_NAME).exists():
        raise UsageError(f"{p}: no {STORE_NAME} here (run `minnorm sweep` first)")
    return p


def _cmd_plot(args):
    from minnorm.comparison.sweeps.report import write_figures

    paths = write_figures(_sweep_dir(args.dir))
    for p in paths:
        print(p)
    return 0


def _cmd_report(args):
    from minnorm.comparison.sweeps.report import write_report

    print(write_report(_sweep_dir(args.dir)))
    return 0


def main(argv=None):
    """Entry point of the ``minnorm`` console script; returns the exit code."""
    from solvers.errors import InputError

    from minnorm.comparison.sweeps.config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on bad usage, 0 on --help
    try:
        return int(args.func(args) or 0)
    except (UsageError, ConfigError, InputError, FileNotFoundError) as exc:
        print(f"minnorm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (finished runs are in the store; re-run to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
