r"""The update rules of the trainer: GD/SGD steps, Adam, and the Langevin noise term.

Update rules (:math:`\eta` = ``lr``, T = ``noise_temperature``, :math:`\xi\sim N(0,I)`)
-------------------------------------------------------------------------------------------
- ``"gd"`` (full batch) and ``"sgd"`` (minibatches of ``batch_size``, a fresh permutation of the
  data each epoch, the last batch possibly smaller; the MSE of a batch is its own mean):
  :math:`\theta\leftarrow\theta-\eta\nabla\mathcal L+\sqrt{2\eta T}\,\xi` (Langevin noise on all
  trained parameters when T > 0; MATH E).
- ``"adam"``: torch's Adam formula on :math:`\nabla\mathcal L` (``betas``, ``eps``), then the same
  noise term if T > 0 (then it is not a Langevin sampler).

Learning-rate schedules (``lr_schedule``, ``lr_final_ratio`` = r)
-------------------------------------------------------------------
The update at step t = 0, 1, ..., ``steps``-1 uses :math:`\eta_t=\eta\,s(t/\mathrm{steps})` in place
of :math:`\eta` (in every rule above, the Langevin term included: :math:`\sqrt{2\eta_t T}\,\xi`):

- ``"constant"``: :math:`s\equiv1` (the default; r must then be 1 or omitted);
- ``"cosine"``: :math:`s(u)=r+(1-r)\,\tfrac12(1+\cos\pi u)`, torch's ``CosineAnnealingLR`` with
  ``T_max=steps``, ``eta_min=r*lr`` (r in [0, 1]);
- ``"exponential"``: :math:`s(u)=r^{u}`, torch's ``ExponentialLR`` with ``gamma=r**(1/steps)``
  (r in (0, 1]).

r defaults to 0.01 for the two decaying schedules: the last steps run at ~1/100 of the peak
lr, which lowers the noise floor of a constant-lr Adam (or SGD) run (its iterates keep
oscillating at a distance that shrinks with lr, not with steps) without slowing the early
phase. Example: weight-decay ERM in the PPW study (minnorm.studies.ppw) reaches relative
objective gaps <= 7e-3 with Adam and cosine decay, but stalls at up to 0.5 with Adam at the
same constant peak lr. The schedule depends on the step only (shared by all networks of a
population; ``lr`` scales it per network), so :func:`~minnorm.training.loop.train_population` is
still exactly :func:`~minnorm.training.loop.train` network by network; a network stopped by ``tol`` or divergence simply stops
using it. :func:`~minnorm.training.options.lr_sequence` returns the η_t of a run.

Mean-field with the conventions of Shevchenko et al. (per particle
:math:`\theta\leftarrow\theta-\eta(m\nabla\hat L+\lambda\theta)+\sqrt{2\eta/\beta}\,\xi`, :math:`\hat L`
the MSE): ``lr = m*eta``, ``weight_decay = lambda/m``, ``noise_temperature = 1/(m*beta)``;
then ``lam = n*lambda``.

The functions act on the packed parameters of a :class:`~minnorm.training.population.Population`:
:func:`_update` on all trained groups at once, laid side by side in one [K, T] tensor (one fused
pass per step, per-network ``lr`` [K, 1]), :func:`_add_noise` on the groups by name (``P``: name ->
[K, M] or [K] views of it); :mod:`minnorm.training.loop` calls them once per step,
:mod:`minnorm.training.compiled` repeats the same arithmetic in numba.
"""

import math

import torch

from solvers._validation import validate_real
from solvers.errors import InputError



def _check_betas(betas):
    """Adam's ``(beta1, beta2)`` as two floats in [0, 1)."""
    try:
        pair = [validate_real(bb, "betas") for bb in betas]
    except TypeError:  # not iterable
        pair = None
    if pair is None or len(pair) != 2 or not all(0.0 <= bb < 1.0 for bb in pair):
        raise InputError(f"betas must be two numbers in [0, 1); got {betas!r}")
    return pair[0], pair[1]


def _adam_bias_correction(b1, b2, t):
    """Adam's bias corrections at step t >= 1, ``(1 - b1**t, sqrt(1 - b2**t))``: the step is
    ``(lr / first) * m / (sqrt(v) / second + eps)``, as in torch.optim.Adam."""
    return 1 - b1 ** t, math.sqrt(1 - b2 ** t)


def _update(theta, grad, active, lr, adam, t, betas, eps):
    """One optimizer step on the flat trained parameters ``theta`` [K, T] (every trained group side
    by side, :func:`minnorm.training.objective._flat`) with their gradient ``grad`` [K, T] and
    per-network ``lr`` [K, 1]: one pass over all groups, torch.optim's formulas entry by entry.

    ``adam``: None (GD/SGD) or the list ``[m, v]`` of moment tensors [K, T], replaced by the new ones.
    ``active`` is None when every network is live (in-place path); otherwise [K, 1], and frozen
    networks keep their parameters and moments exactly (``where``, not a 0-multiply: theirs may
    be NaN).
    """
    if adam is None:
        step = lr * grad
    else:
        m, v = adam
        b1, b2 = betas
        # torch.optim.Adam's (single-tensor) formula, operation by operation, so that results
        # match it (and the compiled backend) to rounding.
        m_new = b1 * m + (1 - b1) * grad
        v_new = b2 * v + (1 - b2) * grad * grad
        bc1, sbc2 = _adam_bias_correction(b1, b2, t)
        denom = v_new.sqrt() / sbc2 + eps
        step = (lr / bc1) * m_new / denom
        if active is None:
            adam[:] = m_new, v_new
        else:
            adam[:] = torch.where(active, m_new, m), torch.where(active, v_new, v)
    if active is None:
        theta.sub_(step)
    else:
        theta.copy_(torch.where(active, theta - step, theta))


def _add_noise(P, pop, has_cd, active, noise_sd, gens, noisy, train_first_layer):
    """Langevin term sqrt(2 lr T) xi: one draw per network per step, of exactly its own size,
    from its own generator, in the order a, w, b (if trained), c, d (if present); ``active``: a
    list of bools (a host value, so that drawing needs no device sync)."""
    names = ["a"] + (["w", "b"] if train_first_layer else [])
    for k, g in enumerate(gens):
        if not (noisy[k] and active[k]):
            continue
        m = pop.widths[k]
        extra = has_cd[k]
        z = torch.randn(len(names) * m + len(extra), generator=g, device=P["a"].device, dtype=P["a"].dtype)
        sd = noise_sd[k]
        for i, nm in enumerate(names):
            P[nm][k, :m] += sd * z[i * m:(i + 1) * m]
        for i, nm in enumerate(extra):
            P[nm][k] += sd * z[len(names) * m + i]

