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

``--table`` instead times the rows of issue 11's table (K, m, n; each with GD and Adam) in one
run: µs per step of :func:`minnorm.train_population` as a user calls it (``backend="auto"``:
the compiled numba kernel on CPU float64) beside minnorm 0.1's number from the issue, of the torch
path (``backend="torch"``), and of the dense batched torch loop a user would otherwise write
(:func:`dense_steps`: [K, m, n] pre-activations, autograd, one torch optimizer) with its ratio
to the library call; and the step's lower bound on this machine: the larger of (bytes the step
must move) / (measured DRAM bandwidth) and (flops) / (measured float64 matmul rate), printed next
to the same bound at the measured cache-resident (L2/L3) bandwidth, since these working sets fit
in cache. Medians of ``--repeats``; the CPU, core count, thread count and load average are printed
with them (timings on a shared machine are only comparable within one run).
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
#: issue 11's rows (K, m, n), each with GD and Adam
TABLE_SIZES = [(14, 400, 10), (64, 100, 10), (64, 1000, 20), (8, 10000, 100), (1, 400, 10)]
TABLE_ROWS = [(K, m, n, opt) for K, m, n in TABLE_SIZES for opt in ("gd", "adam")]
#: issue 11's train_population µs per step (minnorm 0.1, the same 2-core machine type); it has no
#: Adam rows except (64, 100, 10)
ISSUE_TRAIN_POPULATION_US = {(14, 400, 10, "gd"): 817, (64, 100, 10, "gd"): 1641, (64, 100, 10, "adam"): 2519,
                             (64, 1000, 20, "gd"): 4613, (8, 10000, 100, "gd"): 5683, (1, 400, 10, "gd"): 503}
WEIGHT_DECAY = 1e-3


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


def _table_task(n, optimizer):
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    return x, torch.sin(3 * x), (1e-2 if optimizer == "gd" else 1e-3)


def step_time(K, m, n, optimizer, backend, steps, repeats):
    """Median seconds per step of train_population (log_every = steps: timing, not logging), and
    the backend that ran."""
    x, y, lr = _table_task(n, optimizer)
    ts = []
    for _ in range(repeats + 1):  # the first run warms up (and loads the compiled kernel)
        nets = [mn.ShallowReLU(m, skip=True, seed=s) for s in range(K)]
        t0 = time.perf_counter()
        res = mn.train_population(nets, x, y, steps=steps, lr=lr, weight_decay=WEIGHT_DECAY, optimizer=optimizer,
                                  log_every=steps, backend=backend)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts[1:]) / steps, res[0].backend


def dense_batched(nets):
    """The K networks as dense [K, m] (and [K]) leaf tensors, copies of their parameters."""
    a, w, b = (torch.stack([getattr(net, nm).detach() for net in nets]).clone().requires_grad_() for nm in "awb")
    c, d = (torch.stack([getattr(net, nm).detach() for net in nets]).clone().requires_grad_() for nm in "cd")
    return a, w, b, c, d


def dense_steps(params, x, y, optimizer, lr, steps):
    """What a user would otherwise write: all K networks as batched tensors, the pre-activations
    [K, m, n] by broadcasting, f by bmm, autograd backward and one torch optimizer (the
    library's objective: the mean of each network's MSE plus wd/2 (a² + w²), biases unpenalised)."""
    a, w, b, c, d = params
    groups = [{"params": [a, w], "weight_decay": WEIGHT_DECAY}, {"params": [b, c, d], "weight_decay": 0.0}]
    opt = torch.optim.SGD(groups, lr=lr) if optimizer == "gd" else torch.optim.Adam(groups, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        h = torch.relu(w[:, :, None] * x + b[:, :, None])
        f = torch.bmm(a[:, None, :], h)[:, 0] + c[:, None] * x + d[:, None]
        ((f - y) ** 2).mean(1).sum().backward()
        opt.step()


def dense_step_time(K, m, n, optimizer, steps, repeats):
    """Median seconds per step of :func:`dense_steps`."""
    x, y, lr = _table_task(n, optimizer)
    ts = []
    for _ in range(repeats + 1):
        params = dense_batched([mn.ShallowReLU(m, skip=True, seed=s) for s in range(K)])
        t0 = time.perf_counter()
        dense_steps(params, x, y, optimizer, lr, steps)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts[1:]) / steps


def dense_agrees(K, m, n, optimizer, steps=5):
    """Max |parameter difference| between :func:`dense_steps` and train_population (torch path)
    after a few steps: the dense loop computes the same iterates (to rounding)."""
    x, y, lr = _table_task(n, optimizer)
    nets = [mn.ShallowReLU(m, skip=True, seed=s) for s in range(min(K, 2))]
    params = dense_batched(nets)
    dense_steps(params, x, y, optimizer, lr, steps)
    mn.train_population(nets, x, y, steps=steps, lr=lr, weight_decay=WEIGHT_DECAY, optimizer=optimizer,
                        log_every=steps, backend="torch")
    return max(float((p.detach() - torch.stack([getattr(net, nm).detach() for net in nets])).abs().max())
               for p, nm in zip(params, "awbcd"))


def _machine():
    import os
    import platform

    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return model, os.cpu_count(), load


def table(repeats=5, target_s=0.3):
    """Issue 11's table (every row, GD and Adam), measured in one run; returns the rows as dicts.

    Per row, µs per step (medians of ``repeats`` timed runs after one warm-up): the library call
    ``train_population`` (auto backend; the backend it chose is printed), its ratio to the issue's
    minnorm 0.1 number, the torch path (``backend="torch"``), the dense batched torch loop
    (:func:`dense_steps`), its ratio to the compiled kernel, and the DRAM/flop and cache-resident
    bounds.
    """
    model, ncpu, load0 = _machine()
    mm64 = matmul_gflops("cpu", torch.float64) * 1e9
    dram = copy_bandwidth(256 * 2**20)
    cache = copy_bandwidth(512 * 2**10)
    print(f"CPU {model}, {ncpu} cores, torch={torch.__version__} threads={torch.get_num_threads()}, float64; "
          f"load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print(f"measured: matmul {mm64 / 1e9:.1f} GFLOP/s, copy bandwidth DRAM {dram / 1e9:.1f} GB/s, "
          f"cache-resident {cache / 1e9:.1f} GB/s; µs per step, median of {repeats}")
    head = (f"{'K':>3}{'m':>6}{'n':>4}{'opt':>5}{'0.1 µs':>8}{'auto µs':>9}{'backend':>9}{'vs 0.1':>8}"
            f"{'torch µs':>10}{'dense µs':>11}{'dense/auto':>11}{'bound':>8}{'cache':>8}{'auto/bound':>11}")
    print(head)
    out = []
    for K, m, n, opt in TABLE_ROWS:
        units = K * m
        flops = units * FLOPS_PER_UNIT_OPT[opt] + K * n * FLOPS_PER_POINT
        nbytes = units * BYTES_PER_UNIT[opt] + K * n * 16
        bound = max(nbytes / dram, flops / mm64)
        bound_cache = max(nbytes / cache, flops / mm64)
        steps_fast = min(max(20, int(target_s / max(bound * 3, 1e-7))), 20000)
        t_auto, used = step_time(K, m, n, opt, "auto", steps_fast, repeats)
        t_torch, _ = step_time(K, m, n, opt, "torch", 20, repeats)
        dense_flops = 10 * K * m * n  # a rough size, to give the slow dense rows few steps
        steps_dense = max(2, min(50, int(target_s / max(dense_flops / 2e9, 1e-6))))
        t_dense = dense_step_time(K, m, n, opt, steps_dense, repeats)
        old = ISSUE_TRAIN_POPULATION_US.get((K, m, n, opt))
        row = {"K": K, "m": m, "n": n, "opt": opt, "issue_0.1_us": old, "auto_us": t_auto * 1e6, "backend": used,
               "torch_us": t_torch * 1e6, "dense_us": t_dense * 1e6, "bound_us": bound * 1e6,
               "cache_bound_us": bound_cache * 1e6}
        out.append(row)
        old_s = f"{old:>8}" if old else f"{'-':>8}"
        gain = f"{old / row['auto_us']:>7.0f}x" if old else f"{'-':>8}"
        print(f"{K:>3}{m:>6}{n:>4}{opt:>5}{old_s}{row['auto_us']:>9.1f}{used:>9}{gain}{row['torch_us']:>10.0f}"
              f"{row['dense_us']:>11.0f}{t_dense / t_auto:>10.1f}x{row['bound_us']:>8.2f}{row['cache_bound_us']:>8.2f}"
              f"{t_auto / bound:>10.1f}x", flush=True)
    load1 = _machine()[2]
    print(f"load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; dense loop = train_population's "
          f"iterates: max |difference| after 5 steps {max(dense_agrees(14, 40, 10, o) for o in ('gd', 'adam')):.1e}")
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
