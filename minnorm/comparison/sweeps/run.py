"""Run a sweep: populations of networks trained in parallel, compared with exact references.

:func:`run_sweep` expands a :class:`~minnorm.comparison.sweeps.config.SweepConfig`, skips the runs already
finished in ``OUT/results.sqlite``, groups the rest into populations (runs that differ only in
seed, width, weight decay and lr, trained at once by the training layer) and executes them
through a backend of :mod:`minnorm.comparison.sweeps.executors`:

- default: local worker processes, one per core;
- ``serial=True``: in this process, one population after the other (for debugging);
- ``scheduler="tcp://host:8786"``: a Dask cluster, via ``distributed.Client(addr).get_executor()``;
- ``scheduler="local-dask"``: a Dask ``LocalCluster`` on this machine (same interface);
- ``scheduler=<Executor>``: any ``concurrent.futures`` executor you made yourself.

Each task (:func:`run_population`) builds the problem, solves the reference once per process
(cached by problem, reference and lam), trains the population, converts each network exactly with
:func:`minnorm.training.convert.to_function` and measures it with :func:`minnorm.comparison.metrics.compare`.
When the sweep ends, :mod:`minnorm.comparison.sweeps.report` writes its figures and report.

Faults (issue 9):

- **Commits.** Locally (pool or serial) each run is sent to the parent and committed as soon as
  it is measured; through Dask or your own executor, as soon as its population returns. The
  networks of a population train together, so a kill loses the populations still training.
- **Claims.** The parent claims a population's runs in the store just before starting it (see
  :mod:`minnorm.comparison.sweeps.store`): two sweeps into one store share the work, each run is trained once, and
  each summary counts only what its sweep did.
- **Signals.** SIGINT, SIGTERM and SIGHUP stop the workers at once, keep what is committed and
  raise :class:`SweepInterrupted` (``exit_code`` 128 + signal). Local workers die with their
  parent (``PR_SET_PDEATHSIG`` on Linux, and a watchdog thread polling ``os.getppid()``), so even
  a ``kill -9`` of the parent leaves no orphan.
- **Dead workers.** A local worker that dies (killed, out of memory) costs only its own task: its
  unfinished runs are retried in a fresh worker up to :data:`MAX_RETRIES` times, then recorded
  ``"failed"`` with the reason. (A Dask cluster retries on its own.)
- A failing run becomes a ``"failed"`` row (a diverged one a ``"diverged"`` row) with the error
  text; the sweep goes on and :attr:`SweepSummary.exit_code` is non-zero.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from minnorm.comparison.problems import problem_for_run
from minnorm.comparison.rates import compute_rates, format_rates
from minnorm.comparison.sweeps.config import (RunSpec, SweepConfig, canonical_hash, config_to_dict, expand,
                                              group_populations, load_config)
from minnorm.comparison.sweeps.executors import error_text, make_backend
from minnorm.comparison.sweeps.store import STORE_NAME, Owner, ResultStore, StoreError, heartbeat, load_results

__all__ = ["run_sweep", "SweepSummary", "SweepInterrupted", "run_population", "MAX_RETRIES", "EXIT_RUNS_FAILED"]

#: Times the unfinished runs of a task whose worker died are retried in a fresh worker.
MAX_RETRIES = 2
#: Exit status of a sweep that finished but recorded failed runs (interrupted: 128 + signal number).
EXIT_RUNS_FAILED = 3
#: Points at which the reference is sampled for plots (stored once per reference).
REFERENCE_GRID = 801
#: What a run imports (torch included): loaded once before a local pool forks its workers.
_WORKER_MODULES = ("minnorm.comparison.metrics", "minnorm.comparison.references", "minnorm.training.convert",
                   "minnorm.training.loop")


# =========================================================================== worker side
_REFERENCE_CACHE: dict = {}


def _versions():
    import cvxpy
    import torch

    from minnorm._version import __version__

    return {"minnorm": __version__, "torch": torch.__version__, "numpy": np.__version__, "cvxpy": cvxpy.__version__}


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _lam(spec, problem):
    """The regression constant of the reference: None (interpolation), a number, or mapped.

    ``"mapped"`` is :func:`~minnorm.training.limits.solver_lam` of the run's recipe: the TV2 constant
    when both layers train, the weighted-spline constant of the init law (MATH D.2, with the
    run's effective ``hidden_scale``, which ``init_ratio`` changes) when the first layer is
    frozen; the config has then set the reference to that law's limit.
    """
    lam = spec["reference"]["lam"]
    if lam != "mapped":
        return lam
    from minnorm.training.limits import solver_lam

    m, t = spec["model"], spec["train"]
    frozen = not t.get("train_first_layer", True)
    return float(solver_lam(t["weight_decay"], problem.n, m["width"], m["parametrization"],
                            train_first_layer=not frozen,
                            hidden_scale=_model_kwargs(spec)["hidden_scale"] if frozen else 1.0))


def _reference(spec, problem, lam):
    """Solve (or fetch from this process's cache) the reference of a run."""
    from minnorm.comparison.references import solve_reference

    r = spec["reference"]
    key = canonical_hash({"problem": spec["problem"], "name": r["name"], "params": r["params"], "lam": lam})
    if key not in _REFERENCE_CACHE:
        ref = solve_reference(r["name"], problem.x, problem.y, lam=lam, params=r["params"] or None)
        _REFERENCE_CACHE[key] = (ref, _reference_record(ref, problem, r["name"], lam, spec))
    return (key,) + _REFERENCE_CACHE[key]


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
            rec["envelope"] = {"lo": np.asarray(env.lower(t), dtype=float).tolist(),
                               "hi": np.asarray(env.upper(t), dtype=float).tolist()}
        except Exception:  # an envelope that cannot be sampled is simply not drawn
            pass
    return rec


def _f(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def run_population(specs, *, single_thread=True, on_row=None):
    """Execute one population of runs (the unit of work of a sweep).

    Parameters
    ----------
    specs : list of dict
        :attr:`RunSpec.spec` of runs sharing a population key.
    single_thread : bool
        Set ``torch.set_num_threads(1)``; parallel workers each use one core, so intra-op
        threads would only oversubscribe the machine.
    on_row : callable, optional
        ``on_row(row, references)`` is called with each row as soon as it is measured (and the
        references it uses), so the caller can commit it before the next run is measured.

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
        problem = problem_for_run(specs[0])
        lams = [_lam(s, problem) for s in specs]
        refs = [_reference(s, problem, lam) for s, lam in zip(specs, lams)]
        for rkey, _, rec in refs:
            references[rkey] = (rec["name"], rec)
        results = _train_population(specs, problem)
    except Exception as exc:  # the whole population failed before any network finished
        wall = (time.perf_counter() - t0) / len(specs)
        err = error_text(exc)
        rows = [_row(s, k, population, "failed", err, versions, wall) for s, k in zip(specs, keys)]
        for row in rows if on_row is not None else ():
            on_row(row, references)
        return {"rows": rows, "references": references}
    train_wall = time.perf_counter() - t0
    from minnorm.comparison.metrics import compare

    for i, (spec, key, lam, (rkey, ref, rec), res) in enumerate(zip(specs, keys, lams, refs, results)):
        t1 = time.perf_counter()
        status, err, metrics, fn_dict = res["status"], res.get("error"), dict(res.get("train_metrics", {})), None
        if status == "ok":
            try:
                f_net = res["function"]
                metrics.update(compare(f_net, ref, problem, lam=lam, interval=_interval(spec, problem)))
                fn_dict = f_net.to_dict()
            except Exception as exc:
                status, err = "failed", error_text(exc)
        wall = train_wall / len(specs) + (time.perf_counter() - t1)
        metrics["lam"] = float("nan") if lam is None else float(lam)
        metrics["population_size"] = len(specs)
        rows[i] = _row(spec, key, population, status, err, versions, wall, metrics=metrics, function=fn_dict,
                       reference_key=rkey, certificate=rec)
        if on_row is not None:
            on_row(rows[i], {rkey: references[rkey]})
    return {"rows": rows, "references": references}


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
    """Keyword arguments of :class:`~minnorm.training.network.ShallowReLU` for one run."""
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
    from minnorm.training.convert import to_function
    from minnorm.training.loop import train_population
    from minnorm.training.network import ShallowReLU

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
        ``{"ok": .., "failed": .., "diverged": ..}`` of the runs executed now, by this sweep.
    wall_time : float
        Seconds.
    main_metric : str
    rates : pandas.DataFrame or None
        Fitted rates of ``main_metric`` vs width (with bootstrap CIs), if width varies.
    errors : list of str
        The first few error texts.
    n_elsewhere : int
        Runs left to another sweep into the same store (claimed by it, or finished by it meanwhile).
    n_retried : int
        Tasks re-run because their worker process died.
    interrupted : str or None
        The signal that stopped the sweep (``"SIGINT"``, ``"SIGTERM"``, ...), or None.
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
    n_elsewhere: int = 0
    n_retried: int = 0
    interrupted: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when every run of this sweep is ok or diverged (diverged runs are results);
        128 + signal number when interrupted (130 SIGINT, 143 SIGTERM); :data:`EXIT_RUNS_FAILED`
        when runs failed."""
        if self.interrupted is not None:
            return 128 + int(getattr(signal, self.interrupted, 0))
        return EXIT_RUNS_FAILED if self.counts.get("failed", 0) else 0

    def __str__(self):
        c = self.counts
        lines = [
            f"sweep {self.name!r}: {self.n_runs} runs, {self.n_skipped} already finished, "
            f"{c.get('ok', 0)} ok, {c.get('diverged', 0)} diverged, {c.get('failed', 0)} failed "
            f"in {self.wall_time:.1f} s",
            f"store: {self.store}",
        ]
        if self.n_elsewhere:
            lines.append(f"{self.n_elsewhere} runs left to another sweep writing into the same store")
        if self.n_retried:
            lines.append(f"{self.n_retried} tasks retried after their worker process died")
        if self.interrupted is not None:
            todo = self.n_runs - self.n_skipped - sum(c.values()) - self.n_elsewhere
            lines.append(f"interrupted by {self.interrupted}: {todo} runs not finished (finished runs are in the "
                         f"store; re-run to resume)")
        if self.rates is not None and len(self.rates):
            lines.append(f"rate of {self.main_metric} vs width ({self.main_metric} ~ C * width^slope, "
                         f"95% bootstrap CI over seeds):")
            lines.append(format_rates(self.rates))
        for e in self.errors[:3]:
            lines.append("error: " + e.strip().splitlines()[0])
        return "\n".join(lines)


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by a signal. ``summary`` says what it did; ``exit_code`` is 128 + signal.

    A :class:`KeyboardInterrupt` (not an ``Exception``), so ``except Exception`` does not swallow it.
    """

    def __init__(self, summary):
        super().__init__(f"sweep {summary.name!r} interrupted by {summary.interrupted}")
        self.summary = summary

    @property
    def exit_code(self):
        return self.summary.exit_code


class _Signalled(BaseException):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _signals_raise():
    """In the main thread, turn SIGINT/SIGTERM/SIGHUP into :class:`_Signalled` (ignored ones stay ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        # A second signal during the clean-up gets the old action (default: end the process).
        for sig, old in previous.items():
            signal.signal(sig, old)
        raise _Signalled(signum)

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        old = signal.getsignal(sig)
        if old is signal.SIG_IGN:  # e.g. nohup, or a background job's SIGINT
            continue
        previous[sig] = signal.SIG_DFL if old is None else old
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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
        Parallel workers (default: all cores, ``os.cpu_count()``); with an executor or a Dask
        scheduler, the number of tasks kept in flight.
    scheduler : None, "local-dask", str or concurrent.futures.Executor
        Where to run: a local process pool (None), a local Dask cluster, a Dask scheduler
        address (``"tcp://host:8786"``; unreachable:
        :class:`~minnorm.comparison.sweeps.executors.SchedulerError` within
        :data:`~minnorm.comparison.sweeps.executors.SCHEDULER_TIMEOUT` s), or an executor you manage.
    serial : bool
        Run in this process, one population after the other.
    progress : bool
        Show a tqdm progress bar (runs).
    report : bool, optional
        Also write figures and ``report.md`` (default: ``config.output.report``).

    Returns
    -------
    SweepSummary
        Its ``exit_code`` is non-zero when runs failed.

    Raises
    ------
    SweepInterrupted
        On SIGINT, SIGTERM or SIGHUP (in the main thread), after stopping the workers; its
        ``summary`` says what was done and committed.
    StoreError
        ``out_dir/results.sqlite`` is a directory, not SQLite, not a minnorm store, or damaged.
    """
    t0 = time.perf_counter()
    if not isinstance(config, SweepConfig):
        config = load_config(config)
    out = Path(out_dir) if out_dir is not None else config.output_dir()
    if out.exists() and not out.is_dir():
        raise StoreError(f"{out}: the output directory is a file")
    out.mkdir(parents=True, exist_ok=True)
    workers = int(workers or os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    runs = expand(config)
    counts = {"ok": 0, "failed": 0, "diverged": 0}
    errors, elsewhere = [], set()
    n_retried, n_skipped, interrupted = 0, 0, None
    owner = Owner()
    store_path = out / STORE_NAME
    try:
        with ResultStore(store_path) as store, _signals_raise():
            stop = threading.Event()
            beat = None
            try:
                store.record_sweep(config.name, config_to_dict(config), _now())
                done = store.finished_keys()
                pending = [r for r in runs if r.key not in done]
                n_skipped = len(runs) - len(pending)
                if pending:
                    beat = threading.Thread(target=heartbeat, args=(store.path, owner, stop), daemon=True,
                                            name="minnorm-claims-heartbeat")
                    beat.start()
                    n_retried = _execute(store, owner, config.name, pending, workers, scheduler, serial, progress,
                                         counts, errors, elsewhere)
            finally:
                stop.set()
                if beat is not None:
                    beat.join(10)
                store.release(owner)
    except _Signalled as sig:  # also when it lands in the clean-up: the claims then simply go stale
        interrupted = signal.Signals(sig.signum).name
    except KeyboardInterrupt:  # not in the main thread, or a handler of the caller's
        interrupted = "SIGINT"
    wall = time.perf_counter() - t0
    rates = None
    if interrupted is None:
        try:
            df = load_results(store_path)
            df = df[df["sweep"] == config.name] if len(df) else df
            rates = compute_rates(df, config.metrics["main"])
        except Exception as exc:  # a summary without rates is still a summary
            errors.append(f"rates not fitted: {exc}")
    summary = SweepSummary(config.name, out, store_path, len(runs), n_skipped, counts, wall, config.metrics["main"],
                           rates, errors, n_elsewhere=len(elsewhere), n_retried=n_retried, interrupted=interrupted)
    if interrupted is not None:
        raise SweepInterrupted(summary)
    if config.output["report"] if report is None else report:
        from minnorm.comparison.sweeps.report import write_figures, write_report

        write_figures(out)
        write_report(out)
    return summary


def _execute(store, owner, name, pending, workers, scheduler, serial, progress, counts, errors, elsewhere):
    """Claim, run, retry and commit the pending runs; return how many tasks were retried."""
    inflight = {}  # task id -> {"runs": {key: RunSpec}, "attempt": int}
    queue = deque((g, 1) for g in _tasks(pending, not serial, workers))
    bar = _progress(len(pending), name, progress)
    retried = 0

    written_refs = set()  # every row carries its reference; serialise and store each one once

    def record(rows, references=None):
        for row in rows:
            row["sweep"] = name
        new_refs = {k: v for k, v in (references or {}).items() if k not in written_refs}
        store.write_rows(rows, new_refs)
        written_refs.update(new_refs)
        for row in rows:
            counts[row["status"]] += 1
            if row["error"] and len(errors) < 10:
                errors.append(row["error"])
        bar.update(len(rows))

    def fail(runs, reason):
        record([_row(r.spec, r.key, r.population_key, "failed", reason, {}, None) for r in runs])

    def handle(event):
        nonlocal retried
        kind, task_id = event[0], event[1]
        task = inflight.get(task_id)
        if task is None:  # pragma: no cover - a late message of an abandoned task
            return
        if kind == "row":
            row, references = event[2], event[3]
            if task["runs"].pop(row["key"], None) is not None:
                record([row], references)
            return
        left = list(task["runs"].values())
        del inflight[task_id]
        if kind == "done":
            if left:  # pragma: no cover - run_population returns a row per spec
                fail(left, "the worker finished without a result for this run")
        elif kind == "error":
            fail(left, event[2])
        elif kind == "died":
            if not left:
                return
            if task["attempt"] <= MAX_RETRIES:
                retried += 1
                queue.appendleft((left, task["attempt"] + 1))
            else:
                fail(left, f"{event[2]} running this population, {task['attempt']} times (each retry in a "
                           f"fresh worker)")

    backend = None
    try:
        backend = make_backend(workers, scheduler, serial, handle, run_population, preload=_WORKER_MODULES)
        next_id = 0
        while queue or inflight:
            while queue and backend.free() > 0:
                group, attempt = queue.popleft()
                claimed, taken = store.claim([r.key for r in group], owner)
                elsewhere.update(taken)
                mine = set(claimed)
                group = [r for r in group if r.key in mine]
                if not group:
                    continue
                next_id += 1
                inflight[next_id] = {"runs": {r.key: r for r in group}, "attempt": attempt}
                backend.submit(next_id, [r.spec for r in group])
            if inflight:
                backend.poll(1.0)
    finally:
        bar.close()
        if backend is not None:
            backend.close()
    return retried


def _progress(total, name, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"sweep {name}", unit="run", disable=not enabled, dynamic_ncols=True)
