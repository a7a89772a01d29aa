"""minnorm: shallow univariate ReLU networks and the variational problems they converge to.

``import minnorm as mn`` gives the solver layer (``mn.tv2_interpolant``, ``mn.weighted_spline``,
...), the training layer (``mn.ShallowReLU``, ``mn.train``, ...) and the comparison layer
(metrics, sweeps, command line).
"""

from solvers import *  # noqa: F401,F403  (the solver layer is part of the public API)
from solvers import __all__ as _solver_all

__version__ = "0.1.0"

# --- training layer (minnorm.network, minnorm.training, ...) ---
from .network import ShallowReLU
from .population import Population
from .training import (
    TrainResult,
    TrainingDiverged,
    loss_and_grad,
    limit_reference,
    lr_sequence,
    solver_lam,
    train,
    train_population,
    variant_for,
)
from .random_features import random_features_ridge, ridge_lam
from .convert import parameter_cost, rebalance, to_function

_training_all = [
    "ShallowReLU",
    "Population",
    "TrainResult",
    "TrainingDiverged",
    "train",
    "train_population",
    "loss_and_grad",
    "lr_sequence",
    "limit_reference",
    "solver_lam",
    "variant_for",
    "random_features_ridge",
    "ridge_lam",
    "to_function",
    "rebalance",
    "parameter_cost",
]

# --- comparison layer (minnorm.metrics, minnorm.sweep, ...) ---
# Metrics, problems, references, rates. Figures live in ``minnorm.plots`` (not imported here, so
# that ``import minnorm`` does not load matplotlib).
from .problems import DESIGNS, TARGETS, Problem, make_problem
from .references import REFERENCES, Reference, solve_reference
from .metrics import (
    KnotCounts,
    compare,
    cost_gap,
    envelope_violation,
    knots_per_interval,
    l2_distance,
    linf_distance,
    net_cost,
    objective_gap,
    rel_l2_distance,
    rel_linf_distance,
    train_loss,
)
from .rates import RateFit, fit_rate, fit_rates

_comparison_metrics_all = [
    "TARGETS",
    "DESIGNS",
    "Problem",
    "make_problem",
    "REFERENCES",
    "Reference",
    "solve_reference",
    "KnotCounts",
    "compare",
    "cost_gap",
    "envelope_violation",
    "knots_per_interval",
    "l2_distance",
    "linf_distance",
    "net_cost",
    "objective_gap",
    "rel_l2_distance",
    "rel_linf_distance",
    "train_loss",
    "RateFit",
    "fit_rate",
    "fit_rates",
]

# Sweeps, results store, configs (``minnorm.cli`` and ``minnorm.report`` are not imported here;
# dask, torch workers and matplotlib load only when a sweep or a figure needs them).
from .config import ConfigError, RunSpec, SweepConfig, expand, load_config, parse_config
from .store import ResultStore, StoreError, finished_keys, load_results
from .sweep import SweepInterrupted, SweepSummary, run_sweep

_comparison_sweep_all = [
    "ConfigError",
    "SweepConfig",
    "RunSpec",
    "load_config",
    "parse_config",
    "expand",
    "ResultStore",
    "load_results",
    "finished_keys",
    "run_sweep",
    "SweepSummary",
    "SweepInterrupted",
    "StoreError",
]

__all__ = list(_solver_all) + _training_all + _comparison_metrics_all + _comparison_sweep_all
