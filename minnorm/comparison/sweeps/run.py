"""Run a sweep: populations of networks trained in parallel, compared with exact references.

:func:`run_sweep` expands a :class:`~minnorm.comparison.sweeps.config.SweepConfig`, skips the runs already
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
:func:`minnorm.training.convert.to_function` and measures it with :func:`minnorm.comparison.metrics.compare`.

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

import concurrent.futures as cf
import math
import os
import signal
import socket
import sys
import threading
import time
import traceback
import warnings
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from solvers.errors import InputError

from minnorm.comparison.sweeps.config import RunSpec, SweepConfig, canonical_json, config_to_dict, expand, group_populations, load_config
from minnorm.comparison.sweeps.store import STORE_NAME, Owner, ResultStore, StoreError, heartbeat, load_results

__all__ = ["run_sweep", "SweepSummary", "SweepInterrupted", "SchedulerError", "run_population", "MAX_RETRIES",
           "EXIT_RUNS_FAILED"]

#: Times the unfinished runs of a task whose worker died are retried in a fresh worker.
MAX_RETRIES = 2
#: Exit status of a sweep that finished but recorded failed runs (interrupted: 128 + signal number).
EXIT_RUNS_FAILED = 3
#: Seconds to wait for a Dask scheduler to answer.
SCHEDULER_TIMEOUT = 10.0

#: Points at which the reference is sampled for plots (stored once per reference).
REFERENCE_GRID = 801


# =========================================================================== worker side
_REFERENCE_CACHE: dict = {}


def _versions():
    import cvxpy
    import torch

    from minnorm import __version__

    return {"minnorm": __version__, "torch": torch.__version__, "numpy": np.__version__, "cvxpy": cvxpy.__version__}


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _make_problem(spec):
    from minnorm.comparison.problems import make_problem

    p = spec["problem"]
    return make_problem(p["target"], p["design"], p["n"], noise=p["noise"], seed=p["seed"],
                        domain=tuple(p["domain"]), delta=p["delta"], target_params=p["target_params"] or None)


def _lam(spec, problem):
    """The regression constant of the reference: None (interpolation), a number, or mapped.

    ``"mapped"`` is :func:`~minnorm.training.loop.solver_lam` of the run's recipe: the TV2 constant
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
        problem = _make_problem(specs[0])
        lams = [_lam(s, problem) for s in specs]
        refs = [_reference(s, problem, lam) for s, lam in zip(specs, lams)]
        for rkey, _, rec in refs:
            references[rkey] = (rec["name"], rec)
        results = _train_population(specs, problem)
    except Exception as exc:  # the whole population failed before any network finished
        wall = (time.perf_counter() - t0) / len(specs)
        err = _error_text(exc)
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
                status, err = "failed", _error_text(exc)
        wall = train_wall / len(specs) + (time.perf_counter() - t1)
        metrics["lam"] = float("nan") if lam is None else float(lam)
        metrics["population_size"] = len(specs)
        rows[i] = _row(spec, key, population, status, err, versions, wall, metrics=metrics, function=fn_dict,
                       reference_key=rkey, certificate=rec)
        if on_row is not None:
            on_row(rows[i], {rkey: references[rkey]})
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
    from minnorm.training.network import ShallowReLU
    from minnorm.training.loop import train_population

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


class SchedulerError(InputError, ConnectionError):
    """The Dask scheduler given by ``scheduler=`` cannot be reached."""


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
    from minnorm.comparison.rates import fit_rates

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


def _die_with_parent(parent_pid):
    """Make this worker end when the sweep's parent process ends, however it ends."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - the watchdog below still works
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch():  # portable fallback (macOS has no PDEATHSIG)
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="minnorm-parent-watchdog", daemon=True).start()


def _worker_main(conn, parent_pid):
    """Loop of a local worker process: receive ``(task_id, specs)``, send each row, then ``done``."""
    _die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group: the parent decides, and stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):  # a forked child inherits the parent's Python handlers
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    _worker_init()
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        task_id, specs = msg
        try:
            run_population(specs, single_thread=True,
                           on_row=lambda row, refs, t=task_id: conn.send(("row", t, row, refs)))
            conn.send(("done", task_id))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which records it
            conn.send(("error", task_id, _error_text(exc)))


def _exit_reason(code):
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed: out of memory?)" if -code == signal.SIGKILL else ""
        return f"worker process died from {name}{hint}"
    return f"worker process exited with status {code}"


class _Worker:
    def __init__(self, proc, conn):
        self.proc, self.conn, self.task = proc, conn, None


class _LocalPool:
    """Local worker processes, one task each at a time.

    Unlike :class:`concurrent.futures.ProcessPoolExecutor`, whose pool breaks as a whole when one
    worker dies, the pool knows which task each worker runs: a dead worker costs its own task only
    and is replaced, and each row comes back as soon as it is measured.
    """

    def __init__(self, n, handle):
        import multiprocessing as mp

        # fork on Linux: workers inherit the imported modules. A forked child must not enter a
        # multi-threaded OpenMP region the parent's threads could have left locked, so each
        # worker runs torch single-threaded (_worker_init) -- which it should anyway, one core each.
        self._ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        if self._ctx.get_start_method() == "fork":
            # Imported once here, so that each fork (and each replacement of a dead worker) starts at once.
            import minnorm.comparison.metrics, minnorm.comparison.references  # noqa: F401
            import minnorm.training.convert, minnorm.training.loop  # noqa: F401
        self._handle = handle
        self._workers = [self._spawn() for _ in range(n)]

    def _spawn(self):
        parent_conn, child_conn = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child_conn, os.getpid()), daemon=True,
                                 name="minnorm-worker")
        proc.start()
        child_conn.close()  # so that the parent reads EOF when the worker dies
        return _Worker(proc, parent_conn)

    def free(self):
        return sum(w.task is None for w in self._workers)

    def submit(self, task_id, specs):
        for i, w in enumerate(self._workers):
            if w.task is not None:
                continue
            if not w.proc.is_alive():  # died while idle: replace it, charge nobody
                w = self._workers[i] = self._spawn()
            w.conn.send((task_id, specs))
            w.task = task_id
            return
        raise RuntimeError("no idle worker")  # pragma: no cover - the caller checks free()

    def poll(self, timeout):
        from multiprocessing.connection import wait

        ready = set(wait([w.conn for w in self._workers] + [w.proc.sentinel for w in self._workers], timeout))
        for i, w in enumerate(self._workers):
            dead = w.proc.sentinel in ready
            if w.conn in ready:
                try:
                    while w.conn.poll():  # rows sent before a death are still good
                        msg = w.conn.recv()
                        if msg[0] in ("done", "error"):
                            w.task = None
                        self._handle(msg)
                except (EOFError, OSError):
                    dead = True
            if dead or not w.proc.is_alive():
                w.proc.join(5)
                task, code = w.task, w.proc.exitcode
                w.conn.close()
                self._workers[i] = self._spawn()
                if task is not None:
                    self._handle(("died", task, _exit_reason(code)))

    def close(self):
        """Stop every worker now (running tasks are abandoned; what they committed stays)."""
        for w in self._workers:
            if w.proc.is_alive():
                w.proc.terminate()
        deadline = time.monotonic() + 3.0
        for w in self._workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(1.0)
            w.conn.close()


class _SerialBackend:
    """Runs each task in this process when submitted (rows are handled as they are measured)."""

    def __init__(self, handle):
        self._handle = handle

    def free(self):
        return 1

    def submit(self, task_id, specs):
        try:
            run_population(specs, single_thread=False,
                           on_row=lambda row, refs: self._handle(("row", task_id, row, refs)))
            self._handle(("done", task_id))
        except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
            self._handle(("error", task_id, _error_text(exc)))

    def poll(self, timeout):
        pass

    def close(self):
        pass


class _ExecutorBackend:
    """Any :class:`concurrent.futures.Executor` (Dask's included): whole populations come back."""

    def __init__(self, executor, slots, handle, cleanup):
        self._ex, self._slots, self._handle, self._cleanup = executor, slots, handle, cleanup
        self._futures = {}

    def free(self):
        return self._slots - len(self._futures)

    def submit(self, task_id, specs):
        self._futures[self._ex.submit(run_population, specs, single_thread=True)] = task_id

    def poll(self, timeout):
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            task_id = self._futures.pop(fut)
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a Dask KilledWorker after its own retries
                self._handle(("error", task_id, _error_text(exc)))
                continue
            for row in result["rows"]:
                self._handle(("row", task_id, row, result["references"]))
            self._handle(("done", task_id))

    def close(self):
        for fut in self._futures:
            fut.cancel()
        self._cleanup()


def _scheduler_address(address):
    """``(host, port)`` of a ``tcp://host:port`` or ``host:port`` address, else None."""
    rest = address[len("tcp://"):] if address.startswith("tcp://") else address
    if "://" in rest:
        return None
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def _dask_client(address, timeout=SCHEDULER_TIMEOUT):
    """A ``distributed.Client`` on ``address``, or a :class:`SchedulerError` within ``timeout`` s."""
    from distributed import Client

    hp = _scheduler_address(address)
    if hp is not None:
        # A refused or unroutable port is known at once; distributed would retry it for 30 s.
        try:
            socket.create_connection(hp, timeout=min(3.0, timeout)).close()
        except OSError as exc:
            raise SchedulerError(f"scheduler {address!r}: cannot connect to {hp[0]}:{hp[1]} ({exc}); "
                                 f"is a Dask scheduler running there?") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"scheduler {address!r}: no Dask scheduler answered within {timeout:g} s "
                             f"({exc})") from None


def _make_backend(workers, scheduler, serial, handle):
    """The backend that executes tasks: serial, a local pool, or a concurrent.futures executor."""
    if serial:
        return _SerialBackend(handle)
    if scheduler is None:
        return _LocalPool(workers, handle)
    if isinstance(scheduler, cf.Executor):
        return _ExecutorBackend(scheduler, workers, handle, lambda: None)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("scheduler=... needs dask.distributed: pip install 'minnorm[dask]'") from exc
    if hasattr(scheduler, "get_executor"):  # a distributed.Client made by the caller
        return _ExecutorBackend(scheduler.get_executor(pure=False), workers, handle, lambda: None)
    if scheduler == "local-dask":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

        def cleanup():
            client.close()
            cluster.close()

        return _ExecutorBackend(client.get_executor(pure=False), workers, handle, cleanup)
    if not isinstance(scheduler, str):
        raise ValueError(f"scheduler must be None, 'local-dask', an address or an Executor; got {scheduler!r}")
    client = _dask_client(scheduler)
    return _ExecutorBackend(client.get_executor(pure=False), workers, handle, client.close)


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
        address (``"tcp://host:8786"``; unreachable: :class:`SchedulerError` within
        :data:`SCHEDULER_TIMEOUT` s), or an executor you manage.
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
        backend = _make_backend(workers, scheduler, serial, handle)
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
