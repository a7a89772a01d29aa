"""minnorm's comparison layer: the reference problems a trained network converges to, the
distances and gaps between them, rate fits, figures, and sweeps (:mod:`minnorm.comparison.sweeps`).

Names load on first use (metrics need torch to read a network; figures need matplotlib).
"""

from minnorm._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "TARGETS": "minnorm.comparison.problems",
    "DESIGNS": "minnorm.comparison.problems",
    "Problem": "minnorm.comparison.problems",
    "make_problem": "minnorm.comparison.problems",
    "REFERENCES": "minnorm.comparison.references",
    "Reference": "minnorm.comparison.references",
    "solve_reference": "minnorm.comparison.references",
    "solve_limit": "minnorm.comparison.references",
    "KnotCounts": "minnorm.comparison.metrics",
    "compare": "minnorm.comparison.metrics",
    "cost_gap": "minnorm.comparison.metrics",
    "envelope_violation": "minnorm.comparison.metrics",
    "knots_per_interval": "minnorm.comparison.metrics",
    "l2_distance": "minnorm.comparison.metrics",
    "linf_distance": "minnorm.comparison.metrics",
    "net_cost": "minnorm.comparison.metrics",
    "objective_gap": "minnorm.comparison.metrics",
    "rel_l2_distance": "minnorm.comparison.metrics",
    "rel_linf_distance": "minnorm.comparison.metrics",
    "train_loss": "minnorm.comparison.metrics",
    "RateFit": "minnorm.comparison.rates",
    "fit_rate": "minnorm.comparison.rates",
    "fit_rates": "minnorm.comparison.rates",
})
