"""Every example runs (so examples never rot) and prints what the README says, and what it prints
is checked against numbers obtained without minnorm: closed forms of MATH G, programs written out
here from MATH B.1, and the network's own parameters."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from _oracles import data_knot_regression, line_intersection, omega, secant_slopes

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_plot_minimum_norm_example(tmp_path):
    out = tmp_path / "fig.png"
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "plot_minimum_norm.py"), str(out)],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    x = np.array([-1.0, -0.6, -0.2, 0.1, 0.4, 0.8, 1.0])  # the example's data, copied from the script
    y = np.array([0.0, 0.6, 0.9, 0.95, 0.7, 0.1, -0.2])
    s = secant_slopes(x, y)
    # MATH B.1: the V1 value is V = sum |s_i - s_{i-1}| (= 3 up to rounding).
    V = np.sum(np.abs(np.diff(s)))
    v1 = float(re.search(r"V1 value (\S+) ", res.stdout).group(1))
    assert v1 == pytest.approx(V, abs=5e-7)  # printed with 6 decimals
    # Curvature signs at x_2..x_6 are (-, -, -, -, 0): one run of 4, so MATH B.1(iii) gives 2 knots,
    # at the intersections of the extended secant lines l_1 with l_3 and l_3 with l_5.
    assert list(np.sign(np.round(np.diff(s), 12))) == [-1, -1, -1, -1, 0]
    t1 = line_intersection(x[0], y[0], s[0], x[2], y[2], s[2])
    t2 = line_intersection(x[2], y[2], s[2], x[4], y[4], s[4])
    knots = [float(v) for v in re.search(r"sparsest knots \[(.*?)\]", res.stdout).group(1).split(",")]
    np.testing.assert_allclose(knots, [t1, t2], atol=5e-5)  # printed rounded to 4 decimals
    # All gaps <= 2, so (MATH B.3) the B-F solution is the V1-sparsest one, here unique (even run):
    # R = sum omega(t_k) |jump_k| with jumps s_3 - s_1 and s_5 - s_3.
    R3 = abs(s[2] - s[0]) * omega(t1) + abs(s[4] - s[2]) * omega(t2)
    v3 = float(re.search(r"V3 value (\S+) ", res.stdout).group(1))
    assert v3 == pytest.approx(R3, abs=5e-6)  # printed to 6 decimals; SOCP accuracy ~1e-6


def _readme_print_comments():
    """The comment after each ``print(...)`` of the README's Python blocks, in order."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    return blocks, [m.group(1).strip() for b in blocks for m in re.finditer(r"^print\(.*#\s*(.*)$", b, re.M)]


def _quoted_decimals(token):
    """Decimals a README figure is quoted to ('0.0900286' -> 7)."""
    return len(token.split(".")[1]) if "." in token else 0


def test_readme_code_blocks_run_and_print_what_they_say(capsys):
    """The README's Python blocks, run verbatim; each printed line must match the README's comment
    after it at the precision quoted there, and the quoted numbers are checked independently."""
    blocks, quoted = _readme_print_comments()
    assert len(blocks) >= 2 and len(quoted) == 6
    ns = {}
    exec(compile("\n".join(blocks), "README.md", "exec"), ns)
    out = capsys.readouterr().out.split("\n")

    # MATH G2 (x = 0..3, y = 0,1,1,0): V1 = 2 with a zero gap, one sparsest knot at 1.5 with jump
    # -2, the free interval's envelope at 1.5 is [1, 1.5], and V3 = sqrt(13).
    assert quoted[0] == out[0] == "2.0 2.0 0.0 optimal"
    assert quoted[1] == out[1] == "[1.5] [-2.]"
    assert quoted[2] == out[2] == "1.0 1.5"
    root13 = re.match(r"√13 = (\S+)", quoted[3]).group(1)
    assert float(root13) == pytest.approx(13 ** 0.5, abs=0.5 * 10 ** -_quoted_decimals(root13))
    assert float(out[3]) == pytest.approx(13 ** 0.5, abs=1e-6)  # SOCP accuracy (MATH G)

    # The trained network: its objective, recomputed from its parameters (MATH A.0: distinct kinks,
    # so the integral of |f''| is sum |a_j w_j|), and the exact limit, from the B.1 data-knot program.
    x, y, lam, net = ns["x"], ns["y"], ns["lam"], ns["net"]
    assert lam == pytest.approx(x.size * 1e-3, rel=1e-15)  # README convention: lam = n * weight_decay
    with torch.no_grad():
        a, w, b = (p.detach().numpy().astype(np.float64) for p in (net.a, net.w, net.b))
        fx = net(torch.as_tensor(x)).numpy()
    kinks = -b[w != 0] / w[w != 0]
    assert np.unique(kinks).size == kinks.size
    net_obj_independent = np.sum((fx - y) ** 2) + lam * np.sum(np.abs(a * w))
    # MATH B.1 regression program (data-knot QP), solved by Clarabel at tight tolerances
    best_independent, fitted = data_knot_regression(x, y, lam, solver="CLARABEL", tol_gap_abs=1e-12,
                                                    tol_gap_rel=1e-12, tol_feas=1e-12)
    net_obj, best = map(float, out[4].split())
    assert net_obj == pytest.approx(net_obj_independent, rel=1e-12)
    assert best == pytest.approx(best_independent, rel=1e-9)
    for printed, token in zip((net_obj, best), quoted[4].split()):
        # Quoted to 7 decimals; the run is deterministic (float64, fixed seed; measured identical
        # with 1 and 2 torch threads), so the README's figures hold to their last digit.
        assert printed == pytest.approx(float(token), abs=0.5 * 10 ** -_quoted_decimals(token))

    # Distance to the solution set. Outside [x_2, x_{n-1}] the V1 solution set of the fitted values
    # is one line, the extended first/last secant (MATH B.1 (a)), so the violation on the default
    # interval (hull widened by 25 %) is at least f's distance from those lines there.
    f = ns["f"]
    sz = secant_slopes(x, fitted)
    span = x[-1] - x[0]
    left = np.concatenate([[x[0] - 0.25 * span], f.nodes[(f.nodes > x[0] - 0.25 * span) & (f.nodes < x[1])], [x[1]]])
    right = np.concatenate([[x[-2]], f.nodes[(f.nodes > x[-2]) & (f.nodes < x[-1] + 0.25 * span)],
                            [x[-1] + 0.25 * span]])
    bound = max(np.max(np.abs(f(left) - (fitted[0] + sz[0] * (left - x[0])))),
                np.max(np.abs(f(right) - (fitted[-1] + sz[-1] * (right - x[-1])))))
    viol = float(out[5])
    assert viol >= bound - 1e-9
    # Measured: the maximum is attained there, at t = 1.5 (0 <= viol - bound within solver accuracy).
    assert viol == pytest.approx(bound, abs=1e-9)
    token = quoted[5].split(":")[0]
    assert f"{viol:.1e}" == token, (viol, token)  # the README's figure, to its 2 significant digits
