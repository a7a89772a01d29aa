"""The weighted cubic spline (MATH D): min ∫ f''(x)²/g(x) dx, the kernel-regime limit, and the
kink density g of a random first layer.

- :mod:`~solvers.spline.laws`: the built-in initialisation laws, their default parameters
  (:data:`~solvers.spline.laws.LAW_DEFAULTS`) and :func:`kink_density`;
- :mod:`~solvers.spline.density`: :class:`KinkDensity` (g, exact moments, kernels);
- :mod:`~solvers.spline.solve`: :func:`weighted_spline` (validation and dispatch) over
  :mod:`~solvers.spline.banded` (skip=True, exact), :mod:`~solvers.spline.kernel` (skip=False)
  and :mod:`~solvers.spline.galerkin` (the cvxpy cross-check), each with its function type.
"""

from solvers.spline.banded import WeightedSplineFunction
from solvers.spline.density import KinkDensity
from solvers.spline.galerkin import GalerkinSplineFunction
from solvers.spline.kernel import KernelExpansion
from solvers.spline.laws import kink_density
from solvers.spline.solve import weighted_spline

__all__ = ["weighted_spline", "WeightedSplineFunction", "KernelExpansion", "GalerkinSplineFunction",
           "kink_density", "KinkDensity"]
