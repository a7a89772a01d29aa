"""Faults a sweep must survive (issue 9): signals, a killed parent, dead workers, two sweeps into one
store, exit statuses, unusable stores, hostile metric names, an unreachable scheduler.

Sweeps run as real subprocesses where the fault is a signal to the parent; the expected facts are
operating-system facts (exit status 128 + signal, which processes exist, per psutil) and counts of
rows in the SQLite file, read with the sqlite3 module directly.
"""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from minnorm.cli import main
from minnorm.comparison.sweeps.config import expand, parse_config
from minnorm.comparison.sweeps.executors import SchedulerError
from minnorm.comparison.sweeps.run import MAX_RETRIES, SweepSummary, run_sweep
from minnorm.comparison.sweeps.store import STORE_NAME, Owner, ResultStore, StoreError, finished_keys, load_results

from _fixtures import TINY, config_toml, with_changes

ROOT = Path(__file__).parents[1]

# Six populations (one per n) of one run each: with one worker they run one after the other, so a
# fault can land between two commits.
CFG = with_changes(TINY, {"name": "faults", "seeds": 1, "problem.n": [6, 7, 8, 9, 10, 11], "model.width": 8,
                          "train.steps": 300})


def _cfg(steps=300, **over):
    d = json.loads(json.dumps(CFG))
    d["train"]["steps"] = steps
    d.update(over)
    return parse_config(d)


def _reap(proc):
    """Kill and wait for ``proc`` if it still runs, so that a failed test leaves no sweep behind."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _start(tmp_path, steps=300, workers=1, new_session=False):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(config_toml(with_changes(CFG, {"train.steps": steps})))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-W", "ignore", "-m", "minnorm.cli", "sweep", str(cfg), "--out", str(tmp_path / "out"),
           "--workers", str(workers), "--no-progress", "--no-report"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=new_session)


def _wait(pred, proc=None, timeout=120.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"sweep ended before {what}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pids):
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _children(pid):
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _store_rows(store):
    con = sqlite3.connect(store)
    try:
        rows = con.execute("SELECT key, status FROM runs").fetchall()
        claims = con.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    finally:
        con.close()
    return rows, claims


def _claims_so_far(store):
    """Claims in a store that another process may be creating right now (no tables yet: 0)."""
    if not store.exists():
        return 0
    try:
        return _store_rows(store)[1]
    except sqlite3.OperationalError:  # the file exists before its schema is committed
        return 0


# ------------------------------------------------------------------------------ signals
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_workers_keeps_runs_and_exits_128_plus_signal(tmp_path, sig):
    store = tmp_path / "out" / STORE_NAME
    proc = _start(tmp_path, new_session=True)
    try:
        _wait(lambda: store.exists() and len(finished_keys(store)) >= 1 and _children(proc.pid), proc,
              what="a first committed run")
        workers = _children(proc.pid)
        kept = finished_keys(store)
        # SIGINT as a terminal's Ctrl-C sends it: to the whole process group, workers included.
        (os.killpg if sig == signal.SIGINT else os.kill)(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
    finally:
        _reap(proc)
    assert proc.returncode == 128 + sig, err
    assert f"interrupted by {signal.Signals(sig).name}" in err
    _wait(lambda: not _alive(workers), timeout=5, what="the workers to end")
    rows, claims = _store_rows(store)
    assert kept <= {k for k, s in rows if s == "ok"} and len(rows) < 6  # committed runs kept, rest not run
    assert claims == 0  # released on the way out


def test_killed_parent_leaves_no_worker_and_a_rerun_resumes(tmp_path):
    store = tmp_path / "out" / STORE_NAME
    proc = _start(tmp_path, workers=2)
    try:
        _wait(lambda: store.exists() and len(finished_keys(store)) >= 1 and len(_children(proc.pid)) >= 2, proc,
              what="a first committed run")
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        _reap(proc)
    assert proc.returncode == -signal.SIGKILL
    _wait(lambda: not _alive(workers), timeout=5, what="the orphaned workers to end")
    before, claims = _store_rows(store)
    assert 1 <= len(before) < 6 and claims >= 1  # the dead sweep's claims are still there ...
    s = run_sweep(_cfg(), tmp_path / "out", workers=2, progress=False)
    assert s.n_skipped == len(before) and s.counts["ok"] == 6 - len(before)  # ... and taken over at once
    after, claims = _store_rows(store)
    assert len(after) == len({k for k, _ in after}) == 6 and claims == 0
    assert s.exit_code == 0


# ------------------------------------------------------------------------------ dead workers
def _kill_workers(times, stop, killed):
    """SIGKILL this process's children (the sweep's workers), each fresh one in turn, ``times`` times."""
    seen = set()
    me = psutil.Process()
    while not stop.is_set() and len(killed) < times:
        fresh = [c for c in me.children() if c.pid not in seen]
        if fresh:
            child = fresh[0]
            seen.add(child.pid)
            try:
                # A forked worker waiting for a task uses no CPU: once it does, it is running its task.
                deadline = time.time() + 60
                while sum(child.cpu_times()[:2]) < 0.1 and time.time() < deadline and not stop.is_set():
                    time.sleep(0.01)
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
        time.sleep(0.02)


#: Training steps of a task the worker-kill tests kill mid-run (full-batch Adam, width 8).
KILL_STEPS = 1_000_000


def _run_with_killer(times, run):
    stop, killed = threading.Event(), []
    t = threading.Thread(target=_kill_workers, args=(times, stop, killed), daemon=True)
    t.start()
    try:
        return run(), killed
    finally:
        stop.set()
        t.join()


def test_a_killed_worker_is_retried_in_a_fresh_one(tmp_path):
    # Long enough (about a second on the compiled CPU path) for the killer to catch the task running.
    cfg = _cfg(steps=KILL_STEPS, problem={"target": "sin", "design": "uniform", "n": 6})
    s, killed = _run_with_killer(1, lambda: run_sweep(cfg, tmp_path, workers=1, progress=False))
    assert len(killed) == 1
    assert s.counts == {"ok": 1, "failed": 0, "diverged": 0} and s.n_retried == 1 and s.exit_code == 0


def test_a_worker_killed_every_time_fails_its_runs_only_and_the_cli_exits_3(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(config_toml(with_changes(CFG, {"train.steps": KILL_STEPS, "problem.n": [6, 7]})))
    argv = ["sweep", str(cfg), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress", "--no-report"]
    code, killed = _run_with_killer(MAX_RETRIES + 1, lambda: main(argv))
    assert len(killed) == MAX_RETRIES + 1
    out, err = capsys.readouterr()
    assert code == 3, (out, err)
    assert "1 ok, 0 diverged, 1 failed" in out and f"{MAX_RETRIES} tasks retried" in out
    assert "1 runs failed" in err
    df = load_results(tmp_path / "out").set_index("status")
    assert "SIGKILL" in df.loc["failed", "error"] and f"{MAX_RETRIES + 1} times" in df.loc["failed", "error"]


# ------------------------------------------------------------------------------ two sweeps, one store
def test_two_sweeps_into_one_store_train_each_run_once(tmp_path):
    proc = _start(tmp_path, workers=1)
    store = tmp_path / "out" / STORE_NAME
    try:
        # This process is the second sweep; it starts once the first has claimed its first runs.
        _wait(lambda: _claims_so_far(store) >= 1, proc, what="the first sweep's claims")
        mine = run_sweep(_cfg(), tmp_path / "out", workers=1, progress=False)
        out, err = proc.communicate(timeout=120)
    finally:
        _reap(proc)
    assert proc.returncode == 0, err
    first = out.splitlines()[0]  # "sweep 'faults': 6 runs, S already finished, K ok, ..."
    theirs = int(first.split(" already finished, ")[1].split(" ok")[0])
    assert mine.counts["ok"] + theirs == 6, (mine, out)
    rows, claims = _store_rows(tmp_path / "out" / STORE_NAME)
    assert len(rows) == len({k for k, _ in rows}) == 6 and claims == 0


def test_claims_of_a_dead_owner_are_taken_over_live_ones_are_not(tmp_path):
    keys = [r.key for r in expand(_cfg())]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with ResultStore(tmp_path) as store:
        ghost, other = Owner(), Owner()
        ghost.pid = dead.pid  # a process that has ended
        ghost.name = f"{ghost.host}:{dead.pid}:dead"
        other.name += "-other"  # alive (this process), another owner
        assert store.claim(keys[:2], ghost) == (keys[:2], [])
        assert store.claim(keys[2:4], other) == (keys[2:4], [])
        me = Owner()
        assert store.claim(keys[:4], me) == (keys[:2], keys[2:4])
        store.release(me)
        assert store.claimed_elsewhere(keys, me) == set(keys[2:4])


# ------------------------------------------------------------------------------ exit status
def test_exit_code_policy():
    base = dict(name="x", out_dir=Path("."), store=Path("s"), n_runs=3, n_skipped=0, wall_time=0.0,
                main_metric="linf")
    assert SweepSummary(counts={"ok": 1, "failed": 0, "diverged": 2}, **base).exit_code == 0
    assert SweepSummary(counts={"ok": 2, "failed": 1, "diverged": 0}, **base).exit_code == 3
    assert SweepSummary(counts={"ok": 0, "failed": 1, "diverged": 0}, interrupted="SIGTERM", **base).exit_code == 143
    assert SweepSummary(counts={"ok": 0, "failed": 0, "diverged": 0}, interrupted="SIGINT", **base).exit_code == 130


def test_diverged_runs_are_results_exit_0_and_counted(tmp_path):
    d = json.loads(json.dumps(CFG))
    d["problem"]["n"] = 6
    d["train"] = {"optimizer": "gd", "steps": 100, "lr": [0.01, 1e4], "weight_decay": 1e-3}
    s = run_sweep(parse_config(d), tmp_path, serial=True, progress=False)
    assert s.counts == {"ok": 1, "failed": 0, "diverged": 1} and s.exit_code == 0
    assert "1 ok, 1 diverged, 0 failed" in str(s)


# ------------------------------------------------------------------------------ stores
def _digest(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def test_store_that_is_a_directory_is_an_error(tmp_path, capsys):
    (tmp_path / "out" / STORE_NAME).mkdir(parents=True)
    with pytest.raises(StoreError, match=r"results\.sqlite: the results store is a directory"):
        run_sweep(_cfg(), tmp_path / "out", serial=True, progress=False)
    assert not (tmp_path / "out" / STORE_NAME / STORE_NAME).exists()
    cfg = tmp_path / "c.toml"
    cfg.write_text(config_toml(with_changes(CFG, {"train.steps": 10})))
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "out"), "--serial", "--no-progress"]) == 2
    assert "is a directory" in capsys.readouterr().err


def _valid_store(path, n_rows=40):
    """A store written by ResultStore, with rows big enough to span many pages."""
    runs = expand(parse_config({**CFG, "seeds": n_rows // 6 + 1}))[:n_rows]
    rows = [{"key": r.key, "sweep": "s", "population": r.population_key, "config": r.spec, "coords": r.coords,
             "metrics": {"linf": 1.0}, "function": {"pad": "x" * 4000}, "reference_key": None, "status": "ok",
             "error": None, "seed": r.spec["seed"], "timestamp": "2024"} for r in runs]
    with ResultStore(path) as store:
        store.write_rows(rows)
    return path


def _truncated(path):
    _valid_store(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _foreign(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id INTEGER, name TEXT)")
    con.commit()
    con.close()
    return path


def _text(path):
    path.write_text("key,status\nabc,ok\n" * 200)
    return path


@pytest.mark.parametrize("make, message", [
    (_text, "not a readable SQLite results store"),
    (_foreign, "not a minnorm results store"),
    (_truncated, "damaged results store"),
])
def test_corrupt_store_is_named_and_never_altered(tmp_path, capsys, make, message):
    out = tmp_path / "out"
    out.mkdir()
    store = make(out / STORE_NAME)
    before = _digest(store)
    with pytest.raises(StoreError, match=message) as exc:
        load_results(out)
    assert str(store) in str(exc.value)
    for cmd in ("plot", "report"):
        assert main([cmd, str(out)]) == 2
        err = capsys.readouterr().err
        assert str(store) in err and "Traceback" not in err
    with pytest.raises(StoreError, match=message):
        run_sweep(_cfg(), out, serial=True, progress=False)
    assert _digest(store) == before
    assert not (out / "report.md").exists() and not (out / "figures").exists()


def test_metric_names_cannot_write_outside_the_sweep_dir(tmp_path):
    from minnorm.comparison.sweeps.report import write_figures, write_report

    out = tmp_path / "a" / "b" / "sweep"
    runs = expand(parse_config({**CFG, "model": {"width": [8, 16, 32], "skip": True}, "problem": {"n": 6}}))
    rows = [{"key": r.key, "sweep": "faults", "population": r.population_key, "config": r.spec,
             "coords": r.coords, "metrics": {"../../evil": 1.0 / r.spec["model"]["width"]},
             "function": None, "reference_key": None, "status": "ok", "error": None, "seed": r.spec["seed"],
             "timestamp": f"2024-{i}"} for i, r in enumerate(runs)]
    with ResultStore(out) as store:
        store.write_rows(rows)
        store.record_sweep("faults", {"metrics": {"main": "../../evil"}}, "2024")
    written = write_figures(out)
    assert written, "the hostile metric still gets its figure"
    write_report(out, figures=False)
    figdir = (out / "figures").resolve()
    for p in tmp_path.rglob("*"):
        if p.is_file() and p.suffix in (".png", ".pdf"):
            assert p.resolve().parent == figdir, p
    assert not any("evil" in p.name for p in tmp_path.rglob("*") if p.resolve().parent != figdir and p.is_file())


# ------------------------------------------------------------------------------ scheduler
def test_unreachable_scheduler_is_reported_at_once(tmp_path, capsys):
    pytest.importorskip("distributed")
    t0 = time.perf_counter()
    with pytest.raises(SchedulerError, match=r"127\.0\.0\.1:1"):
        run_sweep(_cfg(), tmp_path, scheduler="tcp://127.0.0.1:1", progress=False)
    assert time.perf_counter() - t0 < 10  # distributed alone waits 30 s
    rows, claims = _store_rows(tmp_path / STORE_NAME)
    assert rows == [] and claims == 0
    cfg = tmp_path / "c.toml"
    cfg.write_text(config_toml(with_changes(CFG, {"train.steps": 10})))
    assert main(["sweep", str(cfg), "--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:1", "--no-progress"]) == 2
    assert "cannot connect to 127.0.0.1:1" in capsys.readouterr().err
