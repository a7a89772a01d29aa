"""minnorm: shallow univariate ReLU networks and the variational problems they converge to.

``import minnorm as mn`` gives the solver layer (``mn.tv2_interpolant``, ``mn.weighted_spline``,
...), the training layer (``mn.ShallowReLU``, ``mn.train``, ...) and the comparison layer
(metrics, sweeps, command line).
"""

from solvers import *  # noqa: F401,F403  (the solver layer is part of the public API)
from solvers import __all__ as _solver_all

__version__ = "0.1.0"

# --- training layer (minnorm.network, minnorm.training, ...) ---

# --- comparison layer (minnorm.metrics, minnorm.sweep, ...) ---

__all__ = list(_solver_all)
