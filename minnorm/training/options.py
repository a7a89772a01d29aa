"""The training layer's vocabulary and the rules on it, without torch: the option names a
network and a training run accept, and the learning-rate schedules.

A sweep config validates against these same tuples and rules (imported from here), so a config
cannot accept what the trainer rejects, and parsing one does not import torch.

Learning-rate schedules: the update at step t (0-based, of ``steps``) uses ``lr * s(t / steps)``,
``s(u) = 1`` (constant), ``r + (1 - r)(1 + cos(pi u))/2`` (cosine) or ``r**u`` (exponential), with
``r = lr_final_ratio``.
"""

import math

import numpy as np

from solvers._validation import validate_int, validate_positive, validate_real
from solvers.errors import InputError
from solvers.spline.laws import LAW_DEFAULTS

__all__ = ["INIT_LAWS", "PARAMETRIZATIONS", "OUTPUT_INITS", "OPTIMIZERS", "LR_SCHEDULES", "BACKENDS",
           "DEFAULT_FINAL_RATIO", "check_lr_schedule", "lr_factor", "lr_sequence"]

#: First-layer laws and their default parameters: the solver layer's table (read-only), so the
#: network, :func:`solvers.kink_density` and the references cannot disagree. uniform
#: ``w~U[-A,A], b~U[-B,B]`` (A = B = 1, torch's nn.Linear(1, m)); gaussian ``w~N(0,sigma_w^2),
#: b~N(0,sigma_b^2)`` (1, 1); pm1-uniform ``w=+-1`` (1/2 each), ``b~U[-c,c]`` (c = 2).
INIT_LAWS = LAW_DEFAULTS
PARAMETRIZATIONS = ("standard", "mean-field")
OUTPUT_INITS = ("gaussian", "zeros", "uniform")
OPTIMIZERS = ("gd", "sgd", "adam")
LR_SCHEDULES = ("constant", "cosine", "exponential")
#: "torch": the reference implementation (any device/dtype/option); "compiled": the numba kernel of
#: :mod:`minnorm.training.compiled` (CPU float64, every optimizer, minibatches and noise); "auto": compiled when supported
BACKENDS = ("auto", "torch", "compiled")
#: lr at the last step / lr when a decaying schedule is given without ``lr_final_ratio``.
DEFAULT_FINAL_RATIO = 0.01


def check_lr_schedule(schedule, final_ratio):
    """Validated (schedule, r); r = None takes the default (1 for constant, 0.01 otherwise)."""
    if schedule not in LR_SCHEDULES:
        raise InputError(f"lr_schedule: expected one of {', '.join(map(repr, LR_SCHEDULES))}, got {schedule!r}")
    if final_ratio is None:
        return schedule, (1.0 if schedule == "constant" else DEFAULT_FINAL_RATIO)
    r = validate_real(final_ratio, "lr_final_ratio", finite=False)
    if not math.isfinite(r) or not 0.0 <= r <= 1.0:
        raise InputError(f"lr_final_ratio: expected a value in [0, 1], got {final_ratio!r}")
    if schedule == "constant" and r != 1.0:
        raise InputError(f"lr_final_ratio: {final_ratio!r} needs lr_schedule 'cosine' or 'exponential' (the "
                         "constant schedule has ratio 1: omit lr_final_ratio or set it to 1)")
    if schedule == "exponential" and r == 0.0:
        raise InputError(f"lr_final_ratio: expected a positive value for lr_schedule 'exponential' (it is "
                         f"r**(t/steps)), got {final_ratio!r}")
    return schedule, r


def lr_factor(schedule, t, steps, r):
    """s(t/steps) of the module docstring (a Python float; exactly 1.0 for 'constant')."""
    if schedule == "constant" or steps == 0:
        return 1.0
    u = t / steps
    if schedule == "cosine":
        return r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * u))
    return r ** u


def lr_sequence(lr, steps, lr_schedule="constant", lr_final_ratio=None):
    """The learning rate used by each of the ``steps`` updates of :func:`train`.

    ``lr * s(t / steps)`` for t = 0, ..., steps-1 (module docstring, *Learning-rate schedules*).

    Examples
    --------
    >>> lr_sequence(0.1, 4, "cosine", 0.0).round(6).tolist()
    [0.1, 0.085355, 0.05, 0.014645]
    >>> lr_sequence(1.0, 2, "exponential", 0.01).tolist()
    [1.0, 0.1]
    """
    lr = validate_positive(lr, "lr")
    steps = validate_int(steps, "steps", min_value=0)
    schedule, r = check_lr_schedule(lr_schedule, lr_final_ratio)
    return np.array([lr * lr_factor(schedule, t, steps, r) for t in range(steps)], dtype=float)
