"""Weighted splines and kink densities (MATH D.1-D.3, G1, G6, G9, G10)."""

import numpy as np
import pytest
from scipy import integrate
from scipy.interpolate import CubicSpline, PPoly, make_smoothing_spline

from solvers import (
    GalerkinSplineFunction,
    InputError,
    KernelExpansion,
    KinkDensity,
    SolverError,
    WeightedSplineFunction,
    kink_density,
    weighted_spline,
)
from solvers.spline.kernel import kernel_by_quadrature

from _oracles import relu

G9_X = np.array([-1.5, -0.7, -0.1, 0.4, 1.0, 1.6])
G9_Y = np.array([0.3, -0.5, 0.8, 0.1, -0.6, 0.2])


# ------------------------------------------------------------------ independent kernels (MATH D.1/D.2)
def arccos_kernel(x, xp, sigma_w=1.0, sigma_b=1.0):
    """Gaussian law: K = |z||z'| (sin th + (pi - th) cos th) / (2 pi), z = (sigma_w x, sigma_b) (MATH D.2)."""
    x, xp = np.broadcast_arrays(np.asarray(x, float), np.asarray(xp, float))
    nz, nzp = np.hypot(sigma_w * x, sigma_b), np.hypot(sigma_w * xp, sigma_b)
    cos = np.clip((sigma_w**2 * x * xp + sigma_b**2) / (nz * nzp), -1.0, 1.0)
    th = np.arccos(cos)
    return nz * nzp * (np.sin(th) + (np.pi - th) * cos) / (2 * np.pi)


def pm1_uniform_kernel(x, xp, c):
    """w = +-1 (1/2 each), b ~ U[-c, c]: K = E[relu(w x + b) relu(w x' + b)], by quadrature over b."""
    return sum(0.5 * integrate.quad(lambda b: relu(s * x + b) * relu(s * xp + b) / (2 * c), -c, c,
                                    points=[-s * x, -s * xp], epsabs=1e-14, epsrel=1e-13)[0] for s in (-1.0, 1.0))


def torch_uniform_g(t):
    """MATH D.1, w ~ U[-1, 1], b ~ U[-1, 1]: g = 1/8 on [-1, 1], 1/(8 t^4) outside."""
    t = np.asarray(t, float)
    return np.where(np.abs(t) <= 1, 1 / 8, 1 / (8 * np.maximum(t * t, 1.0) ** 2))


def kernel_via_g(x, xp, g, breaks):
    """MATH D.2, sign-symmetric law (g_+ = g_- = g/2):
    K = int g/2 (x - t)_+ (x' - t)_+ dt + int g/2 (t - x)_+ (t - x')_+ dt, by quadrature."""
    lo, hi = min(x, xp), max(x, xp)
    left = [-np.inf] + sorted(b for b in breaks if b < lo) + [lo]
    right = [hi] + sorted(b for b in breaks if b > hi) + [np.inf]
    k = sum(integrate.quad(lambda t: 0.5 * g(t) * (x - t) * (xp - t), a, b, epsabs=1e-14, epsrel=1e-13)[0]
            for a, b in zip(left[:-1], left[1:]))
    return k + sum(integrate.quad(lambda t: 0.5 * g(t) * (t - x) * (t - xp), a, b, epsabs=1e-14, epsrel=1e-13)[0]
                   for a, b in zip(right[:-1], right[1:]))


def gram(kernel, x):
    return np.array([[kernel(a, b) for b in x] for a in x])


def min_norm_value(K, y, free_bias=False):
    """min ||f||_H^2 s.t. f(x_i) = y_i: y^T K^-1 y, or with a free constant d the [K 1; 1^T 0] system."""
    if not free_bias:
        return float(y @ np.linalg.solve(K, y))
    n = y.size
    A = np.block([[K, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
    beta = np.linalg.solve(A, np.concatenate([y, [0.0]]))[:n]
    return float(beta @ K @ beta)


def bump(t):
    return 0.2 + np.exp(-8.0 * (np.asarray(t) - 0.3) ** 2)


def spaced_data(seed, n, lo=-1.5, hi=1.5):
    """Well-separated abscissae (jittered grid): keeps J* moderate so relative checks mean something."""
    rng = np.random.default_rng(seed)
    x = np.linspace(lo, hi, n) + rng.uniform(-0.25, 0.25, n) * (hi - lo) / (n - 1)
    return x, rng.normal(size=n)


# ------------------------------------------------------------------ closed forms (section G)
def test_g1_natural_spline_closed_form():
    s = weighted_spline([0, 1, 2], [0, 1, 0])
    assert s(1.0, 2) == pytest.approx(-3.0, abs=1e-14)
    assert s.value == pytest.approx(6.0, abs=1e-13)
    assert s(0.5) == pytest.approx(0.6875, abs=1e-14)
    np.testing.assert_allclose(s([-1.0, 3.0]), [-1.5, -1.5], atol=1e-14)
    assert s.gap == pytest.approx(0.0, abs=1e-12)
    assert isinstance(s.function, WeightedSplineFunction)
    s.check()


def test_g6_gaussian_weight_closed_form():
    g = kink_density("gaussian", sigma_w=1.0, sigma_b=1.0)
    np.testing.assert_allclose(g.g(np.array([0.0, 1.0])), [2 / np.pi, 2 / (4 * np.pi)], rtol=1e-15)
    s = weighted_spline([-1, 0, 1], [0, 1, 0], weight=g)
    u0 = -2.0 / (1.0 - 2.0 / np.pi)
    assert u0 == pytest.approx(-5.50388, abs=1e-5)
    assert s.function.u[1] == pytest.approx(u0, rel=1e-13)
    assert s.value == pytest.approx(4.0 / (1.0 - 2.0 / np.pi), rel=1e-13)
    assert s.value == pytest.approx(11.00775, abs=1e-5)
    assert s(0.0, 2) == pytest.approx(u0 * 2 / np.pi, rel=1e-13)  # f'' = g u
    s.check(rtol=1e-12)
    with pytest.raises(AttributeError, match="constant"):
        s.ppoly


def test_g9_random_feature_limit():
    kd = kink_density("pm1-uniform", c=2.0)
    cs = CubicSpline(G9_X, G9_Y, bc_type="natural")
    t = np.linspace(-1.5, 1.6, 301)
    s = weighted_spline(G9_X, G9_Y, weight=kd)
    np.testing.assert_allclose(s(t), cs(t), atol=1e-10, rtol=0)
    nb = weighted_spline(G9_X, G9_Y, weight=kd, skip=False, output_bias=False)
    assert nb.value == pytest.approx(377.8377383, abs=1e-5)
    curv = nb.function.integral_curvature()
    bnd = nb.function.boundary_term()
    assert curv == pytest.approx(368.750715, abs=1e-5)
    assert bnd == pytest.approx(9.087024, abs=1e-5)
    # MATH D.2 norm identity, each side independently: y^T K^-1 y with K by quadrature over b;
    # int f''^2/g by quadrature (g = 1/4 on [-2, 2], f'' = 0 outside); the boundary term of a
    # sign-symmetric law, (f'(+inf) + f'(-inf))^2 / E[w^2] + (C+ + C-)^2 / E[b^2], from the
    # asymptotes f(x) = f'(+-inf) x + C+- (f is affine beyond supp g), E[w^2] = 1, E[b^2] = 4/3.
    K = gram(lambda a, b: pm1_uniform_kernel(a, b, 2.0), G9_X)
    assert nb.value == pytest.approx(min_norm_value(K, G9_Y), rel=1e-9)
    brk = np.union1d(G9_X, [-2.0, 2.0])
    curv_quad = sum(integrate.quad(lambda t: 4.0 * nb(t, 2) ** 2, a, b, epsabs=1e-12, epsrel=1e-12)[0]
                    for a, b in zip(brk[:-1], brk[1:]))
    assert curv == pytest.approx(curv_quad, rel=1e-9)
    sR, sL = nb(4.0) - nb(3.0), nb(-3.0) - nb(-4.0)
    Cp, Cm = nb(3.0) - 3.0 * sR, nb(-3.0) + 3.0 * sL
    assert bnd == pytest.approx((sR + sL) ** 2 / 1.0 + (Cp + Cm) ** 2 / (4.0 / 3.0), rel=1e-9)
    assert np.max(np.abs(nb(G9_X) - G9_Y)) < 1e-12
    assert abs(nb.gap) < 1e-8
    # no-skip solution is NOT the natural spline (MATH D.2: differs by ~0.031 inside the hull)
    assert np.max(np.abs(nb(t) - cs(t))) > 1e-2
    # free output bias: sum(beta) = 0, boundary part reduces to the slope term
    fb = weighted_spline(G9_X, G9_Y, weight=kd, skip=False)
    assert abs(fb.certificate["sum_beta"]) < 1e-10
    assert fb.value == pytest.approx(min_norm_value(K, G9_Y, free_bias=True), rel=1e-9)
    assert fb.function.integral_curvature() + fb.function.boundary_term() == pytest.approx(fb.value, rel=1e-12)
    assert fb.value < nb.value


# ------------------------------------------------------------------ g constant: natural cubic spline
@pytest.mark.parametrize("weight", [None, ("pm1-uniform", {"c": 3.0}), ("uniform", {"A": 1.0, "B": 2.0})])
@pytest.mark.parametrize("seed", range(4))
def test_constant_weight_is_natural_cubic_spline(weight, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 30))
    x = np.sort(rng.uniform(-1.8, 1.8, n))
    y = rng.normal(size=n)
    kd = None if weight is None else kink_density(weight[0], **weight[1])
    s = weighted_spline(x, y, weight=kd)
    gconst = 1.0 if kd is None else float(kd.g(0.0))
    cs = CubicSpline(x, y, bc_type="natural")
    t = np.linspace(x[0], x[-1], 1001)
    scale = max(1.0, np.max(np.abs(cs(t))))
    np.testing.assert_allclose(s(t), cs(t), atol=1e-10 * scale, rtol=0)
    np.testing.assert_allclose(s(x, 2), cs(x, 2), atol=1e-9 * max(1, np.max(np.abs(cs(x, 2)))), rtol=0)
    np.testing.assert_allclose(gconst * s.function.u, cs(x, 2), atol=1e-9 * max(1, np.max(np.abs(cs(x, 2)))))
    # exactly linear outside the hull, unlike scipy's natural spline
    far = np.array([x[0] - 100.0, x[0] - 3.0, x[0] - 1e-3, x[-1] + 1e-3, x[-1] + 7.0, x[-1] + 1e4])
    assert np.all(s(far, 2) == 0.0)
    fl = s.function
    left, right = far[:3], far[3:]
    np.testing.assert_allclose(s(left), y[0] + fl.slope_left * (left - x[0]), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(s(right), y[-1] + fl.slope_right * (right - x[-1]), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose([fl.slope_left, fl.slope_right], cs([x[0], x[-1]], 1), rtol=1e-9, atol=1e-9)
    pp = s.ppoly
    assert isinstance(pp, PPoly)
    np.testing.assert_allclose(pp(far), s(far), rtol=1e-13)
    # J = int f''^2/g from the PPoly, independently
    d2 = pp.derivative(2)
    J = sum(integrate.quad(lambda t: d2(t) ** 2, a, b, epsabs=1e-13)[0] for a, b in zip(x[:-1], x[1:])) / gconst
    assert s.value == pytest.approx(J, rel=1e-8)
    assert s.certificate["interpolation_residual"] == 0.0
    assert s.certificate["natural_conditions"] == (0.0, 0.0)
    s.check(rtol=1e-9)


# ------------------------------------------------------------------ smoothing
@pytest.mark.parametrize("lam", [1e-3, 0.05, 2.0])
def test_smoothing_equals_make_smoothing_spline(lam):
    x, _ = spaced_data(7, 40, 0.0, 5.0)
    y = np.sin(x) + np.random.default_rng(8).normal(0, 0.1, x.size)
    s = weighted_spline(x, y, lam=lam)
    m = make_smoothing_spline(x, y, lam=lam)
    t = np.linspace(0.0, 5.0, 500)
    t = t[(t >= x[0]) & (t <= x[-1])]
    np.testing.assert_allclose(s(t), m(t), rtol=0, atol=1e-9 * np.max(np.abs(m(t))))
    d2 = m.derivative(2)  # linear between the data: quad is exact to rounding
    curvature = sum(integrate.quad(lambda t: d2(t) ** 2, a, b, epsabs=0, epsrel=1e-13)[0] for a, b in zip(x[:-1], x[1:]))
    expected = np.sum((m(x) - y) ** 2) + lam * curvature  # scipy's objective, not the library's J
    assert s.value == pytest.approx(expected, rel=1e-9)
    assert s.family == "spline" and s.problem == "regression" and s.lam == lam
    s.check(rtol=1e-10)


@pytest.mark.parametrize("lam", [0.01, 0.5])
def test_smoothing_equals_csaps(lam):
    # csaps minimises p*sum w (y - f)^2 + (1 - p)*int f''^2, i.e. lam = (1 - p)/p, p = 1/(1 + lam)
    csaps = pytest.importorskip("csaps")
    x, _ = spaced_data(1, 30, 0.0, 5.0)
    y = np.sin(x)
    s = weighted_spline(x, y, lam=lam)
    c = csaps.CubicSmoothingSpline(x, y, smooth=1.0 / (1.0 + lam), normalizedsmooth=False)
    t = np.linspace(x[0], x[-1], 200)
    np.testing.assert_allclose(s(t), c(t), atol=1e-8)


def test_smoothing_duplicates_are_weights():
    x = np.array([0.0, 0.5, 0.5, 1.2, 2.0, 2.0, 2.0, 3.1])
    y = np.array([0.1, 1.0, 1.4, 0.3, -0.2, 0.0, 0.5, 1.0])
    lam = 0.3
    s = weighted_spline(x, y, lam=lam)
    xu, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    ym = np.bincount(inv, y) / cnt
    m = make_smoothing_spline(xu, ym, w=cnt.astype(float), lam=lam)
    t = np.linspace(0, 3.1, 50)
    np.testing.assert_allclose(s(t), m(t), atol=1e-9)
    # value is the ORIGINAL sum of squares (over all 8 points) + lam int m''^2, all from scipy's
    # spline (its second derivative is linear between the data, so quad is exact to rounding)
    d2 = m.derivative(2)
    curvature = sum(integrate.quad(lambda t: d2(t) ** 2, a, b, epsabs=0, epsrel=1e-13)[0] for a, b in zip(xu[:-1], xu[1:]))
    assert s.value == pytest.approx(np.sum((m(x) - y) ** 2) + lam * curvature, rel=1e-9)


# ------------------------------------------------------------------ kink densities and kernels
LAW_CASES = [("gaussian", {}), ("gaussian", {"sigma_w": 0.7, "sigma_b": 1.9}), ("uniform", {}),
             ("uniform", {"A": 2.0, "B": 0.5}), ("pm1-uniform", {"c": 2.0})]


@pytest.mark.parametrize("law,params", LAW_CASES)
def test_density_moments(law, params):
    kd = kink_density(law, **params)
    pts = [p for p in kd.breakpoints]
    M0 = sum(integrate.quad(kd.g, a, b, epsabs=1e-13)[0] for a, b in zip([-np.inf] + pts, pts + [np.inf]))
    M2 = sum(integrate.quad(lambda t: t * t * kd.g(t), a, b, epsabs=1e-13)[0]
             for a, b in zip([-np.inf] + pts, pts + [np.inf]))
    assert M0 == pytest.approx(kd.second_moment, rel=1e-9)
    assert M2 == pytest.approx(kd.E_b2, rel=1e-9)
    rng = np.random.default_rng(0)
    for _ in range(10):
        p, q = np.sort(rng.normal(0, 3, 2))
        al, be = rng.normal(0, 2, 2)
        inner = [b for b in pts if p < b < q]
        ref = integrate.quad(lambda s: (s - al) * (s - be) * kd.g(s), p, q, points=inner or None, epsabs=1e-14,
                             epsrel=1e-13)[0]
        assert kd.quad_moment(p, q, al, be) == pytest.approx(ref, rel=1e-11, abs=1e-14)
        ref1 = integrate.quad(lambda s: (s - al) * kd.g(s), p, q, points=inner or None, epsabs=1e-14)[0]
        assert kd.lin_moment(p, q, al) == pytest.approx(ref1, rel=1e-11, abs=1e-14)
    np.testing.assert_allclose(kd.g_plus(np.linspace(-3, 3, 7)), kd.g(np.linspace(-3, 3, 7)) / 2)


@pytest.mark.parametrize("law,params", LAW_CASES)
def test_density_matches_monte_carlo(law, params):
    kd = kink_density(law, **params)
    w, b = kd.sample(400_000, seed=1)
    t = -b / w
    edges = np.linspace(-1.5, 1.5, 7)
    hist, _ = np.histogram(t, bins=edges, weights=w * w)
    est = hist / w.size / np.diff(edges)
    exact = np.array([integrate.quad(kd.g, a, c, points=[p for p in kd.breakpoints if a < p < c] or None)[0]
                      for a, c in zip(edges[:-1], edges[1:])]) / np.diff(edges)
    np.testing.assert_allclose(est, exact, rtol=0.03, atol=0.002 * np.max(exact))
    assert np.mean(w * w) == pytest.approx(kd.second_moment, rel=0.01)


def test_gaussian_kernel_arccos_equals_2d_quadrature():
    sw, sb = 0.8, 1.3
    kd = kink_density("gaussian", sigma_w=sw, sigma_b=sb)
    pdf = lambda w, b: np.exp(-0.5 * (w / sw) ** 2 - 0.5 * (b / sb) ** 2) / (2 * np.pi * sw * sb)  # noqa: E731
    for x, xp in [(0.3, -0.7), (1.5, 2.0)]:
        # E[relu(wx+b) relu(wx'+b)]: integrate b over the region where both units are active
        f = lambda b, w: (w * x + b) * (w * xp + b) * pdf(w, b)  # noqa: E731
        lo = lambda w: max(-w * x, -w * xp)  # noqa: E731
        ref = sum(integrate.dblquad(f, a, c, lo, lambda w: 12 * sb, epsabs=1e-13, epsrel=1e-12)[0]
                  for a, c in [(-12 * sw, 0.0), (0.0, 12 * sw)])
        assert kd.kernel(x, xp) == pytest.approx(ref, abs=1e-8)
        assert kd.kernel(x, xp) == pytest.approx(kernel_by_quadrature(kd, x, xp), rel=1e-12)


@pytest.mark.parametrize("law,params", [("uniform", {}), ("uniform", {"A": 2.0, "B": 0.5}),
                                        ("pm1-uniform", {"c": 2.0})])
def test_uniform_kernels_equal_quadrature(law, params):
    kd = kink_density(law, **params)
    for x, xp in [(0.3, -0.7), (2.5, 1.1), (-3.0, 4.0)]:
        if law == "uniform":
            A, B = kd.params["A"], kd.params["B"]

            def inner(w):
                lo = max(-w * x, -w * xp, -B)
                return integrate.quad(lambda b: (w * x + b) * (w * xp + b), lo, B)[0] if lo < B else 0.0
            kinks = sorted({0.0, *[v for v in (B / x, -B / x, B / xp, -B / xp) if -A < v < A]})
            edges = [-A] + [k for k in kinks] + [A]
            ref = sum(integrate.quad(inner, a, c, epsabs=1e-13)[0] for a, c in zip(edges[:-1], edges[1:]))
            ref /= 4 * A * B
        else:
            c = kd.params["c"]
            ref = sum(0.5 * integrate.quad(lambda b: max(s * x + b, 0) * max(s * xp + b, 0) / (2 * c), -c, c,
                                           points=[-s * x, -s * xp], epsabs=1e-14)[0] for s in (-1.0, 1.0))
        assert kd.kernel(x, xp) == pytest.approx(ref, rel=1e-9, abs=1e-13)
        assert kd.kernel(x, xp) == pytest.approx(kernel_by_quadrature(kd, x, xp), rel=1e-12, abs=1e-15)
        h = 1e-5
        fd = (kd.kernel(x + h, xp) - kd.kernel(x - h, xp)) / (2 * h)
        assert kd.kernel_dx(x, xp) == pytest.approx(fd, abs=1e-8)


# ------------------------------------------------------------------ non-constant g: exact vs cvxpy Galerkin
WEIGHTS = {"gaussian": kink_density("gaussian"), "uniform": kink_density("uniform"), "bump": bump}


@pytest.mark.parametrize("wname", list(WEIGHTS))
@pytest.mark.parametrize("lam", [0.0, 0.05])
def test_exact_vs_cvxpy_galerkin(wname, lam):
    x, y = spaced_data(11, 7)
    w = WEIGHTS[wname]
    ex = weighted_spline(x, y, weight=w, lam=lam)
    cv = weighted_spline(x, y, weight=w, lam=lam, method="cvxpy")
    assert cv.status == "optimal" and "CLARABEL" in cv.solver
    assert cv.value == pytest.approx(ex.value, rel=1e-6)
    assert cv.value >= ex.lower_bound - 1e-9 * ex.value  # Galerkin is conforming: never below J*
    assert ex.gap <= 1e-10 * ex.value
    t = np.linspace(x[0] - 1, x[-1] + 1, 101)
    assert np.max(np.abs(ex(t) - cv(t))) < 1e-3 * max(1.0, np.max(np.abs(ex(t))))
    # the Galerkin f'' vanishes outside the hull too
    out = np.linspace(x[-1] + 0.05, x[-1] + 0.7, 5)
    assert np.max(np.abs(cv(out, 2))) < 1e-3 * np.max(np.abs(cv(x, 2)))


@pytest.mark.parametrize("wname", list(WEIGHTS))
def test_green_function_evaluation(wname):
    x, y = spaced_data(5, 8)
    s = weighted_spline(x, y, weight=WEIGHTS[wname])
    f = s.function
    g = f.density.g
    np.testing.assert_array_equal(s(x), y)
    t = np.sort(np.concatenate([np.linspace(x[0] - 1, x[-1] + 1, 200), x, [-1.0, 1.0]]))
    # f'' = g u inside, 0 outside; f' and f'' from finite differences of f
    h = 1e-4
    fd1 = (s(t + h) - s(t - h)) / (2 * h)
    fd2 = (s(t + h) - 2 * s(t) + s(t - h)) / h**2
    scale1 = np.max(np.abs(s(t, 1)))
    scale2 = np.max(np.abs(s(t, 2)))
    assert np.max(np.abs(fd1 - s(t, 1))) < 1e-6 * scale1
    assert np.max(np.abs(fd2 - s(t, 2))) < 1e-3 * scale2  # O(h |f'''|) where f''' jumps (knots)
    inside = (t >= x[0]) & (t <= x[-1])
    np.testing.assert_allclose(s(t[inside], 2), g(t[inside]) * np.interp(t[inside], x, f.u), rtol=1e-12, atol=1e-12)
    assert np.all(s(t[~inside], 2) == 0.0)
    # f' continuous at the interior knots (the banded system's residual)
    eps = 1e-9
    jump = s(x[1:-1] + eps, 1) - s(x[1:-1] - eps, 1)
    assert np.max(np.abs(jump)) < 1e-6 * scale1
    # J(f) = int f''^2/g recomputed by quadrature
    J = sum(integrate.quad(lambda t: s(t, 2) ** 2 / g(t), a, b, epsabs=1e-12)[0] for a, b in zip(x[:-1], x[1:]))
    assert s.value == pytest.approx(J, rel=1e-9)
    if wname != "uniform":  # uniform A=B=1 is constant on [-1, 1] only; this hull is wider
        with pytest.raises(AttributeError):
            s.ppoly


def test_projection_identity():
    kd = kink_density("gaussian", sigma_w=1.0, sigma_b=0.7)
    x, y = spaced_data(3, 6)
    s = weighted_spline(x, y, weight=kd)
    # h = f* + bump, bump vanishing at every data point; J(h) - J* = int (h - f*)''^2/g
    # phi(t) = prod(t - x_i) exp(-t^2); its second derivative exactly, via numpy polynomials
    P = np.polynomial.Polynomial.fromroots(x)
    E = lambda t: np.exp(-t**2)  # noqa: E731
    phi2 = lambda t: (P.deriv(2)(t) - 4 * t * P.deriv(1)(t) + (4 * t**2 - 2) * P(t)) * E(t)  # noqa: E731
    eps = 0.3
    lims = [-12.0] + list(x) + [12.0]
    Jh = sum(integrate.quad(lambda t: (s(t, 2) + eps * phi2(t)) ** 2 / kd.g(t), a, b, epsabs=1e-12, limit=200)[0]
             for a, b in zip(lims[:-1], lims[1:]))
    Jd = sum(integrate.quad(lambda t: (eps * phi2(t)) ** 2 / kd.g(t), a, b, epsabs=1e-12, limit=200)[0]
             for a, b in zip(lims[:-1], lims[1:]))
    assert Jh - s.value == pytest.approx(Jd, rel=1e-7)
    assert Jh > s.value


def test_custom_weight_with_support_and_breakpoints():
    # piecewise constant g given as a callable: must equal the built-in uniform law's answer
    kd = kink_density("uniform", A=1.0, B=1.0)
    g = lambda t: np.where(np.abs(t) <= 1, 1 / 8, 1 / (8 * np.asarray(t, float) ** 4 + 1e-300))  # noqa: E731
    x, y = spaced_data(2, 9, -2.5, 2.5)
    a = weighted_spline(x, y, weight=kd)
    b = weighted_spline(x, y, weight=g, breakpoints=[-1, 1])
    assert b.value == pytest.approx(a.value, rel=1e-11)
    t = np.linspace(-3, 3, 41)
    np.testing.assert_allclose(b(t), a(t), rtol=1e-11, atol=1e-11)
    # a support that does not cover the hull: g = 0 there
    with pytest.raises(InputError, match="infinite"):
        weighted_spline(x, y, weight=bump, support=(-1.0, 1.0))


# ------------------------------------------------------------------ inputs and invariances
def test_bad_inputs():
    kd = kink_density("pm1-uniform", c=1.0)
    with pytest.raises(InputError, match="infinite"):
        weighted_spline([-1.5, 0, 1], [0, 1, 0], weight=kd)
    with pytest.raises(InputError, match="lam"):
        weighted_spline([0, 1, 2], [0, 1, 0], lam=-1.0)
    with pytest.raises(InputError, match="finite"):
        weighted_spline([0, np.nan, 2], [0, 1, 0])
    with pytest.raises(InputError, match="at least 2"):
        weighted_spline([1.0], [1.0])
    with pytest.raises(InputError, match="same length"):
        weighted_spline([0, 1, 2], [0, 1])
    with pytest.raises(InputError, match="different y"):
        weighted_spline([0, 1, 1], [0, 1, 2])
    with pytest.raises(InputError, match="method"):
        weighted_spline([0, 1, 2], [0, 1, 0], method="lp")
    with pytest.raises(InputError, match="skip=False"):
        weighted_spline([0, 1, 2], [0, 1, 0], skip=False)
    with pytest.raises(InputError, match="skip=False"):
        weighted_spline([0, 1, 2], [0, 1, 0], skip=False, weight=bump)
    with pytest.raises(InputError, match="weight"):
        weighted_spline([0, 1, 2], [0, 1, 0], weight="gaussian")
    with pytest.raises(InputError, match="not > 0"):
        weighted_spline([0, 1, 2], [0, 1, 0], weight=lambda t: t - 0.5)
    with pytest.raises(InputError, match="law"):
        kink_density("cauchy")
    with pytest.raises(InputError, match="sigma_w"):
        kink_density("gaussian", sigma_w=-1.0)
    # The default law is the network's (MATH G9: w = +-1, b ~ U[-2, 2], so g = 1/4 on [-2, 2]).
    assert kink_density("pm1-uniform").g(np.array([0.0, 1.9, 2.1])) == pytest.approx([0.25, 0.25, 0.0])
    with pytest.raises(InputError, match="parameter"):
        kink_density("uniform", c=2.0)
    with pytest.raises(InputError, match="nu"):
        weighted_spline([0, 1, 2], [0, 1, 0])(0.5, nu=3)


@pytest.mark.parametrize("weight", [None, kink_density("gaussian")])
@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_unsorted_input_gives_same_answer(weight, lam):
    x, y = spaced_data(4, 12)
    perm = np.random.default_rng(0).permutation(x.size)
    a = weighted_spline(x, y, weight=weight, lam=lam)
    b = weighted_spline(x[perm], y[perm], weight=weight, lam=lam)
    t = np.linspace(-3, 3, 33)
    np.testing.assert_array_equal(a(t), b(t))
    assert a.value == b.value


@pytest.mark.parametrize("weight", [None, kink_density("gaussian"), bump])
def test_two_points_give_the_line(weight):
    s = weighted_spline([2.0, 0.0], [3.0, 1.0], weight=weight)
    t = np.array([-5.0, 0.5, 1.0, 9.0])
    np.testing.assert_allclose(s(t), 1.0 + t, rtol=1e-15)
    assert s.value == 0.0 and s.lower_bound == 0.0
    sm = weighted_spline([0.0, 2.0], [1.0, 3.0], weight=weight, lam=0.5)
    np.testing.assert_allclose(sm(t), 1.0 + t, rtol=1e-15)


def test_each_path_returns_its_exported_function_type():
    """The type of every Solution.function a user receives is importable (solvers, solvers.spline, mn)."""
    import minnorm as mn
    import solvers.spline

    kd = kink_density("gaussian")
    assert isinstance(kd, KinkDensity)
    cases = [
        (weighted_spline(G9_X, G9_Y, weight=kd), WeightedSplineFunction),
        (weighted_spline(G9_X, G9_Y, weight=kd, lam=0.1), WeightedSplineFunction),
        (weighted_spline(G9_X, G9_Y, weight=kd, skip=False), KernelExpansion),
        (weighted_spline(G9_X, G9_Y, weight=kd, skip=False, output_bias=False, lam=0.1), KernelExpansion),
        (weighted_spline(G9_X, G9_Y, method="cvxpy"), GalerkinSplineFunction),
    ]
    for sol, cls in cases:
        assert type(sol.function) is cls
        assert getattr(solvers.spline, cls.__name__) is cls and getattr(mn, cls.__name__) is cls
        assert cls.__name__ in solvers.spline.__all__ and cls.__name__ in mn.__all__

def test_kernel_smoothing_and_skip_false_gaussian():
    kd = kink_density("gaussian")
    x, y = spaced_data(9, 10)
    lam = 0.1
    s = weighted_spline(x, y, weight=kd, skip=False, lam=lam)
    K = arccos_kernel(x[:, None], x[None, :])  # MATH D.2 closed form, not the library's kernel
    # KRR with a free bias, solved independently
    A = np.block([[K + lam * np.eye(x.size), np.ones((x.size, 1))], [np.ones((1, x.size)), np.zeros((1, 1))]])
    sol = np.linalg.solve(A, np.concatenate([y, [0.0]]))
    fitted, beta = K @ sol[:-1] + sol[-1], sol[:-1]
    np.testing.assert_allclose(s(x), fitted, rtol=1e-10, atol=1e-12)
    # objective SSE + lam ||f||_H^2 with ||f||_H^2 = beta^T K beta
    assert s.value == pytest.approx(np.sum((fitted - y) ** 2) + lam * beta @ K @ beta, rel=1e-9)
    assert abs(s.gap) < 1e-9 * s.value
    # f'' = (g/2) sum beta |t - x_i| agrees with finite differences of f
    t = np.linspace(-3, 3, 9)
    fd2 = (s(t + 1e-4) - 2 * s(t) + s(t - 1e-4)) / 1e-8
    np.testing.assert_allclose(s(t, 2), fd2, atol=1e-5 * np.max(np.abs(fd2)))
    fd1 = (s(t + 1e-6) - s(t - 1e-6)) / 2e-6
    np.testing.assert_allclose(s(t, 1), fd1, atol=1e-7 * np.max(np.abs(fd1)))
    f = s.function
    assert f.rkhs_norm2() == pytest.approx(beta @ K @ beta, rel=1e-9)
    assert f.integral_curvature() + f.boundary_term() == pytest.approx(f.rkhs_norm2(), rel=1e-9)


@pytest.mark.parametrize("law", ["gaussian", "uniform"])
def test_kernel_norm_identity_no_bias(law):
    """MATH D.2: y^T K^-1 y = int f''^2/g + boundary, for non-uniform g too."""
    kd = kink_density(law)
    x, y = spaced_data(10, 7)
    s = weighted_spline(x, y, weight=kd, skip=False, output_bias=False)
    # y^T K^-1 y with K independent of the library: the arc-cosine closed form (Gaussian), or the
    # D.2 integral of MATH D.1's closed-form g by quadrature (torch's uniform law, A = B = 1)
    if law == "gaussian":
        K = arccos_kernel(x[:, None], x[None, :])
    else:
        K = gram(lambda a, b: kernel_via_g(a, b, torch_uniform_g, [-1.0, 1.0]), x)
    assert s.value == pytest.approx(min_norm_value(K, y), rel=1e-8)
    f = s.function
    assert f.integral_curvature() + f.boundary_term() == pytest.approx(s.value, rel=1e-9)


def test_large_n_and_scaling():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-3, 3, 200_000))
    y = np.sin(x)
    s = weighted_spline(x, y, weight=kink_density("gaussian"))
    assert s.certificate["kkt_residual"] < 1e-10
    assert s.gap <= 1e-8 * s.value
    # x spread over 1e-6: the same answer as rescaled data (J scales by c^-3 for g = 1)
    x6, y6 = spaced_data(6, 20)
    a = weighted_spline(x6, y6)
    b = weighted_spline(x6 * 1e-6, y6)
    assert b.value == pytest.approx(a.value * 1e18, rel=1e-9)
    np.testing.assert_allclose(b(x6 * 1e-6 * 0.77), a(x6 * 0.77), rtol=1e-9, atol=1e-12)


def test_smoothing_with_tiny_gaps_beats_scipy_with_honest_certificate():
    """1e5 random points have gaps ~1e-10: the smoothing matrix is numerically indefinite for
    Cholesky (its condition number exceeds 1/eps). The pivoted fallback must still return a certified solution whose objective is
    at least as good as scipy's make_smoothing_spline (computed exactly for its cubic)."""
    from scipy.interpolate import make_smoothing_spline

    rng = np.random.default_rng(2)
    x = np.unique(rng.uniform(-1, 1, 10**5))
    y = np.sin(3 * x) + 0.3 * rng.normal(size=x.size)
    lam = 1e-4
    # the certificate cannot reach the exact tolerance here (relative gap ~1e-5): refused by default
    with pytest.raises(SolverError, match="duality gap"):
        weighted_spline(x, y, lam=lam)
    sol = weighted_spline(x, y, lam=lam, allow_inaccurate=True)
    assert sol.status == "inaccurate" and "exact" in sol.certificate["status_reason"]
    ref = make_smoothing_spline(x, y, lam=lam)
    d2 = ref.derivative(2)
    v0, v1, h = d2(x[:-1]), d2(x[1:]), np.diff(x)
    ref_obj = np.sum((ref(x) - y) ** 2) + lam * np.sum(h * (v0 * v0 + v0 * v1 + v1 * v1) / 3)
    assert "pivoted LU" in sol.solver  # the Cholesky breakdown is reported, not hidden
    assert sol.value <= ref_obj  # scipy's is 9051.97, ours 9032.91
    assert 0 <= sol.gap <= 1e-4 * sol.value  # 1.3e-5 after equilibration (4.6e-4 before)
