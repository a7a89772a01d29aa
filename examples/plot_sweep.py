"""
A width × n × weight-decay sweep from Python, with its rate fit
===============================================================

The command line's ``minnorm sweep CONFIG.toml`` is three calls: :func:`minnorm.parse_config`
validates a config (here a dict, as TOML would give it), :func:`minnorm.run_sweep` trains and
measures every run into a resumable SQLite store, and :func:`minnorm.load_results` returns the
store as a pandas DataFrame, on which :func:`minnorm.fit_rates` fits
:math:`y\\approx C\\,m^{-\\alpha}` per setting with a bootstrap interval over seeds.

The networks have a skip connection and weight decay on (a, w); each run is compared with the
exact V1 regression at the mapped ``lam = n * weight_decay``. The metric is the envelope
violation (distance to the whole solution set) on the data hull widened by 50 %. Running the
same call again finds every run in the store and trains nothing. Every width here can represent
the limit, so the fitted exponents say how close 3000 steps get, not an approximation rate
(the README's quickstart discusses this).
"""

import tempfile

import matplotlib.pyplot as plt
import numpy as np

import minnorm as mn

config = mn.parse_config({
    "name": "gallery-sweep",
    "seeds": 2,
    "problem": {"target": "square", "design": "uniform", "n": [8, 16]},
    "reference": {"name": "tv2:skip", "lam": "mapped"},
    "model": {"width": [8, 32, 128], "skip": True},
    "train": {"optimizer": "adam", "steps": 3000, "lr": 5e-3, "lr_schedule": "cosine",
              "weight_decay": [1e-3, 4e-3]},
    "metrics": {"main": "envelope_violation"},
})
print(config.n_runs(), "runs over", config.varying_axes())

out = tempfile.mkdtemp(prefix="minnorm-gallery-")
summary = mn.run_sweep(config, out, serial=True, progress=False, report=False)
again = mn.run_sweep(config, out, serial=True, progress=False, report=False)  # resumes: nothing to do
print(summary)
print(again)

df = mn.load_results(f"{out}/results.sqlite")
rates = mn.fit_rates(df, x="width", y="envelope_violation", by=["n", "weight_decay"], n_boot=200)
print(rates[["n", "weight_decay", "exponent", "ci_low", "ci_high"]].to_string(index=False))

fig, ax = plt.subplots(figsize=(6.5, 4.2))
m = np.geomspace(df["width"].min(), df["width"].max(), 50)
for i, ((n, wd), group) in enumerate(df.groupby(["n", "weight_decay"])):
    fit = rates[(rates["n"] == n) & (rates["weight_decay"] == wd)].iloc[0]
    ax.loglog(group["width"], group["envelope_violation"], "o", color=f"C{i}", alpha=0.5)
    ax.loglog(m, fit["C"] * m ** (-fit["exponent"]), "-", color=f"C{i}",
              label=f"n = {n}, wd = {wd:g}: ∝ m^-α, α = {fit['exponent']:.2f} [{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]")
ax.set_xlabel("width m")
ax.set_ylabel("envelope violation")
ax.set_title("distance to the solution set of the exact limit (3000 Adam steps)", fontsize=10)
ax.legend(fontsize=7)
fig.tight_layout()
