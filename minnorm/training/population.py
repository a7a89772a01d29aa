r"""K shallow ReLU networks packed as one tensor program, and the closed-form gradient kernel.

A :class:`Population` holds the parameters of K networks as tensors of shape ``[K, M]``
(``M`` = the largest width). Network k uses units ``0..m_k-1``; padded units are exactly zero,
are masked out of every update, noise draw and penalty, and contribute nothing to ``f``.

Gradient kernel (why it is not a dense matmul)
----------------------------------------------
For sorted data :math:`x_1\le\dots\le x_B` the active set :math:`\{n: w_j x_n + b_j > 0\}` of a
unit is a contiguous index range: :math:`[e_j, B)` for :math:`w_j>0`, :math:`[0, e_j)` otherwise.
With prefix sums :math:`P^1_n=\sum_{l<n} g_l x_l`, :math:`P^0_n=\sum_{l<n} g_l`
(:math:`g = \partial L/\partial f`) and :math:`S^q_j` the sum of :math:`g x^q` over the active range
(:math:`P^q_B-P^q_{e_j}` or :math:`P^q_{e_j}`),

.. math::

    \partial_{a_j} L = \kappa (w_j S^1_j + b_j S^0_j),\quad
    \partial_{w_j} L = \kappa a_j S^1_j,\quad
    \partial_{b_j} L = \kappa a_j S^0_j,

and the forward pass :math:`f(x_n) = x_n A_n + B_n` comes from a difference array of
:math:`\kappa a_j w_j` and :math:`\kappa a_j b_j` (``bincount`` at :math:`e_j`, then ``cumsum``).
This costs :math:`O(K m)` per step (plus a search when kinks cross data points) instead of the
:math:`O(K m B)` of the dense batched matmul, which is what makes populations fast on a CPU.
:func:`minnorm.loss_and_grad` (``method="autograd"``) differentiates the dense formula, to check.

The boundary :math:`e_j` is found by ``searchsorted`` on the kink :math:`-b_j/w_j` (or warm-started
from the previous step, since kinks move little) and then checked by evaluating
:math:`w_j x_n + b_j` (mul then add, as in :meth:`ShallowReLU.forward`) next to it; the few units
where the sign test disagrees get theirs by counting the points where it differs from
:math:`w_j > 0` (on an accelerator every unit is counted: O(K m B) work but no host sync).
Floating-point ``w*x+b`` is monotone in ``x``, so the active set is then exactly
``{w*x+b > 0}``: torch autograd's sub-gradient convention (relu'(0) = 0), also when a kink sits on
a data point.
"""

import torch

from solvers._validation import validate_int
from solvers.errors import InputError
from solvers.piecewise import PiecewiseLinear

from minnorm.training.network import ShallowReLU, _np

__all__ = ["Population"]

#: the packed parameters, in this order everywhere (``a, w, b`` [K, M]; ``c, d`` [K])
_NAMES = ("a", "w", "b", "c", "d")


class Population:
    """K :class:`~minnorm.ShallowReLU` networks packed into ``[K, M]`` tensors.

    Parameters
    ----------
    models : sequence of ShallowReLU
        Same dtype and device; widths, skip/output-bias flags and parametrisations may differ.

    Attributes
    ----------
    a, w, b : Tensor [K, M]
    c, d : Tensor [K]
        Zero where the network has no skip term / output bias (``has_c``/``has_d`` are 0 there).
    mask : Tensor [K, M]
        1 for real units, 0 for padding.
    scale : Tensor [K]
        Output factor kappa_k (1, or 1/m_k for mean-field; m_k the network's own width).
    widths : list of int
    """

    def __init__(self, models):
        models = list(models)
        if not models:
            raise InputError("models must be a non-empty sequence of ShallowReLU")
        for i, mdl in enumerate(models):
            if not isinstance(mdl, ShallowReLU):
                raise InputError(f"models[{i}] must be a ShallowReLU; got {type(mdl).__name__}")
        _check_distinct(models)
        dtype, device = models[0].a.dtype, models[0].a.device
        for i, mdl in enumerate(models):
            if mdl.a.dtype != dtype or mdl.a.device != device:
                raise InputError(
                    f"all models must share dtype and device; models[{i}] has {mdl.a.dtype} on {mdl.a.device}, "
                    f"models[0] has {dtype} on {device}"
                )
        self.models = models
        self.dtype, self.device = dtype, device
        self.K = len(models)
        self.widths = [mdl.width for mdl in models]
        self.M = max(self.widths)
        kw = {"dtype": dtype, "device": device}
        self.a = torch.zeros(self.K, self.M, **kw)
        self.w = torch.zeros(self.K, self.M, **kw)
        self.b = torch.zeros(self.K, self.M, **kw)
        self.c = torch.zeros(self.K, **kw)
        self.d = torch.zeros(self.K, **kw)
        self.mask = torch.zeros(self.K, self.M, **kw)
        self.has_c = torch.tensor([float(m.c is not None) for m in models], **kw)
        self.has_d = torch.tensor([float(m.d is not None) for m in models], **kw)
        self.scale = torch.tensor([m.scale for m in models], **kw)
        #: ``scale`` or None when every network is standard (lets the kernel skip a pass)
        self.kernel_scale = None if all(m.scale == 1.0 for m in models) else self.scale
        self.read_models()

    def read_models(self):
        """Copy the modules' current parameters into the packed tensors."""
        with torch.no_grad():
            for k, mdl in enumerate(self.models):
                m = mdl.width
                self.a[k, :m] = mdl.a
                self.w[k, :m] = mdl.w
                self.b[k, :m] = mdl.b
                self.mask[k, :m] = 1.0
                if mdl.c is not None:
                    self.c[k] = mdl.c
                if mdl.d is not None:
                    self.d[k] = mdl.d

    def write_back(self, overrides=None):
        """Copy the packed parameters into the modules (in place).

        ``overrides``: optional ``{k: {name: row tensor}}`` written instead of the packed rows
        (the trainer keeps a diverged network's last parameters there, after zeroing its rows
        so that its NaNs cannot reach the shared computation).
        """
        overrides = overrides or {}
        with torch.no_grad():
            for k, mdl in enumerate(self.models):
                m = mdl.width
                src = overrides.get(k, {})
                for name in _NAMES:
                    target = getattr(mdl, name)
                    if target is None:
                        continue
                    row = src[name] if name in src else getattr(self, name)[k]
                    target.copy_(row[:m] if row.ndim else row)
        return self.models

    def params(self):
        """The packed parameters as a dict name -> tensor (views, not copies)."""
        return {name: getattr(self, name) for name in _NAMES}

    def forward(self, x):
        """All K functions at ``x`` (1-D), shape [K, n]; the dense formula (independent of the kernel)."""
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device).reshape(-1)
        h = torch.relu(x[None, None, :] * self.w[:, :, None] + self.b[:, :, None])
        out = torch.einsum("km,kmn->kn", self.a * self.mask, h) * self.scale[:, None]
        return out + (self.c * self.has_c)[:, None] * x + (self.d * self.has_d)[:, None]

    def function(self, k):
        """Exact :class:`solvers.PiecewiseLinear` of network ``k`` (see :func:`minnorm.to_function`)."""
        k = validate_int(k, "k", min_value=0, max_value=self.K - 1)
        m = self.widths[k]
        return _function_of(self.a[k, :m], self.w[k, :m], self.b[k, :m], float(self.c[k]) * float(self.has_c[k]),
                            float(self.d[k]) * float(self.has_d[k]), float(self.scale[k]))

    def __len__(self):
        return self.K


def _function_of(a, w, b, c, d, kappa):
    """Exact :class:`solvers.PiecewiseLinear` of one network's units (tensors a, w, b), skip slope c,
    output bias d and output factor kappa (the one conversion behind :func:`minnorm.to_function`)."""
    a = _np(a)
    return PiecewiseLinear.from_network(a * kappa if kappa != 1.0 else a, _np(w), _np(b), c, d)


def _check_distinct(models):
    """Each network once, sharing no parameter tensor with another.

    Packing copies parameters in and writes them back per network, so a module listed twice (or
    two modules sharing a tensor) would be trained as independent networks whose results
    overwrite each other, and each result would report another network's history.
    """
    owner = {}
    for i, mdl in enumerate(models):
        for name in _NAMES:
            p = getattr(mdl, name)
            if p is None:
                continue
            key = p.untyped_storage().data_ptr()
            if key in owner and owner[key][0] != i:
                j, other = owner[key]
                raise InputError(_share_message(i, j, name, other, models[j] is mdl))
            owner.setdefault(key, (i, name))


def _share_message(i, j, name, other, same):
    if same:
        return (f"models[{i}] is the same module as models[{j}]; pass distinct networks "
                "(e.g. copy.deepcopy) so that each is trained and reported once")
    return (f"models[{i}] shares its parameter {name!r} with models[{j}] (parameter {other!r}); "
            "pass networks with their own parameters (e.g. copy.deepcopy)")


# ------------------------------------------------------------------------------ kernel
def _bc(v, ref):
    """Broadcast a per-network [K] vector against a [K] (c, d) or [K, M] (a, w, b) tensor."""
    return v if ref.ndim == 1 else v[:, None]


def _boundaries(w, b, xs, warm=None):
    """Activity boundary e [K, M] of every unit on xs [K, B] (rows sorted).

    Right-facing units (w > 0) are active on [e, B), all others on [0, e): a unit with w = 0 is
    active everywhere (e = B) iff b > 0, else nowhere (e = 0). Returns ``(e, pos, pad)``,
    ``pos = w > 0`` and ``pad`` the padded data (:func:`_padded`): the warm start of the next call.

    ``warm``, that triple from the previous step on the same xs: kinks move little per step, so
    one check over all units replaces the binary search, and only the units it finds wrong are
    worked on further, so the cost of the rare large moves is proportional to the units making
    them. A unit whose ``w`` changed sign starts from ``B - e``: it keeps its number of active
    points, which is right for the common case of a small ``|w|`` (kink far outside the data)
    crossing zero.
    """
    K, B = xs.shape
    pos = w > 0
    shared = K == 1 or xs.stride(0) == 0  # all rows equal: search and index one shared row
    if _count_all(xs, w):
        return _count(xs[:1] if shared else xs[:, None, :], w[..., None], b[..., None], pos[..., None]), pos, None
    live = w != 0
    if warm is None or warm[2] is None:
        pad = _padded(xs, shared)
        e = _search(pad[0], w, b, live)
    else:
        e0, pos0, pad = warm
        e = torch.where(pos == pos0, e0, B - e0)
        # w = 0 makes no sign test to check by (x*0 at the sentinels is NaN): set those directly.
        e = torch.where(live, e, (b > 0) * B)
    seq, xs_pad, table, offset = pad
    # Right: the sign test at x_{e-1} (table[e]) and x_e (table[e+1]) says inactive, active for a
    # right-facing unit (the reverse for the others); -inf/+inf sentinels at both ends.
    wrong = ((((table[:, 1:].gather(1, e) * w + b) > 0) != pos) | (((table.gather(1, e) * w + b) > 0) == pos)) & live
    sel = wrong.nonzero(as_tuple=True)
    if sel[0].numel() == 0:  # the common case: every boundary already agrees with the sign test
        return e, pos, pad
    ws, bs, ps, ls = w[sel], b[sel], pos[sel], live[sel]
    rows = seq if shared else seq[sel[0]]
    if ws.numel() * B <= _COUNT_ELEMENTS:
        # Few units are off: count their active points directly (no further pass, no host read).
        e[sel] = _count(rows, ws[:, None], bs[:, None], ps[:, None])
        return e, pos, pad
    off = None if offset is None else offset[sel[0]]
    es = e[sel]
    for it in range(B + 3):
        at = es if off is None else es + off
        ms = _moves(xs_pad.take(at), xs_pad.take(at + 1), ws, bs, ps, ls)
        if not bool(ms.any()):
            break
        if it == 1 and warm is not None:
            # Still moving after two passes (typically w changed sign with its kink inside the
            # data, so e jumps far): search just those, then walk on.
            es = torch.where(ms != 0, _search(rows, ws, bs, ls, rows=not shared), es)
        else:
            # clamp: NaN parameters (the step a network diverges) must not index out of range.
            es = (es + ms).clamp_(0, B)
    e[sel] = es
    return e, pos, pad


def _padded(xs, shared):
    """``(seq, xs_pad, table, offset)``: the data to search (one row [B] if ``shared``, else xs),
    and the data with sentinels -inf, +inf at both ends, flattened (``xs_pad``; row k starts at
    ``offset[k]``, None for one row) and as rows [K, B+2] (``table``; for one row a stride-0 view)."""
    K, B = xs.shape
    inf_col = torch.full((K, 1), float("inf"), dtype=xs.dtype, device=xs.device)
    if shared:
        seq = xs[0]
        xs_pad = torch.cat([-inf_col[0], seq, inf_col[0]])
        return seq, xs_pad, xs_pad.expand(K, B + 2), None
    table = torch.cat([-inf_col, xs, inf_col], 1)
    return xs, table.reshape(-1), table, torch.arange(0, K * (B + 2), B + 2, device=xs.device)


#: the largest units x points for which boundaries are counted densely (:func:`_count`): on an
#: accelerator for every unit, on the CPU for the units a correction pass moved
_COUNT_ELEMENTS = 2**22


def _count_all(xs, w):
    """Whether to count every boundary densely: on an accelerator the O(K M B) count is cheap and
    needs no host read (a sync), which the correction passes do."""
    return xs.device.type != "cpu" and w.numel() * xs.shape[1] <= _COUNT_ELEMENTS


def _count(x, w, b, pos):
    """Boundaries by definition: the number of points where (w*x+b > 0) differs from (w > 0), i.e.
    the inactive points of a right-facing unit, the active ones of the others (the sign test is
    monotone along sorted x, so these are a prefix). ``x`` [..., B] broadcasts against ``w``,
    ``b``, ``pos`` [..., 1]; the result drops the last axis."""
    act = x * w + b > 0
    return (act != pos).sum(-1)


def _kinks(w, b, live):
    """Kink -b/w of each unit, with +-inf for w = 0 (active everywhere iff b > 0) and NaN -> -inf."""
    inf = torch.full_like(w, float("inf"))
    t = torch.where(live, -b / w, torch.where(b > 0, inf, -inf))
    return torch.nan_to_num(t, nan=-float("inf"), posinf=float("inf"), neginf=-float("inf"))


def _search(seq, w, b, live, rows=False):
    """Binary search of the kinks in the sorted data (a start for :func:`_moves`; the kink is
    rounded, so it may be off by a point where a kink is within rounding of a data point).

    ``seq``: one shared row [B] (``w`` any shape), or rows [K, B] matching ``w`` [K, M], or with
    ``rows`` one row per unit ([S, B] for ``w`` [S]).
    """
    t = _kinks(w, b, live)
    if rows:
        return torch.searchsorted(seq, t[:, None], right=True)[:, 0]
    if seq.ndim == 1:
        return torch.searchsorted(seq, t.reshape(-1), right=True).view(t.shape)
    return torch.searchsorted(seq, t, right=True)


def _moves(x_left, x_right, w, b, pos, live):
    """The move (-1, 0 or +1) that brings each boundary e closer to agreeing with the sign of
    w*x+b itself (computed as in ShallowReLU.forward: mul, then add); 0 where it agrees.

    ``x_left``, ``x_right``: the padded data next to e, x_{e-1} and x_e (-inf, +inf past the ends).
    """
    left = x_left * w + b
    right = x_right * w + b
    return (((right > 0) != pos) & live).to(torch.int64) - (((left > 0) == pos) & live).to(torch.int64)


def _predict(a, w, b, c, d, scale, xs, warm=None):
    """f at xs [K, B] from difference arrays over the activity boundaries.

    f(x_n) = x_n A_n + B_n with (A, B)_n = sum over units active at n of kappa*a*(w, b).
    Units are binned by (network, facing, e): right-facing ones count at n >= e (prefix sums),
    the others at n < e (suffix sums). Returns ``(f, state, flat)``: the boundary state of
    :func:`_boundaries` (``warm`` is its warm start) and ``flat`` the bin of each unit.
    """
    K, B = xs.shape
    state = _boundaries(w, b, xs, warm)
    e, pos = state[:2]
    nb = 2 * (B + 1)
    flat = torch.where(pos, e, e + (B + 1))
    if K > 1:
        flat = flat + torch.arange(0, K * nb, nb, device=e.device)[:, None]
    flat = flat.reshape(-1)
    ka = a if scale is None else a * scale[:, None]  # None: all standard (kappa = 1), skip a pass
    # bincount with weights: a fast scatter-add on CPU and CUDA.
    coef = torch.stack([
        torch.bincount(flat, (ka * w).reshape(-1), minlength=K * nb),
        torch.bincount(flat, (ka * b).reshape(-1), minlength=K * nb),
    ], -1).view(K, 2, B + 1, 2)
    right = coef[:, 0, :B].cumsum(1)  # sum over e <= n
    left = coef[:, 1].flip(1).cumsum(1).flip(1)[:, 1:]  # sum over e > n
    AB = right + left
    f = xs * (AB[..., 0] + c[:, None]) + AB[..., 1] + d[:, None]
    return f, state, flat


def loss_grad_kernel(a, w, b, c, d, scale, xs, ys, *, first_layer=True, warm=None):
    r"""Mean squared error :math:`L=\frac1B\sum_n (f(x_n)-y_n)^2` of K networks and its gradient.

    ``xs``, ``ys``: [K, B], each row of ``xs`` sorted; ``scale``: [K] output factors, or None
    when all are 1. Returns ``(loss [K], grads, state)`` with
    ``grads`` a dict over ``a, w, b, c, d`` (``w``, ``b`` omitted when ``first_layer`` is False)
    and ``state`` the activity boundaries, facings and padded data of :func:`_boundaries`
    (``warm``: the warm start of the next call on the same xs).
    The gradient for ``c``/``d`` is returned for every network; callers mask absent terms.
    Units with a = w = b = 0 (padding) get exactly zero gradient.
    """
    K, B = xs.shape
    f, state, flat = _predict(a, w, b, c, d, scale, xs, warm)
    r = f - ys
    loss = (r * r).mean(1)
    g = r * (2.0 / B)
    P = torch.zeros(K, B + 1, 2, dtype=a.dtype, device=a.device)
    P[:, 1:, 0] = (g * xs).cumsum(1)
    P[:, 1:, 1] = g.cumsum(1)
    # Sums of (g x, g) over each unit's active range, looked up in one table by its bin:
    # P[B] - P[e] for right-facing units, P[e] - P[0] = P[e] for the others.
    table = torch.stack([P[:, B:] - P, P], 1)  # [K, 2, B+1, 2]
    S = table.view(-1, 2).index_select(0, flat).view(K, -1, 2)
    S1, S0 = S[..., 0], S[..., 1]
    ga = w * S1 + b * S0
    sa = a
    if scale is not None:
        ga = scale[:, None] * ga
        sa = scale[:, None] * a
    grads = {"a": ga, "c": P[:, B, 0], "d": P[:, B, 1]}
    if first_layer:
        grads["w"] = sa * S1
        grads["b"] = sa * S0
    return loss, grads, state
