r"""The TV2 problems (MATH.md A-C): minimum-norm interpolation and regression for the four cost
variants, the solution set's envelope, and the exact cost of a piecewise-linear function.

:func:`tv2_interpolant` and :func:`tv2_regression` validate their input and dispatch:

============================ ===================================================================
``method="exact"``, V1/V2     closed forms (:mod:`~solvers.tv2.exact`), active set / data-knot
                              program (:mod:`~solvers.tv2.regression`)
``method="exact"``, V3/V4     exact SOCPs (:mod:`~solvers.tv2.socp`, polished by
                              :mod:`~solvers.tv2.polish`)
``method="cvxpy"``            knot-grid programs, all variants (:mod:`~solvers.tv2.grid`)
============================ ===================================================================

Every conic result carries a certified lower bound (:mod:`~solvers.tv2.certificates`); shared
pieces: :mod:`~solvers.tv2.discrete` (secants, slope jumps), :mod:`~solvers.tv2.scaling`
(rescaling), :mod:`~solvers.tv2.knots` (exact knots from a solver's answer).
"""

from solvers._validation import (
    validate_bool,
    validate_choice,
    validate_data,
    validate_lam,
)
from solvers.errors import InputError
from solvers.piecewise import VARIANTS, tv2_cost
from solvers.tv2 import grid, socp
from solvers.tv2.envelope import Envelope, tv2_envelope
from solvers.tv2.exact import _EXACT_VARIANTS, _exact_interpolant
from solvers.tv2.regression import _exact_regression

__all__ = ["tv2_interpolant", "tv2_regression", "tv2_envelope", "tv2_cost", "Envelope"]

METHODS = ("exact", "cvxpy")
SELECTS = ("linear", "sparsest")


def _validate_options(variant, method, select, allow_inaccurate):
    """Check the options both entry points share; returns ``allow_inaccurate`` as a bool."""
    validate_choice(variant, "variant", VARIANTS)
    validate_choice(method, "method", METHODS)
    validate_choice(select, "select", SELECTS)
    return validate_bool(allow_inaccurate, "allow_inaccurate")


def tv2_interpolant(x, y, *, variant="skip", select="linear", method="exact", solver=None,
                    allow_inaccurate=False):
    r"""Minimum-norm interpolant: :math:`\min R(f)` s.t. :math:`f(x_i)=y_i` (MATH B).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Data, n >= 2 distinct abscissae, finite. Unsorted ``x`` is sorted (the result is
        identical to that for sorted input); identical repeated pairs are merged; a repeated
        ``x`` with different ``y`` raises :class:`InputError`.
    variant : {"skip", "no-skip", "bias", "bias-no-skip"}
        Cost :math:`R` (MATH A.2): ``"skip"`` :math:`\int|f''|` (V1);
        ``"no-skip"`` :math:`\max(\int|f''|,|f'(-\infty)+f'(\infty)|)` (V2, Savarese);
        ``"bias"`` :math:`\int\sqrt{1+t^2}\,d|f''|` (V3); ``"bias-no-skip"`` (V4).
    select : {"linear", "sparsest"}
        Which minimiser to return where the V1/V2 solution set is not a point:
        ``"linear"`` connects the dots (linear extension; for V2 plus symmetric outer kinks),
        ``"sparsest"`` has the fewest knots, :math:`\sum_{runs}\lceil k/2\rceil` for V1; for V2
        when the boundary term binds, that base count + min(cost_left, cost_right), each 0 when
        the run at that end has the sign of the virtual end curvature and odd length, else 1
        (MATH B.2; e.g. MATH G4 has one knot). V3/V4 solutions are unique: ``select`` does not apply.
    method : {"exact", "cvxpy"}
        ``"exact"``: closed form, O(n) (V1, V2) or the exact SOCP (V3, V4, in
        :mod:`solvers.tv2.socp`). ``"cvxpy"``: independent knot-grid program
        (:mod:`solvers.tv2.grid`, the cross-check).
    solver : str, optional
        cvxpy solver for the conic paths (CLARABEL by default); unused by the closed forms.
    allow_inaccurate : bool
        Accept ``optimal_inaccurate`` from a conic solver (the status is carried in the result).

    Returns
    -------
    Solution
        ``value`` is :func:`tv2_cost` of the returned function. For V1, ``lower_bound`` is the
        dual objective :math:`\sum\lambda_i y_i=\sum\eta_i d_i` of the certificate (MATH B.1),
        and ``certificate`` holds :math:`\eta`, :math:`\lambda` and the residuals
        :math:`\sum\lambda_i`, :math:`\sum\lambda_i x_i`, :math:`\max|p|`. For V2 the bound is
        :math:`\max(L,(L+|s_1+s_{n-1}|)/2)` with :math:`L` the V1 bound: every interpolant
        has :math:`\int|f''|\ge L+|s_1-f'(-\infty)|+|f'(\infty)-s_{n-1}|`.

    Notes
    -----
    V1 value :math:`V=\sum_{i=2}^{n-1}|s_i-s_{i-1}|`; V2 value
    :math:`\max(V,(V+|s_1+s_{n-1}|)/2)`, :math:`|s_1|` for n = 2 (MATH B.2).
    Slope changes below the data-rounding level count as zero curvature (:mod:`solvers.tv2.exact`).
    """
    allow_inaccurate = _validate_options(variant, method, select, allow_inaccurate)
    if variant not in _EXACT_VARIANTS and select != "linear":
        raise InputError(
            f"select={select!r} does not apply to variant={variant!r}: the V3/V4 minimum-norm "
            "interpolant is unique, so there is nothing to select"
        )
    if method == "cvxpy" and select != "linear":
        raise InputError(
            f"select={select!r} applies to method='exact' only; the knot-grid program of "
            "method='cvxpy' returns whichever minimiser its solver finds"
        )
    data = validate_data(x, y, min_points=2, duplicates="merge-identical")
    if method == "cvxpy":
        return grid.grid_interpolant(data, variant, solver=solver, allow_inaccurate=allow_inaccurate)
    if variant == "bias":
        return socp.bias_interpolant(data, solver=solver, allow_inaccurate=allow_inaccurate)
    if variant == "bias-no-skip":
        return socp.bias_no_skip_interpolant(data, solver=solver, allow_inaccurate=allow_inaccurate)
    return _exact_interpolant(data.x, data.y, variant, select)


def tv2_regression(x, y, lam, *, variant="skip", method="exact", select="linear", solver=None,
                   allow_inaccurate=False):
    r"""Minimum-norm regression :math:`\min_f\ \sum_i(f(x_i)-y_i)^2+\mathrm{lam}\cdot R(f)`.

    The loss is the plain sum of squares **without** a factor 1/2, as in scipy's
    ``make_smoothing_spline``. The objective :math:`\frac12\sum(f(x_i)-y_i)^2+\lambda' R(f)`
    corresponds to ``lam = 2*lambda'``; weight decay :math:`\frac{wd}{2}\|\theta\|^2` on the
    loss :math:`\sum(f(x_i)-y_i)^2` corresponds to ``lam = wd`` (MATH A.1--A.2).

    Parameters
    ----------
    x, y : array_like
        Data. Repeated ``x`` are merged into the mean ``y`` with weight = count; the reported
        ``value`` is still the sum of squares over the original points.
    lam : float
        Regularisation constant, >= 0. ``lam = 0`` is interpolation of the (averaged) data.
    variant : {"skip", "no-skip", "bias", "bias-no-skip"}
        Cost :math:`R` (MATH A.2).
    method : {"exact", "cvxpy"}
        ``"exact"``: V1 by a primal--dual active-set method on the data-knot problem
        :math:`\min_z\sum w_i(z_i-y_i)^2+\mathrm{lam}\sum|s_i(z)-s_{i-1}(z)|` (knots at the
        data suffice, MATH B.1) with banded solves, falling back to the cvxpy data-knot QP
        if it does not converge (recorded in ``solver``); V2 by the data-knot conic program of
        MATH B.2; V3/V4 by the exact SOCPs of :mod:`solvers.tv2.socp`. ``"cvxpy"``: knot-grid
        programs of :mod:`solvers.tv2.grid`.
    select : {"linear", "sparsest"}
        V1/V2: which interpolant of the (unique) fitted values to return.
    solver : str, optional
        cvxpy solver for conic paths (default CLARABEL).
    allow_inaccurate : bool
        Accept ``optimal_inaccurate`` from a conic solver.

    Returns
    -------
    Solution
        ``value`` recomputed from the returned function; ``lower_bound`` from a dual-feasible
        point (:func:`solvers.tv2.regression._dual_bound`); for V1 ``certificate["lam_max"]``, the smallest ``lam``
        for which the fit is the (weighted) least-squares line, and that line.
    """
    allow_inaccurate = _validate_options(variant, method, select, allow_inaccurate)
    lam = validate_lam(lam)
    if variant not in _EXACT_VARIANTS and select != "linear":
        raise InputError(
            f"select={select!r} does not apply to variant={variant!r}: the V3/V4 fit is unique"
        )
    if method == "cvxpy" and select != "linear":
        raise InputError(f"select={select!r} applies to method='exact' only")
    data = validate_data(x, y, min_points=2, duplicates="average")
    if method == "cvxpy" or variant not in _EXACT_VARIANTS:
        kw = {"solver": solver, "allow_inaccurate": allow_inaccurate}
        if method == "cvxpy":
            return grid.grid_regression(data, lam, variant, **kw)
        if variant == "bias":
            return socp.bias_regression(data, lam, **kw)
        return socp.bias_no_skip_regression(data, lam, **kw)
    return _exact_regression(data, lam, variant, select, solver, allow_inaccurate)
