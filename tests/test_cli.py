"""The ``minnorm`` command line: help, exit codes, solve (known answers) and a tiny sweep."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from minnorm.cli import main

from _fixtures import TINY, config_toml, with_changes
from _oracles import GridLP, grid_regression

SUBCOMMANDS = ("sweep", "solve", "plot", "report", "reproduce")

#: The tiny sweep as a user writes it (no design, the default report, a main metric).
TINY_CLI = with_changes(TINY, {"name": "cli-tiny", "problem.design": None, "output": None,
                               "metrics.main": "envelope_violation"})
TINY_TOML = config_toml(TINY_CLI)


@pytest.mark.parametrize("cmd", [[], *([c] for c in SUBCOMMANDS)])
def test_help_everywhere_with_examples(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*cmd, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: minnorm" in out and "examples:" in out


def test_console_script_is_installed():
    r = subprocess.run([sys.executable, "-m", "minnorm.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "sweep" in r.stdout


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["solve"])  # missing DATA.csv and --variant
    assert exc.value.code == 2


def test_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text(config_toml(with_changes(TINY_CLI, {"train.weight_decay": "abc"})))
    assert main(["sweep", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "train.weight_decay: expected a number or list of numbers, got 'abc'" in err
    assert "Traceback" not in err
    p.write_text(config_toml(with_changes(TINY_CLI, {"output.format": "csv"})))
    assert main(["sweep", str(p)]) == 2
    assert "output.format: unknown key" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert main(["plot", str(tmp_path)]) == 2  # no store there
    assert "no results.sqlite" in capsys.readouterr().err


def _pl_eval(fn, t):
    """f(t) = s_L t + C + sum_k J_k (t - t_k)_+ from a solution's JSON (the stored representation)."""
    t = np.asarray(t, dtype=float)
    k, J = np.asarray(fn["knots"], dtype=float), np.asarray(fn["jumps"], dtype=float)
    return fn["slope_left"] * t + fn["intercept"] + np.maximum(t[:, None] - k[None, :], 0.0) @ J


def test_solve_prints_the_grid_lp_value(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-2, 2, 9))
    y = rng.standard_normal(9)
    csv = tmp_path / "data.csv"
    csv.write_text("x,y\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y)))
    assert main(["solve", str(csv), "--variant", "skip", "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    value = float(re.search(r"value:\s+(\S+)", out).group(1))
    grid = np.union1d(x, np.linspace(-4, 4, 401))
    lp = GridLP(x, y, grid, "skip").value()  # independent V1 grid LP (exact: the grid holds the data)
    assert value == pytest.approx(lp, rel=1e-8)
    assert "status:       optimal" in out
    sol = json.loads((tmp_path / "s.json").read_text())
    fn = sol["function"]
    np.testing.assert_allclose(_pl_eval(fn, x), y, atol=1e-10)  # it interpolates
    assert np.sum(np.abs(fn["jumps"])) == pytest.approx(lp, rel=1e-8)  # and its TV is the LP's minimum
    assert sol["gap"] <= 1e-9 * lp


def _regression_oracle(x, y, lam, variant):
    """Independent optimum of min sum (f(x_i)-y_i)^2 + lam R(f) (``_oracles.grid_regression``), solved
    by ECOS (the library's conic paths use Clarabel). The grid holds the data, the hull ends and points
    between and beyond them (knots at the data suffice, MATH B.1/B.2; the extra ones can only lower
    the oracle)."""
    grid = np.union1d(x, np.concatenate([(x[1:] + x[:-1]) / 2, [x[0] - 1.0, x[-1] + 1.0]]))
    return grid_regression(x, y, lam, variant, grid, solver="ECOS", abstol=1e-11, reltol=1e-11, feastol=1e-11,
                           max_iters=500)[0]


def _objective(fn, x, y, lam, variant):
    """The regression objective of a returned function, from A.2's definitions (not the library's)."""
    J = np.asarray(fn["jumps"], dtype=float)
    tv = np.sum(np.abs(J))
    R = tv if variant == "skip" else max(tv, abs(2 * fn["slope_left"] + J.sum()))
    return float(np.sum((_pl_eval(fn, x) - y) ** 2) + lam * R)


@pytest.mark.parametrize("variant, y", [
    ("skip", [0.0, 0.3, 1.2, 2.9, 2.6, 0.4]),
    ("no-skip", [0.0, 0.3, 1.2, 2.9, 2.6, 0.4]),
    ("no-skip", [0.0, 1.0, 3.0, 4.5, 7.0, 11.0]),  # |s_1 + s_(n-1)| > V: the boundary term binds (B.2)
])
def test_solve_regression_with_select_prints_the_regression_objective(variant, y, tmp_path, capsys):
    """--lam with --select: the printed value is the regression objective of the returned function,
    equal to an independent optimum (issue 8 4: it used to print the interpolation cost of the fit)."""
    x, y, lam = np.arange(6.0), np.asarray(y), 0.3
    csv = tmp_path / "d.csv"
    csv.write_text("\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y)))
    oracle = _regression_oracle(x, y, lam, variant)
    knots = {}
    for select in ("linear", "sparsest"):
        js = tmp_path / f"{select}.json"
        assert main(["solve", str(csv), "--variant", variant, "--lam", str(lam), "--select", select,
                     "--json", str(js)]) == 0
        out = capsys.readouterr().out
        assert "problem:      regression" in out and "status:       optimal" in out
        value = float(re.search(r"value:\s+(\S+)", out).group(1))
        fn = json.loads(js.read_text())["function"]
        assert value == pytest.approx(oracle, rel=1e-6), select
        assert _objective(fn, x, y, lam, variant) == pytest.approx(oracle, rel=1e-6), select
        knots[select] = len(fn["knots"])
    assert knots["sparsest"] < knots["linear"]  # the selection mattered in these cases


def test_solve_known_cases_and_csv(tmp_path, capsys):
    csv = tmp_path / "g2.csv"
    csv.write_text("0,0\n1,1\n2,1\n3,0\n")  # MATH G.2: V1 = 2, sparsest: one knot at 1.5, jump -2
    assert main(["solve", str(csv), "--variant", "skip", "--select", "sparsest", "--csv",
                 str(tmp_path / "k.csv")]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"value:\s+(\S+)", out).group(1)) == pytest.approx(2.0, abs=1e-12)
    assert (tmp_path / "k.csv").read_text().splitlines()[1:] == ["1.5,-2.0"]
    assert main(["solve", str(csv), "--variant", "bias"]) == 0  # MATH G.2: V3 = sqrt(13)
    assert float(re.search(r"value:\s+(\S+)", capsys.readouterr().out).group(1)) == pytest.approx(
        np.sqrt(13), rel=1e-4)
    assert main(["solve", str(csv), "--variant", "spline", "--law", "pm1-uniform", "--law-param", "c=5",
                 "--csv", str(tmp_path / "f.csv")]) == 0
    assert "status:       optimal" in capsys.readouterr().out
    assert main(["solve", str(csv), "--variant", "skip", "--lam", "-1"]) == 2
    assert main(["solve", str(csv), "--variant", "skip", "--law-param", "c=2"]) == 2


def test_tiny_sweep_writes_store_figures_and_report(tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY_TOML)
    out = tmp_path / "out"
    assert main(["sweep", str(cfg), "--out", str(out), "--serial", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "4 ok" in printed and "slope" in printed and "report:" in printed
    assert (out / "results.sqlite").exists()
    report = (out / "report.md").read_text()
    for section in ("## Rates", "## Metrics per setting", "## Figures", "## Reference solutions and certificates"):
        assert section in report
    figs = sorted(p.name for p in (out / "figures").iterdir())
    assert "convergence_envelope_violation_vs_width.png" in figs
    assert "convergence_envelope_violation_vs_width.pdf" in figs
    assert any(f.startswith("fit_width") and f.endswith(".png") for f in figs)
    # plot and report also run on their own, from the store alone.
    assert main(["plot", str(out)]) == 0
    assert main(["report", str(out)]) == 0
    assert "report.md" in capsys.readouterr().out


def test_quickstart_config_is_valid():
    """The README's main job parses, and is the width sweep it says it is (run in full by CI's
    `minnorm sweep examples/quickstart.toml`, ~20 s; here only validated, to keep the suite fast)."""
    from pathlib import Path

    from minnorm.comparison.sweeps.config import expand, load_config

    cfg = load_config(Path(__file__).parent.parent / "examples" / "quickstart.toml")
    runs = expand(cfg)
    assert len(runs) == 35 and cfg.varying_axes() == ["width", "seed"]
    assert cfg.reference == {"name": "tv2:skip", "lam": "mapped", "params": {}}
    # The reference is the exact limit of what is trained: weight decay on (a, w) only with a
    # skip connection is variant "skip" (MATH A.2), at lam = n * weight_decay.
    assert cfg.model["skip"] and cfg.model["parametrization"] == "standard" and not cfg.train["penalize_bias"]
    assert not cfg.train["penalize_affine"] and all(w > 0 for w in cfg.train["weight_decay"])
    assert cfg.train["lr_schedule"] == "cosine"
    assert cfg.metrics["main"] == "envelope_violation" and cfg.output["report"]


def test_reproduce_one_study_writes_report(tmp_path, capsys):
    code = main(["reproduce", "vardi-shamir", "--out", str(tmp_path)])
    assert code == 0
    report = (tmp_path / "report.md").read_text()
    assert "## vardi-shamir: Vardi, Shamir (arXiv 2012.05156)" in report
    # The exact verdict line ("holds" alone would also match "does not hold"/"holds approximately").
    verdicts = re.findall(r"^\*Verdict on the paper's claim:\* \*\*(.+?)\*\* \(reduced form, ", report, flags=re.M)
    assert verdicts == ["holds"]
    # summary row: ... | verdict | our hypotheses' verdicts | runtime |
    assert re.search(r"^\| vardi-shamir \| .* \| \*\*holds\*\* \| (holds|holds approximately|does not hold|inconclusive)"
                     r"(; (holds|holds approximately|does not hold|inconclusive))* \| [0-9.]+ s \|$", report, flags=re.M)
    assert main(["reproduce", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown study 'nope'" in capsys.readouterr().err
