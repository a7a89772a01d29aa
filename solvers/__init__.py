"""minnorm's solver layer: exact function-space solutions for shallow univariate ReLU networks.

Depends on numpy, scipy and cvxpy only (never torch).

Problems (MATH.md sections A-D):

- :func:`tv2_interpolant` -- min R(f) s.t. f(x_i) = y_i for the four cost variants.
- :func:`tv2_regression` -- min sum (f(x_i)-y_i)^2 + lam R(f).
- :func:`tv2_envelope` -- pointwise bounds of the whole V1 or V2 solution set.
- :func:`weighted_spline` -- min int f''^2/g (interpolation or smoothing), the kernel limit.
- :func:`kink_density` -- the weight g of a random first layer.
- :func:`tv2_cost` -- exact R(f) of a piecewise-linear function.
"""

from solvers.errors import InputError, SolverError
from solvers.piecewise import VARIANTS, PiecewiseLinear, tv2_cost
from solvers.solution import Solution
from solvers.spline import (
    GalerkinSplineFunction,
    KernelExpansion,
    KinkDensity,
    WeightedSplineFunction,
    kink_density,
    weighted_spline,
)
from solvers.tv2 import Envelope, tv2_envelope, tv2_interpolant, tv2_regression

__all__ = [
    "InputError",
    "SolverError",
    "VARIANTS",
    "PiecewiseLinear",
    "tv2_cost",
    "Solution",
    "Envelope",
    "tv2_envelope",
    "tv2_interpolant",
    "tv2_regression",
    "KinkDensity",
    "kink_density",
    "WeightedSplineFunction",
    "KernelExpansion",
    "GalerkinSplineFunction",
    "weighted_spline",
]
