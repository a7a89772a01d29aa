"""Reproduce the five seed papers' central claims and write reproduce/report.md.

Usage::

    python examples/reproduce_all.py            # reduced forms (~2 min on 2 cores)
    python examples/reproduce_all.py --full     # full forms (see each study's docstring)
    python examples/reproduce_all.py htw williams --out runs/repro --seed 1

Same options and output as ``minnorm reproduce [NAME|all ...] [--full] [--out DIR] [--seed S]``,
through the library call :func:`minnorm.studies.reproduce`.
"""

import argparse

from minnorm.studies import STUDIES, reproduce
from minnorm.studies.registry import select


def main(argv=None):
    p = argparse.ArgumentParser(description="Run the reproduction studies and write DIR/report.md with each "
                                            "study's figure, measured numbers and verdict.")
    p.add_argument("names", nargs="*", default=["all"], metavar="NAME",
                   help=f"studies to run: {', '.join(STUDIES)} or all (default: all)")
    p.add_argument("--full", action="store_true", help="full form (slower; see each study's docstring)")
    p.add_argument("--out", default="reproduce", metavar="DIR", help="output directory (default: reproduce)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    args = p.parse_args(argv)
    try:
        names = select("all" if "all" in args.names else args.names)
    except ValueError as exc:
        p.error(str(exc))  # usage error: exit status 2, as the CLI's
    path = reproduce(names, full=args.full, out_dir=args.out, seed=args.seed, progress=True)
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
