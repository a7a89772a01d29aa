"""The ``minnorm`` command line: help, exit codes, solve (known answers) and a tiny sweep."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from minnorm.cli import main

SUBCOMMANDS = ("sweep", "solve", "plot", "report", "reproduce")

TINY_TOML = """
name = "cli-tiny"
seeds = 2
[problem]
target = "sin"
n = 6
[reference]
name = "tv2:skip"
lam = "mapped"
[model]
width = [8, 16]
skip = true
[train]
optimizer = "adam"
steps = 200
lr = 0.01
weight_decay = 1e-3
[metrics]
main = "envelope_violation"
"""


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
    p.write_text(TINY_TOML.replace("weight_decay = 1e-3", 'weight_decay = "abc"'))
    assert main(["sweep", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "train.weight_decay: expected a number or list of numbers, got 'abc'" in err
    assert "Traceback" not in err
    p.write_text(TINY_TOML + "\n[output]\nformat = 'csv'\n")
    assert main(["sweep", str(p)]) == 2
    assert "output.format: unknown key" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert main(["plot", str(tmp_path)]) == 2  # no store there
    assert "no results.sqlite" in capsys.readouterr().err


def _closed_form_V(x, y):
    s = np.diff(y) / np.diff(x)
    return float(np.sum(np.abs(np.diff(s))))


def test_solve_prints_the_closed_form_value(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-2, 2, 9))
    y = rng.standard_normal(9)
    csv = tmp_path / "data.csv"
    csv.write_text("x,y\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y)))
    assert main(["solve", str(csv), "--variant", "skip", "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    value = float(re.search(r"value:\s+(\S+)", out).group(1))
    V = _closed_form_V(x, y)
    assert value == pytest.approx(V, rel=1e-10)  # MATH B.1: min int|f''| = sum |s_i - s_{i-1}|
    assert "status:       optimal" in out
    sol = json.loads((tmp_path / "s.json").read_text())
    assert sol["value"] == pytest.approx(V, rel=1e-10) and sol["gap"] <= 1e-9 * V
    assert len(sol["function"]["knots"]) == 7  # linear interpolant: kinks at interior data points


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

    from minnorm.config import expand, load_config

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
    assert "vardi-shamir" in report.lower() or "vardi" in report.lower()
    assert "holds" in report
    assert main(["reproduce", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown study 'nope'" in capsys.readouterr().err
