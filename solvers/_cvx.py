"""Running a cvxpy problem with a named solver and turning its status into a certified result."""

import time
from importlib import metadata

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from solvers._validation import validate_bool
from solvers.errors import InputError, SolverError

__all__ = ["DEFAULT_SOLVER", "CONIC_MAX_N", "check_size", "solve", "solve_tight", "solver_label",
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


# ----------------------------------------------------------------------------- tight tolerances
_FAER = None


def _clarabel_faer():
    """Clarabel's multithreaded supernodal LDL (``faer``) where the build has it: 1.5-2.5x
    faster than the default QDLDL at n = 1e4 (measured). Probed once on a tiny problem."""
    global _FAER
    if _FAER is None:
        try:
            import clarabel

            settings = clarabel.DefaultSettings()
            settings.direct_solve_method = "faer"
            settings.verbose = False
            P = sp.csc_matrix((1, 1))
            A = sp.csc_matrix(np.array([[1.0]]))
            clarabel.DefaultSolver(P, np.array([1.0]), A, np.array([1.0]), [clarabel.NonnegativeConeT(1)],
                                   settings).solve()
            _FAER = {"direct_solve_method": "faer"}
        except Exception:  # pragma: no cover - depends on the clarabel build
            _FAER = {}
    return _FAER


def _solver_options(name, extra=None):
    """Tight tolerances per solver: the exact paths claim ~1e-9 accuracy, which the solvers'
    defaults (~1e-8 relative) do not deliver on badly scaled data."""
    name = validate_solver(name)
    opts = {
        "CLARABEL": {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9, "max_iter": 400,
                     **_clarabel_faer()},
        "ECOS": {"abstol": 1e-9, "reltol": 1e-9, "feastol": 1e-9, "max_iters": 400},
        "SCS": {"eps_abs": 1e-8, "eps_rel": 1e-8, "max_iters": 200_000},
        "OSQP": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iter": 200_000, "polishing": True},
    }.get(name, {})
    if extra:
        opts.update(extra)
    return name, opts


def solve_tight(problem, solver, allow_inaccurate, size, solver_options):
    """:func:`solve` with the tight tolerances of :func:`_solver_options` (``solver_options`` override
    them); returns ``(label, status, seconds)``."""
    name, opts = _solver_options(solver, solver_options)
    t0 = time.perf_counter()
    label, status = solve(problem, name, allow_inaccurate=allow_inaccurate, size=size, **opts)
    return label, status, time.perf_counter() - t0
