"""minnorm: shallow univariate ReLU networks and the variational problems they converge to.

``import minnorm as mn`` gives the three layers in one namespace:

- the solver layer (:mod:`solvers`: ``mn.tv2_interpolant``, ``mn.weighted_spline``, ...),
  imported at once (numpy, scipy, cvxpy only);
- the training layer (:mod:`minnorm.training`: ``mn.ShallowReLU``, ``mn.train``, ...);
- the comparison layer (:mod:`minnorm.comparison`: references, metrics, rates, and
  :mod:`minnorm.comparison.sweeps`: configs, the results store, ``mn.run_sweep``).

Training and comparison names load on first use, so ``import minnorm`` does not import torch,
matplotlib or dask. The layers import one way: solvers <- training <- comparison <- studies <- cli.
"""

from solvers import *  # noqa: F403  (the solver layer is part of the public API)
from solvers import __all__ as _solver_all

from minnorm._lazy import attach as _attach
from minnorm._version import __version__ as __version__
from minnorm.comparison import __all__ as _comparison_all
from minnorm.comparison.sweeps import __all__ as _sweeps_all
from minnorm.training import __all__ as _training_all


__getattr__, __dir__, _lazy_all = _attach(__name__, {
    **{name: "minnorm.training" for name in _training_all},
    **{name: "minnorm.comparison" for name in _comparison_all},
    **{name: "minnorm.comparison.sweeps" for name in _sweeps_all},
})

__all__ = list(_solver_all) + _lazy_all
