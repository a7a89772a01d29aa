"""
A trained network against its limit
===================================

Train networks with a skip connection and weight decay on (a, w): the limit is the V1
regression :math:`\\min\\sum_i(f(x_i)-y_i)^2+\\mathrm{lam}\\int|f''|` at ``lam = n * weight_decay``
(:func:`minnorm.solver_lam`; :func:`minnorm.solve_limit` reads the problem off the training result).
Two numbers say how close a network is:

* :func:`minnorm.objective_gap` -- the network's function-space objective minus the certified
  optimum (>= 0 up to the certificate's tolerance);
* :func:`minnorm.envelope_violation` -- how far the network leaves the envelope of the *whole*
  set of minimisers (V1 minimisers are not unique: distance to one of them would mislead).
"""

import matplotlib.pyplot as plt
import numpy as np

import minnorm as mn

x = np.linspace(-1.0, 1.0, 8)
y = np.sin(np.pi * x)
weight_decay = 1e-3
interval = (-1.5, 1.5)
t = np.linspace(*interval, 600)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
rows = []
for width in (8, 32, 256):
    net = mn.ShallowReLU(width, skip=True, seed=0)
    result = mn.train(net, x, y, steps=6000, lr=5e-3, optimizer="adam", weight_decay=weight_decay,
                      lr_schedule="cosine")
    limit = mn.solve_limit(result, x, y)  # reference "tv2:skip" at lam = n * weight_decay
    best = limit.solution
    f = mn.to_function(net)
    gap = mn.objective_gap(f, x, y, result.lam, result.variant, solution=best)
    envelope = mn.tv2_envelope(x, best.fitted)  # every minimiser interpolates the same fitted values
    violation = mn.envelope_violation(f, envelope, interval)
    rows.append((width, gap, violation))
    left.plot(t, f(t), lw=1, label=f"m = {width}")
    print(f"m = {width:4d}: objective gap {gap:.2e}, envelope violation {violation:.2e}")

left.fill_between(t, envelope.lower(t), envelope.upper(t), color="0.85", label="solution set of the limit")
left.plot(t, best(t), "k--", lw=1, label=f"{limit.name}, lam = {result.lam:g}")
left.plot(x, y, "ko", ms=4)
left.set_title("trained networks and the V1 regression limit")
left.legend(fontsize=8)

widths, gaps, violations = map(np.array, zip(*rows))
right.loglog(widths, np.maximum(gaps, 1e-12), "o-", label="objective gap")
right.loglog(widths, np.maximum(violations, 1e-12), "s-", label="envelope violation")
right.set_xlabel("width m")
right.set_title("how far from the limit (6000 Adam steps)")
right.legend(fontsize=8)
fig.tight_layout()
