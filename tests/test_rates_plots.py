"""Rate fits and figures."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from solvers import InputError, PiecewiseLinear as PL
from minnorm.comparison.metrics import knots_per_interval
from minnorm.comparison.plots import plot_convergence, plot_fit, plot_knot_histogram, plot_training_curves
from minnorm.comparison.problems import make_problem
from minnorm.comparison.rates import RateFit, fit_rate, fit_rates

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _synthetic(alpha=0.5, C=3.0, noise=0.1, seeds=8, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    widths = np.array([10, 20, 50, 100, 200, 500, 1000, 2000])
    rows = []
    for s in range(seeds):
        for m in widths:
            rows.append({"width": m, "seed": s, "kind": "a",
                         "linf": C * m ** (-alpha) * (1 + noise * rng.standard_normal())})
            rows.append({"width": m, "seed": s, "kind": "b",
                         "linf": 0.5 * m ** (-1.0) * (1 + noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_fit_rate_exact_power_law():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    fit = fit_rate(x, 3.0 * x ** -0.5, n_boot=200)
    assert fit.exponent == pytest.approx(0.5, abs=1e-12)
    assert fit.C == pytest.approx(3.0, rel=1e-12)
    assert fit.ci_low == pytest.approx(0.5, abs=1e-9) and fit.ci_high == pytest.approx(0.5, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    np.testing.assert_allclose(fit.predict(x), 3.0 * x ** -0.5, rtol=1e-12)


def test_fit_rate_recovers_exponent_with_seed_bootstrap():
    df = _synthetic(rng_seed=1)
    a = df[df.kind == "a"]
    fit = fit_rate(a.width, a.linf, seeds=a.seed, n_boot=1000, seed=1)
    assert fit.ci_low < 0.5 < fit.ci_high
    assert fit.ci_high - fit.ci_low < 0.05
    assert abs(fit.exponent - 0.5) < 0.02 and abs(fit.C - 3.0) < 0.3
    assert fit.n_points == 64 and fit.n_groups == 8 and fit.n_dropped == 0
    # The point estimate is ordinary least squares on (log x, log y): numpy's polyfit, independently.
    slope, intercept = np.polyfit(np.log(a.width.to_numpy(float)), np.log(a.linf.to_numpy()), 1)
    assert fit.exponent == pytest.approx(-slope, rel=1e-10)
    assert fit.C == pytest.approx(np.exp(intercept), rel=1e-10)
    s = str(fit)
    assert f"x^({slope:.3f})" in s and "8 seeds" in s
    # Deterministic given the bootstrap seed.
    again = fit_rate(a.width, a.linf, seeds=a.seed, n_boot=1000, seed=1)
    assert (again.ci_low, again.ci_high) == (fit.ci_low, fit.ci_high)


def test_fit_rate_ci_coverage():
    # A 95 % interval should contain the true exponent in about 95 % of data sets (measured: 38/40).
    hits = 0
    for r in range(40):
        a = _synthetic(rng_seed=100 + r).query("kind == 'a'")
        fit = fit_rate(a.width, a.linf, seeds=a.seed, n_boot=300, seed=r)
        hits += fit.ci_low < 0.5 < fit.ci_high
    assert hits >= 34


def test_fit_rate_drops_invalid_with_warning():
    x = np.array([1.0, 2.0, 4.0, 8.0, -1.0, 16.0])
    y = np.array([1.0, 0.5, 0.25, np.nan, 3.0, 0.0])
    with pytest.warns(RuntimeWarning, match="ignored 3 of 6"):
        fit = fit_rate(x, y, n_boot=100)
    assert fit.n_dropped == 3 and fit.n_points == 3
    assert fit.exponent == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(InputError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_rate([1.0, 1.0, -2.0], [1.0, 2.0, 3.0])


def test_fit_rates_dataframe():
    df = _synthetic()
    out = fit_rates(df, x="width", y="linf", by=["kind"], n_boot=300)
    assert list(out.kind) == ["a", "b"]
    assert out.loc[out.kind == "a", "exponent"].item() == pytest.approx(0.5, abs=0.02)
    b = out[out.kind == "b"].iloc[0]
    assert b.ci_low < 1.0 < b.ci_high and b.n_groups == 8
    one = fit_rates(df[df.kind == "a"], n_boot=100)
    assert len(one) == 1 and one.exponent.item() == pytest.approx(0.5, abs=0.02)
    with pytest.raises(InputError, match="depth"):
        fit_rates(df, x="depth")


def test_plots_write_png_and_pdf(tmp_path):
    p = make_problem("sin", "uniform", 6, seed=0)
    from minnorm.comparison.references import solve_reference

    ref = solve_reference("tv2:skip", [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 0.0])
    p2 = make_problem("file:" + _csv(tmp_path, [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 0.0]))
    nets = [PL([0, 1, 1.5, 2, 3], [0, 1, 1.2, 1, 0], 1.0, -1.0), PL.from_values(p2.x, p2.y)]
    fig = plot_fit(p2, nets, ref, path=tmp_path / "fit.png")  # envelope shaded from the reference
    assert fig.axes and any(c.__class__.__name__ == "FillBetweenPolyCollection" or "Poly" in c.__class__.__name__
                            for c in fig.axes[0].collections)
    plot_fit(p, PL.from_values(p.x, p.y), None, path=tmp_path / "fit_base")  # no suffix: .png and .pdf

    df = _synthetic(seeds=3)
    fig = plot_convergence(df, x="width", y="linf", hue="kind", path=tmp_path / "conv.pdf")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("slope -0.5" in s for s in labels) and any("slope -1.0" in s for s in labels)

    kc = knots_per_interval(PL.from_knots([0.5, 1.2, 1.5, 1.8], [1, -1, 1, -1], 0, 0), [0, 1, 2, 3])
    plot_knot_histogram([kc, kc, np.array([0, 4])], path=tmp_path / "knots.png")
    steps = np.arange(100)
    plot_training_curves({"m=10": {"step": steps, "loss": np.exp(-steps / 10), "objective": 1 + np.exp(-steps / 20)},
                          "m=100": {"step": steps, "loss": np.exp(-steps / 5)}}, path=tmp_path / "train.png")
    plot_training_curves({"step": steps, "loss": 1.0 / (1 + steps)}, path=tmp_path / "train1.png")
    for name in ("fit.png", "fit_base.png", "knots.png", "train.png", "train1.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000, name
    for name in ("fit_base.pdf", "conv.pdf"):
        data = (tmp_path / name).read_bytes()
        assert data[:5] == b"%PDF-" and len(data) > 3000, name


def _csv(tmp_path, x, y):
    path = tmp_path / "data.csv"
    path.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y)))
    return str(path)


def test_ratefit_str_without_ci():
    fit = RateFit(exponent=0.5, ci_low=math.nan, ci_high=math.nan, C=2.0, n_points=2)
    assert "no CI" in str(fit)
