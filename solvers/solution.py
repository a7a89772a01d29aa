"""The result object every solver returns: a callable function with its certificate."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError, SolverError

__all__ = ["Solution"]


@dataclass
class Solution:
    r"""A variational solution with its certificate of optimality.

    Call it like a function: ``sol(t, nu=0)`` evaluates :math:`f^{(\nu)}(t)` for nu in
    {0, 1, 2}, exactly on all of :math:`\mathbb{R}`.

    Attributes
    ----------
    function : callable
        The solution (a :class:`~solvers.PiecewiseLinear` for TV2 problems, a
        :class:`~solvers.WeightedSplineFunction`-like object for splines).
    value : float
        The objective recomputed from ``function`` (not the solver's own number).
    lower_bound : float
        A certified lower bound on the optimal value (dual objective or closed form).
    status : str
        ``"optimal"`` for an exact or certified solution; otherwise the solver's status
        (only reachable with ``allow_inaccurate=True``).
    method : str
        ``"exact"`` or ``"cvxpy"``.
    solver : str
        Name and version of the numerical solver, or ``"closed-form"``.
    variant : str
        Cost variant (``"skip"``, ``"no-skip"``, ``"bias"``, ``"bias-no-skip"``) or spline kind.
    problem : str
        ``"interpolation"``, ``"regression"``, ``"spline-interpolation"`` or ``"spline-smoothing"``.
    x, y : ndarray
        The validated (sorted, merged) data the problem was solved on.
    lam : float or None
        Regularisation constant of regressions (objective ``sum (f(x_i)-y_i)^2 + lam * R(f)``).
    fitted : ndarray or None
        ``f(x)`` at the data.
    certificate : dict
        Method-specific evidence (dual variables, KKT residuals, solver statistics).
    select : str or None
        Which minimiser was returned where the solution set is not a point.
    """

    function: Any
    value: float
    lower_bound: float
    status: str
    method: str
    solver: str
    variant: str
    problem: str
    x: np.ndarray
    y: np.ndarray
    lam: float = None
    fitted: np.ndarray = None
    certificate: dict = field(default_factory=dict)
    select: str = None

    def __call__(self, t, nu=0):
        return self.function(t, nu)

    @property
    def gap(self):
        """``value - lower_bound`` (>= 0 up to rounding; 0 at an exact optimum)."""
        return float(self.value - self.lower_bound)

    @property
    def relative_gap(self):
        return self.gap / max(1.0, abs(self.value))

    def _pl_attr(self, name):
        try:
            return getattr(self.function, name)
        except AttributeError as exc:
            # keep the function's own explanation where it gives one (e.g. a weighted spline)
            own = str(exc) if name in str(exc) and "object has no attribute" not in str(exc) else ""
            raise AttributeError(
                own or f"{name!r} is defined only for piecewise-linear solutions; this is a "
                f"{type(self.function).__name__}"
            ) from None

    @property
    def knots(self):
        """Knots of a piecewise-linear solution (support of f'')."""
        return self._pl_attr("knots")

    @property
    def jumps(self):
        """Slope changes at :attr:`knots`."""
        return self._pl_attr("jumps")

    @property
    def ppoly(self):
        """The solution as a :class:`scipy.interpolate.PPoly` (where it is piecewise polynomial)."""
        return self._pl_attr("ppoly")

    def check(self, rtol=1e-8, atol=1e-10):
        """Raise :class:`SolverError` unless status is optimal and ``gap <= atol + rtol*|value|``."""
        if self.status != "optimal":
            raise SolverError("solution is not certified optimal", status=self.status, solver=self.solver,
                              size={"n": int(np.size(self.x))})
        if self.gap > atol + rtol * abs(self.value) or self.gap < -(atol + rtol * abs(self.value)):
            raise SolverError(
                f"duality gap {self.gap:.3e} exceeds tolerance (value {self.value:.12g}, "
                f"lower bound {self.lower_bound:.12g})",
                status="gap-too-large", solver=self.solver, size={"n": int(np.size(self.x))},
            )
        return self

    def to_dict(self):
        """Plain-Python export (JSON serialisable)."""
        fn = self.function.to_dict() if hasattr(self.function, "to_dict") else {"type": type(self.function).__name__}
        return {
            "problem": self.problem,
            "variant": self.variant,
            "select": self.select,
            "method": self.method,
            "solver": self.solver,
            "status": self.status,
            "value": float(self.value),
            "lower_bound": float(self.lower_bound),
            "gap": self.gap,
            "lam": None if self.lam is None else float(self.lam),
            "x": np.asarray(self.x).tolist(),
            "y": np.asarray(self.y).tolist(),
            "fitted": None if self.fitted is None else np.asarray(self.fitted).tolist(),
            "function": fn,
            "certificate": _jsonable(self.certificate),
        }

    def __repr__(self):
        return (
            f"Solution(problem={self.problem!r}, variant={self.variant!r}, value={self.value:.10g}, "
            f"gap={self.gap:.2e}, status={self.status!r}, method={self.method!r}, solver={self.solver!r})"
        )


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def require_method(method, allowed):
    if method not in allowed:
        raise InputError(f"unknown method {method!r}; expected one of {', '.join(map(repr, allowed))}")
    return method
