"""Running a cvxpy problem with a named solver and turning its status into a certified result."""

from importlib import metadata

import cvxpy as cp

from .errors import InputError, SolverError

__all__ = ["DEFAULT_SOLVER", "solve", "solver_label", "available_solvers"]

DEFAULT_SOLVER = "CLARABEL"

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


def solve(problem, solver=None, *, allow_inaccurate=False, size=None, **options):
    """Solve ``problem`` and return the solver label; raise :class:`SolverError` unless optimal.

    ``optimal_inaccurate`` is an error unless ``allow_inaccurate`` is true, in which case the
    caller must carry the status into its result.
    """
    name = (solver or DEFAULT_SOLVER).upper()
    if name not in cp.installed_solvers():
        raise InputError(
            f"solver {name!r} is not installed; installed solvers: {', '.join(cp.installed_solvers())}"
        )
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
