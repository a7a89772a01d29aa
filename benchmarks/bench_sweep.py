"""Sweep benchmark: parallel speed-up and per-run overhead of metrics + store.

    python benchmarks/bench_sweep.py [--workers 2] [--steps 3000]

1. A 64-run sweep (4 populations: n in {6, 7, 8, 9}; widths 16..128; 4 seeds) run serially in
   this process and with a local process pool of ``--workers`` workers; target speed-up >= 1.8x
   with 2 workers. Both timings include everything a user waits for (pool start-up included),
   except figures and the report.
2. Per-run overhead: in the serial sweep, the time spent in ``minnorm.comparison.metrics.compare`` and in
   the store's writes, as a percentage of the per-run time; target <= 5 %.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

# Run from a checkout without installing: the repository root holds minnorm/ and solvers/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONFIG = {
    "name": "bench",
    "seeds": 4,
    "problem": {"target": "sin", "design": "uniform", "n": [6, 7, 8, 9]},
    "reference": {"name": "tv2:skip", "lam": "mapped"},
    "model": {"width": [16, 32, 64, 128], "skip": True},
    "train": {"optimizer": "adam", "steps": 1500, "lr": 0.005, "weight_decay": 1e-3},
    "output": {"report": False},
}


class Timer:
    """Accumulates the wall time of calls to a wrapped function."""

    def __init__(self, fn):
        self.fn, self.total, self.calls = fn, 0.0, 0

    def __call__(self, *a, **k):
        t = time.perf_counter()
        try:
            return self.fn(*a, **k)
        finally:
            self.total += time.perf_counter() - t
            self.calls += 1


def _spin(n):
    acc = 0
    for i in range(n):
        acc += i * i % 7
    return acc


def machine_parallel_ceiling(workers, n=3_000_000):
    """Speed-up of ``workers`` processes over one on identical pure-Python CPU work.

    Shared or throttled virtual cores often scale far below ``workers``; the sweep's speed-up
    can only be judged against this control, measured in the same run.
    """
    import concurrent.futures as cf
    import multiprocessing as mp

    t = time.perf_counter()
    for _ in range(workers):
        _spin(n)
    one = time.perf_counter() - t
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
        list(ex.map(_spin, [10] * workers))  # start the workers before timing
        t = time.perf_counter()
        list(ex.map(_spin, [n] * workers))
        many = time.perf_counter() - t
    return one / many


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=3000)
    args = p.parse_args(argv)

    import warnings

    import torch

    import minnorm.comparison.metrics
    import minnorm.comparison.sweeps.store
    import minnorm.training.loop
    from minnorm.comparison.sweeps.config import parse_config
    from minnorm.comparison.sweeps.run import run_sweep

    warnings.filterwarnings("ignore")
    cfg_dict = dict(CONFIG, train=dict(CONFIG["train"], steps=args.steps))
    cfg = parse_config(cfg_dict)
    assert cfg.n_runs() == 64

    # Serial: as a user gets it with --serial (one process), but single-threaded torch like each
    # worker, so the comparison measures the parallelism of the sweep, not torch's intra-op threads.
    torch.set_num_threads(1)
    compare = Timer(minnorm.comparison.metrics.compare)
    write = Timer(minnorm.comparison.sweeps.store.ResultStore.write_rows)
    train = Timer(minnorm.training.loop.train_population)
    minnorm.comparison.metrics.compare = compare
    minnorm.comparison.sweeps.store.ResultStore.write_rows = lambda self, *a, **k: write(self, *a, **k)
    minnorm.training.loop.train_population = train
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        s_serial = run_sweep(cfg, os.path.join(tmp, "serial"), serial=True, progress=False)
        serial = time.perf_counter() - t
    minnorm.comparison.metrics.compare = compare.fn
    minnorm.training.loop.train_population = train.fn
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        s_par = run_sweep(cfg, os.path.join(tmp, "par"), workers=args.workers, progress=False)
        parallel = time.perf_counter() - t
    assert s_serial.counts["ok"] == s_par.counts["ok"] == 64, (s_serial.counts, s_par.counts)

    ceiling = machine_parallel_ceiling(args.workers)
    per_run = serial / 64
    overhead = (compare.total + write.total) / 64
    rows = [
        ("runs", "64 (4 populations x 16)", ""),
        ("serial sweep", f"{serial:.2f} s", ""),
        (f"{args.workers} workers (process pool)", f"{parallel:.2f} s", ""),
        ("speed-up", f"{serial / parallel:.2f}x", "target >= 1.8x with 2 workers"),
        ("machine ceiling (pure-CPU control)", f"{ceiling:.2f}x",
         f"same work in 1 vs {args.workers} processes: what this machine's cores give at best"),
        ("time per run (serial)", f"{per_run * 1e3:.1f} ms", ""),
        ("  training (population trainer)", f"{train.total / 64 * 1e3:.1f} ms/run", ""),
        ("  metrics (compare)", f"{compare.total / compare.calls * 1e3:.2f} ms/run", ""),
        ("  store writes", f"{write.total / 64 * 1e3:.3f} ms/run", f"{write.calls} transactions"),
        ("overhead (metrics + store)", f"{100 * overhead / per_run:.1f} %", "target <= 5 %"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"sweep benchmark on {os.cpu_count()} cores, torch {torch.__version__}, steps={args.steps}")
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:>{w1}}  {c}")


if __name__ == "__main__":
    main()
