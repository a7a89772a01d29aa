"""Every example runs (so examples never rot) and prints what the README says."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plot_minimum_norm_example(tmp_path):
    out = tmp_path / "fig.png"
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "plot_minimum_norm.py"), str(out)],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # V1 value of the example data is 3 exactly (sum of |slope changes|), certified
    assert "V1 value 3.000000" in res.stdout
    assert "sparsest knots [-0.425, 0.22]" in res.stdout


def test_readme_code_blocks_run_and_print_what_they_say(capsys):
    """The README's Python blocks, run verbatim; their printed numbers are the comments in them."""
    import re

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    exec(compile("\n".join(blocks), "README.md", "exec"), {})
    out = capsys.readouterr().out.split("\n")
    assert out[0] == "2.0 2.0 0.0 optimal"
    assert out[2] == "1.0 1.5"
    assert abs(float(out[3]) - 13**0.5) < 1e-6
    net_obj, best = map(float, out[4].split())
    assert best <= net_obj < best * (1 + 1e-3)  # the trained net is within 0.1 % of the limit
    assert float(out[5]) < 1e-3  # and within 1e-3 of the whole solution set
