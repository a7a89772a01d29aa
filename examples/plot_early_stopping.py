"""
Early stopping and the smoothing spline
=======================================

Gradient descent on the output layer of a random-features network, started from a = 0 and
stopped after k steps, behaves like ridge with :math:`\\tilde\\lambda\\approx 1/(2\\eta k)` (η the
step on the sum of squares; MATH F), and ridge tends, as the width N grows, to the weighted
smoothing spline of the init law at :math:`\\mathrm{lam}=\\tilde\\lambda/N` (MATH D.2). Without
skip connection and output bias that limit carries the boundary term
(``weighted_spline(..., skip=False, output_bias=False)``). Early stopping is only an
approximation of ridge: the relative L² gap is a few per cent to 30 % along the path.
"""

import matplotlib.pyplot as plt
import numpy as np

import minnorm as mn

rng = np.random.default_rng(3)
x = np.sort(rng.uniform(-1.0, 1.0, 12))
y = np.sin(2.5 * x) + 0.1 * rng.standard_normal(x.size)
n, width = x.size, 2000
interval = (x[0] - 0.5 * np.ptp(x), x[-1] + 0.5 * np.ptp(x))
law = mn.kink_density("gaussian")

net = mn.ShallowReLU(width, init="gaussian", output_init="zeros", seed=3)
w, b = net.w.detach().numpy(), net.b.detach().numpy()
features = np.maximum(x[:, None] * w[None, :] + b[None, :], 0.0)
eta = 0.5 / np.linalg.eigvalsh(features @ features.T)[-1]  # stable step on the sum of squares
lr = eta * n  # train() minimises the mean squared error: its step is n times smaller per point

checkpoints = [10, 30, 100, 300, 1000, 3000]
t = np.linspace(*interval, 600)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
gap_spline, gap_ridge, done = [], [], 0
for k in checkpoints:
    mn.train(net, x, y, steps=k - done, lr=lr, train_first_layer=False)  # GD has no state: segments = one run
    done = k
    f = mn.to_function(net)
    lam_tilde = 1.0 / (2.0 * eta * k)
    spline = mn.weighted_spline(x, y, weight=law, lam=lam_tilde / width, skip=False, output_bias=False)
    ridge = mn.to_function(mn.random_features_ridge(net, x, y, lam_tilde))
    gap_spline.append(mn.rel_l2_distance(f, spline, interval))
    gap_ridge.append(mn.rel_l2_distance(f, ridge, interval))
    if k in (10, 100, 3000):
        line, = left.plot(t, f(t), lw=1.2, label=f"GD, k = {k}")
        left.plot(t, spline(t), ls=":", color=line.get_color())
    print(f"k = {k:5d}: lam~ = {lam_tilde:.3g}, rel. L2 gap to the spline {gap_spline[-1]:.3f}, "
          f"to ridge on the same features {gap_ridge[-1]:.3f}")
left.plot(x, y, "ko", ms=4)
left.set_title("early-stopped GD (solid) vs smoothing spline at lam = 1/(2ηkN) (dotted)")
left.title.set_fontsize(9)
left.legend(fontsize=8)
right.semilogx(checkpoints, gap_spline, "o-", label="GD vs weighted smoothing spline")
right.semilogx(checkpoints, gap_ridge, "s--", label="GD vs ridge (same features)")
right.set_xlabel("GD steps k")
right.set_ylabel("relative L² gap")
right.set_title("early stopping ≈ ridge ≈ spline")
right.legend(fontsize=8)
fig.tight_layout()
