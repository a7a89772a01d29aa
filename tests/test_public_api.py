"""The public solver API as a user meets it through ``import minnorm``: every variant, exact vs
cvxpy, certificates, export, and the README example."""

import json

import numpy as np
import pytest

import minnorm as mn

from _oracles import cost_from_evaluations, data_knot_regression, sparsest_v1_count, v1_value, v2_value

VARIANTS = ["skip", "no-skip", "bias", "bias-no-skip"]


def random_data(seed, n=7):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.0, 2.0, n))
    return x, rng.normal(size=n)


def test_readme_example_numbers():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    sol = mn.tv2_interpolant(x, y, select="sparsest")
    assert sol.value == pytest.approx(2.0, abs=1e-14)
    assert sol.lower_bound == pytest.approx(2.0, abs=1e-14)
    assert sol.status == "optimal"
    np.testing.assert_allclose(sol.knots, [1.5], atol=1e-14)
    np.testing.assert_allclose(sol.jumps, [-2.0], atol=1e-14)
    env = mn.tv2_envelope(x, y)
    assert env.lower(1.5) == pytest.approx(1.0) and env.upper(1.5) == pytest.approx(1.5)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_and_cvxpy_agree_on_value_with_certificates(variant, seed):
    """Objective values, not argmins: V1/V2 minimisers are not unique."""
    x, y = random_data(seed)
    exact = mn.tv2_interpolant(x, y, variant=variant)
    grid = mn.tv2_interpolant(x, y, variant=variant, method="cvxpy")
    for sol in (exact, grid):
        assert sol.status == "optimal"
        assert sol.lower_bound <= sol.value + 1e-8 * max(1.0, sol.value)
        np.testing.assert_allclose(sol(x), y, atol=1e-7)
        # value is the cost of the returned function
        assert sol.value == pytest.approx(cost_from_evaluations(sol, variant), rel=1e-9)
    assert exact.gap <= 1e-6 * max(1.0, exact.value)
    if variant in ("skip", "no-skip"):  # closed forms of the optimum, from the data alone
        best = (v1_value if variant == "skip" else v2_value)(x, y)
        assert exact.value == pytest.approx(best, rel=1e-12)
        assert grid.value == pytest.approx(best, rel=1e-7)
    # The grid program is an upper bound that is exact for V1/V2 and converges from above for V3/V4.
    rtol = 1e-7 if variant in ("skip", "no-skip") else 2e-2
    assert grid.value >= exact.lower_bound - 1e-7
    assert grid.value == pytest.approx(exact.value, rel=rtol)


@pytest.mark.parametrize("variant", VARIANTS)
def test_regression_exact_and_cvxpy_agree(variant):
    x, y = random_data(5, n=9)
    lam = 0.3
    exact = mn.tv2_regression(x, y, lam, variant=variant)
    other = mn.tv2_regression(x, y, lam, variant=variant, method="cvxpy")
    for sol in (exact, other):
        sse = np.sum((sol(x) - y) ** 2)
        assert sol.value == pytest.approx(sse + lam * cost_from_evaluations(sol, variant), rel=1e-9)
        assert sol.lower_bound <= sol.value + 1e-9
    if variant in ("skip", "no-skip"):
        # MATH B.1 / B.2 regression with knots at the data, by Clarabel at tight tolerances
        value, fitted = data_knot_regression(x, y, lam, variant, solver="CLARABEL", tol_gap_abs=1e-12,
                                             tol_gap_rel=1e-12, tol_feas=1e-12)
        assert exact.value == pytest.approx(value, rel=1e-8)
        np.testing.assert_allclose(exact(x), fitted, atol=1e-6)  # the fitted values are unique
    assert exact.gap <= 1e-5 * exact.value
    rtol = 1e-6 if variant in ("skip", "no-skip") else 5e-3
    assert other.value == pytest.approx(exact.value, rel=rtol)


def test_bias_variants_closed_forms_through_public_api():
    """MATH G1, G2, G3 and G7."""
    assert mn.tv2_interpolant([0, 1, 2], [0, 1, 0], variant="bias").value == pytest.approx(2 * np.sqrt(2), rel=1e-6)
    assert mn.tv2_interpolant([0, 1, 2, 3], [0, 1, 1, 0], variant="bias").value == pytest.approx(np.sqrt(13), rel=1e-6)
    sol7 = mn.tv2_interpolant([-3, 2.5, 3], [0, 0, 1], variant="bias")
    assert sol7.value == pytest.approx(1.1 * np.sqrt(10), abs=1e-4)
    np.testing.assert_allclose(sol7.knots, [1 / 3], atol=1e-4)
    np.testing.assert_allclose(sol7.jumps, [3.3], atol=1e-4)
    assert mn.tv2_interpolant([0, 1], [0, 1], variant="bias-no-skip").value == pytest.approx(1.0, abs=1e-6)
    assert mn.tv2_interpolant([0, 1], [0, 1], variant="no-skip").value == pytest.approx(1.0, abs=1e-14)
    assert mn.tv2_interpolant([0, 1, 2], [0, 1, 3], variant="no-skip").value == pytest.approx(2.0, abs=1e-14)


def test_select_does_not_apply_to_unique_variants():
    with pytest.raises(mn.InputError, match="select"):
        mn.tv2_interpolant([0, 1, 2], [0, 1, 0], variant="bias", select="sparsest")


@pytest.mark.parametrize("variant", VARIANTS)
def test_input_order_does_not_matter(variant):
    x, y = random_data(11, n=6)
    perm = np.random.default_rng(3).permutation(x.size)
    a = mn.tv2_interpolant(x, y, variant=variant)
    b = mn.tv2_interpolant(x[perm], y[perm], variant=variant)
    assert a.value == pytest.approx(b.value, rel=1e-9)
    t = np.linspace(-4, 4, 41)
    np.testing.assert_allclose(a(t), b(t), atol=1e-6)


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_extreme_scales(scale):
    """Scaling x by a divides slopes, hence V1, by a; nothing may silently break."""
    x, y = random_data(2, n=50)
    base = mn.tv2_interpolant(x, y)
    sol = mn.tv2_interpolant(scale * x, y, select="sparsest")
    assert base.value == pytest.approx(v1_value(x, y), rel=1e-12)
    assert sol.value == pytest.approx(v1_value(x, y) / scale, rel=1e-9)
    assert sol.knots.size == sparsest_v1_count(x, y)
    np.testing.assert_allclose(sol(scale * x), y, atol=1e-9)
    spl = mn.weighted_spline(scale * x, y)
    np.testing.assert_allclose(spl(scale * x), y, atol=1e-8)


def test_solution_export_is_json():
    sol = mn.tv2_interpolant([0, 1, 2, 3], [0, 1, 1, 0], select="sparsest")
    d = json.loads(json.dumps(sol.to_dict()))
    assert d["value"] == pytest.approx(2.0) and d["function"]["knots"] == pytest.approx([1.5])
    # MATH G6: Gaussian-init weight on x = (-1, 0, 1), y = (0, 1, 0): J* = 4 / (1 - 2/pi).
    spl = mn.weighted_spline([-1, 0, 1], [0, 1, 0], weight=mn.kink_density("gaussian"))
    e = json.loads(json.dumps(spl.to_dict()))
    assert e["value"] == pytest.approx(4.0 / (1.0 - 2.0 / np.pi), rel=1e-12)
    assert e["status"] == "optimal"


def test_bad_input_messages_name_the_argument():
    with pytest.raises(mn.InputError, match="variant"):
        mn.tv2_interpolant([0, 1, 2], [0, 1, 0], variant="nope")
    with pytest.raises(mn.InputError, match="method"):
        mn.tv2_interpolant([0, 1, 2], [0, 1, 0], method="magic")
    with pytest.raises(mn.InputError, match="lam"):
        mn.tv2_regression([0, 1, 2], [0, 1, 0], -1.0)
    with pytest.raises(mn.InputError, match="law"):
        mn.kink_density("cauchy")
    with pytest.raises(ValueError):  # InputError is a ValueError for callers that catch that
        mn.weighted_spline([0, 1], [0])


@pytest.mark.parametrize("seed", range(6))
def test_bias_solution_is_a_sparsest_v1_solution_when_gaps_are_small(seed):
    """MATH B.3: with every gap <= 2 the B-F solution is a V1 minimiser with the V1-sparsest
    knot count (proved for n = 3, EMPIRICAL beyond). Also guards against solver-noise knots."""
    rng = np.random.default_rng(100 + seed)
    x = np.sort(rng.uniform(-1.5, 1.5, 8))
    y = rng.normal(size=8)
    bias = mn.tv2_interpolant(x, y, variant="bias")
    sparsest = mn.tv2_interpolant(x, y, select="sparsest")
    count = sparsest_v1_count(x, y)  # from the data's curvature signs, computed here
    assert bias.knots.size == sparsest.knots.size == count
    np.testing.assert_allclose(sparsest(x), y, atol=1e-9)
    assert cost_from_evaluations(bias, "skip") == pytest.approx(v1_value(x, y), rel=1e-6)
    assert cost_from_evaluations(sparsest, "skip") == pytest.approx(v1_value(x, y), rel=1e-9)


@pytest.mark.parametrize("delta", [0.1, 0.3, 0.5])
def test_known_regions_abs(delta):
    """MATH C / G8: |x| prescribed on [-1,-delta] U [delta,1]: V1 = 2 with f(0) in [0, delta]
    over the whole solution set; the B-F (V3) solution is |x| itself (one kink at 0)."""
    side = np.linspace(delta, 1.0, 21)
    x = np.concatenate([-side[::-1], side])
    y = np.abs(x)
    v1 = mn.tv2_interpolant(x, y)
    assert v1.value == pytest.approx(2.0, abs=1e-12)
    env = mn.tv2_envelope(x, y)
    assert env.lower(0.0) == pytest.approx(0.0, abs=1e-12)
    assert env.upper(0.0) == pytest.approx(delta, abs=1e-12)
    v3 = mn.tv2_interpolant(x, y, variant="bias")
    assert v3(0.0) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(v3.knots, [0.0], atol=1e-6)
    assert v3.value == pytest.approx(2.0, rel=1e-6)  # one kink at 0: 2 * omega(0)


def test_conic_size_limit_is_a_clear_error(monkeypatch):
    """n beyond the conic solvers' reach fails at once with a message, not after an hour."""
    import solvers._cvx

    monkeypatch.setattr(solvers._cvx, "CONIC_MAX_N", 5)
    x, y = random_data(0, n=7)
    for call in (lambda: mn.tv2_interpolant(x, y, variant="bias"),
                 lambda: mn.tv2_interpolant(x, y, method="cvxpy"),
                 lambda: mn.tv2_regression(x, y, 0.1, variant="no-skip")):
        with pytest.raises(mn.InputError, match="n = 7 data points exceeds solvers._cvx.CONIC_MAX_N = 5"):
            call()
    assert mn.tv2_interpolant(x, y).status == "optimal"  # the O(n) paths have no such limit
