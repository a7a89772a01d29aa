"""
Sparsest and linear minimisers, and the free end interval without a skip connection
====================================================================================

Where the data change convexity, V1 (``min ∫|f''|``) has many minimisers. ``select="linear"``
returns connect-the-dots on the convexity changes; ``select="sparsest"`` the one with the
fewest knots. Both lie in the envelope of the whole solution set.

Without a skip connection (V2) the outer slopes trade off against the total variation of f':
for x = (0, 1, 2), y = (0, 1, 3) (MATH G4) the secant slopes 1 and 2 give
:math:`|s_1+s_{n-1}| = 3 > V = 1`, the first data interval becomes free, the one-knot minimiser
is :math:`2\\,\\mathrm{relu}(x-\\tfrac12)`, and f(0.5) ranges over [0, 0.5] across the solution set.
"""

import matplotlib.pyplot as plt
import numpy as np

import minnorm as mn

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))

# V1: linear and sparsest minimisers and the envelope.
x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
y = np.array([0.0, 0.8, 1.0, 0.9, 0.3, 0.0])
linear = mn.tv2_interpolant(x, y, select="linear")
sparsest = mn.tv2_interpolant(x, y, select="sparsest")
env = mn.tv2_envelope(x, y)
t = np.linspace(-1.6, 2.1, 600)
left.fill_between(t, env.lower(t), env.upper(t), color="0.85", label="V1 solution set")
left.plot(t, linear(t), "k-", label=f"linear: {linear.knots.size} knots, R = {linear.value:.3f}")
left.plot(t, sparsest(t), "C3--", label=f"sparsest: {sparsest.knots.size} knots, R = {sparsest.value:.3f}")
left.plot(x, y, "ko", ms=4)
left.set_title('variant="skip": two minimisers of one set')
left.legend(fontsize=8)

# V2 (MATH G4): the first interval is free.
x2 = np.array([0.0, 1.0, 2.0])
y2 = np.array([0.0, 1.0, 3.0])
sol = mn.tv2_interpolant(x2, y2, variant="no-skip", select="sparsest")
env2 = mn.tv2_envelope(x2, y2, variant="no-skip")
t2 = np.linspace(-0.5, 2.5, 400)
right.fill_between(t2, env2.lower(t2), env2.upper(t2), color="0.85", label="V2 solution set")
right.plot(t2, sol(t2), "C3-", label=f"sparsest: knots {sol.knots.round(3).tolist()}, R = {sol.value:.3f}")
right.plot(t2, 2 * np.maximum(t2 - 0.5, 0.0), "k:", label="2 relu(x - 1/2)")
right.plot(x2, y2, "ko", ms=4)
right.set_title('variant="no-skip": a free end interval (MATH G4)')
right.legend(fontsize=8)
fig.tight_layout()

print("V1 sparsest knots", sparsest.knots.round(4), "linear knots", linear.knots.round(4))
print("V2 f(0.5) ranges over", env2.lower(0.5), env2.upper(0.5))
