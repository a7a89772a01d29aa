"""Running a cvxpy problem with a named solver and turning its status into a certified result."""

from importlib import metadata

import cvxpy as cp

from solvers._validation import validate_bool
from solvers.errors import InputError, SolverError

__all__ = ["DEFAULT_SOLVER", "CONIC_MAX_N", "check_size", "solve", "solver_label", "available_solvers",
           "validate_solver"]

DEFAULT_SOLVER = "CLARABEL"

#: Largest number of data points sent to a conic solver. The V3 SOCP takes ~2 s at n = 1e4 and
#: ~40 s at n = 1e5 on 2 cores, and time and memory grow faster than n; beyond this a clear
#: error beats a run that thrashes for an hour. Raise it deliberately for bigger problems.
CONIC_MAX_N = 200_000


def check_size(n, what):
    """Raise :class:`InputError` when ``n`` data points exceed :data:`CONIC_MAX_N`."""
    if n > CONIC_MAX_N:
        raise InputError(
            f"{what}: n = {n} data points exceeds solvers._cvx.CONIC_MAX_N = {CONIC_MAX_N} for a conic "
            "solver (about 40 s at n = 1e5 on 2 cores, growing faster than n). The variants 'skip' and "
            "'no-skip' with method='exact' are O(n); or raise solvers._cvx.CONIC_MAX_N deliberately."
        )

# The distribution that carries each solver, for its version string.
_DISTRIBUTIONS = {
    "CLARABEL": "clarabel",
    "HIGHS": "highspy",
    "ECOS": "ecos",
    "SCS": "scs",
    "OSQP": "osqp",
    "MOSEK": "Mosek",
    "GUROBI": "gurobipy",
}


def available_solvers():
    return list(cp.installed_solvers())


def solver_label(name):
    """``"CLARABEL 0.9.0 (cvxpy 1.5.2)"``."""
    dist = _DISTRIBUTIONS.get(name)
    try:
        ver = metadata.version(dist) if dist else "?"
    except metadata.PackageNotFoundError:
        ver = "?"
    return f"{name} {ver} (cvxpy {cp.__version__})"


def validate_solver(solver):
    """The upper-cased name of an installed cvxpy solver (``None`` -> :data:`DEFAULT_SOLVER`), else InputError."""
    if solver is None:
        return DEFAULT_SOLVER
    if not isinstance(solver, str):
        raise InputError(f"solver must be the name of a cvxpy solver (a string), one of "
                         f"{', '.join(cp.installed_solvers())}; got {solver!r} ({type(solver).__name__})")
    name = solver.upper()
    if name not in cp.installed_solvers():
        raise InputError(
            f"solver {name!r} is not installed; installed solvers: {', '.join(cp.installed_solvers())}"
        )
    return name


def solve(problem, solver=None, *, allow_inaccurate=False, size=None, **options):
    """Solve ``problem`` and return ``(label, status)``; raise :class:`SolverError` unless optimal.

    ``optimal_inaccurate`` is an error unless ``allow_inaccurate`` is true, in which case the
    caller must carry the status into its result (a :class:`~solvers.Solution` reports it as
    ``"inaccurate"``).
    """
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    name = validate_solver(solver)
    label = solver_label(name)
    try:
        problem.solve(solver=name, **options)
    except cp.error.SolverError as exc:
        raise SolverError(f"{name} failed: {exc}", status="solver_error", solver=label, size=size) from exc
    status = problem.status
    if status == cp.OPTIMAL or (allow_inaccurate and status == cp.OPTIMAL_INACCURATE):
        return label, status
    raise SolverError(
        f"{name} did not certify an optimal solution"
        + ("; pass allow_inaccurate=True to accept it" if status == cp.OPTIMAL_INACCURATE else ""),
        status=status, solver=label, size=size,
    )
