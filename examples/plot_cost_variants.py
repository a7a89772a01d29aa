"""
The four cost variants on one data set
======================================

Weight decay on a shallow ReLU network penalises, in function space, one of four costs
R(f) (MATH A.2), depending on whether the network has a skip connection ``cx + d`` and whether
its biases are penalised:

* ``"skip"`` (V1): :math:`\\int|f''|`;
* ``"no-skip"`` (V2): :math:`\\max(\\int|f''|, |f'(-\\infty)+f'(+\\infty)|)`;
* ``"bias"`` (V3): :math:`\\int\\sqrt{1+t^2}\\,d|f''|(t)`;
* ``"bias-no-skip"`` (V4): V3's cost plus :math:`(|D|-\\|f''\\|)_+`.

V1 and V2 have whole sets of minimisers: :func:`minnorm.tv2_envelope` bounds every one of them
pointwise (shaded); the bias-penalised variants have a unique minimiser. The data follow the line
1.5x closely, so the figure shows f(x) − 1.5x: the differences between the variants are in the
kinks and, without a skip connection, in the outer slopes.
"""

import matplotlib.pyplot as plt
import numpy as np

import minnorm as mn

# Steep outer slopes of one sign (|f'(-inf) + f'(+inf)| large) and data away from 0 make the four
# costs differ: 1.6, 2.3, 2.39 and 3.09.
x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
y = 1.5 * x + np.array([0.0, 0.1, -0.05, 0.1, 0.1, 0.0])

t = np.linspace(-1.0, 3.5, 600)


def trend(u):
    return 1.5 * u


fig, axes = plt.subplots(2, 2, figsize=(9, 6), sharex=True, sharey=True)
for ax, variant in zip(axes.flat, mn.VARIANTS):
    sol = mn.tv2_interpolant(x, y, variant=variant)
    if variant in ("skip", "no-skip"):
        env = mn.tv2_envelope(x, y, variant=variant)
        ax.fill_between(t, env.lower(t) - trend(t), env.upper(t) - trend(t), color="0.85",
                        label="solution set (envelope)")
    ax.plot(t, sol(t) - trend(t), "C3-", lw=1.5, label=f"R = {sol.value:.4f} ({sol.status}, gap {sol.gap:.0e})")
    ax.plot(x, y - trend(x), "ko", ms=4)
    ax.set_title(f'variant="{variant}"')
    ax.set_ylim(-0.6, 0.5)
    ax.legend(fontsize=8, loc="upper left")
    print(f"{variant:>13}: value {sol.value:.6f}, lower bound {sol.lower_bound:.6f}, method {sol.method}")
for ax in axes[1]:
    ax.set_xlabel("x")
axes[0, 0].set_ylabel("f(x) − 1.5 x")
axes[1, 0].set_ylabel("f(x) − 1.5 x")
fig.suptitle("Minimum-norm interpolants of the four cost variants")
fig.tight_layout()
