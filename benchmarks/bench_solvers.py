"""Solver-layer benchmark: minnorm's exact paths against what a user would otherwise run.

Prints one table; every ratio is measured in the same run (medians over repeats), because
the machines are noisy. Run: ``python benchmarks/bench_solvers.py [--quick]``.

Rows
----
- V1 interpolant + dual certificate at n=1e6 vs ``np.sort`` of the same data (target <= 0.2 s).
- V1 sparsest interpolant at n=1e6.
- Weighted spline (closed-form law) at n=1e6 vs ``CubicSpline(bc_type="natural")`` (target <= 2x).
- Smoothing spline at n=1e5 vs ``make_smoothing_spline`` (target >= 10x faster).
- V1 interpolant vs a hand-written cvxpy knot-grid LP (the user's alternative) at n=1e3, 1e4.
- V3 SOCP, the cvxpy grid paths and V1 regression at n=1e3, 1e4 (target <= 5 s).
"""

import argparse
import statistics
import sys
import time

import cvxpy as cp
import numpy as np
from scipy.interpolate import CubicSpline, make_smoothing_spline

import solvers


def median_time(fn, repeats):
    """Median wall time of ``fn()``; NaN (and the error printed) if it raises a SolverError."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        try:
            fn()
        except solvers.SolverError as exc:
            print(f"  [failed: {exc}]", file=sys.stderr)
            return float("nan")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def data(n, seed=0, jitter=True):
    """Noisy sin(3x) on [-1, 1]: a jittered grid (gaps within 2x of each other) by default, or
    uniform random points (gaps down to ~1/n^2, which stresses conditioning)."""
    rng = np.random.default_rng(seed)
    if jitter:
        x = np.linspace(-1.0, 1.0, n) + rng.uniform(-0.25, 0.25, n) * (2.0 / (n - 1))
    else:
        x = np.unique(rng.uniform(-1.0, 1.0, n))
    y = np.sin(3 * x) + 0.3 * rng.normal(size=x.size)
    return x, y


def user_grid_lp(x, y, refine=4):
    """What users write today: a knot grid containing the data, |J| minimised (MATH B.1)."""
    t = np.unique(np.concatenate([x, np.linspace(x[0], x[-1], refine * x.size)]))
    J = cp.Variable(t.size)
    c, d = cp.Variable(), cp.Variable()
    # Sparse design matrix: relu(x_i - t_k) is dense, so the user's LP is O(n * K) in memory.
    A = np.maximum(x[:, None] - t[None, :], 0.0)
    prob = cp.Problem(cp.Minimize(cp.norm1(J)), [c * x + d + A @ J == y])
    prob.solve(solver="HIGHS")
    return prob.value


def row(table, name, n, t_ours, alt_name=None, t_alt=None, target=""):
    ratio = "" if t_alt is None else f"{t_alt / t_ours:9.1f}x"
    table.append((name, n, t_ours, alt_name or "", t_alt, ratio, target))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    ap.add_argument("--user-lp-max-n", type=int, default=1000,
                    help="largest n for the user's dense grid LP (memory grows like 4 n^2 * 8 bytes)")
    args = ap.parse_args(argv)
    big = 10**5 if args.quick else 10**6
    rep = 3 if args.quick else 7
    table = []

    x, y = data(big)
    t_sort = median_time(lambda: np.sort(np.random.default_rng(1).permutation(x)), rep)
    t_v1 = median_time(lambda: solvers.tv2_interpolant(x, y), rep)
    row(table, "V1 linear + certificate", x.size, t_v1, "np.sort(permuted x)", t_sort, "<= 0.2 s")
    t_sp = median_time(lambda: solvers.tv2_interpolant(x, y, select="sparsest"), rep)
    row(table, "V1 sparsest + certificate", x.size, t_sp, "np.sort(permuted x)", t_sort)

    law = solvers.kink_density("pm1-uniform", c=2.0)
    t_cs = median_time(lambda: CubicSpline(x, y, bc_type="natural"), rep)
    t_ws = median_time(lambda: solvers.weighted_spline(x, y, weight=law), rep)
    row(table, "weighted spline (pm1-uniform law)", x.size, t_ws, "CubicSpline natural", t_cs, "<= 2x CubicSpline")
    lawu = solvers.kink_density("uniform", A=1.0, B=1.0)  # torch's default nn.Linear(1, m)
    t_wu = median_time(lambda: solvers.weighted_spline(x, y, weight=lawu), rep)
    row(table, "weighted spline (uniform law, torch init)", x.size, t_wu, "CubicSpline natural", t_cs)
    lawg = solvers.kink_density("gaussian", sigma_w=1.0, sigma_b=1.0)
    t_wg = median_time(lambda: solvers.weighted_spline(x, y, weight=lawg), rep)
    row(table, "weighted spline (gaussian law)", x.size, t_wg, "CubicSpline natural", t_cs)

    lam = 1e-4
    for jitter in (True, False):
        xs, ys = data(10**4 if args.quick else 10**5, seed=2, jitter=jitter)
        t_mss = median_time(lambda: make_smoothing_spline(xs, ys, lam=lam), max(2, rep // 2))
        t_sm = median_time(lambda: solvers.weighted_spline(xs, ys, lam=lam), rep)
        label = "smoothing spline g=1" + ("" if jitter else " (random x)")
        row(table, label, xs.size, t_sm, "make_smoothing_spline", t_mss, ">= 10x faster")

    for n in (10**3, 10**4):
        xn, yn = data(n, seed=3)
        t_ex = median_time(lambda: solvers.tv2_interpolant(xn, yn), rep)
        if n <= args.user_lp_max_n:
            t_user = median_time(lambda: user_grid_lp(xn, yn), 1 if n > 1000 else 3)
            row(table, "V1 exact vs user's grid LP (HiGHS)", n, t_ex, "dense cvxpy grid LP", t_user)
        else:
            # n=1e4 with a 4x grid is a dense 1e4 x 5e4 matrix: ~4 GB before cvxpy copies it; even
            # with knots at the data only (1e4 x 1e4) it took 375 s and 11.3 GB here (HiGHS).
            row(table, "V1 exact (user dense LP: 375 s, 11 GB)", n, t_ex)
        t_b = median_time(lambda: solvers.tv2_interpolant(xn, yn, variant="bias"), 1)
        row(table, "V3 SOCP (Clarabel)", n, t_b, "", None, "<= 5 s")
        t_b4 = median_time(lambda: solvers.tv2_interpolant(xn, yn, variant="bias-no-skip"), 1)
        row(table, "V4 SOCP (Clarabel)", n, t_b4, "", None, "<= 5 s")
        t_br = median_time(lambda: solvers.tv2_regression(xn, yn, 1e-3, variant="bias"), 1)
        row(table, "V3 regression SOCP (Clarabel)", n, t_br, "", None, "<= 5 s")
        t_g = median_time(lambda: solvers.tv2_interpolant(xn, yn, method="cvxpy"), 1)
        row(table, "V1 cvxpy grid LP (minnorm)", n, t_g, "", None, "<= 5 s")
        t_r = median_time(lambda: solvers.tv2_regression(xn, yn, 1e-3), 3)
        t_rc = median_time(lambda: solvers.tv2_regression(xn, yn, 1e-3, method="cvxpy"), 1)
        row(table, "V1 regression exact", n, t_r, "minnorm cvxpy path", t_rc)
        t_wc = median_time(lambda: solvers.weighted_spline(xn, yn, method="cvxpy"), 1)
        t_we = median_time(lambda: solvers.weighted_spline(xn, yn), rep)
        row(table, "weighted spline exact", n, t_we, "minnorm cvxpy Galerkin", t_wc, "cvxpy <= 5 s")

    hdr = f"{'problem':40s} {'n':>9s} {'ours [s]':>10s}  {'alternative':24s} {'alt [s]':>10s} {'alt/ours':>10s}  target"
    print(hdr)
    print("-" * len(hdr))
    for name, n, t, alt, ta, ratio, target in table:
        ta_s = f"{ta:10.4f}" if ta is not None else " " * 10
        print(f"{name:40s} {n:9d} {t:10.4f}  {alt:24s} {ta_s} {ratio:>10s}  {target}")
    print(f"\npython {sys.version.split()[0]}, numpy {np.__version__}, cvxpy {cp.__version__}; medians of {rep} repeats")


if __name__ == "__main__":
    main()
