"""The function-space limits of one data set, side by side.

Minimum-norm interpolants (``min ∫|f''|``: the connect-the-dots and the sparsest solution, the
envelope of the whole solution set, the unique bias-penalised solution) and weighted cubic
splines (``min ∫ f''²/g`` for g ≡ 1 and for the kink density of a Gaussian initialisation).

Run: ``python examples/plot_minimum_norm.py [OUT.png]``.
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minnorm as mn  # noqa: E402

x = np.array([-1.0, -0.6, -0.2, 0.1, 0.4, 0.8, 1.0])
y = np.array([0.0, 0.6, 0.9, 0.95, 0.7, 0.1, -0.2])

linear = mn.tv2_interpolant(x, y)
sparsest = mn.tv2_interpolant(x, y, select="sparsest")
bias = mn.tv2_interpolant(x, y, variant="bias")
envelope = mn.tv2_envelope(x, y)
natural = mn.weighted_spline(x, y)
gauss = mn.weighted_spline(x, y, weight=mn.kink_density("gaussian", sigma_w=1.0, sigma_b=0.5))

t = np.linspace(-1.6, 1.6, 801)
fig, ax = plt.subplots(figsize=(7, 4.2))
ax.fill_between(t, envelope.lower(t), envelope.upper(t), color="0.85", label="V1 solution set (envelope)")
ax.plot(t, linear(t), "k-", lw=1.2, label=f"V1 linear, ∫|f''| = {linear.value:.3f}")
ax.plot(t, sparsest(t), "C3--", lw=1.5, label=f"V1 sparsest ({sparsest.knots.size} knots)")
ax.plot(t, bias(t), "C2:", lw=2, label=f"V3 (bias-penalised), R = {bias.value:.3f}")
ax.plot(t, natural(t), "C0-", lw=1, label="natural cubic spline (g ≡ 1)")
ax.plot(t, gauss(t), "C1-", lw=1, label="weighted spline, Gaussian init")
ax.plot(x, y, "ko", ms=5, zorder=5)
ax.set_xlabel("x")
ax.set_ylabel("f(x)")
ax.set_title("Function-space limits of shallow ReLU networks on one data set")
ax.legend(fontsize=8, loc="lower center")
fig.tight_layout()
out = sys.argv[1] if len(sys.argv) > 1 else "examples/minimum_norm.png"
fig.savefig(out, dpi=110)
print(f"V1 value {linear.value:.6f} (gap {linear.gap:.1e}), sparsest knots {sparsest.knots.round(4).tolist()}")
print(f"V3 value {bias.value:.6f} (gap {bias.gap:.1e}), knots {bias.knots.round(4).tolist()}")
print(f"wrote {out}")
