"""Reproduction studies: each seed paper's central claim, measured, with a figure and a verdict.

Every study module exposes ``run(out_dir, *, full=False, seed=0) -> StudyResult``. A result's
headline verdict is about the paper's own claim as the paper states it; our stronger hypotheses
(:class:`Hypothesis`) carry their own verdicts, and ``optimisation`` states how far training got. The reduced
form (``full=False``) is what CI runs (each well under a minute on 2 cores); ``full=True`` uses
more widths, seeds and steps (run times are recorded in each module's docstring).

========================  =======================================================================
name                      paper (claim tested)
========================  =======================================================================
``"htw"``                 Heiss--Teichmann--Wutte: random first layer + ridge -> weighted
                          smoothing spline; no-skip boundary term; early stopping ~ ridge
``"williams"``            Williams et al.: init ratio selects kernel (weighted cubic spline) vs
                          adaptive (min-TV, V1 envelope) regime
``"shevchenko"``          Shevchenko--Kungurtsev--Mondelli: mean-field noisy GD + weight decay ->
                          at most 3 knots per data interval
``"ppw"``                 Park--Pelakh--Wojtowytsch: known regions; weight-decay ERM and
                          unregularised optimisers vs the min-norm interpolants of the gap
``"vardi-shamir"``        Vardi--Shamir: GD's implicit bias is not an explicit regulariser of the
                          parameters; balancedness conservation
========================  =======================================================================

:func:`reproduce` runs a selection (names checked by :func:`minnorm.studies.registry.select`) and
writes ``report.md`` (:func:`write_study_report`) with the table of verdicts and the figures.
Verdicts are decided by a rule in code from the measured numbers; where a measurement contradicts
a paper, the measurement is reported as it is.
"""

from __future__ import annotations

from minnorm.studies._base import VERDICTS, Hypothesis, StudyResult
from minnorm.studies.registry import STUDIES, run_study
from minnorm.studies.report import reproduce, write_study_report

__all__ = ["StudyResult", "Hypothesis", "VERDICTS", "STUDIES", "reproduce", "write_study_report", "run_study"]
