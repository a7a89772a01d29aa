"""Population trainer vs a Python loop over K separate modules (issue 3 speed target).

Task: K = 64 networks, width m = 1000, n = 20 points, full-batch GD with weight decay
(biases unpenalised), float64, CPU by default.

- loop: the usual per-network code -- a ShallowReLU module, autograd ``loss.backward()`` and
  ``torch.optim.SGD`` with two param groups (a, w decayed; b, c, d not) -- K modules in a
  Python loop.
- population: :func:`minnorm.train_population` (all K at once, closed-form gradient).

Throughput is network-steps per second (K * steps / seconds), the median of ``--repeats``
timings. GFLOP/s is an estimate: the population kernel does ~``FLOPS_PER_UNIT`` flops per unit
per step (O(K m log n) work), and the equivalent dense batched-matmul formulation would do
~10 K m n flops; both are printed next to the GFLOP/s of a large torch matmul on this machine.

Run: ``python benchmarks/bench_training.py [--K 64 --m 1000 --n 20 --steps 100 --device cpu]``

``--table`` instead times the rows of issue 11's table (K, m, n, optimizer) in one run: µs per
step of :func:`minnorm.train_population` on the torch path (``backend="torch"``) and on the
compiled numba kernel (``backend="compiled"``), their ratio, and the step's lower bound on this
machine: the larger of (bytes the step must move) / (measured DRAM bandwidth) and
(flops) / (measured float64 matmul rate), printed next to the same bound at the measured
cache-resident (L2/L3) bandwidth, since these working sets fit in cache. Medians of ``--repeats``.
Run: ``python benchmarks/bench_training.py --table [--repeats 5]``
"""

import argparse
import pathlib
import statistics
import sys
import time

import torch

# The checkout this file belongs to, ahead of any installed copy (so a branch benchmarks itself).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import minnorm as mn  # noqa: E402

# Per unit and step, counting every elementwise arithmetic or comparison as one flop: activity
# check (12), forward binning (6), gradient lookup and products (7), penalty (4), update (6).
# The rare binary search for units whose kink jumped is not counted.
def flops_per_unit(n):
    return 35


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def time_loop(K, m, n, steps, lr, wd, device):
    x = torch.linspace(-1, 1, n, dtype=torch.float64, device=device)
    y = torch.sin(3 * x)
    nets = [mn.ShallowReLU(m, skip=True, seed=s, device=device) for s in range(K)]
    opts = [
        torch.optim.SGD([{"params": [net.a, net.w], "weight_decay": wd},
                         {"params": [net.b, net.c, net.d], "weight_decay": 0.0}], lr=lr)
        for net in nets
    ]
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        for net, opt in zip(nets, opts):
            opt.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - t0


def time_population(K, m, n, steps, lr, wd, device):
    x = torch.linspace(-1, 1, n, dtype=torch.float64, device=device)
    y = torch.sin(3 * x)
    nets = [mn.ShallowReLU(m, skip=True, seed=s, device=device) for s in range(K)]
    _sync(device)
    t0 = time.perf_counter()
    mn.train_population(nets, x, y, steps=steps, lr=lr, weight_decay=wd, log_every=steps)
    _sync(device)
    return time.perf_counter() - t0


# Per unit and step, bytes that must cross memory: parameters a, w, b and the boundary e, read
# and written (8 * 4 * 2); Adam also reads and writes its two moments of a, w, b (8 * 6 * 2).
BYTES_PER_UNIT = {"gd": 64, "adam": 160}
# Adam's update adds ~12 flops per parameter (two moment updates, sqrt, two divisions) for a, w, b.
FLOPS_PER_UNIT_OPT = {"gd": 35, "adam": 35 + 36}
# Per data point and network: forward (4), residual and loss (3), two prefix sums (4), two cumsums (4).
FLOPS_PER_POINT = 15
TABLE_ROWS = [(14, 400, 10, "gd"), (64, 100, 10, "gd"), (64, 100, 10, "adam"), (64, 1000, 20, "gd"),
              (64, 1000, 20, "adam"), (8, 10000, 100, "gd"), (1, 400, 10, "gd"), (1, 400, 10, "adam")]


def copy_bandwidth(nbytes, repeats=7):
    """Bytes per second of a numpy array copy (read + write) of ``nbytes`` per array."""
    import numpy as np

    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    inner = max(1, int(2e8 // nbytes))
    np.copyto(dst, src)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            np.copyto(dst, src)
        ts.append((time.perf_counter() - t0) / inner)
    return 2 * nbytes / statistics.median(ts)


def step_time(K, m, n, optimizer, backend, steps, repeats):
    """Median seconds per step of train_population (log_every = steps: timing, not logging)."""
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    y = torch.sin(3 * x)
    lr = 1e-2 if optimizer == "gd" else 1e-3
    ts = []
    for _ in range(repeats + 1):  # the first run warms up (and loads the compiled kernel)
        nets = [mn.ShallowReLU(m, skip=True, seed=s) for s in range(K)]
        t0 = time.perf_counter()
        mn.train_population(nets, x, y, steps=steps, lr=lr, weight_decay=1e-3, optimizer=optimizer,
                            log_every=steps, backend=backend)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts[1:]) / steps


def table(repeats=5, target_s=0.3):
    """Issue 11's table, measured in one run; returns the rows as dicts."""
    mm64 = matmul_gflops("cpu", torch.float64) * 1e9
    dram = copy_bandwidth(256 * 2**20)
    cache = copy_bandwidth(512 * 2**10)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} float64 CPU, median of {repeats}; "
          f"measured: matmul {mm64 / 1e9:.1f} GFLOP/s, copy bandwidth DRAM {dram / 1e9:.1f} GB/s, "
          f"cache-resident {cache / 1e9:.1f} GB/s")
    head = (f"{'K':>4}{'m':>7}{'n':>5}{'opt':>6}{'torch µs':>11}{'compiled µs':>13}{'speed-up':>10}"
            f"{'bound µs':>10}{'cache bound':>13}{'compiled/bound':>16}")
    print(head)
    out = []
    for K, m, n, opt in TABLE_ROWS:
        units = K * m
        flops = units * FLOPS_PER_UNIT_OPT[opt] + K * n * FLOPS_PER_POINT
        nbytes = units * BYTES_PER_UNIT[opt] + K * n * 16
        bound = max(nbytes / dram, flops / mm64)
        bound_cache = max(nbytes / cache, flops / mm64)
        t_torch = step_time(K, m, n, opt, "torch", 20, repeats)
        steps_c = max(20, int(target_s / max(bound * 3, 1e-7)))
        t_comp = step_time(K, m, n, opt, "compiled", min(steps_c, 20000), repeats)
        row = {"K": K, "m": m, "n": n, "opt": opt, "torch_us": t_torch * 1e6, "compiled_us": t_comp * 1e6,
               "bound_us": bound * 1e6, "cache_bound_us": bound_cache * 1e6}
        out.append(row)
        print(f"{K:>4}{m:>7}{n:>5}{opt:>6}{row['torch_us']:>11.1f}{row['compiled_us']:>13.1f}"
              f"{t_torch / t_comp:>9.1f}x{row['bound_us']:>10.2f}{row['cache_bound_us']:>13.2f}"
              f"{t_comp / bound:>15.1f}x")
    return out


def matmul_gflops(device, dtype, size=2048, repeats=5):
    A = torch.randn(size, size, dtype=dtype, device=device)
    B = torch.randn(size, size, dtype=dtype, device=device)
    A @ B
    ts = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        A @ B
        _sync(device)
        ts.append(time.perf_counter() - t0)
    return 2 * size**3 / statistics.median(ts) / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--K", type=int, default=64)
    p.add_argument("--m", type=int, default=1000)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--loop-steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--table", action="store_true", help="time issue 11's table (torch vs compiled vs bound)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.table:
        return table(args.repeats)
    K, m, n, dev = args.K, args.m, args.n, args.device
    lr, wd = 1e-2, 1e-3
    time_population(K, m, n, 3, lr, wd, dev)  # warm-up (allocator, kernels)
    time_loop(K, m, n, 2, lr, wd, dev)
    loop_ts = [time_loop(K, m, n, args.loop_steps, lr, wd, dev) for _ in range(args.repeats)]
    pop_ts = [time_population(K, m, n, args.steps, lr, wd, dev) for _ in range(args.repeats)]
    loop_rate = K * args.loop_steps / statistics.median(loop_ts)
    pop_rate = K * args.steps / statistics.median(pop_ts)
    pop_step_s = statistics.median(pop_ts) / args.steps
    gf_kernel = K * m * flops_per_unit(n) / pop_step_s / 1e9
    gf_dense = 10 * K * m * n / pop_step_s / 1e9
    mm64 = matmul_gflops(dev, torch.float64)
    mm32 = matmul_gflops(dev, torch.float32)
    print(f"device={dev}  torch={torch.__version__}  threads={torch.get_num_threads()}  "
          f"K={K} m={m} n={n} float64, full-batch GD, median of {args.repeats}")
    print(f"{'method':<34}{'network-steps/s':>18}{'ratio':>10}")
    print(f"{'loop (autograd + torch.optim.SGD)':<34}{loop_rate:>18.1f}{1.0:>10.2f}")
    print(f"{'population (train_population)':<34}{pop_rate:>18.1f}{pop_rate / loop_rate:>10.2f}")
    print(f"population step: {pop_step_s * 1e3:.3f} ms for {K} networks")
    print(f"achieved GFLOP/s: kernel (executed, ~{flops_per_unit(n):.0f} flop/unit/step) {gf_kernel:.3f}; "
          f"dense-equivalent (10 K m n) {gf_dense:.2f}")
    print(f"large matmul 2048^2: float64 {mm64:.1f} GFLOP/s, float32 {mm32:.1f} GFLOP/s")
    return {"loop": loop_rate, "population": pop_rate, "ratio": pop_rate / loop_rate,
            "gflops_kernel": gf_kernel, "gflops_dense_equiv": gf_dense, "matmul64": mm64, "matmul32": mm32}


if __name__ == "__main__":
    main()
