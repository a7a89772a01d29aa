r"""Shallow univariate ReLU networks as :class:`torch.nn.Module`.

.. math::

    f(x) = \kappa \sum_{i=1}^{m} a_i\,\mathrm{relu}(w_i x + b_i) \;[+\, c\,x]\;[+\, d],
    \qquad \kappa = 1 \text{ (standard)} \text{ or } 1/m \text{ (mean-field)}.

The first-layer laws are exactly the parameterisations of :func:`solvers.kink_density`, with the
same defaults (one table, :data:`solvers.spline.laws.LAW_DEFAULTS`), so the kink density ``g``
of an initialised network is ``kink_density(law, **init_params)`` scaled by ``hidden_scale**2``
(``g`` is quadratic in ``w``; MATH D.1); with no ``init_params`` it is ``kink_density(law)``.
"""

import math

import numpy as np
import torch

from solvers._validation import physical_memory, validate_bool, validate_choice, validate_positive, validate_seed
from solvers.errors import InputError
from solvers.spline.laws import kink_density

from minnorm.training.options import INIT_LAWS, OUTPUT_INITS, PARAMETRIZATIONS

__all__ = ["ShallowReLU"]


def _np(p):
    """A parameter tensor as a float64 numpy array on the CPU (detached)."""
    return p.detach().cpu().double().numpy()


#: float64 vectors of length ``width`` alive at once while a network is drawn (w, b, a and the
#: uniform draws they come from, plus the dtype/device copies).
_INIT_VECTORS = 6


def _check_width(width):
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)):
        raise InputError(f"width must be an integer >= 1; got {width!r}")
    if width < 1:
        raise InputError(f"width must be >= 1; got {width}")
    # refuse before allocating: torch would otherwise fail deep inside (or the OS kill the process)
    need = _INIT_VECTORS * 8 * int(width)
    have = physical_memory()
    if have is not None and need > have:
        raise InputError(f"width={int(width)} needs about {need / 2**30:.3g} GiB to initialise "
                         f"({_INIT_VECTORS} float64 vectors of that length), more than this machine's "
                         f"{have / 2**30:.3g} GiB of RAM")
    return int(width)


def _check_dtype(dtype):
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise InputError(f"dtype must be a floating torch dtype (torch.float64, torch.float32, ...); got {dtype!r}")
    return dtype


def _check_device(device):
    if device is None:
        return None
    try:
        dev = torch.device(device)
        torch.empty(0, device=dev)  # unknown or unavailable devices fail here, not mid-way through init
    except (RuntimeError, AssertionError, TypeError, ValueError) as exc:
        raise InputError(f"device {device!r} is not available here ({type(exc).__name__}: {exc}); "
                         "expected e.g. 'cpu'" + (" or 'cuda:0'" if torch.cuda.is_available() else "")) from exc
    return dev


class ShallowReLU(torch.nn.Module):
    r"""Shallow univariate ReLU network :math:`f(x)=\kappa\sum_i a_i\,\mathrm{relu}(w_i x+b_i)+c x+d`.

    Parameters
    ----------
    width : int
        Number of hidden units m >= 1. With ``antisymmetric=True`` it counts both copies (m even).
    skip : bool
        Add a trainable linear skip term :math:`c\,x` (initialised to 0).
    output_bias : bool
        Add a trainable output bias :math:`d` (initialised to 0).
    parametrization : {"standard", "mean-field"}
        :math:`\kappa = 1` or :math:`\kappa = 1/m`. Under weight decay a mean-field net pays
        ``m`` times the standard cost for the same function (see :func:`minnorm.solver_lam`).
    init : {"uniform", "gaussian", "pm1-uniform"}
        Law of :math:`(w_i, b_i)`, i.i.d. over units, with the parameters of
        :func:`solvers.kink_density`: uniform ``w~U[-A,A], b~U[-B,B]`` (A = B = 1 default, torch's
        ``nn.Linear(1, m)``); gaussian ``w~N(0,sigma_w^2), b~N(0,sigma_b^2)`` (1, 1 default);
        pm1-uniform ``w=+-1, b~U[-c,c]`` (c = 2 default). The defaults are
        :data:`solvers.spline.laws.LAW_DEFAULTS`, so ``kink_density(init)`` is this network's
        kink density (times ``hidden_scale**2``).
    init_params : dict, optional
        Overrides the law's parameters (keys as above).
    output_init : {"gaussian", "zeros", "uniform"}
        Law of :math:`a_i`: ``output_scale * N(0,1)``, ``0`` or ``output_scale * U[-1,1]``.
    output_scale : float, optional
        Scale of :math:`a`. Default ``1/sqrt(m)`` (standard; torch's ``nn.Linear(m, 1)`` bound) and
        ``1`` (mean-field).
    hidden_scale : float
        Multiplies both ``w`` and ``b`` after drawing (kinks ``-b/w`` unchanged, ``g`` scaled by
        ``hidden_scale**2``). The ratio :math:`\rho=|a|/\|(w,b)\|\sim` ``output_scale/hidden_scale``
        selects the regime (MATH E): :math:`\rho\to0` kernel (kinks frozen, weighted spline
        limit, D.4), :math:`\rho\to\infty` adaptive (kinks move, min-TV limit).
    antisymmetric : bool
        "ASI" init (Jin--Montúfar): draw m/2 units, then duplicate them with output weights
        negated, so :math:`f_0\equiv0` as a function (``to_function`` gives exactly 0; ``model(x)``
        is 0 up to summation rounding, ~1e-16 relative). ``width`` counts both copies and must be
        even. The copies train independently afterwards.
    dtype, device : torch dtype and device
        Parameters are drawn in float64 on the CPU from ``seed`` and then moved, so the same
        seed gives the same network on every device. ``dtype`` must be a floating dtype;
        ``device`` must exist here (checked before drawing).
    seed : int
        Seed of the initialisation, an integer in [0, 2**63 - 1].

    Raises
    ------
    InputError
        Any argument of the wrong type or out of range (bools must be real bools: ``"no"`` is
        refused, not read as True), a width whose initialisation would not fit in RAM, law
        parameters whose kink density over/underflows, an odd width with ``antisymmetric``.

    Attributes
    ----------
    a, w, b : torch.nn.Parameter, shape (m,)
    c, d : torch.nn.Parameter, shape () or None
        Skip slope and output bias, ``None`` when absent.
    init_law, init_params, hidden_scale
        The first-layer law, its parameters (defaults filled in) and the scale applied after
        drawing: the kink density at init is ``hidden_scale**2 * kink_density(init_law, **init_params)``.
    """

    def __init__(
        self,
        width,
        *,
        skip=False,
        output_bias=True,
        parametrization="standard",
        init="uniform",
        init_params=None,
        output_init="gaussian",
        output_scale=None,
        hidden_scale=1.0,
        antisymmetric=False,
        dtype=torch.float64,
        device=None,
        seed=0,
    ):
        super().__init__()
        m = _check_width(width)
        skip = validate_bool(skip, "skip")
        output_bias = validate_bool(output_bias, "output_bias")
        antisymmetric = validate_bool(antisymmetric, "antisymmetric")
        seed = validate_seed(seed, "seed", allow_none=False)
        dtype = _check_dtype(dtype)
        device = _check_device(device)
        validate_choice(parametrization, "parametrization", PARAMETRIZATIONS)
        validate_choice(init, "init", tuple(INIT_LAWS))
        validate_choice(output_init, "output_init", OUTPUT_INITS)
        params = dict(INIT_LAWS[init])
        if init_params is not None and not isinstance(init_params, dict):
            raise InputError(f"init_params must be a dict or None; got {init_params!r}")
        for key, val in dict(init_params or {}).items():
            if key not in params:
                raise InputError(
                    f"unknown init_params key {key!r} for init={init!r}; expected {sorted(params)}"
                )
            params[key] = validate_positive(val, f"init_params[{key!r}]")
        kink_density(init, **params)  # the law's g must be representable (same check as the solver layer's)
        if output_scale is None:
            output_scale = 1.0 / math.sqrt(m) if parametrization == "standard" else 1.0
        output_scale = validate_positive(output_scale, "output_scale", allow_zero=True)
        hidden_scale = validate_positive(hidden_scale, "hidden_scale")
        if antisymmetric and m % 2:
            raise InputError(f"antisymmetric=True needs an even width (both copies count); got width={m}")

        self.width = m
        self.skip = bool(skip)
        self.output_bias = bool(output_bias)
        self.parametrization = parametrization
        self.antisymmetric = bool(antisymmetric)
        self.init_law = init
        self.init_params = params
        self.hidden_scale = hidden_scale
        self.seed = int(seed)

        gen = torch.Generator().manual_seed(int(seed))
        k = m // 2 if antisymmetric else m
        f64 = torch.float64
        if init == "uniform":
            w = params["A"] * (2 * torch.rand(k, generator=gen, dtype=f64) - 1)
            b = params["B"] * (2 * torch.rand(k, generator=gen, dtype=f64) - 1)
        elif init == "gaussian":
            w = params["sigma_w"] * torch.randn(k, generator=gen, dtype=f64)
            b = params["sigma_b"] * torch.randn(k, generator=gen, dtype=f64)
        else:  # pm1-uniform
            w = torch.where(torch.rand(k, generator=gen, dtype=f64) < 0.5, -1.0, 1.0).to(f64)
            b = params["c"] * (2 * torch.rand(k, generator=gen, dtype=f64) - 1)
        if output_init == "gaussian":
            a = output_scale * torch.randn(k, generator=gen, dtype=f64)
        elif output_init == "uniform":
            a = output_scale * (2 * torch.rand(k, generator=gen, dtype=f64) - 1)
        else:
            a = torch.zeros(k, dtype=f64)
        w, b = hidden_scale * w, hidden_scale * b
        if antisymmetric:
            # Copies are adjacent so that paired contributions cancel as early as possible in sums.
            w = torch.stack([w, w], 1).reshape(-1)
            b = torch.stack([b, b], 1).reshape(-1)
            a = torch.stack([a, -a], 1).reshape(-1)
        kw = {"dtype": dtype, "device": device}
        self.a = torch.nn.Parameter(a.to(**kw))
        self.w = torch.nn.Parameter(w.to(**kw))
        self.b = torch.nn.Parameter(b.to(**kw))
        self.c = torch.nn.Parameter(torch.zeros((), **kw)) if self.skip else None
        self.d = torch.nn.Parameter(torch.zeros((), **kw)) if self.output_bias else None

    @property
    def scale(self):
        r"""The output factor :math:`\kappa` (1 or 1/m)."""
        return 1.0 if self.parametrization == "standard" else 1.0 / self.width

    def forward(self, x):
        """Evaluate f at ``x`` (shape (n,) or (n, 1); the output has the same shape)."""
        x = torch.as_tensor(x, dtype=self.a.dtype, device=self.a.device)
        flat = x.reshape(-1)
        # mul then add (no fused kernel): the training engine decides activity with the same
        # two roundings, so its subgradient is autograd's relu'(0) = 0 convention exactly.
        h = torch.relu(flat[:, None] * self.w + self.b)
        out = (h @ self.a) * self.scale
        if self.c is not None:
            out = out + self.c * flat
        if self.d is not None:
            out = out + self.d
        return out.reshape(x.shape)

    def extra_repr(self):
        return (
            f"width={self.width}, skip={self.skip}, output_bias={self.output_bias}, "
            f"parametrization={self.parametrization!r}, init={self.init_law!r}, antisymmetric={self.antisymmetric}"
        )
