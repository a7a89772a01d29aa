"""Sweep configurations: TOML parsed as data, validated, and expanded into runs.

A sweep is the Cartesian product

    width x n x weight decay x seed x init ratio x output scale x optimizer x lr

of one problem, one reference and one training recipe. :func:`load_config` reads a TOML file
(or :func:`parse_config` a dict) into a :class:`SweepConfig`; :func:`expand` turns it into
:class:`RunSpec` objects, each with a stable :attr:`RunSpec.key` (sha256 of its canonical
JSON), which is what the results store uses to skip finished runs.

Example
-------
.. code-block:: toml

    name = "quickstart"
    seeds = 3                       # or an explicit list [0, 5, 7]

    [problem]
    target = "sin"
    design = "uniform"
    n = 8                           # or a list [8, 16, 32]

    [reference]
    name = "tv2:skip"
    lam = "mapped"                  # from the weight decay via training.solver_lam; a number; or omit
                                    # (train_first_layer = false: the init law's spline, name filled in)

    [model]
    width = [16, 32, 64]
    skip = true

    [train]
    optimizer = "adam"              # or a list
    steps = 2000
    lr = 0.01                       # peak lr: a number, a list, or a size rule {c, alpha, beta}
                                    # (lr = c * n^alpha * m^beta, e.g. beta = -1 where the NTK grows with m)
    lr_schedule = "cosine"          # "constant" (default), "cosine" or "exponential"
    lr_final_ratio = 0.01           # lr at the last step / lr (default 0.01 when decaying)
    weight_decay = 1e-3             # a number, a list, or a schedule table {c, alpha, beta}

Errors are :class:`ConfigError` (a :class:`ValueError`) whose message starts with the key path,
e.g. ``train.weight_decay: expected a number or list of numbers, got 'abc'``. A config that
loads is one whose runs can start: names are checked against the library's own tables
(``TARGETS``, ``DESIGNS``, the reference parser, ``INIT_LAWS``, the keys of
:func:`minnorm.comparison.metrics.compare`), each problem of the grid is built once (no training), and
cross-section limits (batch size vs n, even widths for antisymmetric init, memory for one run,
finite weight-decay schedules) are checked before anything runs.
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import inspect
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from solvers._validation import (INT64_MAX, physical_memory, validate_bool, validate_choice, validate_int,
                                 validate_positive, validate_seed)
from solvers.errors import InputError

# One list of valid choices and one lr-schedule rule, owned by the training layer (torch-free), so a
# config cannot accept what the trainer rejects.
from minnorm.training.limits import limit_reference
from minnorm.training.options import (INIT_LAWS, LR_SCHEDULES, OPTIMIZERS, OUTPUT_INITS, PARAMETRIZATIONS,
                                      check_lr_schedule)

__all__ = [
    "ConfigError",
    "SweepConfig",
    "RunSpec",
    "load_config",
    "parse_config",
    "expand",
    "group_populations",
]

# Keys that vary within one population (trained at once by the population trainer).
POPULATION_FREE = (("model", "width"), ("train", "weight_decay"), ("train", "lr"), ("seed",))


class ConfigError(ValueError):
    """An invalid sweep configuration; the message starts with the offending key path."""


def _frozen_layer_reference(reference, given, model, train):
    """reference.lam = "mapped" with a frozen first layer: the limit is the init law's kernel
    limit (MATH D.2; :func:`~minnorm.training.limits.limit_reference`), not a TV2 problem. An omitted
    reference.name / params is filled in; a different one is an error, since the mapped lam
    belongs to that limit only."""
    try:
        name, params = limit_reference(model, train_first_layer=False, penalize_affine=train["penalize_affine"])
    except InputError as exc:
        raise ConfigError(f"model.init / model.init_params: {exc}") from None
    if name is None:
        raise ConfigError("reference.lam: \"mapped\" with train.train_first_layer = false and this model (skip slope "
                          "free, no free output bias) has no solver-layer limit; set model.output_bias = true, "
                          "model.skip = false, or give reference.lam as a number")
    if "name" in given and given["name"] != name:
        raise ConfigError(f"reference.name: with train.train_first_layer = false, reference.lam = \"mapped\" is the "
                          f"constant of the init law's limit {name!r} (MATH D.2), not of {given['name']!r}; "
                          f"set reference.name = {name!r} (or omit it), or give reference.lam as a number")
    out = dict(reference, name=name)
    user = dict(reference["params"] or {})
    for k, v in user.items():
        if k in params and not (v == params[k] or (_is_num(v) and _is_num(params[k]) and float(v) == params[k])):
            raise ConfigError(f"reference.params.{k}: {v!r} differs from the model's {params[k]!r} "
                              f"(the mapped limit is that of the network's own init law)")
    out["params"] = dict(user, **params)
    return out


# --------------------------------------------------------------------------- type checkers
# The checks themselves live in solvers._validation (one implementation for every layer); these
# wrappers only put the key path first and say what is expected in TOML's words (true, not True).
def _tname(v):
    return repr(v) if isinstance(v, str) else f"{v!r} ({type(v).__name__})"


def _is_num(v):
    # bool is an int subclass in Python; a TOML `true` is never a number here.
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(path, v, *, positive=False, nonneg=False, integer=False):
    if integer:
        try:
            val = validate_int(v, path, min_value=1 if positive else 0 if nonneg else None, max_value=INT64_MAX)
        except InputError:
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not float(v).is_integer():
                raise ConfigError(f"{path}: expected an integer, got {_tname(v)}") from None
            if v > INT64_MAX:
                raise ConfigError(f"{path}: expected an integer of at most 2**63 - 1 (int64), got {v!r}") from None
            what = "a positive" if positive else "a non-negative"
            raise ConfigError(f"{path}: expected {what} value, got {v!r}") from None
        return val
    if not _is_num(v):  # the type message; the range check below is validate_positive's
        raise ConfigError(f"{path}: expected a number, got {_tname(v)}")
    if positive or nonneg:
        try:
            return validate_positive(v, path, allow_zero=not positive)
        except InputError:
            what = "a positive" if positive else "a non-negative"
            raise ConfigError(f"{path}: expected {what} value, got {v!r}") from None
    return float(v)


def _num_list(path, v, **kw):
    """A number or a non-empty list of numbers -> list (the grid along one axis)."""
    integer = kw.get("integer", False)
    what = "an integer or list of integers" if integer else "a number or list of numbers"
    items = v if isinstance(v, list) else [v]
    if not items:
        raise ConfigError(f"{path}: empty grid (expected {what})")
    out = []
    for i, item in enumerate(items):
        where = f" at index {i}" if isinstance(v, list) else ""
        try:
            out.append(_num(path, item, **kw))
        except ConfigError as exc:
            msg = str(exc)
            if msg.startswith(f"{path}: expected an integer, got") or msg.startswith(f"{path}: expected a number, got"):
                msg = f"{path}: expected {what}, got {_tname(item)}"
            raise ConfigError(msg + where) from None
    if len(set(out)) != len(out):
        raise ConfigError(f"{path}: duplicate values in grid {v!r}")
    return out


def _bool(path, v):
    try:
        return validate_bool(v, path)
    except InputError:
        raise ConfigError(f"{path}: expected true or false, got {_tname(v)}") from None


def _str(path, v, choices=None):
    if not isinstance(v, str):
        raise ConfigError(f"{path}: expected a string, got {_tname(v)}")
    if choices is not None:
        try:
            validate_choice(v, path, tuple(choices))
        except InputError:
            raise ConfigError(f"{path}: expected one of {', '.join(map(repr, choices))}, got {v!r}"
                              f"{_did_you_mean(v, choices)}") from None
    return v


def _did_you_mean(v, choices):
    close = difflib.get_close_matches(v, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _grid(path, v, one, what):
    """A value or a non-empty list of distinct values -> list (the grid along one axis); ``one(key,
    item)`` checks each item, keyed ``path[i]`` in a list."""
    if not isinstance(v, list):
        return [one(path, v)]
    if not v:
        raise ConfigError(f"{path}: empty grid (expected {what})")
    out = [one(f"{path}[{i}]", item) for i, item in enumerate(v)]
    if len(set(out)) != len(out):
        raise ConfigError(f"{path}: duplicate values in grid {v!r}")
    return out


def _str_list(path, v, choices=None):
    return _grid(path, v, lambda p, s: _str(p, s, choices), "a string or list of strings")


def _table(path, v):
    if not isinstance(v, dict):
        raise ConfigError(f"{path}: expected a table, got {_tname(v)}")
    return v


def _jsonable_params(path, v):
    """A free-form parameter table (passed through to a constructor) must be plain data."""
    _table(path, v)
    for k, item in v.items():
        if isinstance(item, dict):
            _jsonable_params(f"{path}.{k}", item)
        elif isinstance(item, list):
            if not all(_is_num(i) or isinstance(i, (str, bool)) for i in item):
                raise ConfigError(f"{path}.{k}: lists may hold numbers, strings or booleans only")
        elif not (_is_num(item) or isinstance(item, (str, bool))):
            raise ConfigError(f"{path}.{k}: expected a number, string, boolean, list or table, got {_tname(item)}")
    return copy.deepcopy(v)


def _interval(path, v):
    if not (isinstance(v, list) and len(v) == 2):
        raise ConfigError(f"{path}: expected [a, b], got {_tname(v)}")
    a, b = (_num(f"{path}[{i}]", item) for i, item in enumerate(v))
    if not a < b:
        raise ConfigError(f"{path}: expected a < b, got {v!r}")
    return [a, b]


def _reject_unknown(path, table, allowed):
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ConfigError(f"{where}: unknown key (allowed here: {', '.join(sorted(allowed))})")


# --------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class SizeRule:
    r"""A value set per run by the data size n and the width m: :math:`c\,n^{\alpha}\,m^{\beta}`.

    Used for the weight decay (:math:`\lambda = c\,n^{\alpha}m^{\beta}`) and for the learning rate
    (e.g. :math:`\eta = c/m` in the kernel regime of a standard-parametrised net, whose NTK Gram,
    hence the largest stable step, scales with m).
    """

    c: float
    alpha: float = 0.0
    beta: float = 0.0

    def __call__(self, n, width):
        return self.c * float(n) ** self.alpha * float(width) ** self.beta

    @property
    def label(self):
        return f"{self.c:g}*n^{self.alpha:g}*m^{self.beta:g}"


@dataclass
class SweepConfig:
    """A validated sweep configuration (all grids are non-empty lists).

    Attributes
    ----------
    name, description : str
    seeds : list of int
    problem : dict
        ``target``, ``target_params``, ``design``, ``n`` (list), ``noise``, ``seed``, ``domain``, ``delta``.
    reference : dict
        ``name``, ``lam`` (``"mapped"``, a float or None for interpolation), ``params``.
    model : dict
        ``width`` (list), ``skip``, ``output_bias``, ``parametrization``, ``init``,
        ``init_params``, ``init_ratio`` (list or None), ``output_scale`` (list or None),
        ``hidden_scale``, ``output_init``, ``antisymmetric``. ``init_ratio`` rho multiplies
        the default output scale by sqrt(rho) and the hidden scale by 1/sqrt(rho): the ratio
        ``|a|/||(w,b)||`` (MATH E) changes by rho while the scale of f at init stays the same.
        ``output_scale`` sets the output-layer scale directly (network default when omitted).
    train : dict
        ``optimizer`` (list), ``steps``, ``lr`` (list of floats and :class:`SizeRule`),
        ``weight_decay`` (list of floats and :class:`SizeRule`), ``penalize_bias``, ``batch_size``,
        ``noise_temperature``, ``train_first_layer``, ``lr_schedule`` (``"constant"``,
        ``"cosine"`` or ``"exponential"``) and ``lr_final_ratio`` (the schedule's factor at the
        last step; 1 for constant, default 0.01 otherwise; :func:`minnorm.training.options.lr_sequence`).
    metrics : dict
        ``interval`` ([a, b] or None: the metric layer's default), ``main`` (metric for rates).
    output : dict
        ``dir`` (None: ``runs/<name>``), ``report`` (bool).
    source : str or None
        The file the config came from.
    """

    name: str
    description: str
    seeds: list
    problem: dict
    reference: dict
    model: dict
    train: dict
    metrics: dict
    output: dict
    source: str | None = None

    def grid_axes(self):
        """The axes of the Cartesian product and their values (in expansion order)."""
        axes = {
            "width": self.model["width"],
            "n": self.problem["n"],
            "weight_decay": self.train["weight_decay"],
            "seed": self.seeds,
            "init_ratio": self.model["init_ratio"] or [None],
            "output_scale": self.model["output_scale"] or [None],
            "optimizer": self.train["optimizer"],
            "lr": self.train["lr"],
        }
        return axes

    def varying_axes(self):
        """Names of the axes with more than one value."""
        return [k for k, v in self.grid_axes().items() if len(v) > 1]

    def n_runs(self):
        return math.prod(len(v) for v in self.grid_axes().values())

    def output_dir(self):
        return Path(self.output["dir"] or Path("runs") / self.name)


_TOP = {"name", "description", "seeds", "problem", "reference", "model", "train", "metrics", "output"}
_PROBLEM = {"target", "target_params", "design", "n", "noise", "seed", "domain", "delta"}
_REFERENCE = {"name", "lam", "params"}
_MODEL = {"width", "skip", "output_bias", "parametrization", "init", "init_params", "init_ratio",
          "output_scale", "hidden_scale", "output_init", "antisymmetric"}
_TRAIN = {"optimizer", "steps", "lr", "weight_decay", "penalize_bias", "penalize_affine", "batch_size",
          "noise_temperature", "train_first_layer", "tol", "lr_schedule", "lr_final_ratio"}
_METRICS = {"interval", "main"}
_OUTPUT = {"dir", "report"}


def _size_rule_grid(path, v, *, positive):
    """A number, a size-rule table {c, alpha, beta} (:class:`SizeRule`), or a list of them."""
    def one(p, item):
        if isinstance(item, dict):
            _reject_unknown(p, item, {"c", "alpha", "beta"})
            if "c" not in item:
                raise ConfigError(f"{p}.c: required in a size rule (value = c * n^alpha * m^beta)")
            return SizeRule(
                _num(f"{p}.c", item["c"], positive=positive, nonneg=not positive),
                _num(f"{p}.alpha", item.get("alpha", 0.0)),
                _num(f"{p}.beta", item.get("beta", 0.0)),
            )
        if not _is_num(item):
            raise ConfigError(
                f"{path}: expected a number or list of numbers, got {_tname(item)} "
                f"(or a size rule table {{c, alpha, beta}})"
            )
        return _num(p, item, positive=positive, nonneg=not positive)

    return _grid(path, v, one, "a number or list of numbers")


def _weight_decay(path, v):
    return _size_rule_grid(path, v, positive=False)


def _lr_schedule(t):
    """``lr_schedule`` and ``lr_final_ratio`` of the [train] table, by the trainer's own rule
    (:func:`minnorm.training.options.check_lr_schedule`; its default ratio when omitted)."""
    schedule = _str("train.lr_schedule", t.get("lr_schedule", "constant"), LR_SCHEDULES)
    r = _num("train.lr_final_ratio", t["lr_final_ratio"], nonneg=True) if "lr_final_ratio" in t else None
    try:
        schedule, r = check_lr_schedule(schedule, r)
    except InputError as exc:
        # Its messages start with the argument's name, which is the [train] key.
        raise ConfigError(f"train.{exc}") from None
    return {"lr_schedule": schedule, "lr_final_ratio": r}


def _plain_name(v):
    """``name`` becomes a directory under ``runs/`` and a label: a plain file name, nothing that
    could climb out of the output directory (``..``) or into another one (``a/b``)."""
    name = _str("name", v)
    bad = (not name or name in (".", "..") or any(c in name for c in "/\\") or name != name.strip()
           or any(ord(c) < 32 for c in name))
    if bad:
        raise ConfigError(f"name: expected a plain file name (no path separators, not '.' or '..', "
                          f"no control characters or surrounding spaces), got {name!r}")
    return name


def _seed(path, s):
    try:
        return validate_seed(s, path, allow_none=False)
    except InputError:
        raise ConfigError(f"{path}: expected a seed, an integer in [0, 2**63 - 1], got {_tname(s)}") from None


def _seeds(v):
    if isinstance(v, list):
        return _grid("seeds", v, _seed, "a count or a list of seeds")
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"seeds: expected a count >= 1 or a list of seeds, got {_tname(v)}")
    if v > 10**6:
        raise ConfigError(f"seeds: a count of {v} seeds is more runs than a sweep can hold; expected at most 10**6")
    return list(range(v))


def read_data_file(path, key):
    """``(x, y)`` of a CSV data file (:func:`minnorm.comparison.problems.load_csv_data`) with at
    least two rows; every way it can be unusable is a :class:`ConfigError` starting with ``key``."""
    from minnorm.comparison.problems import load_csv_data

    try:
        x, y = load_csv_data(path)
    except InputError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    if x.size < 2:
        raise ConfigError(f"{key}: data file {str(path)!r} has {x.size} data row(s); expected at least 2")
    return x, y


def _target_param_keys(target):
    """The ``target_params`` a target factory takes, read off its signature (``domain`` is the
    problem's own ``domain``, not a target parameter)."""
    from minnorm.comparison.problems import TARGETS

    sig = inspect.signature(TARGETS[target])
    return [k for k, prm in sig.parameters.items()
            if k not in ("rng", "domain") and prm.kind in (prm.POSITIONAL_OR_KEYWORD, prm.KEYWORD_ONLY)]


def _problem_key(message):
    """The [problem] key a make_problem error is about (its messages name the argument)."""
    for word, key in (("target_params", "target_params"), ("delta", "delta"), ("target data file", "target"),
                      ("design", "design"), ("noise", "noise"), ("domain", "domain"), ("seed", "seed"),
                      ("target", "target"), ("n must", "n")):
        if word in message:
            return f"problem.{key}"
    return "problem"


def _check_problem(problem):
    """Everything make_problem would reject, rejected now with the key; returns the data sizes n.

    The allowed names come from the problem layer's own tables (TARGETS, DESIGNS, the target
    factories' signatures), and each problem of the grid is built once (cheap: no training) so
    that a config that loads is a config whose problems exist.
    """
    from minnorm.comparison.problems import DESIGNS, TARGETS, problem_for_run

    target, design, params = problem["target"], problem["design"], problem["target_params"]
    is_file = target.startswith("file:")
    if is_file:
        x, _ = read_data_file(target[len("file:"):], "problem.target")
        if params:
            raise ConfigError(f"problem.target_params: a data file target takes no parameters, got {sorted(params)}")
        if problem["delta"] is not None:
            raise ConfigError("problem.delta: applies only to design = \"known-regions\", not to a data file target")
    else:
        if target not in TARGETS:
            raise ConfigError(f"problem.target: expected one of {', '.join(map(repr, TARGETS))} or 'file:PATH', "
                              f"got {target!r}{_did_you_mean(target, TARGETS)}")
        allowed = _target_param_keys(target)
        for k in params:
            if k not in allowed:
                takes = f"takes {', '.join(allowed)}" if allowed else "takes no parameters"
                raise ConfigError(f"problem.target_params.{k}: unknown key (target {target!r} {takes})")
    _str("problem.design", design, tuple(DESIGNS))
    if not is_file:
        if design == "known-regions" and problem["delta"] is None:
            raise ConfigError("problem.delta: required for design = \"known-regions\" (the half-width of the "
                              "unsampled gap, 0 < delta < (hi - lo)/2)")
        if design != "known-regions" and problem["delta"] is not None:
            raise ConfigError(f"problem.delta: applies only to design = \"known-regions\", got design = {design!r}")
    for n in ([None] if is_file else problem["n"]):
        _check_memory("problem.n", n=n or x.size, width=0)
        try:
            p = problem_for_run({"problem": dict(problem, n=n or 2)})
        except ConfigError:
            raise
        except (InputError, ValueError, TypeError, OverflowError) as exc:
            raise ConfigError(f"{_problem_key(str(exc))}: {exc}" + ("" if n is None else f" (at n = {n})")) from None
        if not np.all(np.isfinite(p.y)):
            raise ConfigError(f"problem.target: target {target!r} is not finite at every sample point (n = {n})")
    return [int(x.size)] if is_file else list(problem["n"])


def _reference_params(name, params, lam):
    """``reference.name`` parsed by the reference layer itself; ``reference.params`` checked against
    the keys that reference takes (solver options, lam, and the law's parameters)."""
    from minnorm.comparison.references import SOLVER_KEYS, parse_reference_name

    try:
        kind, what, _ = parse_reference_name(name)
    except InputError as exc:
        raise ConfigError(f"reference.name: {exc}") from None
    allowed = set(SOLVER_KEYS) | {"lam"}
    # A reference's law is an init law (spline:LAW is the limit of init=LAW): one table of parameters.
    law_keys = set(INIT_LAWS[what]) if what in INIT_LAWS else set()
    allowed |= law_keys
    if kind == "krr":
        allowed.add("output_bias")
    for k, v in params.items():
        path = f"reference.params.{k}"
        if k not in allowed:
            raise ConfigError(f"{path}: unknown key (reference {name!r} takes {', '.join(sorted(allowed))})")
        if k in law_keys:
            _num(path, v, positive=True)
        elif k == "output_bias":
            _bool(path, v)
        elif k == "method":
            from solvers.tv2 import METHODS  # weighted_spline takes the same two

            _str(path, v, METHODS)
        elif k == "solver":
            import cvxpy

            _str(path, v, tuple(cvxpy.installed_solvers()))
    if "lam" in params:
        p_lam = _num("reference.params.lam", params["lam"], nonneg=True)
        if lam is not None and lam != p_lam:
            raise ConfigError(f"reference.params.lam: {p_lam!r} contradicts reference.lam = {lam!r}; give lam once")


def _init_law(model):
    """``model.init``, ``init_params``, ``output_init`` against the network's own tables."""
    _str("model.init", model["init"], tuple(INIT_LAWS))
    _str("model.output_init", model["output_init"], OUTPUT_INITS)
    allowed = INIT_LAWS[model["init"]]
    for k, v in model["init_params"].items():
        if k not in allowed:
            raise ConfigError(f"model.init_params.{k}: unknown key (init {model['init']!r} takes "
                              f"{', '.join(sorted(allowed))})")
        _num(f"model.init_params.{k}", v, positive=True)


def network_bytes(width, n):
    """A lower estimate of the memory one run needs, in bytes (float64).

    Data and the first layer's input (4n), the parameters a, w, b with their gradients and two
    optimizer moments (12 m), and the hidden activations and their gradients of one full-batch
    step (3 n m): ``8 * (4 n + 12 m + 3 n m)``.
    """
    return 8 * (4 * n + 12 * width + 3 * n * width)


def _gb(b):
    return f"{b / 1e9:.3g} GB"


def _check_memory(key, *, n, width):
    need, have = network_bytes(width, n), physical_memory()
    if have is not None and need > have:
        size = f"width = {width} at n = {n}" if width else f"n = {n}"
        raise ConfigError(f"{key}: {size} needs at least {_gb(need)} of memory for one run; this machine has "
                          f"{_gb(have)}")


@functools.lru_cache(maxsize=1)
def metric_names():
    """The metrics a run records (the keys of :func:`minnorm.comparison.metrics.compare`), sorted.

    Read off compare() itself on a three-point problem (it returns every key, NaN where not
    applicable), so the list cannot drift from what the sweep stores.
    """
    from minnorm.comparison.metrics import compare
    from minnorm.comparison.problems import make_problem
    from minnorm.comparison.references import solve_reference

    p = make_problem("abs", "uniform", 3)
    ref = solve_reference("tv2:skip", p.x, p.y)
    return tuple(sorted(compare(ref.function, ref, p)))


def _check_runs(problem, model, train, data_sizes):
    """Cross-section checks: what one (n, width) of the grid would make the trainer reject."""
    n_min, n_max = min(data_sizes), max(data_sizes)
    if model["antisymmetric"]:
        odd = [m for m in model["width"] if m % 2]
        if odd:
            raise ConfigError(f"model.antisymmetric: needs even widths (both copies count), got width {odd[0]}")
    for m in model["width"]:
        _check_memory("model.width", n=n_max, width=m)
    bs = train["batch_size"]
    if bs is not None:
        if bs > n_min:
            raise ConfigError(f"train.batch_size: {bs} is more than the n = {n_min} data points of a run "
                              f"(expected 1 <= batch_size <= n)")
        if "gd" in train["optimizer"] and bs < n_max:
            raise ConfigError(f"train.batch_size: optimizer \"gd\" is full-batch, but batch_size = {bs} < n = {n_max} "
                              "(use optimizer = \"sgd\" or \"adam\", or drop batch_size)")
    for key, what in (("weight_decay", "weight decay"), ("lr", "learning rate")):
        for i, rule in enumerate(train[key]):
            if not isinstance(rule, SizeRule):
                continue
            path = f"train.{key}" if len(train[key]) == 1 else f"train.{key}[{i}]"
            for n in data_sizes:
                for m in model["width"]:
                    try:
                        value = rule(n, m)
                    except OverflowError:
                        value = math.inf
                    if not math.isfinite(value):
                        raise ConfigError(f"{path}: the rule {rule.label} overflows float64 at n = {n}, width = {m}; "
                                          f"expected a finite {what} (smaller alpha, beta or c)")
                    if key == "lr" and value == 0.0:
                        raise ConfigError(f"{path}: the rule {rule.label} underflows to 0 at n = {n}, width = {m}; "
                                          "expected a positive learning rate")


def parse_config(data: dict, *, source=None) -> SweepConfig:
    """Validate a parsed TOML document into a :class:`SweepConfig`.

    Parameters
    ----------
    data : dict
        The document (as returned by :func:`tomllib.load`).
    source : str, optional
        Where it came from (recorded in the config).

    Raises
    ------
    ConfigError
        On unknown keys, wrong types, empty grids or missing required keys, and on every value
        a run would reject later (unknown target, design, reference, init law or metric; a
        missing data file; ``batch_size`` beyond n; an odd width with antisymmetric init; a
        network that would not fit in memory; a weight-decay schedule that overflows): the
        message starts with the key path and says what is expected.
    """
    _table("<config>", data)
    _reject_unknown("", data, _TOP)
    for sec in ("problem", "model", "train"):
        if sec not in data:
            raise ConfigError(f"{sec}: required section missing")
    name = _plain_name(data.get("name", Path(source).stem if source else "sweep"))
    description = _str("description", data.get("description", ""))

    seeds = _seeds(data.get("seeds", 1))

    p = _table("problem", data["problem"])
    _reject_unknown("problem", p, _PROBLEM)
    problem = {
        "target": _str("problem.target", p.get("target", "sin")),
        "target_params": _jsonable_params("problem.target_params", p.get("target_params", {})),
        "design": _str("problem.design", p.get("design", "uniform")),
        "n": _num_list("problem.n", p.get("n", 10), integer=True, positive=True),
        "noise": _num("problem.noise", p.get("noise", 0.0), nonneg=True),
        "seed": _seed("problem.seed", p.get("seed", 0)),
        "domain": _interval("problem.domain", p.get("domain", [-1.0, 1.0])),
        "delta": None if p.get("delta") is None else _num("problem.delta", p["delta"], nonneg=True),
    }
    if min(problem["n"]) < 2:
        raise ConfigError(f"problem.n: expected at least 2 data points, got {problem['n']!r}")
    data_sizes = _check_problem(problem)
    if problem["target"].startswith("file:"):
        # The data file fixes n; a different n in the config would be a label that lies (and would
        # evaluate weight-decay schedules at the wrong n).
        if "n" in p and problem["n"] != data_sizes:
            raise ConfigError(f"problem.n: the data file has {data_sizes[0]} points, got n = {p['n']!r} "
                              "(omit n for a file target)")
        problem["n"] = data_sizes

    r = _table("reference", data.get("reference", {}))
    _reject_unknown("reference", r, _REFERENCE)
    lam = r.get("lam")
    if isinstance(lam, str):
        if lam != "mapped":
            raise ConfigError(f"reference.lam: expected \"mapped\", a number or nothing, got {lam!r}")
    elif lam is not None:
        lam = _num("reference.lam", lam, nonneg=True)
    reference = {
        "name": _str("reference.name", r.get("name", "tv2:skip")),
        "lam": lam,
        "params": _jsonable_params("reference.params", r.get("params", {})),
    }
    _reference_params(reference["name"], reference["params"], None if lam == "mapped" else lam)

    m = _table("model", data["model"])
    _reject_unknown("model", m, _MODEL)
    if "width" not in m:
        raise ConfigError("model.width: required (an integer or list of integers)")
    model = {
        "width": _num_list("model.width", m["width"], integer=True, positive=True),
        "skip": _bool("model.skip", m.get("skip", True)),
        "output_bias": _bool("model.output_bias", m.get("output_bias", True)),
        "parametrization": _str("model.parametrization", m.get("parametrization", "standard"), PARAMETRIZATIONS),
        "init": _str("model.init", m.get("init", "uniform")),
        "init_params": _jsonable_params("model.init_params", m.get("init_params", {})),
        "init_ratio": (_num_list("model.init_ratio", m["init_ratio"], positive=True)
                       if "init_ratio" in m else None),
        "output_scale": (_num_list("model.output_scale", m["output_scale"], positive=True)
                         if "output_scale" in m else None),
        "hidden_scale": _num("model.hidden_scale", m.get("hidden_scale", 1.0), positive=True),
        "output_init": _str("model.output_init", m.get("output_init", "gaussian")),
        "antisymmetric": _bool("model.antisymmetric", m.get("antisymmetric", False)),
    }
    if model["init_ratio"] is not None and model["output_scale"] is not None:
        raise ConfigError("model.init_ratio: give either init_ratio or output_scale, not both")
    _init_law(model)

    t = _table("train", data["train"])
    _reject_unknown("train", t, _TRAIN)
    for req in ("steps", "lr"):
        if req not in t:
            raise ConfigError(f"train.{req}: required")
    bs = t.get("batch_size")
    train = {
        "optimizer": _str_list("train.optimizer", t.get("optimizer", "gd"), OPTIMIZERS),
        "steps": _num("train.steps", t["steps"], integer=True, positive=True),
        "lr": _size_rule_grid("train.lr", t["lr"], positive=True),
        "weight_decay": _weight_decay("train.weight_decay", t.get("weight_decay", 0.0)),
        "penalize_bias": _bool("train.penalize_bias", t.get("penalize_bias", False)),
        "penalize_affine": _bool("train.penalize_affine", t.get("penalize_affine", False)),
        "batch_size": None if bs is None else _num("train.batch_size", bs, integer=True, positive=True),
        "noise_temperature": _num("train.noise_temperature", t.get("noise_temperature", 0.0), nonneg=True),
        "train_first_layer": _bool("train.train_first_layer", t.get("train_first_layer", True)),
        "tol": None if t.get("tol") is None else _num("train.tol", t["tol"], nonneg=True),
    }
    train.update(_lr_schedule(t))
    _check_runs(problem, model, train, data_sizes)
    if reference["lam"] == "mapped" and all(w == 0.0 for w in train["weight_decay"]):
        raise ConfigError("reference.lam: \"mapped\" needs a positive train.weight_decay "
                          "(lam = 0 is interpolation: omit reference.lam)")
    if reference["lam"] == "mapped" and not train["train_first_layer"]:
        reference = _frozen_layer_reference(reference, r, model, train)

    mt = _table("metrics", data.get("metrics", {}))
    _reject_unknown("metrics", mt, _METRICS)
    metrics = {
        "interval": None if mt.get("interval") is None else _interval("metrics.interval", mt["interval"]),
        "main": _str("metrics.main", mt.get("main", "linf"), metric_names()),
    }

    o = _table("output", data.get("output", {}))
    _reject_unknown("output", o, _OUTPUT)
    output = {
        "dir": None if o.get("dir") is None else _str("output.dir", o["dir"]),
        "report": _bool("output.report", o.get("report", True)),
    }
    return SweepConfig(name, description, seeds, problem, reference, model, train, metrics, output,
                       source=None if source is None else str(source))


def load_config(path) -> SweepConfig:
    """Read and validate a TOML sweep configuration.

    Raises
    ------
    ConfigError
        If the file is missing, a directory, unreadable, not UTF-8 text, not valid TOML, or
        fails validation.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; expected a TOML config file")
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (TOML is UTF-8 text); is it the right file?") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_config(data, source=path)


# --------------------------------------------------------------------------- runs
def canonical_json(obj) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical_hash(obj) -> str:
    """sha256 (hex) of :func:`canonical_json`: the keys of runs and references in the store."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


@dataclass(frozen=True)
class RunSpec:
    """One training run: every value that determines its result, as plain data.

    ``spec`` holds sections ``problem`` (scalar ``n``), ``reference``, ``model`` (scalar
    ``width``, ``init_ratio``, ``output_scale``), ``train`` (scalar ``optimizer``, ``lr``,
    ``weight_decay`` and its ``weight_decay_rule`` label), ``metrics`` and ``seed``.
    """

    spec: dict
    sweep: str = field(default="sweep", compare=False)

    @property
    def key(self) -> str:
        """sha256 of the canonical JSON of :attr:`spec` (independent of the sweep's name)."""
        return canonical_hash(self.spec)

    @property
    def population_key(self) -> str:
        """Runs equal in everything except seed, width, weight decay and lr share this key."""
        d = copy.deepcopy(self.spec)
        for path in POPULATION_FREE:
            sub = d
            for k in path[:-1]:
                sub = sub[k]
            sub.pop(path[-1], None)
        d["train"].pop("weight_decay_rule", None)
        d["train"].pop("lr_rule", None)
        return canonical_hash(d)

    @property
    def seed(self):
        return self.spec["seed"]

    @property
    def coords(self) -> dict:
        """The grid coordinates of this run (flat)."""
        s = self.spec
        return {
            "width": s["model"]["width"],
            "n": s["problem"]["n"],
            "weight_decay": s["train"]["weight_decay"],
            "weight_decay_rule": s["train"]["weight_decay_rule"],
            "seed": s["seed"],
            "init_ratio": s["model"]["init_ratio"],
            "output_scale": s["model"]["output_scale"],
            "optimizer": s["train"]["optimizer"],
            "lr": s["train"]["lr"],
            # a plain lr is its own rule, written exactly (two lrs never share a rate fit)
            "lr_rule": s["train"].get("lr_rule", repr(float(s["train"]["lr"]))),
        }

    def to_json(self) -> str:
        return canonical_json(self.spec)


def _train_spec(train):
    """The [train] values of a run. The constant lr schedule (the default, and the only one before
    schedules existed) is left out, so runs stored before keep their keys and resume."""
    t = dict(train)
    if t.get("lr_schedule", "constant") == "constant":
        t.pop("lr_schedule", None)
        t.pop("lr_final_ratio", None)
    return t


def expand(config: SweepConfig) -> list[RunSpec]:
    """All runs of the sweep (Cartesian product of its grid axes), in a deterministic order.

    Weight-decay and lr size rules are evaluated per run at its (n, width); the rule is kept as a
    label (``weight_decay_rule``, ``lr_rule``) so runs can be grouped by it.
    """
    axes = config.grid_axes()
    names = list(axes)
    runs = []
    for values in itertools.product(*(axes[k] for k in names)):
        c = dict(zip(names, values))
        wd = c["weight_decay"]
        if isinstance(wd, SizeRule):
            wd_value, rule = float(wd(c["n"], c["width"])), wd.label
        else:
            wd_value, rule = float(wd), f"{wd:g}"
        # A plain lr is stored as before (no rule label), so existing runs keep their keys.
        lr = c["lr"]
        lr_part = ({"lr": float(lr(c["n"], c["width"])), "lr_rule": lr.label} if isinstance(lr, SizeRule)
                   else {"lr": lr})
        spec = {
            "problem": {**config.problem, "n": c["n"]},
            "reference": copy.deepcopy(config.reference),
            "model": {**copy.deepcopy(config.model), "width": c["width"], "init_ratio": c["init_ratio"],
                      "output_scale": c["output_scale"]},
            "train": {**_train_spec(config.train), "optimizer": c["optimizer"], **lr_part,
                      "weight_decay": wd_value, "weight_decay_rule": rule},
            "metrics": dict(config.metrics),
            "seed": c["seed"],
        }
        # Only the values that change the result are hashed: the main metric is a reporting choice.
        spec["metrics"].pop("main", None)
        runs.append(RunSpec(spec, sweep=config.name))
    return runs


def group_populations(runs) -> dict[str, list[RunSpec]]:
    """Group runs by :attr:`RunSpec.population_key`, preserving order."""
    groups: dict[str, list[RunSpec]] = {}
    for r in runs:
        groups.setdefault(r.population_key, []).append(r)
    return groups


def config_to_dict(config: SweepConfig) -> dict:
    """Plain-data form of a config (schedules as tables), e.g. for the report."""
    def wd(v):
        return {"c": v.c, "alpha": v.alpha, "beta": v.beta} if isinstance(v, SizeRule) else v

    return {
        "name": config.name,
        "description": config.description,
        "seeds": list(config.seeds),
        "problem": dict(config.problem),
        "reference": dict(config.reference),
        "model": dict(config.model),
        "train": {**config.train, "weight_decay": [wd(v) for v in config.train["weight_decay"]],
                  "lr": [wd(v) for v in config.train["lr"]]},
        "metrics": dict(config.metrics),
        "output": dict(config.output),
    }
