"""The README's main job, examples/kernel_regime.toml: its config, its learning rate, a reduced form
of the same sweep, and the lr size rule it needs (train.lr = {c, alpha, beta})."""

import copy
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from minnorm.comparison.rates import compute_rates
from minnorm.comparison.sweeps.config import ConfigError, expand, group_populations, load_config, parse_config
from minnorm.comparison.sweeps.run import _model_kwargs, run_sweep
from minnorm.comparison.sweeps.store import load_results
from minnorm.training.network import ShallowReLU

from _fixtures import TINY, with_changes

MAIN_JOB = Path(__file__).parent.parent / "examples" / "kernel_regime.toml"


def test_main_job_config_loads_and_is_the_kernel_regime_recipe():
    cfg = load_config(MAIN_JOB)
    assert cfg.varying_axes() == ["width", "n", "seed"]
    m, t, r = cfg.model, cfg.train, cfg.reference
    # kernel regime: small init ratio, f_0 = 0, no weight decay, plain GD, both layers trained
    assert m["init_ratio"] == [1e-3] and m["antisymmetric"] and t["weight_decay"] == [0.0]
    assert t["optimizer"] == ["gd"] and t["train_first_layer"] and r["lam"] is None
    # the limit is the kernel of the net's own first-layer law, without the affine terms it lacks
    assert not m["skip"] and not m["output_bias"]
    assert r["name"] == f"krr:no-skip:{m['init']}" and r["params"] == dict(m["init_params"], output_bias=False)
    runs = expand(cfg)
    assert len(runs) == 2 * 6 * 4 and len(group_populations(runs)) == 2  # one population per n
    for run in runs:
        assert run.spec["train"]["lr"] == pytest.approx(0.0028 / run.spec["model"]["width"], rel=1e-15)


def _gauss_newton_lambda_max(model, x):
    """Largest eigenvalue of (2/n) J J^T, J the Jacobian of (f(x_1), ..., f(x_n)) in every trained
    parameter, by autograd: the part of the MSE's Hessian that sets GD's stable step here (the
    rest is O(residual * |a|), negligible at init ratio 1e-3)."""
    xt = torch.as_tensor(x)
    params = [p for p in model.parameters()]
    rows = []
    for i in range(xt.numel()):
        g = torch.autograd.grad(model(xt[i:i + 1])[0], params)
        rows.append(torch.cat([gi.reshape(-1) for gi in g]))
    J = torch.stack(rows).numpy()
    return float(np.linalg.eigvalsh(2.0 / x.size * (J @ J.T))[-1])


def test_main_job_lr_is_stable_and_near_the_fastest_step_for_every_run():
    # GD on a quadratic with Hessian H converges iff lr * lambda_max(H) < 2, and lr = 1/lambda_max
    # is the fastest step for the top mode; the config's lr = 0.0028/m should be near 1/lambda_max and below 2/lambda_max.
    from minnorm.comparison.problems import problem_for_run

    ratios = []
    for run in expand(load_config(MAIN_JOB)):
        spec = run.spec
        model = ShallowReLU(spec["model"]["width"], **_model_kwargs(spec))
        x = problem_for_run(spec).x
        ratios.append(spec["train"]["lr"] * _gauss_newton_lambda_max(model, x))
    assert 0.9 < min(ratios) and max(ratios) < 1.8, (min(ratios), max(ratios))


def _reduced_main_job(out):
    """The main job with fewer data, widths, seeds and steps (same law, ratio, limit and lr rule)."""
    with open(MAIN_JOB, "rb") as fh:
        d = tomllib.load(fh)
    d = with_changes(d, {"problem.n": 6, "model.width": [40, 160, 640], "seeds": 3, "train.steps": 20000,
                         "output": {"report": False}})
    return run_sweep(parse_config(d, source=str(MAIN_JOB)), out, serial=True, progress=False, report=False)


def test_reduced_main_job_converges_and_its_distance_falls_with_width(tmp_path):
    summary = _reduced_main_job(tmp_path)
    assert summary.counts == {"ok": 9, "failed": 0, "diverged": 0}
    df = load_results(tmp_path / "results.sqlite")
    # converged: the training misfit is far below the distances measured
    assert df["train_mse"].max() < 1e-8, df["train_mse"].max()
    med = df.groupby("width")["linf"].median()
    # Monte Carlo error of 20 -> 320 distinct random features: ~ m^-1/2, a factor 4 over this range
    # (measured medians 0.37, 0.28, 0.045; single seeds scatter by a factor 2-3)
    assert med[640] < 0.5 * med[40], med.to_dict()
    assert med[640] < 0.1, med.to_dict()
    # ... to the kernel limit without affine part, not to the weighted spline with one (MATH D.2)
    from solvers import PiecewiseLinear

    from minnorm.comparison.metrics import linf_distance
    from minnorm.comparison.problems import make_problem
    from minnorm.comparison.references import solve_reference

    p = make_problem("sin", "uniform", 6)
    spline = solve_reference("spline:pm1-uniform", p.x, p.y, params={"c": 1.0})
    wide = [json.loads(f) for f in df.loc[df["width"] == 640, "function"]]
    to_spline = [linf_distance(PiecewiseLinear(d["nodes"], d["values"], d["slope_left"], d["slope_right"]), spline,
                               p.eval_interval) for d in wide]
    assert np.median(to_spline) > 2 * med[640], (to_spline, med[640])
    # the report redraws the (non-piecewise-linear) kernel limit from its stored samples
    from minnorm.comparison.sweeps.report import _StoredReference
    from minnorm.comparison.sweeps.store import load_references

    for _, rec in load_references(tmp_path / "results.sqlite").values():
        np.testing.assert_array_equal(_StoredReference(rec).solution(np.asarray(rec["grid"])), rec["f"])
    rates = compute_rates(df, "linf")
    assert len(rates) == 1  # the lr rule gives each width its own lr; still one fit for the whole sweep
    assert 0.2 < rates["exponent"].iloc[0] < 1.0, rates.to_dict("records")


# ------------------------------------------------------------------------------ the lr size rule
BASE = with_changes(TINY, {"name": "t", "seeds": 2, "problem.n": [8, 12], "model.width": [16, 32],
                           "train.steps": 10, "output": None})


def test_lr_rule_sets_each_runs_lr_and_keeps_plain_lr_keys():
    rule = parse_config(with_changes(BASE, {"train.lr": {"c": 0.5, "alpha": 1, "beta": -1}}))
    runs = expand(rule)
    for r in runs:
        n, m = r.spec["problem"]["n"], r.spec["model"]["width"]
        assert r.spec["train"]["lr"] == pytest.approx(0.5 * n / m, rel=1e-15)
        assert r.spec["train"]["lr_rule"] == r.coords["lr_rule"] == "0.5*n^1*m^-1"
    assert len(group_populations(runs)) == 2  # the rule varies lr within a population of one n
    plain = expand(parse_config(with_changes(BASE, {"train.lr": 0.01})))
    assert all("lr_rule" not in r.spec["train"] and r.coords["lr_rule"] == "0.01" for r in plain)
    # a rule and the plain lr it gives are different runs (the rule is part of the identity)
    assert not {r.key for r in runs} & {r.key for r in plain}


@pytest.mark.parametrize("value, message", [
    ({"beta": -1}, "train.lr.c: required"),
    ({"c": 0.0}, "train.lr.c: expected a positive value"),
    ({"c": 1.0, "gamma": 1}, "train.lr.gamma: unknown key"),
    ({"c": "big"}, "train.lr.c: expected a number"),
    ([0.1, {"c": 1e-300, "beta": -100}], "train.lr[1]: the rule 1e-300*n^0*m^-100 underflows to 0"),
    ({"c": 1e300, "beta": 100}, "train.lr: the rule 1e+300*n^0*m^100 overflows float64"),
    ([{"c": 1.0}, {"c": 1.0}], "train.lr: duplicate values"),
])
def test_lr_rule_errors_name_the_key(value, message):
    with pytest.raises(ConfigError) as err:
        parse_config(with_changes(BASE, {"train.lr": copy.deepcopy(value)}))
    assert str(err.value).startswith(message), str(err.value)


# ------------------------------------------------------------------------------ wide nets' distances
def test_distance_of_a_wide_net_takes_fewer_nodes_per_piece_without_losing_accuracy(monkeypatch):
    # A net of width ~3000 has ~3000 pieces; its L2 distance to a smooth reference then uses 4-5
    # Gauss nodes per piece instead of 40. Against the full-order quadrature (budget lifted) and, for
    # the sup distance, a dense sample (a lower bound that the grid + Brent search must reach).
    from solvers import PiecewiseLinear

    import minnorm.comparison.metrics as metrics
    from minnorm.comparison.problems import make_problem
    from minnorm.comparison.references import solve_reference

    p = make_problem("sin", "uniform", 12)
    ref = solve_reference("spline:natural", p.x, p.y)
    rng = np.random.default_rng(4)
    nodes = np.sort(rng.uniform(-1.4, 1.4, 3000))
    f = PiecewiseLinear(nodes, ref(nodes) + 1e-3 * rng.standard_normal(nodes.size), 0.3, -0.2)
    iv = (-1.5, 1.5)
    assert metrics._order_for(3001, 20, 2) < 20  # the reduced path is the one tested
    l2, linf = metrics.l2_distance(f, ref, iv), metrics.linf_distance(f, ref, iv)
    monkeypatch.setattr(metrics, "_NODE_BUDGET", 10**9)
    assert l2 == pytest.approx(metrics.l2_distance(f, ref, iv), rel=1e-10)
    t = np.linspace(*iv, 600001)
    dense = np.max(np.abs(f(t) - ref(t)))
    assert dense - 1e-15 <= linf <= dense + 1e-6


# ------------------------------------------------------------------------------ the decay-rate example
RIDGE = Path(__file__).parent.parent / "examples" / "random_feature_ridge.toml"


@pytest.mark.parametrize("rule_index", [0, 1])
def test_ridge_example_mapped_lam_is_the_constant_of_its_limit(rule_index):
    # The exact ridge minimiser of m = 1e5 frozen random features of the example's law (normal
    # equations, tests/test_limits.py) against the exact kernel limit at the sweep's mapped lam:
    # the constant is right if that limit is much closer than the limits at 2 lam and lam / 2.
    from test_limits import ridge_minimiser

    from minnorm.comparison.problems import problem_for_run
    from minnorm.comparison.references import solve_reference
    from minnorm.comparison.sweeps.run import _lam

    with open(RIDGE, "rb") as fh:
        d = tomllib.load(fh)
    d = with_changes(d, {"model.width": 100_000, "seeds": 1, "output": {"report": False}})
    d["train"]["weight_decay"] = d["train"]["weight_decay"][rule_index]
    (run,) = expand(parse_config(d))
    spec = run.spec
    problem = problem_for_run(spec)
    lam = _lam(spec, problem)
    model = ShallowReLU(spec["model"]["width"], **_model_kwargs(spec))
    t = np.linspace(*problem.eval_interval, 301)
    f = ridge_minimiser(model, problem.x, problem.y, spec["train"]["weight_decay"])(t)
    r = spec["reference"]

    def dist(scale):
        ref = solve_reference(r["name"], problem.x, problem.y, lam=scale * lam, params=r["params"])
        return np.max(np.abs(f - ref(t)))

    near, off = dist(1.0), min(dist(2.0), dist(0.5))
    assert near < off / 3, (lam, near, off)


def test_ridge_example_lr_is_stable_and_its_steps_suffice():
    # the loss Hessian in a is (2/n) Phi^T Phi + wd I (a quadratic): GD is stable iff lr * lambda_max < 2
    # and contracts the slowest direction by lr * wd per step
    from minnorm.comparison.problems import problem_for_run

    cfg = load_config(RIDGE)
    for run in expand(cfg):
        s = run.spec
        x = problem_for_run(s).x
        model = ShallowReLU(s["model"]["width"], **_model_kwargs(s))
        phi = np.maximum(np.outer(x, model.w.detach().numpy()) + model.b.detach().numpy(), 0.0)
        wd, lr = s["train"]["weight_decay"], s["train"]["lr"]
        lmax = 2.0 / x.size * np.linalg.eigvalsh(phi @ phi.T)[-1] + wd
        assert 0.5 < lr * lmax < 1.5, (s["model"]["width"], lr * lmax)
        assert (1.0 - lr * wd) ** cfg.train["steps"] < 1e-12  # the slowest direction has converged


def test_plain_lrs_that_print_alike_stay_separate_rate_groups():
    cfg = parse_config(with_changes(BASE, {"train.lr": [0.01, 0.0100000001]}))
    assert len({r.coords["lr_rule"] for r in expand(cfg)}) == 2
