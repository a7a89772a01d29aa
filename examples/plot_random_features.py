"""
Random-features ridge converges to the weighted spline as the width grows
=========================================================================

Freeze the first layer (w, b) at its random initialisation and fit only the output weights
by ridge: :func:`minnorm.random_features_ridge` solves the finite-width problem exactly. As the
width m grows, the fitted function tends to the weighted smoothing spline of the init law's
kink density (MATH D.2, Heiss--Teichmann--Wutte), at the function-space constant
``lam = ridge_lam(weight_decay, n) / m``, which is what :func:`minnorm.solver_lam` returns for a
frozen first layer: here lam is held fixed and the weight decay scaled with m.
"""

import matplotlib.pyplot as plt
import numpy as np

import minnorm as mn

x = np.linspace(-1.0, 1.0, 10)
y = np.sin(np.pi * x) + 0.3 * x**2
n = x.size
lam = 1e-2  # the function-space constant, held fixed as the width grows
interval = (-1.5, 1.5)
t = np.linspace(*interval, 600)
limit = mn.weighted_spline(x, y, weight=mn.kink_density("gaussian"), lam=lam)
widths = [32, 128, 512, 2048, 4096]

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.plot(t, limit(t), "k-", lw=2, label="weighted spline (gaussian law)")
distances = []
for m in widths:
    # The weight decay whose frozen-layer limit constant is lam at this width (solver_lam inverted).
    weight_decay = 2.0 * m * lam / n
    assert np.isclose(mn.solver_lam(weight_decay, n, m, train_first_layer=False), lam)
    d = []
    for seed in range(3):
        net = mn.ShallowReLU(m, skip=True, init="gaussian", seed=seed)
        fitted = mn.to_function(mn.random_features_ridge(net, x, y, mn.ridge_lam(weight_decay, n)))
        d.append(mn.linf_distance(fitted, limit, interval))
    distances.append(d)
    if m in (32, 512, 4096):
        left.plot(t, fitted(t), lw=1, label=f"ridge, m = {m}")
left.plot(x, y, "ko", ms=4)
left.set_title("frozen first layer + ridge on a")
left.legend(fontsize=8)

distances = np.array(distances)
W = np.repeat(widths, 3)
fit = mn.fit_rate(W, distances.ravel(), seeds=np.tile(np.arange(3), len(widths)), n_boot=200)
right.loglog(W, distances.ravel(), "o", alpha=0.6)
right.loglog(widths, fit.predict(np.array(widths, float)), "k-",
             label=f"∝ m^-{fit.exponent:.2f}  [{fit.ci_low:.2f}, {fit.ci_high:.2f}]")
right.set_xlabel("width m")
right.set_ylabel("sup distance to the weighted spline")
right.set_title("distance vs width (3 seeds)")
right.legend(fontsize=8)
fig.tight_layout()
print(fit)
