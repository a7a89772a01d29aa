"""Run a sweep: populations of networks trained in parallel, compared with exact references.

:func:`run_sweep` expands a :class:`~minnorm.config.SweepConfig`, skips the runs already
finished in ``OUT/results.sqlite``, groups the rest into populations (runs that differ only in
seed, width, weight decay and lr, trained at once by the training layer) and executes them
through a :class:`concurrent.futures.Executor`:

- default: a local :class:`~concurrent.futures.ProcessPoolExecutor` over all cores;
- ``serial=True``: in this process, one population after the other (for debugging);
- ``scheduler="tcp://host:8786"``: a Dask cluster, via ``distributed.Client(addr).get_executor()``;
- ``scheduler="local-dask"``: a Dask ``LocalCluster`` on this machine (same interface);
- ``scheduler=<Executor>``: any ``concurrent.futures`` executor you made yourself.

Each task builds the problem, solves the reference once per process (cached by problem,
reference and lam), trains the population, converts each network exactly with
:func:`minnorm.convert.to_function` and measures it with :func:`minnorm.metrics.compare`. The
parent writes each finished population to the store in one transaction as it completes, so a
killed sweep loses only the populations in flight. A failing run becomes a ``"failed"`` row
(a diverged one a ``"diverged"`` row) with the error text; the sweep goes on.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import os
import time
import traceback
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .config import RunSpec, SweepConfig, canonical_json, config_to_dict, expand, group_populations, load_config
from .store import STORE_NAME, ResultStore, load_results

__all__ = ["run_sweep", "SweepSummary", "run_population"]

#: Points at which the reference is sampled for plots (stored once per reference).
REFERENCE_GRID = 801


# =========================================================================== worker side
_REFERENCE_CACHE: dict = {}


def _versions():
    import cvxpy
    import torch

    from . import __version__

    return {"minnorm": __version__, "torch": torch.__version__, "numpy": np.__version__, "cvxpy": cvxpy.__version__}


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _make_problem(spec):
    from .problems import make_problem

    p = spec["problem"]
    return make_problem(p["target"], p["design"], p["n"], noise=p["noise"], seed=p["seed"],
                        domain=tuple(p["domain"]), delta=p["delta"], target_params=p["target_params"] or None)


def _lam(spec, problem):
    """The regression constant of the reference: None (interpolation), a number, or mapped.

    ``"mapped"`` is :func:`~minnorm.training.solver_lam` of the run's recipe: the TV2 constant
    when both layers train, the weighted-spline constant of the init law (MATH D.2, with the
    run's effective ``hidden_scale``, which ``init_ratio`` changes) when the first layer is
    frozen; the config has then set the reference to that law's limit.
    """
    lam = spec["reference"]["lam"]
    if lam != "mapped":
        return lam
    from .training import solver_lam

    m, t = spec["model"], spec["train"]
    frozen = not t.get("train_first_layer", True)
    return float(solver_lam(t["weight_decay"], problem.n, m["width"], m["parametrization"],
                            train_first_layer=not frozen,
                            hidden_scale=_model_kwargs(spec)["hidden_scale"] if frozen else 1.0))


def _reference(spec, problem, lam):
    """Solve (or fetch from this process's cache) the reference of a run."""
    from .references import solve_reference

    r = spec["reference"]
    key = canonical_json({"problem": spec["problem"], "name": r["name"], "params": r["params"], "lam": lam})
    if key not in _REFERENCE_CACHE:
        ref = solve_reference(r["name"], problem.x, problem.y, lam=lam, params=r["params"] or None)
        _REFERENCE_CACHE[key] = (ref, _reference_record(ref, problem, r["name"], lam, spec))
    return (__import__("hashlib").sha256(key.encode()).hexdigest(),) + _REFERENCE_CACHE[key]


def _interval(spec, problem):
    iv = spec["metrics"]["interval"]
    return tuple(iv) if iv is not None else tuple(problem.eval_interval)


def _reference_record(ref, problem, name, lam, spec):
    """Plain data stored once per reference: certificate, data, and samples for plots."""
    sol = ref.solution
    a, b = _interval(spec, problem)
    t = np.linspace(a, b, REFERENCE_GRID)
    rec = {
        "name": name,
        "lam": lam,
        "value": _f(getattr(sol, "value", None)),
        "lower_bound": _f(getattr(sol, "lower_bound", None)),
        "gap": _f(getattr(sol, "gap", None)),
        "status": getattr(sol, "status", None),
        "solver": getattr(sol, "solver", None),
        "x": np.asarray(problem.x).tolist(),
        "y": np.asarray(problem.y).tolist(),
        "grid": t.tolist(),
        "f": np.asarray(sol(t), dtype=float).tolist(),
    }
    fn = getattr(sol, "function", None)
    if hasattr(fn, "to_dict"):
        rec["function"] = fn.to_dict()
    env = getattr(ref, "envelope", None)
    if env is not None:
        try:
            lo, hi = _envelope_bounds(env, t)
            rec["envelope"] = {"lo": lo.tolist(), "hi": hi.tolist()}
        except Exception:  # an envelope that cannot be sampled is simply not drawn
            pass
    return rec


def _envelope_bounds(env, t):
    """Samples of a reference's :class:`solvers.Envelope` on ``t``."""
    return np.asarray(env.lower(t), dtype=float), np.asarray(env.upper(t), dtype=float)


def _f(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def run_population(specs, *, single_thread=True):
    """Execute one population of runs (the unit of work of a sweep).

    Parameters
    ----------
    specs : list of dict
        :attr:`RunSpec.spec` of runs sharing a population key.
    single_thread : bool
        Set ``torch.set_num_threads(1)``; parallel workers each use one core, so intra-op
        threads would only oversubscribe the machine.

    Returns
    -------
    dict
        ``{"rows": [row dicts for the store], "references": {key: (name, record)}}``.
    """
    import torch

    if single_thread:
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    versions = _versions()
    keys = [RunSpec(s).key for s in specs]
    population = RunSpec(specs[0]).population_key
    rows = [None] * len(specs)
    references = {}
    try:
        problem = _make_problem(specs[0])
        lams = [_lam(s, problem) for s in specs]
        refs = [_reference(s, problem, lam) for s, lam in zip(specs, lams)]
        for rkey, _, rec in refs:
            references[rkey] = (rec["name"], rec)
        results = _train_population(specs, problem)
    except Exception as exc:  # the whole population failed before any network finished
        wall = (time.perf_counter() - t0) / len(specs)
        err = _error_text(exc)
        return {"rows": [_row(s, k, population, "failed", err, versions, wall) for s, k in zip(specs, keys)],
                "references": references}
    train_wall = time.perf_counter() - t0
    from .metrics import compare

    for i, (spec, key, lam, (rkey, ref, rec), res) in enumerate(zip(specs, keys, lams, refs, results)):
        t1 = time.perf_counter()
        status, err, metrics, fn_dict = res["status"], res.get("error"), dict(res.get("train_metrics", {})), None
        if status == "ok":
            try:
                f_net = res["function"]
                metrics.update(compare(f_net, ref, problem, lam=lam, interval=_interval(spec, problem)))
                fn_dict = f_net.to_dict()
            except Exception as exc:
                status, err = "failed", _error_text(exc)
        wall = train_wall / len(specs) + (time.perf_counter() - t1)
        metrics["lam"] = float("nan") if lam is None else float(lam)
        metrics["population_size"] = len(specs)
        rows[i] = _row(spec, key, population, status, err, versions, wall, metrics=metrics, function=fn_dict,
                       reference_key=rkey, certificate=rec)
    return {"rows": rows, "references": references}


def _error_text(exc):
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n" + "".join(tb[-6:])


def _row(spec, key, population, status, error, versions, wall, *, metrics=None, function=None,
         reference_key=None, certificate=None):
    cert = certificate or {}
    return {
        "key": key,
        "sweep": None,  # filled in by the parent (the name is not part of the spec)
        "population": population,
        "config": spec,
        "coords": RunSpec(spec).coords,
        "metrics": metrics or {},
        "function": function,
        "reference_key": reference_key,
        "status": status,
        "error": error,
        "solver_status": cert.get("status"),
        "solver_value": cert.get("value"),
        "solver_lower_bound": cert.get("lower_bound"),
        "solver_gap": cert.get("gap"),
        "solver": cert.get("solver"),
        "versions": {**versions, "solver": cert.get("solver")},
        "seed": spec["seed"],
        "wall_time": wall,
        "timestamp": _now(),
    }


def _model_kwargs(spec):
    """Keyword arguments of :class:`~minnorm.network.ShallowReLU` for one run."""
    m = spec["model"]
    kw = {"skip": m["skip"], "output_bias": m["output_bias"], "parametrization": m["parametrization"],
          "init": m["init"], "init_params": m["init_params"] or None, "output_init": m["output_init"],
          "hidden_scale": m["hidden_scale"], "antisymmetric": m["antisymmetric"], "seed": spec["seed"]}
    if m["output_scale"] is not None:
        kw["output_scale"] = m["output_scale"]
    if m["init_ratio"] is not None:
        # rho multiplies |a|/||(w,b)|| while a*w, the scale of f at init, stays as in the default init.
        rho = m["init_ratio"]
        default = 1.0 / math.sqrt(m["width"]) if m["parametrization"] == "standard" else 1.0
        kw["output_scale"] = default * math.sqrt(rho)
        kw["hidden_scale"] = m["hidden_scale"] / math.sqrt(rho)
    return kw


def _train_population(specs, problem):
    """Train the networks of a population at once; one result dict per spec.

    Each result has ``status`` (``"ok"`` or ``"diverged"``), ``function`` (the exact
    :class:`~solvers.PiecewiseLinear` of the trained net), ``error`` and ``train_metrics``.
    """
    from .convert import to_function
    from .network import ShallowReLU
    from .training import train_population

    models = [ShallowReLU(s["model"]["width"], **_model_kwargs(s)) for s in specs]
    t = specs[0]["train"]  # shared by the population (only lr and weight decay vary)
    results = train_population(
        models, problem.x, problem.y, steps=t["steps"], lr=[s["train"]["lr"] for s in specs],
        weight_decay=[s["train"]["weight_decay"] for s in specs], penalize_bias=t["penalize_bias"],
        penalize_affine=t["penalize_affine"], optimizer=t["optimizer"], batch_size=t["batch_size"],
        noise_temperature=t["noise_temperature"], train_first_layer=t["train_first_layer"],
        seed=[s["seed"] for s in specs], tol=t["tol"], lr_schedule=t.get("lr_schedule", "constant"),
        lr_final_ratio=t.get("lr_final_ratio"))
    out = []
    for res in results:
        h = res.history
        tm = {"final_loss": float(h["loss"][-1]), "final_objective": float(h["objective"][-1]),
              "final_grad_norm": float(h["grad_norm"][-1]), "steps_done": int(res.steps_done),
              "stop_reason": res.stop_reason}
        if "balance_drift" in h:
            tm["balance_drift"] = float(h["balance_drift"][-1])
        if res.diverged is not None:
            out.append({"status": "diverged", "error": str(res.diverged), "train_metrics": tm})
            continue
        fn = to_function(res.model)
        out.append({"status": "ok", "function": fn, "train_metrics": tm})
    return out


# =========================================================================== parent side
@dataclass
class SweepSummary:
    """What a sweep did.

    Attributes
    ----------
    name : str
    out_dir : Path
    store : Path
    n_runs : int
        Runs in the sweep.
    n_skipped : int
        Runs already finished in the store (resume).
    counts : dict
        ``{"ok": .., "failed": .., "diverged": ..}`` of the runs executed now.
    wall_time : float
        Seconds.
    main_metric : str
    rates : pandas.DataFrame or None
        Fitted rates of ``main_metric`` vs width (with bootstrap CIs), if width varies.
    errors : list of str
        The first few error texts.
    """

    name: str
    out_dir: Path
    store: Path
    n_runs: int
    n_skipped: int
    counts: dict
    wall_time: float
    main_metric: str
    rates: object = None
    errors: list = field(default_factory=list)

    def __str__(self):
        c = self.counts
        lines = [
            f"sweep {self.name!r}: {self.n_runs} runs, {self.n_skipped} already finished, "
            f"{c.get('ok', 0)} ok, {c.get('diverged', 0)} diverged, {c.get('failed', 0)} failed "
            f"in {self.wall_time:.1f} s",
            f"store: {self.store}",
        ]
        if self.rates is not None and len(self.rates):
            lines.append(f"rate of {self.main_metric} vs width ({self.main_metric} ~ C * width^slope, "
                         f"95% bootstrap CI over seeds):")
            lines.append(format_rates(self.rates))
        for e in self.errors[:3]:
            lines.append("error: " + e.strip().splitlines()[0])
        return "\n".join(lines)


def format_rates(rates):
    """One line per fitted group: ``slope [95% CI] C=.. (points)``, slope = -exponent."""
    out = []
    skip = {"x", "y", "exponent", "ci_low", "ci_high", "C", "n_points", "n_dropped", "n_groups", "r2"}
    for _, r in rates.iterrows():
        label = ", ".join(f"{k}={r[k]}" for k in rates.columns if k not in skip) or "all runs"
        ci = (f" [{-r['ci_high']:+.3f}, {-r['ci_low']:+.3f}]" if np.isfinite(r["ci_low"]) else "")
        out.append(f"  {label}: slope {-r['exponent']:+.3f}{ci}  C={r['C']:.3g}  ({int(r['n_points'])} points)")
    return "\n".join(out)


def rate_groups(df, x="width"):
    """Columns that split a sweep's results into separate rate fits (the other varying axes)."""
    cand = ["n", "weight_decay_rule", "init_ratio", "output_scale", "optimizer", "lr"]
    if x == "n":
        cand = ["width" if c == "n" else c for c in cand]
    return [c for c in cand if c != x and c in df.columns and df[c].nunique(dropna=True) > 1]


def compute_rates(df, metric, x="width"):
    """Fitted rates of ``metric`` vs ``x`` for the ``ok`` runs, or None if ``x`` does not vary."""
    from .rates import fit_rates

    ok = df[(df["status"] == "ok")] if "status" in df else df
    if metric not in ok.columns or x not in ok.columns or ok[x].nunique() < 2:
        return None
    vals = ok[metric].astype(float)
    ok = ok[np.isfinite(vals) & (vals > 0)]  # exact zeros and NaN (not applicable) carry no rate
    if ok[x].nunique() < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fit_rates(ok, x=x, y=metric, by=rate_groups(ok, x))


def _worker_init():
    import torch

    torch.set_num_threads(1)


def _make_executor(workers, scheduler, serial):
    """(executor or None for serial, cleanup callable) for the requested backend."""
    if serial:
        return None, (lambda: None)
    if isinstance(scheduler, cf.Executor):
        return scheduler, (lambda: None)
    if scheduler is None:
        import multiprocessing as mp
        import sys

        # fork on Linux: workers inherit the imported modules (torch + cvxpy take seconds to
        # import, which would eat the speed-up of short sweeps). A forked child must not enter a
        # multi-threaded OpenMP region the parent's pool threads could have left locked, so each
        # worker runs torch single-threaded (_worker_init) -- which it should anyway, one core each.
        method = "fork" if sys.platform == "linux" else "spawn"
        ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method),
                                    initializer=_worker_init)
        return ex, (lambda: ex.shutdown(wait=True, cancel_futures=True))
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("scheduler=... needs dask.distributed: pip install 'minnorm[dask]'") from exc
    if hasattr(scheduler, "get_executor"):  # a distributed.Client made by the caller
        return scheduler.get_executor(pure=False), (lambda: None)
    if scheduler == "local-dask":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

        def cleanup():
            client.close()
            cluster.close()

        return client.get_executor(pure=False), cleanup
    if not isinstance(scheduler, str):
        raise ValueError(f"scheduler must be None, 'local-dask', an address or an Executor; got {scheduler!r}")
    client = Client(scheduler)
    return client.get_executor(pure=False), client.close


def _tasks(pending, parallel, workers):
    """Populations of the pending runs, split so that every worker gets work, largest first.

    A population costs about the same per step whatever its size (the step is overhead-bound
    for small nets), so it is split into at most ``workers`` chunks, no more.
    """
    groups = list(group_populations(pending).values())
    if parallel:
        target = workers
        total = sum(len(g) for g in groups)
        if len(groups) < target and total > len(groups):
            size = max(1, math.ceil(total / target))
            # Chunks of similar widths pad less inside the population trainer.
            groups = [sorted(g, key=lambda r: r.spec["model"]["width"]) for g in groups]
            groups = [g[i:i + size] for g in groups for i in range(0, len(g), size)]

    def cost(g):
        return sum(r.spec["model"]["width"] * r.spec["train"]["steps"] for r in g)

    # Longest first: the last task to start should be a short one (better balance).
    return sorted(groups, key=cost, reverse=True)


def run_sweep(config, out_dir=None, *, workers=None, scheduler=None, serial=False, progress=True,
              report=None) -> SweepSummary:
    """Run (or resume) a sweep and write its results store.

    Parameters
    ----------
    config : SweepConfig or str or Path
        A validated config or the path of a TOML file.
    out_dir : str or Path, optional
        Output directory (default: ``config.output.dir`` or ``runs/<name>``). The store is
        ``out_dir/results.sqlite``.
    workers : int, optional
        Parallel workers (default: all cores, ``os.cpu_count()``).
    scheduler : None, "local-dask", str or concurrent.futures.Executor
        Where to run: a local process pool (None), a local Dask cluster, a Dask scheduler
        address (``"tcp://host:8786"``), or an executor you manage.
    serial : bool
        Run in this process, one population after the other.
    progress : bool
        Show a tqdm progress bar (runs).
    report : bool, optional
        Also write figures and ``report.md`` (default: ``config.output.report``).

    Returns
    -------
    SweepSummary
    """
    t0 = time.perf_counter()
    if not isinstance(config, SweepConfig):
        config = load_config(config)
    out = Path(out_dir) if out_dir is not None else config.output_dir()
    out.mkdir(parents=True, exist_ok=True)
    workers = int(workers or os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    runs = expand(config)
    counts = {"ok": 0, "failed": 0, "diverged": 0}
    errors = []
    with ResultStore(out / STORE_NAME) as store:
        store.record_sweep(config.name, config_to_dict(config), _now())
        done = store.finished_keys()
        pending = [r for r in runs if r.key not in done]
        n_skipped = len(runs) - len(pending)
        if pending:
            executor, cleanup = _make_executor(workers, scheduler, serial)
            tasks = _tasks(pending, executor is not None, workers)
            bar = _progress(len(pending), config.name, progress)
            try:
                for group, result in _completed(executor, tasks):
                    for row in result["rows"]:
                        row["sweep"] = config.name
                        counts[row["status"]] += 1
                        if row["error"] and len(errors) < 10:
                            errors.append(row["error"])
                    store.write_rows(result["rows"], result["references"])
                    bar.update(len(group))
            finally:
                bar.close()
                cleanup()
    wall = time.perf_counter() - t0
    rates = None
    try:
        df = load_results(out / STORE_NAME)
        df = df[df["sweep"] == config.name] if len(df) else df
        rates = compute_rates(df, config.metrics["main"])
    except Exception as exc:  # a summary without rates is still a summary
        errors.append(f"rates not fitted: {exc}")
    summary = SweepSummary(config.name, out, out / STORE_NAME, len(runs), n_skipped, counts, wall,
                           config.metrics["main"], rates, errors)
    if config.output["report"] if report is None else report:
        from .report import write_figures, write_report

        write_figures(out)
        write_report(out)
    return summary


def _completed(executor, tasks):
    """Yield ``(group, result)`` as populations finish (serial: one after the other, in order).

    A task that crashed as a whole (e.g. a worker process died) yields ``"failed"`` rows.
    """
    def failed(group, exc):
        err = _error_text(exc)
        return {"rows": [_row(r.spec, r.key, r.population_key, "failed", err, {}, None) for r in group],
                "references": {}}

    if executor is None:
        for g in tasks:
            try:
                yield g, run_population([r.spec for r in g], single_thread=False)
            except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
                yield g, failed(g, exc)
        return
    futures = {executor.submit(run_population, [r.spec for r in g], single_thread=True): g for g in tasks}
    for fut in cf.as_completed(futures):
        try:
            yield futures[fut], fut.result()
        except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
            yield futures[fut], failed(futures[fut], exc)


def _progress(total, name, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"sweep {name}", unit="run", disable=not enabled, dynamic_ncols=True)
