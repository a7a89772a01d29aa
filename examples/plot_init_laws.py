"""
Weighted splines for the three initialisation laws, and the no-skip boundary term
=================================================================================

A random first layer with ridge on the output weights (the kernel regime) converges to the
weighted cubic spline :math:`\\min\\int f''(x)^2/g(x)\\,dx` (MATH D), where g is the density of the
kinks :math:`-b/w` weighted by :math:`w^2` under the initialisation law:
:func:`minnorm.kink_density` gives it for the ``uniform`` law (torch's default), the ``gaussian``
law and ``pm1-uniform`` (w = ±1, b ~ U[-c, c]).

Without a skip connection and output bias the limit is not the spline with a free affine part
but the kernel interpolant with a boundary term (``skip=False, output_bias=False``, MATH D.2);
the gap shrinks as the bias range c grows.
"""

import matplotlib.pyplot as plt
import numpy as np

import minnorm as mn

x = np.array([-1.0, -0.7, -0.3, 0.0, 0.2, 0.6, 1.0])
y = np.array([0.0, 0.7, 0.2, -0.4, 0.1, 0.9, 0.3])
t = np.linspace(-2.0, 2.0, 600)

fig, (left, mid, right) = plt.subplots(1, 3, figsize=(14, 4.2))
for law in ("uniform", "gaussian", "pm1-uniform"):
    g = mn.kink_density(law)
    left.plot(t, g.g(t), label=law)
    spline = mn.weighted_spline(x, y, weight=g)
    mid.plot(t, spline(t), label=f"{law}: ∫f''²/g = {spline.value:.3f}")
mid.plot(t, mn.weighted_spline(x, y)(t), "k:", label="natural (g ≡ 1)")
mid.plot(x, y, "ko", ms=4)
left.set_title("kink densities g (default parameters)", fontsize=10)
left.legend(fontsize=8)
mid.set_title("weighted cubic splines (free skip and output bias)", fontsize=10)
mid.legend(fontsize=7)

for c, color in ((2.0, "C0"), (5.0, "C1"), (20.0, "C2")):
    g = mn.kink_density("pm1-uniform", c=c)
    free = mn.weighted_spline(x, y, weight=g)
    noskip = mn.weighted_spline(x, y, weight=g, skip=False, output_bias=False)
    grid = np.linspace(x[0], x[-1], 400)
    gap = np.max(np.abs(free(grid) - noskip(grid)))
    right.plot(t, noskip(t), color=color, label=f"no skip, c = {c:g} (sup gap on hull {gap:.1e})")
    right.plot(t, free(t), color=color, ls=":")
right.plot(x, y, "ko", ms=4)
right.set_title("no skip: boundary term (dotted: free affine part)", fontsize=10)
right.legend(fontsize=7)
fig.tight_layout()
