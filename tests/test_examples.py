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
