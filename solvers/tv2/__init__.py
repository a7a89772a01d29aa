"""The TV2 problems (MATH A-C): minimum-norm interpolation and regression for the four cost
variants, the solution set's envelope, and the exact cost of a piecewise-linear function."""

from solvers.piecewise import tv2_cost
from solvers.tv2.core import Envelope, tv2_envelope, tv2_interpolant, tv2_regression

__all__ = ["tv2_interpolant", "tv2_regression", "tv2_envelope", "tv2_cost", "Envelope"]
