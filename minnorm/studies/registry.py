"""The registry of reproduction studies: name -> study module, and the one check of study names."""

from __future__ import annotations

import minnorm.studies.htw as htw
import minnorm.studies.ppw as ppw
import minnorm.studies.shevchenko as shevchenko
import minnorm.studies.vardi_shamir as vardi_shamir
import minnorm.studies.williams as williams
from minnorm.studies._base import StudyResult

__all__ = ["STUDIES", "select", "run_study"]

#: Registry: study name -> module with ``run(out_dir, *, full=False, seed=0)``.
STUDIES = {
    "htw": htw,
    "williams": williams,
    "shevchenko": shevchenko,
    "ppw": ppw,
    "vardi-shamir": vardi_shamir,
}


def select(names="all"):
    """Study names to run, in order: ``"all"`` (or None) is every study; an unknown name is a ValueError."""
    if names is None or names == "all":
        return list(STUDIES)
    if isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [n for n in names if n not in STUDIES]
    if unknown:
        raise ValueError(f"unknown study {unknown[0]!r}; expected one of {', '.join(STUDIES)} or 'all'")
    return names


def run_study(name, out_dir, *, full=False, seed=0) -> StudyResult:
    """Run one study by name into ``out_dir`` (created)."""
    (name,) = select([name])
    return STUDIES[name].run(out_dir, full=full, seed=seed)
