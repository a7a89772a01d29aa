"""Reproduce the five seed papers' central claims and write reproduce/report.md.

Usage::

    python examples/reproduce_all.py            # reduced forms (~2 min on 2 cores)
    python examples/reproduce_all.py --full     # full forms (see each study's docstring)

Same as ``minnorm reproduce all [--full] [--out DIR]``.
"""

import sys

from minnorm.studies import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] if len(sys.argv) > 1 else ["all"]))
