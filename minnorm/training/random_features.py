r"""Exact finite-width random-features ridge regression (frozen first layer; HTW, MATH D.2/F).

.. math::

    \min_{v,\,c,\,d}\ \sum_{i=1}^n\Big(\kappa\sum_j v_j\,\mathrm{relu}(w_j x_i+b_j)+c x_i+d-y_i\Big)^2
    + \mathrm{lam}\,\|v\|^2 ,

with the first layer (w, b) of ``model`` fixed, :math:`\kappa` its output factor (1 or 1/m), and
the skip slope c / output bias d present only if the model has them, never penalised.

Relation to :func:`minnorm.train` with ``train_first_layer=False``: n times its objective is
:math:`\sum(f-y)^2 + \tfrac{n\lambda_{wd}}2\|a\|^2`, so ``lam = n * weight_decay / 2``
(:func:`ridge_lam`), and last-layer GD converges to this solution.

As the width m grows this ridge solution tends to the init law's weighted spline (MATH D.2):
``weighted_spline(x, y, lam=ridge_lam(wd, n) / (kappa**2 * m * s**2), weight=kink_density(law))``
with s = ``model.hidden_scale`` and kappa the output factor, i.e. ``solver_lam(wd, n, m,
parametrization, train_first_layer=False, hidden_scale=s)``; a model without a free affine
part has the kernel limit with the boundary term instead (:func:`minnorm.training.limits.limit_reference`).
"""

import copy

import numpy as np
import scipy.linalg
import torch

from solvers._validation import validate_positive
from solvers.errors import InputError

from minnorm.training.network import ShallowReLU, _np

__all__ = ["random_features_ridge", "ridge_lam"]


def ridge_lam(weight_decay, n):
    """``lam`` of :func:`random_features_ridge` matching last-layer training: ``n * weight_decay / 2``."""
    return float(n) * validate_positive(weight_decay, "weight_decay", allow_zero=True) / 2.0


def random_features_ridge(model, x, y, lam):
    r"""Exact ridge solution over the output layer of ``model`` (first layer frozen).

    Solved in the n-dimensional dual (m may be much larger than n): with
    :math:`\Phi_{ij}=\kappa\,\mathrm{relu}(w_j x_i+b_j)`, :math:`K=\Phi\Phi^\top` and the unpenalised
    columns :math:`Q` (x if skip, 1 if output bias),

    .. math:: \begin{pmatrix}K+\mathrm{lam}\,I & Q\\ Q^\top & 0\end{pmatrix}
              \begin{pmatrix}\alpha\\ \beta\end{pmatrix}=\begin{pmatrix}y\\0\end{pmatrix},\qquad v=\Phi^\top\alpha ,

    in float64 (least squares, so ``lam = 0`` gives the minimum-norm interpolant / least-squares fit).

    Parameters
    ----------
    model : ShallowReLU
        Not modified.
    x, y : array_like, shape (n,)
    lam : float >= 0

    Returns
    -------
    ShallowReLU
        A float64 copy of ``model`` with ``a = v`` and the fitted ``c``, ``d``.
    """
    if not isinstance(model, ShallowReLU):
        raise InputError(f"model must be a ShallowReLU; got {type(model).__name__}")
    lam = validate_positive(lam, "lam", allow_zero=True)
    x = np.asarray(torch.as_tensor(x).detach().cpu().double().numpy(), dtype=np.float64).reshape(-1)
    y = np.asarray(torch.as_tensor(y).detach().cpu().double().numpy(), dtype=np.float64).reshape(-1)
    if x.size != y.size or x.size < 1:
        raise InputError(f"x and y must have the same length >= 1; got {x.size} and {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("x and y must be finite")
    w = _np(model.w)
    b = _np(model.b)
    phi = model.scale * np.maximum(x[:, None] * w[None, :] + b[None, :], 0.0)
    cols = ([x] if model.skip else []) + ([np.ones_like(x)] if model.output_bias else [])
    Q = np.stack(cols, 1) if cols else np.zeros((x.size, 0))
    n, p = x.size, Q.shape[1]
    A = np.zeros((n + p, n + p))
    A[:n, :n] = phi @ phi.T + lam * np.eye(n)
    A[:n, n:] = Q
    A[n:, :n] = Q.T
    rhs = np.concatenate([y, np.zeros(p)])
    sol = scipy.linalg.lstsq(A, rhs, lapack_driver="gelsd")[0]
    alpha, beta = sol[:n], sol[n:]
    v = phi.T @ alpha
    out = copy.deepcopy(model).to(dtype=torch.float64)
    with torch.no_grad():
        out.a.copy_(torch.from_numpy(v))
        i = 0
        if model.skip:
            out.c.fill_(float(beta[i]))
            i += 1
        if model.output_bias:
            out.d.fill_(float(beta[i]))
    return out
