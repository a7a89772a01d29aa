"""Shared pieces of the reproduction studies: the result record, verdicts, timing, threads, seeds, number format."""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["StudyResult", "Hypothesis", "VERDICTS", "weakest", "study_dir", "Timer", "torch_threads", "fmt",
           "seeds_for"]

#: The only verdict strings a study may return.
VERDICTS = ("holds", "holds approximately", "does not hold", "inconclusive")
#: Verdicts from strongest to weakest: a study made of parts gets its weakest part's verdict.
_STRENGTH = ("holds", "holds approximately", "inconclusive", "does not hold")


def weakest(*verdicts):
    """The weakest of ``verdicts`` (order: holds, holds approximately, inconclusive, does not hold)."""
    return max(verdicts, key=_STRENGTH.index)


def _check_verdict(verdict, what):
    if verdict not in VERDICTS:
        raise ValueError(f"{what} must be one of {VERDICTS}; got {verdict!r}")


@dataclass
class Hypothesis:
    """One of our own hypotheses, stronger than (or beside) the paper's claim, with its own verdict.

    A study's headline verdict is about the paper's claim only; a hypothesis (for example "the
    trained net lies in the min-norm solution set") is reported beside it and never decides it.

    Attributes
    ----------
    statement : str
        The hypothesis, in one line.
    measured : str
        What was measured, in one line with the numbers.
    verdict : str
        One of :data:`VERDICTS`, by a rule stated in the study's module docstring.
    """

    statement: str
    measured: str
    verdict: str

    def __post_init__(self):
        _check_verdict(self.verdict, "Hypothesis.verdict")


@dataclass
class StudyResult:
    """Outcome of one reproduction study.

    Attributes
    ----------
    name : str
        Registry name (``"htw"``, ``"williams"``, ``"shevchenko"``, ``"ppw"``, ``"vardi-shamir"``).
    paper : str
        Authors and arXiv id of the seed paper.
    claim : str
        The paper's own claim, as the paper states it (with where it states it), in one line.
    measured : str
        What was measured for that claim, in one line with the numbers.
    verdict : str
        The verdict on the paper's claim: one of :data:`VERDICTS`, decided from the measured
        numbers by a rule stated in the study's module docstring (never adjusted by hand).
    numbers : dict of str -> float
        Every number the verdict and the figure rest on.
    figures : list of Path
        PNG files written by the study.
    runtime_s : float
        Wall time of :func:`run`.
    full : bool
        Whether the full (``full=True``) or the reduced form ran.
    details : list of str
        Extra lines for the report (sub-claims, caveats).
    hypotheses : list of Hypothesis
        Our own hypotheses, each with its own verdict (they do not change ``verdict``).
    optimisation : str
        The optimisation state of the trained networks (final MSE, objective gap to the exact
        minimum where one is known, how many runs count as optimisation-limited), so that a
        verdict can be read against how far training got.
    """

    name: str
    paper: str
    claim: str
    measured: str
    verdict: str
    numbers: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    runtime_s: float = float("nan")
    full: bool = False
    details: list = field(default_factory=list)
    hypotheses: list = field(default_factory=list)
    optimisation: str = ""

    def __post_init__(self):
        _check_verdict(self.verdict, "verdict")
        self.hypotheses = [h if isinstance(h, Hypothesis) else Hypothesis(**h) for h in self.hypotheses]
        self.numbers = {str(k): float(v) for k, v in self.numbers.items()}
        self.figures = [Path(p) for p in self.figures]

    def to_dict(self):
        d = asdict(self)
        d["figures"] = [str(p) for p in self.figures]
        # JSON has no NaN/inf: keep them readable as strings.
        d["numbers"] = {k: (v if math.isfinite(v) else str(v)) for k, v in self.numbers.items()}
        d["runtime_s"] = float(self.runtime_s)
        return d

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)


def study_dir(out_dir):
    """``out_dir`` as a created directory (the study writes its figures there)."""
    p = Path(out_dir)
    p.mkdir(parents=True, exist_ok=True)
    return p



class Timer:
    """Wall clock since construction (``elapsed`` in seconds)."""

    def __init__(self):
        self.t0 = time.perf_counter()

    @property
    def elapsed(self):
        return time.perf_counter() - self.t0


@contextmanager
def torch_threads(n=None):
    """Run with at most ``n`` torch threads (small tensors: thread start-up costs more than it saves)."""
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(max(1, min(int(n), old)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def fmt(v, digits=3):
    """Compact number for one-line summaries."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return str(v)
    v = float(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        return f"{v:.{max(digits - 1, 1)}e}"
    return f"{v:.{digits}g}"


def seeds_for(seed, k):
    """``k`` distinct integer seeds derived from ``seed`` (so a study's seeds move together)."""
    return [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(k) % (2**31 - 1)]
