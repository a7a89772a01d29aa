r"""Named reference solutions (the limit objects a trained network is compared with).

A reference is named by a string, so a sweep stores it as data:

========================== ===============================================================
name                        problem solved on the data (x, y)
========================== ===============================================================
``"tv2:skip"``              V1: min ∫|f''| s.t. f(x_i)=y_i (connect-the-dots minimiser),
                            with the envelope of the whole solution set (MATH B.1)
``"tv2:no-skip"``           V2 (Savarese): min max(∫|f''|, |f'(-∞)+f'(+∞)|), with envelope
``"tv2:bias"``              V3 (Boursier--Flammarion): min ∫√(1+t²) d|f''| (unique)
``"tv2:bias-no-skip"``      V4 (MATH A.2)
``"tv2:skip:sparsest"``     V1, the sparsest minimiser (fewest knots); ``"tv2:no-skip:sparsest"`` too
``"spline:natural"``        min ∫f''² (g ≡ 1, free affine part): natural cubic spline
``"spline:uniform"``        min ∫f''²/g, g of torch's default init w,b ~ U[-A,A]×U[-B,B] (A=B=1)
``"spline:gaussian"``       g of w ~ N(0,σ_w²), b ~ N(0,σ_b²) (σ_w=σ_b=1)
``"spline:pm1-uniform"``    g of w = ±1, b ~ U[-c,c] (c=2)
``"krr:no-skip[:LAW]"``     the random-feature kernel limit *without* skip connection (MATH D.2,
                            boundary term); LAW defaults to ``uniform``; the output bias is
                            free unless ``params={"output_bias": False}``
========================== ===============================================================

With ``lam`` (keyword or ``params["lam"]``) > 0 the regression version is solved instead:
``tv2_regression`` (objective Σ(f(x_i)-y_i)² + lam·R(f)) or the smoothing spline
Σ(f(x_i)-y_i)² + lam·∫f''²/g. Law parameters (``A, B``; ``sigma_w, sigma_b``; ``c``)
go in ``params``; omitted ones take :data:`LAW_DEFAULTS`, the solver layer's single table, which
is also what ``ShallowReLU(init=LAW)`` draws from, so ``spline:LAW`` without params is the limit
of a network initialised with ``init=LAW`` and no ``init_params``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import solvers
from solvers import VARIANTS, InputError, PiecewiseLinear
from solvers._validation import validate_lam
from solvers.spline.laws import LAW_DEFAULTS

__all__ = ["REFERENCES", "Reference", "solve_reference", "solve_limit"]

#: Reference names and a one-line description (parametrised forms: ``krr:no-skip:LAW``).
REFERENCES = {
    "tv2:skip": "V1 min ∫|f''| (free affine part); envelope of the solution set",
    "tv2:no-skip": "V2 min max(∫|f''|, |f'(-inf)+f'(+inf)|) (Savarese); envelope of the solution set",
    "tv2:bias": "V3 min ∫sqrt(1+t^2) d|f''| (Boursier-Flammarion; unique)",
    "tv2:bias-no-skip": "V4 bias-penalised, no skip connection",
    "tv2:skip:sparsest": "V1 minimiser with the fewest knots",
    "tv2:no-skip:sparsest": "V2 minimiser with the fewest knots",
    "spline:natural": "natural cubic spline, min ∫f''^2 (g = 1)",
    "spline:uniform": "weighted spline min ∫f''^2/g, g of w,b ~ U[-A,A] x U[-B,B] (torch default A=B=1)",
    "spline:gaussian": "weighted spline, g of w ~ N(0, sigma_w^2), b ~ N(0, sigma_b^2)",
    "spline:pm1-uniform": "weighted spline, g of w = +-1, b ~ U[-c, c]",
    "krr:no-skip": "random-feature kernel limit without skip/output bias (uniform law)",
    "krr:no-skip:uniform": "random-feature kernel limit without skip/output bias, uniform law",
    "krr:no-skip:gaussian": "random-feature kernel limit without skip/output bias, gaussian law",
    "krr:no-skip:pm1-uniform": "random-feature kernel limit without skip/output bias, +-1 / uniform law",
}

#: Solver options a reference passes on (``params``), besides ``lam`` and the law's parameters.
SOLVER_KEYS = frozenset({"method", "solver"})


@dataclass
class Reference:
    """A solved reference problem.

    Attributes
    ----------
    name : str
        The reference name (see :data:`REFERENCES`).
    solution : solvers.Solution
        The returned minimiser (``solution.function`` is what distances are measured to) and
        its certificate.
    envelope : solvers.Envelope or None
        Pointwise bounds ``lower(t) <= f(t) <= upper(t)`` of the *whole* solution set
        (:func:`solvers.tv2_envelope` with the reference's variant, MATH B.1/B.2), for the
        V1/V2 references whose minimiser is not unique (also for their regressions: the set is
        then the min-norm interpolants of the unique fitted values). ``None`` otherwise.
    variant : str or None
        The TV2 cost variant (``"skip"``, ...) for ``tv2:*`` references, else ``None``.
    is_piecewise_linear : bool
        Whether ``solution.function`` is a :class:`~solvers.PiecewiseLinear` (exact distances).
    lam : float
        Regularisation constant (0.0 for interpolation).
    kind : str
        ``"tv2"``, ``"spline"`` or ``"krr"``.
    params : dict
        The parameters used (law parameters with defaults filled in, solver options).
    """

    name: str
    solution: Any
    envelope: Any = None
    variant: str | None = None
    is_piecewise_linear: bool = False
    lam: float = 0.0
    kind: str = ""
    params: dict = field(default_factory=dict)

    @property
    def function(self):
        return self.solution.function

    @property
    def value(self):
        """The reference's optimal objective value (recomputed from the returned function)."""
        return float(self.solution.value)

    def __call__(self, t, nu=0):
        return self.solution(t, nu)


def parse_reference_name(name):
    """``(kind, what, select)`` of a reference name: ``("tv2", variant, "linear"|"sparsest")``,
    ``("spline", "natural"|law, None)`` or ``("krr", law, None)``; an unknown name is an
    :class:`~solvers.InputError` listing the known ones."""
    if not isinstance(name, str):
        raise InputError(f"reference must be a string; got {type(name).__name__}")
    parts = name.split(":")
    kind = parts[0]
    if kind == "tv2":
        if len(parts) not in (2, 3) or parts[1] not in VARIANTS:
            raise InputError(f"unknown reference {name!r}; expected 'tv2:VARIANT[:SELECT]' with VARIANT in "
                             f"{', '.join(VARIANTS)}; known names: {', '.join(REFERENCES)}")
        select = parts[2] if len(parts) == 3 else "linear"
        if select not in ("linear", "sparsest"):
            raise InputError(f"unknown selection {select!r} in reference {name!r}; expected 'linear' or 'sparsest'")
        if select == "sparsest" and parts[1] not in ("skip", "no-skip"):
            raise InputError(f"reference {name!r}: 'sparsest' applies only to the non-unique variants skip, no-skip")
        return kind, parts[1], select
    if kind == "spline":
        law = parts[1] if len(parts) == 2 else None
        if len(parts) != 2 or (law != "natural" and law not in LAW_DEFAULTS):
            raise InputError(f"unknown reference {name!r}; expected 'spline:natural' or 'spline:LAW' with LAW in "
                             f"{', '.join(LAW_DEFAULTS)}")
        return kind, law, None
    if kind == "krr":
        if len(parts) not in (2, 3) or parts[1] != "no-skip":
            raise InputError(f"unknown reference {name!r}; expected 'krr:no-skip[:LAW]'")
        law = parts[2] if len(parts) == 3 else "uniform"
        if law not in LAW_DEFAULTS:
            raise InputError(f"unknown law {law!r} in reference {name!r}; expected one of {', '.join(LAW_DEFAULTS)}")
        return kind, law, None
    raise InputError(f"unknown reference {name!r}; known names: {', '.join(REFERENCES)}")


def _law_params(law, params, name):
    allowed = set(LAW_DEFAULTS[law])
    out = dict(LAW_DEFAULTS[law])
    for k, v in params.items():
        if k in SOLVER_KEYS:
            continue
        if k not in allowed:
            raise InputError(f"unknown parameter {k!r} for reference {name!r}; law {law!r} takes "
                             f"{', '.join(sorted(allowed))} (and lam, method, solver)")
        out[k] = float(v)
    return out


def _solver_options_only(params, name, who_takes):
    """References without law parameters take solver options only (``lam`` is popped before)."""
    unknown = set(params) - SOLVER_KEYS
    if unknown:
        raise InputError(f"unknown parameter(s) {sorted(unknown)} for reference {name!r}; {who_takes} lam, method, "
                         "solver")


def solve_reference(name, x, y, *, lam=None, params=None) -> Reference:
    """Solve the reference problem ``name`` on data ``(x, y)``.

    Parameters
    ----------
    name : str
        See :data:`REFERENCES`.
    x, y : array_like
        Data (sorted by the solvers if needed).
    lam : float or None
        ``None`` or 0: interpolation. ``> 0``: the regression / smoothing version with objective
        Σ(f(x_i)-y_i)² + lam·R(f). May also be given as ``params["lam"]`` (not both).
    params : dict, optional
        Law parameters (``A``, ``B`` / ``sigma_w``, ``sigma_b`` / ``c``), ``lam``, solver
        options ``method``, ``solver``, and for ``krr:*`` ``output_bias`` (bool, default True).
        Unknown keys raise :class:`~solvers.InputError` naming the key.

    Returns
    -------
    Reference
    """
    kind, what, select = parse_reference_name(name)
    params = dict(params or {})
    if "lam" in params:
        if lam is not None and float(params["lam"]) != float(lam):
            raise InputError(f"lam given twice with different values: lam={lam!r}, params['lam']={params['lam']!r}")
        lam = params.pop("lam")
    if lam is not None:
        lam = validate_lam(lam)
        if lam == 0:
            lam = None  # lam = 0 is interpolation
    opts = {k: params[k] for k in SOLVER_KEYS if k in params}

    if kind == "tv2":
        _solver_options_only(params, name, "tv2 references take")
        variant = what
        if lam is None:
            sol = solvers.tv2_interpolant(x, y, variant=variant, select=select, **opts)
        else:
            # select="sparsest": the sparsest minimiser, its value the regression objective recomputed from it
            sol = solvers.tv2_regression(x, y, lam, variant=variant, select=select, **opts)
        envelope = None
        if variant in ("skip", "no-skip"):
            xe = np.asarray(sol.x, dtype=np.float64)
            ye = np.asarray(sol.y if lam is None else (sol.fitted if sol.fitted is not None else sol(xe)),
                            dtype=np.float64)
            envelope = solvers.tv2_envelope(xe, ye, variant=variant)
        return Reference(name=name, solution=sol, envelope=envelope, variant=variant,
                         is_piecewise_linear=isinstance(sol.function, PiecewiseLinear), lam=lam or 0.0,
                         kind=kind, params=dict(opts, select=select))

    if kind == "spline" and what == "natural":
        _solver_options_only(params, name, "'spline:natural' takes")
        weight, used = None, {}
    else:
        law_params = dict(params)
        if kind == "krr" and "output_bias" in law_params:
            # MATH D.2: a free trained output bias d changes the boundary term (solver default: free).
            opts["output_bias"] = bool(law_params.pop("output_bias"))
        used = _law_params(what, law_params, name)
        weight = solvers.kink_density(what, **used)
    sol = solvers.weighted_spline(x, y, weight=weight, lam=0.0 if lam is None else lam,
                                  skip=(kind == "spline"), **opts)
    return Reference(name=name, solution=sol, envelope=None, variant=None,
                     is_piecewise_linear=isinstance(sol.function, PiecewiseLinear), lam=lam or 0.0,
                     kind=kind, params=dict(used, **opts))


def solve_limit(result, x, y) -> Reference:
    """The limit a trained network is compared with: :func:`solve_reference` of
    ``result.reference`` at ``result.lam`` (with ``result.reference_params``) on the data ``(x, y)``.

    Parameters
    ----------
    result : minnorm.TrainResult
        A training run; its recipe fixes the limit (:func:`minnorm.limit_reference`).
    x, y : array_like
        The training data.

    Raises
    ------
    InputError
        The recipe has no solver-layer limit (``result.reference is None``).
    """
    reference = getattr(result, "reference", _MISSING)
    if reference is _MISSING:
        raise InputError(f"result must be a TrainResult; got {type(result).__name__}")
    if reference is None:
        raise InputError("this training recipe has no solver-layer limit (see minnorm.limit_reference)")
    return solve_reference(reference, x, y, lam=result.lam, params=result.reference_params or None)


_MISSING = object()
