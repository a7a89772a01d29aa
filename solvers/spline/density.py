r"""The kink density g of a random first layer as an object: :class:`KinkDensity`, with exact
moments and random-feature kernels (MATH D.1-D.3).

A :class:`KinkDensity` describes g piece by piece (regions where it is constant, a
:math:`k/t^4` tail, the Gaussian law's :math:`k/(\gamma^2+t^2)^2`, zero, or a user callable);
the built-in laws are built by :func:`solvers.spline.laws.kink_density`, a user weight by
:meth:`KinkDensity.from_callable`.

Every integral the spline and kernel solvers need is of the form
:math:`\int_p^q (s-\alpha)(s-\beta)\, g(s)\, ds` (:meth:`KinkDensity.quad_moment`) or
:math:`\int_p^q (s-\alpha) g(s)\, ds` (:meth:`KinkDensity.lin_moment`). For the built-in laws they
are evaluated in closed form *without cancellation*, which matters for short intervals
(n = 10^6 data points): differences of antiderivatives would lose all digits there.

- constant pieces: Simpson's rule, exact for quadratics, positive weights;
- :math:`t^{-4}` tails: with :math:`r = 1/s`, :math:`(s-\alpha)(s-\beta)s^{-4}ds = -(1-\alpha r)(1-\beta r)dr`,
  a quadratic in r, again Simpson-exact;
- Gaussian law: with :math:`s = \gamma\tan\theta`, :math:`g\,ds = (2\sigma_w^2/\pi)\cos^2\theta\,d\theta` and
  :math:`(s-\alpha)(s-\beta)g\,ds = (2\sigma_w^2/\pi)\,|z_\alpha||z_\beta|\sin(\theta-\theta_\alpha)\sin(\theta-\theta_\beta)\,d\theta`
  with :math:`|z_\alpha| = \sqrt{\gamma^2+\alpha^2}`; angle differences are formed with ``atan2``
  of differences and :math:`\delta - \sin\delta` by its series for small :math:`\delta`.

A user weight is integrated by vectorised adaptive Gauss–Legendre quadrature split at its
breakpoints.
"""

import numpy as np

from solvers.errors import InputError

__all__ = ["KinkDensity"]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(10)


def _d_minus_sin(d):
    """``d - sin(d)`` without cancellation (series below 0.25)."""
    d = np.asarray(d, dtype=np.float64)
    d2 = d * d
    out = d * d2 / 6.0 * (1.0 - d2 / 20.0 * (1.0 - d2 / 42.0 * (1.0 - d2 / 72.0 * (1.0 - d2 / 110.0))))
    big = np.abs(d) >= 0.25
    if np.any(big):  # the transcendental only where needed (n = 1e6 intervals are mostly short)
        out[big] = d[big] - np.sin(d[big])
    return out


def _simpson(lo, hi, f_lo, f_mid, f_hi):
    return (hi - lo) / 6.0 * (f_lo + 4.0 * f_mid + f_hi)


def _reciprocal_ends(a, b):
    """``1/a``, ``1/b`` and the length ``|1/a - 1/b|`` of a tail piece ``[a, b]`` (0 outside it),
    the length as ``(b - a)/(ab)`` without cancellation where both ends are finite."""
    ra, rb = 1.0 / a, 1.0 / b
    with np.errstate(invalid="ignore"):
        lr = np.where(np.isinf(a) | np.isinf(b), np.abs(ra - rb), (b - a) / (a * b))
    return ra, rb, lr


def _one_minus(c, s):
    """``1 - c/s = (s - c)/s`` from the difference ``s - c`` (1 at ``s = +-inf``)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(s), 1.0, (s - c) / s)

class KinkDensity:
    r"""Kink density :math:`g` of a random first layer, with exact moments and kernel.

    Build it with :func:`~solvers.spline.laws.kink_density` (built-in laws) or :meth:`from_callable`
    (a user weight).

    Attributes
    ----------
    law : str
        ``"gaussian"``, ``"uniform"``, ``"pm1-uniform"`` or ``"custom"``.
    params : dict
        The law's parameters (same names as :func:`~solvers.spline.laws.kink_density` and the training layer).
    second_moment : float
        :math:`E[w^2] = \int g`.
    E_b2 : float
        :math:`E[b^2] = \int t^2 g(t)\,dt` (``nan`` for a custom weight).
    breakpoints : ndarray
        Points where g is not smooth (quadrature is split there).
    support : tuple
        ``(lo, hi)``, the closed interval outside which g vanishes (may be infinite).
    """

    def __init__(self, law, params, regions, breakpoints, support, second_moment, E_b2,
                 fun=None, symmetric=True):
        self.law = law
        self.params = dict(params)
        # regions: list of (lo, hi, kind, coef); kind in {"const", "tail4", "cauchy", "zero", "custom"}
        self._regions = regions
        self.breakpoints = np.asarray(breakpoints, dtype=np.float64)
        self.support = (float(support[0]), float(support[1]))
        self.second_moment = float(second_moment)
        self.E_b2 = float(E_b2)
        self._fun = fun
        self.symmetric = symmetric

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_callable(cls, g, support=(-np.inf, np.inf), breakpoints=()):
        r"""A user weight :math:`g > 0`.

        Parameters
        ----------
        g : callable
            ``g(t)`` for an ndarray ``t`` (a scalar-only function is vectorised with
            :func:`numpy.vectorize`). Only evaluated inside ``support``; it must be finite
            and > 0 on the data hull (checked at every quadrature node).
        support : (lo, hi)
            g is taken as 0 outside ``[lo, hi]``; ``lo`` and ``hi`` are also breakpoints.
        breakpoints : sequence of float
            Points where g or a derivative jumps; quadrature is split there. Without them a
            kink of g is found only by adaptive refinement (slower, less accurate).
        """
        if not callable(g):
            raise InputError(f"weight must be None, a KinkDensity or a callable g(t); got {type(g).__name__}")
        try:
            lo, hi = (float(v) for v in support)
        except (TypeError, ValueError) as exc:
            raise InputError(f"support must be a pair (lo, hi); got {support!r}") from exc
        if not lo < hi:
            raise InputError(f"support must satisfy lo < hi; got {support!r}")
        probe = np.linspace(max(lo, -1.0), min(hi, 1.0), 3)
        try:
            out = np.asarray(g(probe), dtype=np.float64)
            ok = out.shape == probe.shape
        except Exception:  # noqa: BLE001 - any failure means "not vectorised"
            ok = False
        fun = g if ok else np.vectorize(lambda t: float(g(t)), otypes=[np.float64])
        bps = np.unique(np.concatenate([np.asarray(breakpoints, dtype=np.float64).ravel(),
                                        [v for v in (lo, hi) if np.isfinite(v)]]))
        bps = bps[(bps >= lo) & (bps <= hi)]
        edges = np.concatenate([[lo], bps[(bps > lo) & (bps < hi)], [hi]])
        regions = [(-np.inf, lo, "zero", 0.0)] if np.isfinite(lo) else []
        regions += [(a, b, "custom", 1.0) for a, b in zip(edges[:-1], edges[1:])]
        if np.isfinite(hi):
            regions.append((hi, np.inf, "zero", 0.0))
        dens = cls("custom", {"g": g, "support": (lo, hi), "breakpoints": tuple(bps)}, regions, bps,
                   (lo, hi), np.nan, np.nan, fun=fun)
        return dens

    def __repr__(self):
        shown = {k: v for k, v in self.params.items() if k != "g"}
        return f"KinkDensity(law={self.law!r}, {', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    # ------------------------------------------------------------------ pointwise
    def g(self, t):
        """Kink density :math:`g(t)` (vectorised); NaN in gives NaN out, like a numpy ufunc."""
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros_like(t)
        # NaN fails every region test below and would silently read as g = 0 (no kinks there)
        out[np.isnan(t)] = np.nan
        for lo, hi, kind, coef in self._regions:
            m = (t >= lo) & (t <= hi)
            if kind == "zero" or not np.any(m):
                continue
            tm = t[m]
            if kind == "const":
                out[m] = coef
            elif kind == "tail4":
                out[m] = coef / tm**4
            elif kind == "cauchy":
                gam = self._gamma
                out[m] = coef / (gam * gam + tm * tm) ** 2
            else:
                out[m] = np.asarray(self._fun(tm), dtype=np.float64)
        return out

    def g_plus(self, t):
        """Density of kinks of right-facing units (w > 0), :math:`g/2` for sign-symmetric laws."""
        self._need_symmetric("g_plus")
        return 0.5 * self.g(t)

    def g_minus(self, t):
        """Density of kinks of left-facing units (w < 0), :math:`g/2` for sign-symmetric laws."""
        self._need_symmetric("g_minus")
        return 0.5 * self.g(t)

    def _need_symmetric(self, what):
        if self.law == "custom":
            raise InputError(f"{what} is not defined for a custom weight: only g = g_+ + g_- is known")

    def constant_on(self, lo, hi):
        """The constant value of g on ``[lo, hi]`` if g is constant there, else ``None``."""
        for a, b, kind, coef in self._regions:
            if kind == "const" and a <= lo and hi <= b:
                return float(coef)
        return None

    def positive_on(self, lo, hi):
        """Whether ``[lo, hi]`` lies in the closed support (built-in laws: g > 0 there)."""
        return self.support[0] <= lo and hi <= self.support[1]

    # ------------------------------------------------------------------ moments
    @property
    def _gamma(self):
        return self.params["sigma_b"] / self.params["sigma_w"]

    @property
    def _arc_scale(self):
        r""":math:`2\sigma_w^2/\pi`: the Gaussian law's :math:`g\,ds` is this times :math:`\cos^2\theta\,d\theta`."""
        return 2.0 * self.params["sigma_w"] ** 2 / np.pi

    def _integrate(self, piece, p, q, *points):
        r"""Sum over g's regions of ``piece(kind, coef, a, b, *points)``, the integral over
        :math:`[a, b] = [p, q]\cap` region (broadcast, ``p <= q``); ``points`` are the
        :math:`\alpha, \beta` of the integrand's linear factors."""
        p, q, *points = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (p, q, *points)))
        out = np.zeros(p.shape)
        for lo, hi, kind, coef in self._regions:
            if kind == "zero":
                continue
            a = np.maximum(p, lo)
            b = np.minimum(q, hi)
            m = a < b
            if np.any(m):
                out[m] += piece(kind, coef, a[m], b[m], *(v[m] for v in points))
        return out

    def quad_moment(self, p, q, alpha, beta):
        r""":math:`\int_p^q (s-\alpha)(s-\beta)\, g(s)\, ds`, vectorised (broadcast), ``p <= q``.

        Exact closed form for the built-in laws (see the module docstring); infinite ``p``
        or ``q`` allowed where the integral converges. Custom weights: adaptive
        Gauss–Legendre split at the breakpoints.
        """
        return self._integrate(self._quad_piece, p, q, alpha, beta)

    def _quad_piece(self, kind, coef, a, b, al, be):
        # linear factors are formed from differences (a - alpha) etc., never from absolute
        # coordinates: on short intervals far from 0 the latter lose eps*|x|/h relative
        if kind == "const":
            aa, ba, ab_, bb = a - al, b - al, a - be, b - be
            return coef * _simpson(a, b, aa * ab_, 0.25 * (aa + ba) * (ab_ + bb), ba * bb)
        if kind == "tail4":
            # r = 1/s on [1/b, 1/a]; 1 - alpha r = (s - alpha)/s
            _, _, lr = _reciprocal_ends(a, b)
            la, lb, ma, mb = _one_minus(al, a), _one_minus(al, b), _one_minus(be, a), _one_minus(be, b)
            return coef * lr / 6.0 * (la * ma + (la + lb) * (ma + mb) + lb * mb)
        if kind == "cauchy":
            return self._cauchy_quad(a, b, al, be)
        da, db_ = a - al, a - be
        return _adaptive_gl(lambda lo, off, i: (da[i] + (lo - a[i]) + off) * (db_[i] + (lo - a[i]) + off)
                            * self._fun_checked(lo + off), a, b)

    def lin_moment(self, p, q, alpha):
        r""":math:`\int_p^q (s-\alpha)\, g(s)\, ds`, vectorised, ``p <= q`` (built-in laws exact)."""
        return self._integrate(self._lin_piece, p, q, alpha)

    def _lin_piece(self, kind, coef, a, b, al):
        if kind == "const":
            return coef * (b - a) * 0.5 * ((a - al) + (b - al))
        if kind == "tail4":
            # (s - alpha) s^-4 ds = -(1 - alpha r) r dr
            ra, rb, lr = _reciprocal_ends(a, b)
            la, lb = _one_minus(al, a), _one_minus(al, b)
            return coef * lr / 6.0 * (la * ra + (la + lb) * (ra + rb) + lb * rb)
        if kind == "cauchy":
            gam = self._gamma
            ta, tb, tal = np.arctan(a / gam), np.arctan(b / gam), np.arctan(al / gam)
            d = tb - ta
            # (s-alpha) g ds = K gam sec(theta_alpha) sin(theta - theta_alpha) cos(theta) d theta
            return self._arc_scale * np.hypot(gam, al) * (np.sin(ta + tb - tal) * np.sin(d) - d * np.sin(tal)) / 2.0
        da = a - al
        return _adaptive_gl(lambda lo, off, i: (da[i] + (lo - a[i]) + off) * self._fun_checked(lo + off), a, b)

    def mass(self, p, q):
        r""":math:`\int_p^q g(s)\, ds`, vectorised, ``p <= q`` (built-in laws exact)."""
        return self._integrate(self._mass_piece, p, q)

    def _mass_piece(self, kind, coef, a, b):
        if kind == "const":
            return coef * (b - a)
        if kind == "tail4":
            ra, rb, lr = _reciprocal_ends(a, b)
            rm = 0.5 * (ra + rb)
            return coef * lr / 6.0 * (rb * rb + 4.0 * rm * rm + ra * ra)
        if kind == "cauchy":
            ta, tb = np.arctan(a / self._gamma), np.arctan(b / self._gamma)
            d = tb - ta
            return self._arc_scale * (d + np.cos(ta + tb) * np.sin(d)) / 2.0
        return _adaptive_gl(lambda lo, off, i: self._fun_checked(lo + off), a, b)

    def _fun_checked(self, s):
        v = np.asarray(self._fun(s), dtype=np.float64)
        if v.shape != s.shape:
            v = np.broadcast_to(v, s.shape).astype(np.float64)
        return v

    def _cauchy_quad(self, a, b, al, be):
        gam = self._gamma

        def dth(u, v):  # theta(u) - theta(v) without cancellation (v finite)
            fin = np.isfinite(u)
            uu = np.where(fin, u, 0.0)
            with np.errstate(over="ignore", invalid="ignore"):
                val = np.arctan2(gam * (uu - v), gam * gam + uu * v)
            return np.where(fin, val, np.sign(u) * (np.pi / 2) - np.arctan(v / gam))

        d_a_al, d_b_al = dth(a, al), dth(b, al)
        d_a_be, d_b_be = dth(a, be), dth(b, be)
        delta = d_b_al - d_a_al
        # differences of finite a, b are computed directly for accuracy
        both = np.isfinite(a) & np.isfinite(b)
        delta = np.where(both, dth(np.where(both, b, 0.0), np.where(both, a, 0.0)), delta)
        m_al = 0.5 * (d_a_al + d_b_al)
        m_be = 0.5 * (d_a_be + d_b_be)
        c_ab = np.cos(dth(al, be))
        integral = 0.5 * (_d_minus_sin(delta) * c_ab + 2.0 * np.sin(delta) * np.sin(m_al) * np.sin(m_be))
        return self._arc_scale * np.hypot(gam, al) * np.hypot(gam, be) * integral

    def spline_moments(self, x):
        r"""Moments :math:`a_i, b_i, c_i` of MATH D.3 on the intervals of sorted ``x``.

        With :math:`l = (s-x_i)/h_i` on :math:`I_i = [x_i, x_{i+1}]`:
        :math:`a_i = \int (1-l)^2 g`, :math:`b_i = \int l(1-l) g`, :math:`c_i = \int l^2 g`.
        """
        x = np.asarray(x, dtype=np.float64)
        xl, xr = x[:-1], x[1:]
        h2 = (xr - xl) ** 2
        if self.law in ("uniform", "pm1-uniform"):
            # Whole intervals inside one region (all but at most a few): g const gives
            # (h/3, h/6, h/3) g; a k/s^4 tail gives, with r = 1/s, a = k h/(3 xl^3 xr),
            # b = k h/(6 xl^2 xr^2), c = k h/(3 xl xr^3) (no cancellation). Others: general route.
            h = xr - xl
            a = np.empty_like(h)
            b = np.empty_like(h)
            c = np.empty_like(h)
            done = np.zeros(h.shape, dtype=bool)
            for lo, hi, kind, coef in self._regions:
                m = (xl >= lo) & (xr <= hi)
                if kind == "const":
                    hm = h[m] * coef
                    a[m], b[m], c[m] = hm / 3.0, hm / 6.0, hm / 3.0
                elif kind == "tail4":
                    hm, l_, r_ = h[m] * coef, xl[m], xr[m]
                    a[m] = hm / (3.0 * l_**3 * r_)
                    b[m] = hm / (6.0 * (l_ * r_) ** 2)
                    c[m] = hm / (3.0 * l_ * r_**3)
                else:
                    a[m] = b[m] = c[m] = 0.0
                done |= m
            rest = ~done
            if np.any(rest):
                a[rest], b[rest], c[rest] = self._spline_moments_by_quad(xl[rest], xr[rest], h2[rest])
            return a, b, c
        if self.law == "gaussian":
            # Whole intervals: with Delta = theta_r - theta_l (one atan2), a = K|z_r|^2 S(Delta)/h^2,
            # c = K|z_l|^2 S(Delta)/h^2, b = K|z_l||z_r| P(Delta)/h^2, S = (2D - sin 2D)/4,
            # P = (sin D - D cos D)/2; both by series for small Delta (no cancellation).
            gam = self._gamma
            K = self._arc_scale
            d = np.arctan2(gam * (xr - xl), gam * gam + xl * xr)
            S = _d_minus_sin(2.0 * d) / 4.0
            d2 = d * d
            P_series = d * d2 / 6.0 * (1.0 - d2 / 10.0 * (1.0 - d2 / 28.0 * (1.0 - d2 / 54.0 * (1.0 - d2 / 88.0))))
            P = P_series
            big = d >= 0.25
            if np.any(big):
                db = d[big]
                P[big] = (np.sin(db) - db * np.cos(db)) / 2.0
            zl2 = gam * gam + xl * xl
            zr2 = gam * gam + xr * xr
            return K * zr2 * S / h2, K * np.sqrt(zl2 * zr2) * P / h2, K * zl2 * S / h2
        return self._spline_moments_by_quad(xl, xr, h2)

    def _spline_moments_by_quad(self, xl, xr, h2):
        """``spline_moments`` from :meth:`quad_moment` (any law, any interval)."""
        a = self.quad_moment(xl, xr, xr, xr) / h2
        b = -self.quad_moment(xl, xr, xl, xr) / h2
        c = self.quad_moment(xl, xr, xl, xl) / h2
        return a, b, c

    # ------------------------------------------------------------------ kernel
    def kernel(self, x, xp):
        r"""Random-feature kernel :math:`K(x,x') = E[\sigma(wx+b)\sigma(wx'+b)]` (broadcast).

        Gaussian law: the arc-cosine kernel
        :math:`\|z\|\|z'\|(\sin\theta + (\pi-\theta)\cos\theta)/(2\pi)`, :math:`z = (\sigma_w x, \sigma_b)`.
        Uniform laws: exact via :math:`K = \int g_+(t)(x-t)_+(x'-t)_+dt + \int g_-(t)(t-x)_+(t-x')_+dt`
        (MATH D.2) and :meth:`quad_moment`.
        """
        x, xp = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(xp, dtype=np.float64))
        if self.law == "custom":
            raise InputError("the kernel needs g_+ and g_- separately; it is defined for the built-in laws only")
        if self.law == "gaussian":
            n1, n2, th = self._arccos_geometry(x, xp)
            return n1 * n2 * (np.sin(th) + (np.pi - th) * np.cos(th)) / (2.0 * np.pi)
        lo = np.minimum(x, xp)
        hi = np.maximum(x, xp)
        return 0.5 * (self.quad_moment(np.full_like(lo, -np.inf), lo, x, xp)
                      + self.quad_moment(hi, np.full_like(hi, np.inf), x, xp))

    def kernel_dx(self, x, xp):
        r""":math:`\partial K(x, x')/\partial x` (broadcast)."""
        x, xp = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(xp, dtype=np.float64))
        if self.law == "gaussian":
            sw = self.params["sigma_w"]
            n1, n2, th = self._arccos_geometry(x, xp)
            # grad_z k = ((pi - theta) z' + sin(theta) |z'| z/|z|) / (2 pi); dK/dx = sigma_w * first component
            return sw * ((np.pi - th) * sw * xp + np.sin(th) * n2 * sw * x / n1) / (2.0 * np.pi)
        # dK/dx = 1/2 [int_{-inf}^{min} g (x' - t) dt - int_{max}^{inf} g (t - x') dt]
        lo = np.minimum(x, xp)
        hi = np.maximum(x, xp)
        return -0.5 * (self.lin_moment(np.full_like(lo, -np.inf), lo, xp)
                       + self.lin_moment(hi, np.full_like(hi, np.inf), xp))

    def _arccos_geometry(self, x, xp):
        r"""Gaussian law: :math:`|z|`, :math:`|z'|` and the angle between :math:`z = (\sigma_w x, \sigma_b)`
        and :math:`z'`, the angle via atan2 of cross and dot products (accurate for small angles)."""
        sw, sb = self.params["sigma_w"], self.params["sigma_b"]
        cross = np.abs(sw * sb * (x - xp))
        dot = sw * sw * x * xp + sb * sb
        return np.hypot(sw * x, sb), np.hypot(sw * xp, sb), np.arctan2(cross, dot)

    # ------------------------------------------------------------------ sampling
    def sample(self, m, seed=None):
        """Draw ``m`` first-layer units ``(w, b)`` from the law with ``numpy.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        m = int(m)
        p = self.params
        if self.law == "gaussian":
            return rng.normal(0.0, p["sigma_w"], m), rng.normal(0.0, p["sigma_b"], m)
        if self.law == "uniform":
            return rng.uniform(-p["A"], p["A"], m), rng.uniform(-p["B"], p["B"], m)
        if self.law == "pm1-uniform":
            return rng.choice(np.array([-1.0, 1.0]), m), rng.uniform(-p["c"], p["c"], m)
        raise InputError("a custom weight has no sampling law")

def _adaptive_gl(fun, a, b, rtol=1e-13, max_depth=40):
    r"""Vectorised adaptive Gauss–Legendre: :math:`\int_{a_i}^{b_i} F_i(s)\,ds` for every i.

    ``fun(lo, off, i)`` gets sub-piece left ends ``lo`` (m,), offsets ``off`` (k, m) of the
    nodes from them (so that ``s = lo + off`` and differences like ``s - alpha`` can be formed
    without cancellation) and piece indices ``i`` (m,). Each piece is accepted when a 10-point rule on it and on its
    two halves agree to ``rtol`` (relative, or absolute against the largest piece value).
    Infinite ends are mapped by :math:`s = c + \tan` substitution. Raises :class:`InputError`
    where the integrand is not finite.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    total = np.zeros(a.shape)
    if a.size == 0:
        return total
    if np.any(~np.isfinite(a) | ~np.isfinite(b)):
        # s = tan(phi): infinite pieces become finite ones in phi
        pa, pb = np.arctan(a), np.arctan(b)

        def fphi(lo, off, i):
            s = np.tan(lo + off)
            return fun(s, np.zeros_like(s), i) / np.cos(lo + off) ** 2
        return _adaptive_gl(fphi, pa, pb, rtol, max_depth)
    idx = np.arange(a.size)
    lo, hi = a.copy(), b.copy()

    def rule(start, stop, i):
        half = 0.5 * (stop - start)
        off = half * (1.0 + _GL_NODES[:, None])  # offsets from the piece's left end
        vals = np.asarray(fun(start, off, i), dtype=np.float64)
        if not np.all(np.isfinite(vals)):
            raise InputError("the weight g or its integrand is not finite on the data hull")
        return half * (_GL_WEIGHTS @ vals)

    scale = 0.0
    for _ in range(max_depth):
        whole = rule(lo, hi, idx)
        mid = 0.5 * (lo + hi)
        left = rule(lo, mid, idx)
        right = rule(mid, hi, idx)
        halves = left + right
        scale = max(scale, float(np.max(np.abs(halves))) if halves.size else 0.0)
        err = np.abs(whole - halves)
        ok = (err <= rtol * np.abs(halves)) | (err <= 1e-15 * scale)
        np.add.at(total, idx[ok], halves[ok])
        bad = ~ok
        if not np.any(bad):
            return total
        idx = np.concatenate([idx[bad], idx[bad]])
        lo, hi = np.concatenate([lo[bad], mid[bad]]), np.concatenate([mid[bad], hi[bad]])
    np.add.at(total, idx, rule(lo, hi, idx))  # depth exhausted: keep the best estimate
    return total
