"""The weighted cubic spline (MATH D): min ∫ f''(x)²/g(x) dx, the kernel-regime limit, and the
kink density g of a random first layer."""

from solvers.spline.core import WeightedSplineFunction, weighted_spline
from solvers.spline.kink_density import KinkDensity, kink_density

__all__ = ["weighted_spline", "WeightedSplineFunction", "kink_density", "KinkDensity"]
