"""Sweeps end to end: resume after SIGKILL, Dask equals local, and a known-answer sweep."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from minnorm.comparison.sweeps.config import expand, parse_config
from minnorm.comparison.sweeps.store import finished_keys, load_results
from minnorm.comparison.sweeps.run import run_sweep

from _fixtures import TINY, config_toml, with_changes



def test_serial_sweep_rows_and_resume(tmp_path):
    cfg = parse_config(TINY)
    s1 = run_sweep(cfg, tmp_path, serial=True, progress=False)
    assert s1.counts == {"ok": 4, "failed": 0, "diverged": 0} and s1.n_skipped == 0
    df = load_results(tmp_path)
    assert len(df) == 4 and set(df["status"]) == {"ok"}
    assert set(df["key"]) == {r.key for r in expand(cfg)}
    # Every row carries its certificate, versions and the net's exact function.
    row = df.iloc[0]
    assert row["solver_status"] == "optimal" and abs(row["solver_gap"]) < 1e-8
    assert row["version.torch"] and row["version.cvxpy"]
    fn = json.loads(row["function"])
    assert {"knots", "jumps", "slope_left", "intercept"} <= set(fn)
    assert row["lam"] == pytest.approx(6 * 1e-3)  # mapped: lam = n * weight_decay
    for m in ("linf", "l2", "envelope_violation", "rel_objective_gap"):
        assert np.isfinite(df[m]).all(), m
    s2 = run_sweep(cfg, tmp_path, serial=True, progress=False)
    assert s2.n_skipped == 4 and sum(s2.counts.values()) == 0


def test_failures_become_rows_and_the_sweep_goes_on(tmp_path, monkeypatch):
    d = json.loads(json.dumps(TINY))
    d["problem"]["n"] = [6, 7]
    cfg = parse_config(d)  # a bad reference name is now a config error; make the solve itself fail

    def nonsense(*args, **kwargs):
        raise RuntimeError("nonsense reference solver")

    monkeypatch.setattr("minnorm.comparison.references.solve_reference", nonsense)
    monkeypatch.setattr("minnorm.comparison.sweeps.run._REFERENCE_CACHE", {})  # earlier tests solved these references
    s = run_sweep(cfg, tmp_path, serial=True, progress=False)
    assert s.counts["failed"] == 8
    df = load_results(tmp_path)
    assert (df["status"] == "failed").all()
    assert df["error"].str.contains("nonsense").all()
    assert finished_keys(tmp_path) == set()  # failed runs are retried on resume


def test_diverged_runs_are_recorded(tmp_path):
    d = json.loads(json.dumps(TINY))
    d["train"] = {"optimizer": "gd", "steps": 200, "lr": [0.01, 1e4], "weight_decay": 1e-3}
    d["model"]["width"] = 8
    d["seeds"] = 1
    run_sweep(parse_config(d), tmp_path, serial=True, progress=False)
    df = load_results(tmp_path).set_index("lr")
    assert df.loc[0.01, "status"] == "ok"
    assert df.loc[1e4, "status"] == "diverged" and "diverged at step" in df.loc[1e4, "error"]


def test_scheduled_sweep_trains_with_the_schedule(tmp_path):
    # The [train] schedule reaches the trainer: a sweep row equals training the network directly.
    import minnorm as mn
    from minnorm.comparison.problems import make_problem

    d = json.loads(json.dumps(TINY))
    d["train"].update({"lr_schedule": "cosine", "lr_final_ratio": 0.0})
    d["model"]["width"], d["seeds"] = 8, 1
    run_sweep(parse_config(d), tmp_path, serial=True, progress=False)
    row = load_results(tmp_path).iloc[0]
    p = make_problem("sin", "uniform", 6)
    net = mn.ShallowReLU(8, skip=True, seed=0)
    res = mn.train(net, p.x, p.y, steps=200, lr=0.01, optimizer="adam", weight_decay=1e-3,
                   lr_schedule="cosine", lr_final_ratio=0.0)
    assert row["final_objective"] == pytest.approx(res.final_objective, rel=1e-12)
    const = mn.ShallowReLU(8, skip=True, seed=0)
    other = mn.train(const, p.x, p.y, steps=200, lr=0.01, optimizer="adam", weight_decay=1e-3)
    assert abs(other.final_objective - res.final_objective) > 1e-6


KILL_CFG = config_toml(with_changes(TINY, {"name": "killme", "seeds": 1, "problem.design": None,
                                           "problem.n": [5, 6, 7, 8, 9, 10], "train.steps": 2500}))


def _rows(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT key, metrics, function, timestamp FROM runs").fetchall()
    finally:
        con.close()


def test_resume_after_sigkill(tmp_path):
    cfg_path = tmp_path / "kill.toml"
    cfg_path.write_text(KILL_CFG)
    out = tmp_path / "out"
    store = out / "results.sqlite"
    code = textwrap.dedent(f"""
        from minnorm.comparison.sweeps.run import run_sweep
        run_sweep({str(cfg_path)!r}, {str(out)!r}, serial=True, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-W", "ignore", "-c", code])
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if store.exists() and len(finished_keys(store)) >= 2:
                break
            assert proc.poll() is None, "sweep ended before it could be killed"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {k: (m, f, t) for k, m, f, t in _rows(store)}
    assert 2 <= len(before) < 12, len(before)  # killed mid-way (runs are committed one by one)

    summary = run_sweep(cfg_path, out, serial=True, progress=False)
    assert summary.n_skipped == len(before)
    after = _rows(store)
    assert len(after) == 12 and len({k for k, *_ in after}) == 12  # all runs, no duplicates
    got = {k: (m, f, t) for k, m, f, t in after}
    for k, v in before.items():
        assert got[k] == v  # finished rows are intact, bit for bit
    df = load_results(store)
    assert (df["status"] == "ok").all()


def test_parallel_and_dask_equal_serial(tmp_path):
    distributed = pytest.importorskip("distributed")
    d = json.loads(json.dumps(TINY))
    d["problem"]["n"] = [6, 7]
    cfg = parse_config(d)
    run_sweep(cfg, tmp_path / "serial", serial=True, progress=False)
    ref = load_results(tmp_path / "serial").set_index("key").sort_index()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        s = run_sweep(cfg, tmp_path / "dask", scheduler=cluster.scheduler_address, workers=1, progress=False)
    assert s.counts["ok"] == 8
    got = load_results(tmp_path / "dask").set_index("key").sort_index()
    assert list(got.index) == list(ref.index)
    for m in ("linf", "l2", "envelope_violation", "final_loss", "rel_objective_gap"):
        np.testing.assert_allclose(got[m].to_numpy(float), ref[m].to_numpy(float), rtol=1e-12, atol=1e-14)
    assert (got["function"] == ref["function"]).all()


def test_known_answer_random_features_converge_to_kernel_limit(tmp_path):
    """Frozen uniform first layer, no skip/output bias, full-batch GD on the output weights with
    weight decay -> ridge, whose infinite-width limit is kernel ridge regression with the
    random-feature kernel (MATH D.2), the reference "krr:no-skip" at the same lam.

    The function-space lam is fixed across widths by the schedule weight_decay = 2 lam m / n
    (ridge constant n wd / 2 = m lam, D.2's scaling), so what is left is the finite-width
    (Monte-Carlo) error, ~ m^-1/2. The ridge problem is strictly convex and GD converges to it
    (grad norm checked), so the error must shrink with width."""
    lam = 0.1
    d = {
        "name": "rf",
        "seeds": 3,
        "problem": {"target": "sin", "n": 6},
        "reference": {"name": "krr:no-skip", "lam": lam},
        "model": {"width": [32, 128, 512], "skip": False, "output_bias": False},
        "train": {"optimizer": "gd", "steps": 3000, "lr": 0.003, "train_first_layer": False,
                  "weight_decay": {"c": 2 * lam, "alpha": -1, "beta": 1}},
        "output": {"report": False},
    }
    s = run_sweep(parse_config(d), tmp_path, workers=2, progress=False)
    assert s.counts["ok"] == 9
    df = load_results(tmp_path)
    assert (df["final_grad_norm"] < 1e-3).all()  # the ridge problem is solved, not early-stopped
    mean = df.groupby("width")["linf"].mean()
    assert mean.is_monotonic_decreasing and mean.iloc[-1] < 0.5 * mean.iloc[0], mean.to_dict()
    rate = s.rates.iloc[0]
    assert rate["exponent"] > 0.2, rate.to_dict()  # error ~ width^-exponent
