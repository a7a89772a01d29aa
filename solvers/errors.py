"""Exceptions raised by the solver layer."""

__all__ = ["InputError", "SolverError"]


class InputError(ValueError):
    """Invalid input: the message names the argument and what is expected."""


class SolverError(RuntimeError):
    """A numerical solver did not return a certified optimal solution.

    Attributes
    ----------
    status : str
        The solver's status string (e.g. ``"optimal_inaccurate"``, ``"infeasible"``)
        or a description of the failed certificate.
    solver : str
        Solver name and version.
    size : dict
        Problem size (number of data points, variables, ...).
    """

    def __init__(self, message, *, status, solver, size=None):
        self.status = status
        self.solver = solver
        self.size = dict(size or {})
        detail = f" [status={status!r}, solver={solver!r}, size={self.size}]"
        super().__init__(message + detail)
