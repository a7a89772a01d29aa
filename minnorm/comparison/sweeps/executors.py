"""Where a sweep's tasks run: a local pool of forked workers, this process, or an executor.

A task is one population of runs (a list of run specs) given to ``work`` (the sweep's
:func:`~minnorm.comparison.sweeps.run.run_population`). :func:`make_backend` returns an object
with ``free()`` (tasks it can take now), ``submit(task_id, specs)``, ``poll(timeout)`` and
``close()``; it reports to the parent's ``handle(event)`` with the events

- ``("row", task_id, row, references)``: one run measured (locally: as soon as it is);
- ``("done", task_id)``: the task returned;
- ``("error", task_id, text)``: the task raised;
- ``("died", task_id, reason)``: its local worker process died (the parent decides on a retry).

Backends:

- :class:`_LocalPool`: worker processes (fork on Linux), one task each at a time. Each worker
  dies with the parent (``PR_SET_PDEATHSIG`` on Linux, and a watchdog thread polling
  ``os.getppid()``), ignores SIGINT (the parent stops it), and a dead one is replaced.
- :class:`_SerialBackend`: runs each task in this process when it is submitted (debugging).
- :class:`_ExecutorBackend`: any :class:`concurrent.futures.Executor`, Dask's included
  (``distributed.Client(addr).get_executor()``, or a ``LocalCluster`` for ``"local-dask"``);
  whole populations come back.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import os
import signal
import socket
import sys
import threading
import time
import traceback

from solvers.errors import InputError

__all__ = ["make_backend", "error_text", "SchedulerError", "SCHEDULER_TIMEOUT"]

#: Seconds to wait for a Dask scheduler to answer.
SCHEDULER_TIMEOUT = 10.0


class SchedulerError(InputError, ConnectionError):
    """The Dask scheduler given by ``scheduler=`` cannot be reached."""


def error_text(exc):
    """An exception as stored with a failed run: type, message and the last frames of its traceback."""
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n" + "".join(tb[-6:])


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


def _worker_main(conn, parent_pid, work):
    """Loop of a local worker process: receive ``(task_id, specs)``, send each row, then ``done``."""
    _die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group: the parent decides, and stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):  # a forked child inherits the parent's Python handlers
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        task_id, specs = msg
        try:
            work(specs, single_thread=True, on_row=lambda row, refs, t=task_id: conn.send(("row", t, row, refs)))
            conn.send(("done", task_id))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which records it
            conn.send(("error", task_id, error_text(exc)))


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

    def __init__(self, n, handle, work, preload):
        import multiprocessing as mp

        # fork on Linux: workers inherit the imported modules. A forked child must not enter a
        # multi-threaded OpenMP region the parent's threads could have left locked, so each
        # task runs torch single-threaded (work(..., single_thread=True)) -- as it should anyway,
        # one core each.
        self._ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        if self._ctx.get_start_method() == "fork":
            # Imported once here, so that each fork (and each replacement of a dead worker) starts at once.
            for module in preload:
                importlib.import_module(module)
        self._handle, self._work = handle, work
        self._workers = [self._spawn() for _ in range(n)]

    def _spawn(self):
        parent_conn, child_conn = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child_conn, os.getpid(), self._work), daemon=True,
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

    def __init__(self, handle, work):
        self._handle, self._work = handle, work

    def free(self):
        return 1

    def submit(self, task_id, specs):
        try:
            self._work(specs, single_thread=False, on_row=lambda row, refs: self._handle(("row", task_id, row, refs)))
            self._handle(("done", task_id))
        except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
            self._handle(("error", task_id, error_text(exc)))

    def poll(self, timeout):
        pass

    def close(self):
        pass


class _ExecutorBackend:
    """Any :class:`concurrent.futures.Executor` (Dask's included): whole populations come back."""

    def __init__(self, executor, slots, handle, work, cleanup):
        self._ex, self._slots, self._handle, self._work, self._cleanup = executor, slots, handle, work, cleanup
        self._futures = {}

    def free(self):
        return self._slots - len(self._futures)

    def submit(self, task_id, specs):
        self._futures[self._ex.submit(self._work, specs, single_thread=True)] = task_id

    def poll(self, timeout):
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            task_id = self._futures.pop(fut)
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a Dask KilledWorker after its own retries
                self._handle(("error", task_id, error_text(exc)))
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


def make_backend(workers, scheduler, serial, handle, work, preload=()):
    """The backend that executes tasks: serial, a local pool, or a concurrent.futures executor.

    Parameters
    ----------
    workers : int
        Local worker processes, or the tasks kept in flight on an executor.
    scheduler : None, "local-dask", str, distributed.Client or concurrent.futures.Executor
        See :func:`minnorm.comparison.sweeps.run.run_sweep`.
    serial : bool
        Run each task in this process when it is submitted.
    handle : callable
        Receives the events of the module docstring.
    work : callable
        ``work(specs, *, single_thread, on_row=None) -> {"rows": [...], "references": {...}}``, a
        module-level function (it is pickled by reference for other processes).
    preload : sequence of str
        Modules a forked local pool imports once in the parent, so that each worker starts at once.
    """
    if serial:
        return _SerialBackend(handle, work)
    if scheduler is None:
        return _LocalPool(workers, handle, work, preload)
    if isinstance(scheduler, cf.Executor):
        return _ExecutorBackend(scheduler, workers, handle, work, lambda: None)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("scheduler=... needs dask.distributed: pip install 'minnorm[dask]'") from exc
    if hasattr(scheduler, "get_executor"):  # a distributed.Client made by the caller
        return _ExecutorBackend(scheduler.get_executor(pure=False), workers, handle, work, lambda: None)
    if scheduler == "local-dask":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

        def cleanup():
            client.close()
            cluster.close()

        return _ExecutorBackend(client.get_executor(pure=False), workers, handle, work, cleanup)
    if not isinstance(scheduler, str):
        raise ValueError(f"scheduler must be None, 'local-dask', an address or an Executor; got {scheduler!r}")
    client = _dask_client(scheduler)
    return _ExecutorBackend(client.get_executor(pure=False), workers, handle, work, client.close)
