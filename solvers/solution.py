"""The result object every solver returns: a callable function with its certificate, and the one
rule that decides whether its status may say ``"optimal"``."""

from dataclasses import InitVar, dataclass, field
from typing import Any

import numpy as np

from solvers._validation import validate_bool
from solvers.errors import InputError, SolverError

__all__ = ["ACCURACY_CLASSES", "FAMILIES", "PROBLEMS", "OPTIMAL_RTOL", "ROUNDING_RTOL", "Solution", "problem_scale"]

#: Largest relative gap ``(value - lower_bound) / |value|`` for status ``"optimal"``, by accuracy class.
#: Measured on random data (n = 3..1e5, y offsets up to 1e6; the largest gap seen in brackets):
#:
#: * ``"exact"`` -- closed forms, banded/dense linear algebra, active-set solves: the gap is rounding
#:   only and sits far below the slack (``gap / problem_scale <= 7e-17``); 1e-9 leaves room for the
#:   conditioning of ill-spaced data without admitting an approximate answer.
#: * ``"conic"`` -- an interior-point solver on a program that is exact for the continuous problem
#:   (V3/V4 SOCPs, data-knot and V1/V2 grid programs, the Galerkin QP when g is constant): solver
#:   tolerance 1e-9 gives relative gaps <= 9e-9 (V3/V4 SOCPs, |x| <= 30), <= 9e-8 (V3/V4 regression
#:   over +-30), <= 1.5e-9 for the polished V1/V2 grid regressions (6e-8 before the polish) and
#:   <= 4e-7 with y offset by 1e6; 1e-6 is the documented accuracy of these paths.
#: * ``"grid"`` -- a discretised program whose optimum only approaches the continuous one (V3/V4 on
#:   a knot grid, the Galerkin QP with non-constant g): the gap is the discretisation error. Default
#:   grids on 40 random sets: V3/V4 <= 8.7e-3 for |x| <= 10 but up to 0.32 for n = 3 over +-30
#:   (value 46 % above the SOCP optimum); Galerkin mesh (400 elements) <= 2.6e-3 for smoothing but up to
#:   2.6e-2 for interpolation of clustered data (value 2.4 % above the banded optimum). 2e-2 accepts the
#:   defaults on moderate data and refuses answers that far from the optimum.
OPTIMAL_RTOL = {"exact": 1e-9, "conic": 1e-6, "grid": 2e-2}
ACCURACY_CLASSES = tuple(OPTIMAL_RTOL)
#: ``Solution.family``: which penalty; ``Solution.problem``: fit the data exactly or by least squares.
FAMILIES = ("tv2", "spline")
PROBLEMS = ("interpolation", "regression")
#: Absolute slack for rounding: ``ROUNDING_RTOL * problem_scale``, where the problem scale is the
#: sum of the magnitudes of the terms that value and bound are computed from (:func:`problem_scale`),
#: so the slack is a worst-case rounding bound of ~45 ulp per term. It lets ``lower_bound`` exceed
#: ``value`` by rounding and is added to the gap allowance (``gap <= rtol*|value| + slack``), which
#: matters where the optimum is 0 (collinear data) or data sit far from 0 (y offset by 1e6).
ROUNDING_RTOL = 1e-14
#: Statuses that do not claim optimality; cvxpy's ``optimal_inaccurate`` is reported as ``"inaccurate"``.
_INACCURATE = ("inaccurate", "optimal_inaccurate")


def _interpolation_scale(x, y, variant=None):
    r"""Rounding scale of a TV2 cost of data (x, y): :math:`\sum_i(|y_i|+|y_{i+1}|+|s_i|(|x_i|+|x_{i+1}|))/h_i`,
    the bound on the rounding of the secant slopes summed over the intervals (times :math:`\max(1,|x|)`
    for the bias variants, whose weight :math:`\omega` grows like |t|)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2:
        return float(np.sum(np.abs(y)))
    with np.errstate(over="ignore", invalid="ignore"):
        h = np.diff(x)
        s = np.diff(y) / h
        ax, ay = np.abs(x), np.abs(y)
        scale = float(np.sum((ay[:-1] + ay[1:] + np.abs(s) * (ax[:-1] + ax[1:])) / h))
        if variant in ("bias", "bias-no-skip"):
            scale *= max(1.0, float(np.max(ax)))
    return scale


def problem_scale(problem, x, y, *, value, lam=None, fitted=None, variant=None, family="tv2"):
    r"""Magnitude of the terms that value and lower bound are summed from (for the rounding slack).

    * ``"interpolation"`` (TV2 family): :func:`_interpolation_scale` of the data.
    * ``"regression"``: :math:`|v| + \sqrt{|v|\sum_i y_i^2}` (the cross terms :math:`2r_iy_i` of the
      sum of squares and of the Fenchel bound) + ``lam`` times the interpolation scale of the fitted values.
    * the spline family without an explicit scale from the solver: :math:`|v|` (+ the cross terms for smoothing).
    """
    v = abs(float(value)) if np.isfinite(value) else 0.0
    if problem == "interpolation" and family == "tv2":
        return _interpolation_scale(x, y, variant)
    sq = float(np.sum(np.asarray(y, dtype=np.float64) ** 2))
    scale = v + float(np.sqrt(v * sq))
    if problem == "regression" and lam and fitted is not None:
        scale += float(lam) * _interpolation_scale(x, fitted, variant)
    if problem == "interpolation" and family == "spline":
        scale = v
    return scale


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
        ``"optimal"`` or ``"inaccurate"``. ``"optimal"`` is checked when the Solution is built (the
        one rule of this module): value and lower bound finite, ``lower_bound <= value + slack`` and
        ``value - lower_bound <= OPTIMAL_RTOL[accuracy] * |value| + slack`` with
        ``slack = ROUNDING_RTOL * rounding_scale`` (for the conic and grid classes, whose functions
        meet the data only to the solver's tolerance, the bound may also exceed the value by up to
        ``OPTIMAL_RTOL * |value| + slack``); tolerances (relative gap):

        ========= ========= ==================================================================
        accuracy  rtol      paths
        ========= ========= ==================================================================
        exact     1e-9      closed forms, banded / kernel linear algebra, active-set solves
        conic     1e-6      conic solver on an exact finite program (V3/V4 SOCP, data-knot
                            programs, V1/V2 grid, Galerkin QP with constant g)
        grid      2e-2      discretised programs (V3/V4 knot grid, Galerkin QP with varying g)
        ========= ========= ==================================================================

        (``ROUNDING_RTOL = 1e-14``.) A certificate that fails the rule raises :class:`SolverError`
        naming the gap, unless the solver was called with ``allow_inaccurate=True``: then the
        status is ``"inaccurate"`` and ``certificate["status_reason"]`` says why. A conic solver's
        own ``optimal_inaccurate`` (accepted only with ``allow_inaccurate=True``) is also reported
        as ``"inaccurate"``, its raw status kept in ``certificate["solver_status"]``.
    method : str
        ``"exact"`` or ``"cvxpy"``.
    solver : str
        Name and version of the numerical solver, or ``"closed-form"``.
    variant : str
        TV2 family: the cost variant (``"skip"``, ``"no-skip"``, ``"bias"``, ``"bias-no-skip"``; MATH A.2).
        Spline family: ``"skip"`` (free affine part, min ∫f''²/g), ``"no-skip"`` (kernel limit with
        the boundary term, free output bias) or ``"no-skip-no-output-bias"`` (MATH D.2).
    problem : str
        ``"interpolation"`` (f(x_i) = y_i, objective the penalty) or ``"regression"`` (objective
        :math:`\sum_i (f(x_i)-y_i)^2 + \mathrm{lam}\,\text{penalty}`; for splines the smoothing spline).
    x, y : ndarray
        The validated (sorted, merged) data the problem was solved on.
    lam : float
        Regularisation constant of regressions (objective ``sum (f(x_i)-y_i)^2 + lam * R(f)``);
        0.0 for interpolation.
    fitted : ndarray or None
        ``f(x)`` at the data.
    certificate : dict
        The evidence behind ``lower_bound``. Keys shared by every solver (one name each):

        ``bound_kind``
            How ``lower_bound`` was obtained (closed form, weak duality of which dual, ...).
        ``interpolation_residual``
            ``max_i |f(x_i) - y_i|`` of the returned function (interpolation problems).
        ``n_knots``
            Knots of a piecewise-linear ``function``, where the solver reports it.
        ``solver_status``, ``solve_seconds``
            The conic solver's raw status and time (cvxpy paths).
        ``status_reason``
            Why the status is ``"inaccurate"`` (only then).

        Other keys are method-specific (dual variables, KKT residuals, polish records).
    select : str or None
        Which minimiser was returned where the solution set is not a point.
    accuracy : str
        ``"exact"``, ``"conic"`` or ``"grid"`` (see ``status``). When not given: ``"grid"`` for
        ``method="cvxpy"``, ``"exact"`` for the ``closed-form`` and ``active-set`` solvers,
        ``"conic"`` otherwise.
    rounding_scale : float
        Magnitude of the terms value and bound are computed from; the rounding slack is
        ``ROUNDING_RTOL`` times it. Computed from the data by :func:`problem_scale` when not given.
    family : {"tv2", "spline"}
        The penalty: the TV2 cost of MATH A.2, or the weighted spline's :math:`\int f''^2/g` (MATH D).
    allow_inaccurate : bool (init only)
        Return status ``"inaccurate"`` instead of raising when the certificate fails the rule.
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
    lam: float = 0.0
    fitted: np.ndarray = None
    certificate: dict = field(default_factory=dict)
    select: str = None
    accuracy: str = None
    rounding_scale: float = None
    family: str = "tv2"
    allow_inaccurate: InitVar[bool] = False

    def __post_init__(self, allow_inaccurate):
        allow = validate_bool(allow_inaccurate, "allow_inaccurate")
        if self.accuracy is None:
            solver = str(self.solver)
            if self.method == "cvxpy":
                self.accuracy = "grid"
            elif solver.startswith(("closed-form", "active-set")):
                self.accuracy = "exact"
            else:
                self.accuracy = "conic"
        if self.accuracy not in OPTIMAL_RTOL:
            raise InputError(f"accuracy must be one of {', '.join(map(repr, ACCURACY_CLASSES))}; got {self.accuracy!r}")
        if self.family not in FAMILIES:
            raise InputError(f"family must be one of {', '.join(map(repr, FAMILIES))}; got {self.family!r}")
        if self.problem not in PROBLEMS:
            raise InputError(f"problem must be one of {', '.join(map(repr, PROBLEMS))}; got {self.problem!r}")
        self.lam = 0.0 if self.lam is None else float(self.lam)
        self.value = float(self.value)
        self.lower_bound = float(self.lower_bound)
        if self.rounding_scale is None:
            self.rounding_scale = problem_scale(self.problem, self.x, self.y, value=self.value, lam=self.lam,
                                                fitted=self.fitted, variant=self.variant, family=self.family)
        self.rounding_scale = float(self.rounding_scale)
        self._certify(allow)

    @property
    def tolerance(self):
        """``(rtol, slack)`` of the optimality rule for this solution (see ``status``)."""
        scale = self.rounding_scale if np.isfinite(self.rounding_scale) else 0.0
        return OPTIMAL_RTOL[self.accuracy], ROUNDING_RTOL * scale

    def certificate_failure(self):
        """Why the certificate does not prove optimality within the tolerance, or None if it does."""
        v, lb = self.value, self.lower_bound
        if not (np.isfinite(v) and np.isfinite(lb)):
            return f"value {v!r} and lower bound {lb!r} must both be finite"
        rtol, slack = self.tolerance
        gap = v - lb
        # A conic or grid solution satisfies the data only to the solver's tolerance, so its value
        # may fall below the optimum by as much; an exact one only by rounding.
        below = slack if self.accuracy == "exact" else rtol * abs(v) + slack
        if gap < -below:
            return (f"lower bound {lb:.12g} exceeds value {v:.12g} by {-gap:.3e}, more than the allowed "
                    f"{below:.3e}")
        if gap > rtol * abs(v) + slack:
            return (f"duality gap {gap:.3e} (relative {gap / max(abs(v), np.finfo(float).tiny):.3e}) exceeds the "
                    f"{self.accuracy!r} tolerance rtol = {rtol:g} (+ rounding slack {slack:.3e}); value "
                    f"{v:.12g}, lower bound {lb:.12g}")
        return None

    def _certify(self, allow):
        if self.status in _INACCURATE:
            if self.status != "inaccurate":
                self.certificate.setdefault("solver_status", self.status)
                self.certificate.setdefault("status_reason", f"the solver reported {self.status!r}")
                self.status = "inaccurate"
            return
        if self.status != "optimal":
            raise SolverError(f"a solution cannot carry the status {self.status!r}", status=str(self.status),
                              solver=self.solver, size={"n": int(np.size(self.x))})
        reason = self.certificate_failure()
        if reason is None:
            return
        if allow:
            self.status = "inaccurate"
            self.certificate["status_reason"] = reason
            return
        raise SolverError(f"{self.problem} ({self.variant}, method={self.method!r}) is not certified optimal: {reason}. "
                          "Pass allow_inaccurate=True to accept it with status 'inaccurate'",
                          status="gap-too-large", solver=self.solver, size={"n": int(np.size(self.x))})

    def __call__(self, t, nu=0):
        return self.function(t, nu)

    @property
    def gap(self):
        """``value - lower_bound`` (>= 0 up to rounding; 0 at an exact optimum)."""
        return float(self.value - self.lower_bound)

    @property
    def relative_gap(self):
        """``gap / |value|`` (scale-free; the rule of ``status`` compares it with ``OPTIMAL_RTOL``)."""
        return self.gap / max(abs(self.value), abs(self.lower_bound), np.finfo(float).tiny)

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
            "family": self.family,
            "problem": self.problem,
            "variant": self.variant,
            "select": self.select,
            "method": self.method,
            "solver": self.solver,
            "status": self.status,
            "value": float(self.value),
            "lower_bound": float(self.lower_bound),
            "gap": self.gap,
            "accuracy": self.accuracy,
            "rounding_scale": float(self.rounding_scale),
            "lam": float(self.lam),
            "x": np.asarray(self.x).tolist(),
            "y": np.asarray(self.y).tolist(),
            "fitted": None if self.fitted is None else np.asarray(self.fitted).tolist(),
            "function": fn,
            "certificate": _jsonable(self.certificate),
        }

    def __repr__(self):
        return (
            f"Solution(family={self.family!r}, problem={self.problem!r}, variant={self.variant!r}, value={self.value:.10g}, "
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

