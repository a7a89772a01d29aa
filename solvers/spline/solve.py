r"""The public entry point :func:`weighted_spline`: validation of its arguments and the weight,
and dispatch to the three solvers of MATH D.2-D.3.

- ``skip=True, method="exact"``: :mod:`solvers.spline.banded` (O(n) banded system);
- ``skip=False``: :mod:`solvers.spline.kernel` (dense kernel system);
- ``skip=True, method="cvxpy"``: :mod:`solvers.spline.galerkin` (Galerkin QP cross-check).
"""

import numpy as np

from solvers import _cvx
from solvers._validation import validate_bool, validate_choice, validate_data, validate_int, validate_lam
from solvers.errors import InputError
from solvers.solution import Solution
from solvers.spline.banded import _exact_skip
from solvers.spline.density import KinkDensity
from solvers.spline.galerkin import _galerkin_cvxpy
from solvers.spline.kernel import _exact_kernel

__all__ = ["weighted_spline"]


def _resolve_weight(weight, support, breakpoints):
    if weight is None:
        if support is not None or breakpoints is not None:
            raise InputError("support and breakpoints apply only to a callable weight")
        return None
    if isinstance(weight, KinkDensity):
        if support is not None or breakpoints is not None:
            raise InputError("support and breakpoints apply only to a callable weight; a KinkDensity has its own")
        return weight
    if callable(weight):
        return KinkDensity.from_callable(weight, support=(-np.inf, np.inf) if support is None else support,
                                         breakpoints=() if breakpoints is None else breakpoints)
    raise InputError(f"weight must be None, a KinkDensity or a callable g(t); got {type(weight).__name__}")


def _check_hull(density, x):
    """g > 0 on the data hull, else the penalty is infinite there (MATH D.3)."""
    if density is None:
        return
    lo, hi = float(x[0]), float(x[-1])
    if not density.positive_on(lo, hi):
        raise InputError(
            f"weight: g vanishes on part of the data hull [{lo:.6g}, {hi:.6g}] (support of g is "
            f"{density.support}); the penalty int f''^2/g is infinite there (MATH D.3), so f would have to be "
            "linear on that part. Widen the law (e.g. a larger bias range c) or restrict the data."
        )
    if density.law == "custom":
        probe = np.concatenate([x, 0.5 * (x[:-1] + x[1:])])
        try:
            gv = np.asarray(density.g(probe), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"weight: g(t) must return one real number per entry of t (an array of t's shape); "
                             f"evaluating it at the data failed: {exc}") from exc
        if gv.shape != probe.shape:
            raise InputError(f"weight: g(t) must return an array of the same shape as t; for t of shape "
                             f"{probe.shape} it returned shape {gv.shape}")
        bad = ~(np.isfinite(gv) & (gv > 0))
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"weight: g({probe[k]:.6g}) = {gv[k]!r} is not > 0 on the data hull; the penalty "
                "int f''^2/g is infinite there (MATH D.3)"
            )


def weighted_spline(x, y, *, weight=None, lam=0.0, skip=True, method="exact", solver=None,
                    allow_inaccurate=False, support=None, breakpoints=None, output_bias=True,
                    mesh_size=400):
    r"""Minimum-curvature interpolant or smoothing spline with kink weight g (MATH D.2–D.3).

    .. math::

        \text{lam} = 0:\ \min_f \int\frac{f''(t)^2}{g(t)}dt\ \text{ s.t. } f(x_i)=y_i, \qquad
        \text{lam} > 0:\ \min_f \sum_i (f(x_i)-y_i)^2 + \text{lam}\int\frac{f''(t)^2}{g(t)}dt.

    The sum of squares has no 1/2 (scipy's ``make_smoothing_spline`` convention; for g ≡ 1 the
    results coincide). With ``skip=True`` (network with a skip connection, or the kernel regime
    with free affine terms) the affine part of f is free and the solution is linear outside
    :math:`[x_1, x_n]`; ``skip=False`` is the kernel limit without skip connection (below).

    Parameters
    ----------
    x, y : array_like
        Data, 1-D, finite, at least 2 distinct x. Unsorted x is sorted. Interpolation merges
        identical (x, y) pairs and rejects a repeated x with different y; smoothing averages
        repeated x (weights = counts; the removed part of the sum of squares is added back).
    weight : None, KinkDensity or callable
        The kink density g. ``None``: g ≡ 1 (natural cubic spline). A
        :class:`~solvers.spline.KinkDensity` from :func:`~solvers.spline.kink_density`. A
        callable ``g(t)`` (vectorised over ndarrays): give its ``support=(lo, hi)`` (g is
        treated as 0 outside and never evaluated there) and the
        ``breakpoints`` where it is not smooth; its moments are computed by adaptive
        Gauss–Legendre quadrature split there. g must be > 0 on the data hull, else
        :class:`InputError` (the penalty would be infinite there; MATH D.3).
    lam : float
        >= 0; 0 means interpolation.
    skip : bool
        ``True``: free affine part, the exact O(n) banded solver. ``False``: minimum-RKHS-norm
        fit for :math:`K(x,x') = E[\sigma(wx+b)\sigma(wx'+b)]` (needs a :class:`KinkDensity`
        of a built-in law): :math:`f = \sum_i\beta_i K(\cdot,x_i) + d`, from
        :math:`[K + \text{lam}\,W^{-1}, 1; 1^\top, 0][\beta; d] = [y; 0]`. The network's output
        bias d is free by default; ``output_bias=False`` drops it (:math:`(K+\text{lam}W^{-1})\beta=y`).
        The value is :math:`\beta^\top K\beta` (+ the data term), which equals
        :math:`\int f''^2/g + e^\top Q^{-1}e` (MATH D.2). Dense O(n^3), n <= 4000.
    method : {"exact", "cvxpy"}
        ``"exact"``: the banded systems (skip=True) or the kernel system (skip=False).
        ``"cvxpy"`` (skip=True only): an independent Galerkin QP — :math:`v = f''` continuous
        piecewise linear on a mesh of ``mesh_size`` elements (plus the data and g's
        breakpoints) over the hull extended by half its width on each side (clipped to g's
        support), f from v by integrating twice with a free affine part, objective
        :math:`v^\top M v` with the exact mass matrix of :math:`L^2(1/g)`; solved by cvxpy.
    solver : str, optional
        cvxpy solver for ``method="cvxpy"`` (default CLARABEL).
    allow_inaccurate : bool
        Return status ``"inaccurate"`` instead of raising :class:`SolverError` when the certificate
        misses its tolerance (see :class:`Solution`; exact paths 1e-9, the Galerkin QP 1e-6 for
        constant g and 2e-2 otherwise) or cvxpy reports ``optimal_inaccurate``.
    support, breakpoints
        Only with a callable weight (see ``weight``).
    output_bias : bool
        Only for ``skip=False``: whether the output bias d is free (default True).
    mesh_size : int
        Only for ``method="cvxpy"``: number of uniform mesh elements, >= 1 (default 400).

    Returns
    -------
    Solution
        ``function`` is a :class:`~solvers.spline.WeightedSplineFunction` (exact on all of R;
        ``.ppoly`` where g is constant on the hull), a :class:`~solvers.spline.KernelExpansion`
        (skip=False) or a :class:`~solvers.spline.GalerkinSplineFunction` (cvxpy), all three
        importable from :mod:`solvers` and ``minnorm``. ``value`` is recomputed from it: :math:`J(f) =
        u^\top T u` (interpolation) or :math:`\sum_i (f(x_i)-y_i)^2 + \text{lam}\,J(f)`.
        ``lower_bound`` is the weak-duality bound :math:`2u^\top Dy - u^\top Tu` (see
        ``certificate["bound_kind"]``); by the projection identity :math:`J(h) - J^* = \int
        (h-f^*)''^2/g` for every interpolant h, so the gap is the exact distance to the optimum.
        ``certificate`` holds the relative KKT residual of the linear system, the largest slope
        jump of f at the knots (what that residual means for f), the natural conditions
        ``(u(x_1), u(x_n))`` and the interpolation residual.

    Raises
    ------
    InputError
        Bad data, negative lam, unknown method, g <= 0 on the data hull, skip=False without a
        built-in law, too large n for the dense paths.
    SolverError
        A singular system, a cvxpy status other than optimal, or a certificate whose gap exceeds
        its tolerance (unless ``allow_inaccurate=True``).
    """
    lam = validate_lam(lam)
    validate_choice(method, "method", ("exact", "cvxpy"))
    skip = validate_bool(skip, "skip")
    output_bias = validate_bool(output_bias, "output_bias")
    allow_inaccurate = validate_bool(allow_inaccurate, "allow_inaccurate")
    mesh_size = validate_int(mesh_size, "mesh_size", min_value=1)
    if solver is not None:
        _cvx.validate_solver(solver)
    data = validate_data(x, y, min_points=2, duplicates="merge-identical" if lam == 0.0 else "average")
    density = _resolve_weight(weight, support, breakpoints)
    _check_hull(density, data.x)
    problem = "interpolation" if lam == 0.0 else "regression"
    status = "optimal"
    if not skip:
        if density is None or density.law == "custom":
            raise InputError("skip=False (kernel limit without skip connection) needs weight=kink_density(...) of a "
                             "built-in law: the kernel depends on g_+ and g_- and on E[b^2], not on g alone")
        if method != "exact":
            raise InputError("method='cvxpy' is available for skip=True only; skip=False is solved exactly "
                             "by the kernel system")
        fn, value, lower, fitted, cert, label = _exact_kernel(data, density, lam, output_bias)
        variant = "no-skip" if output_bias else "no-skip-no-output-bias"
    elif method == "exact":
        fn, value, lower, fitted, cert = _exact_skip(data, density, lam)
        label = f"closed-form banded ({cert['banded_solver']})"
        variant = "skip"
    else:
        fn, value, lower, fitted, cert, label, status = _galerkin_cvxpy(data, density, lam, solver,
                                                                        allow_inaccurate, mesh_size)
        variant = "skip"
    cert["weight"] = "g=1" if density is None else repr(density)
    return Solution(function=fn, value=float(value), lower_bound=float(lower), status=status, method=method,
                    solver=label, variant=variant, problem=problem, x=data.x, y=data.y,
                    lam=lam, fitted=fitted, certificate=cert, family="spline",
                    accuracy=cert.get("accuracy", "exact"), rounding_scale=cert.get("rounding_scale"),
                    allow_inaccurate=allow_inaccurate)
