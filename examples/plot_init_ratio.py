"""
Kernel or adaptive regime: the init ratio decides
=================================================

Train the same network by plain gradient descent (no weight decay) from initialisations that
differ only in the ratio :math:`\\rho=|a|/\\|(w,b)\\|` of output to hidden weights (Williams et
al.; MATH E). Small ρ is the kernel regime: the kinks barely move and the network tends to the
weighted cubic spline of the init law (here without skip connection: the kernel interpolant
with the boundary term). Large ρ is the adaptive regime: the kinks move and the network stays
inside the envelope of the minimum-TV (V1) interpolants.

The function at initialisation is 0 for every ρ (antisymmetric init); the learning rate is
1 / λ_max of the Gauss--Newton matrix at initialisation, so each ρ gets a stable step.
"""

import matplotlib.pyplot as plt
import numpy as np

import minnorm as mn

x = np.linspace(-1.0, 1.0, 10)
y = np.sign(np.sin(np.pi * x + 0.3))  # a square wave
hull = (-1.0, 1.0)
law = mn.kink_density("pm1-uniform", c=1.2)
spline = mn.weighted_spline(x, y, weight=law, skip=False, output_bias=False)
envelope = mn.tv2_envelope(x, y)


def gauss_newton_lmax(net):
    """Largest eigenvalue of (2/n) J Jᵀ of the MSE at the net's parameters."""
    a, w, b = (p.detach().numpy() for p in (net.a, net.w, net.b))
    pre = w[None, :] * x[:, None] + b[None, :]
    act = pre > 0
    J = np.concatenate([np.where(act, pre, 0.0), act * a * x[:, None], act * a], axis=1)
    return 2.0 / x.size * np.linalg.eigvalsh(J @ J.T)[-1]


rhos = [1e-2, 1e-1, 1.0, 10.0, 100.0]
width, total = 400, 3.0
nets, d_spline, violation = {}, [], []
for rho in rhos:
    scale = total / np.sqrt(1.0 + rho**2)  # |(w, b)| ~ scale, |a| ~ rho * scale
    net = mn.ShallowReLU(width, init="pm1-uniform", init_params={"c": 1.2}, antisymmetric=True,
                         hidden_scale=scale, output_scale=rho * scale, seed=0)
    mn.train(net, x, y, steps=30000, lr=1.0 / gauss_newton_lmax(net))
    f = mn.to_function(net)
    nets[rho] = f
    d_spline.append(mn.linf_distance(f, spline, hull))
    violation.append(mn.envelope_violation(f, envelope, hull))
    print(f"rho = {rho:g}: sup distance to the spline {d_spline[-1]:.3f}, V1 envelope violation {violation[-1]:.3f}")

t = np.linspace(*hull, 600)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.loglog(rhos, d_spline, "o-", label="sup |f - weighted spline|")
left.loglog(rhos, np.maximum(violation, 1e-6), "s-", label="V1 envelope violation")
left.set_xlabel("init ratio ρ")
left.set_title("distance to each limit")
left.legend(fontsize=8)
right.fill_between(t, envelope.lower(t), envelope.upper(t), color="0.85", label="V1 envelope")
right.plot(t, spline(t), "k-", label="weighted spline (kernel limit)")
right.plot(t, nets[rhos[0]](t), "C0--", label=f"net, ρ = {rhos[0]:g}")
right.plot(t, nets[rhos[-1]](t), "C3-", lw=1, label=f"net, ρ = {rhos[-1]:g}")
right.plot(x, y, "ko", ms=4)
right.set_title("square wave: fitted functions")
right.legend(fontsize=7)
fig.tight_layout()
