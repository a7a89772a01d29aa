"""Never a silent answer to bad input (issue 9): one table of bad calls across the library.

Each row is ``(bad call, expected error type, message fragment, valid neighbour)``. The bad call
must raise that type with a message naming the argument (the fragment is a regex searched in
the message); the neighbour -- the same call with the input corrected -- must still work, so a
check cannot pass by refusing everything. The expected behaviour comes from the issue's
requirements (complex parts, masks, strings, bools must not be converted silently; a NaN unit
must not vanish), not from the code's own output.
"""

import copy
import warnings

import numpy as np
import pytest
import torch

import minnorm as mn
import solvers
from minnorm.comparison import metrics
from minnorm.comparison.problems import load_csv_data, make_target
from solvers import InputError, PiecewiseLinear

X4 = [0.0, 1.0, 2.0, 3.0]
Y4 = [0.0, 1.0, 1.0, 0.0]
ABS = PiecewiseLinear([0.0], [0.0], -1.0, 1.0)  # |x|
TRAIN = {"steps": 1, "lr": 0.1}


def net(**kw):
    return mn.ShallowReLU(3, seed=0, **kw)


def broken_net(name="w", j=1, value=float("nan")):
    m = net()
    with torch.no_grad():
        getattr(m, name)[j] = value
    return m


def train(x=X4, y=Y4, model=None, **kw):
    return mn.train(net() if model is None else model, x, y, **{**TRAIN, **kw})


def train_pop(models=None, **kw):
    return mn.train_population([net(), net()] if models is None else models, X4, Y4, **{**TRAIN, **kw})


def interp(x=X4, y=Y4):
    return solvers.tv2_interpolant(x, y)


def masked(values, mask):
    return np.ma.array(values, mask=mask)


def twice(m):
    return [m, m]


def with_copy(m):
    return [m, copy.deepcopy(m)]


def shared_parameter_pair():
    m1, m2 = net(), net()
    m2.a = m1.a  # the same Parameter object in two modules
    return [m1, m2]


class _Thing:
    """An object that is neither a function nor a network."""


def _problem():
    return mn.make_problem("abs", "uniform", n=5)


def _reference():
    p = _problem()
    return mn.solve_reference("tv2:skip", p.x, p.y)


def _write(tmp, name, content):
    path = tmp / name
    path.write_bytes(content)
    return str(path)


def case(name, bad, err, match, good):
    return pytest.param(bad, err, match, good, id=name)


IE = InputError
CASES = [
    # ------------------------------------------------ closed-form paths take real bools too ("no" is truthy)
    case("interpolant-allow-inaccurate-string", lambda: solvers.tv2_interpolant(X4, Y4, allow_inaccurate="no"), IE, "allow_inaccurate",
         lambda: solvers.tv2_interpolant(X4, Y4, allow_inaccurate=False)),
    case("regression-allow-inaccurate-string",
         lambda: solvers.tv2_regression(X4, Y4, 0.1, allow_inaccurate="no"), IE, "allow_inaccurate",
         lambda: solvers.tv2_regression(X4, Y4, 0.1, allow_inaccurate=False)),
    # ---------------------------------------------------------------- solver data (validate_data)
    case("complex-y", lambda: interp(y=np.array(Y4) + 1j), IE, "y must be real", lambda: interp()),
    case("complex-x", lambda: interp(x=np.array(X4) + 0.5j), IE, "x must be real", lambda: interp()),
    case("complex-zero-imag", lambda: interp(y=np.array(Y4, dtype=complex)), IE, "y must be real",
         lambda: interp(y=np.real(np.array(Y4, dtype=complex)))),
    case("masked-y", lambda: interp(y=masked(Y4, [0, 1, 0, 0])), IE, "y is a masked array",
         lambda: interp(y=masked(Y4, [0, 0, 0, 0]))),
    case("masked-x", lambda: interp(x=masked(X4, [0, 0, 1, 0])), IE, "x is a masked array",
         lambda: interp(x=masked(X4, False))),
    case("numeric-strings-x", lambda: interp(x=["0", "1", "2", "3"]), IE, "x must be real numbers; got strings",
         lambda: interp(x=np.asarray(["0", "1", "2", "3"], dtype=float))),
    case("object-strings-x", lambda: interp(x=np.array(["a", "b", "c", "d"], dtype=object)), IE, r"x\[0\] is 'a'",
         lambda: interp(x=np.array([0.0, 1, 2, 3], dtype=object))),
    case("object-none-y", lambda: interp(y=[0.0, None, 1.0, 0.0]), IE, r"y\[1\] is None",
         lambda: interp(y=[0.0, 1, 1.0, 0.0])),
    case("bool-y", lambda: interp(y=[False, True, True, False]), IE, "y must be real numbers; got a bool",
         lambda: interp(y=np.array([False, True, True, False]).astype(float))),
    case("datetime-x", lambda: interp(x=np.arange(4).astype("datetime64[D]")), IE, "x must be real numbers",
         lambda: interp(x=np.arange(4).astype("datetime64[D]").astype(np.int64))),
    case("tensor-requires-grad-x", lambda: interp(x=torch.tensor(X4, requires_grad=True)), IE,
         "x could not be read", lambda: interp(x=torch.tensor(X4, requires_grad=True).detach())),
    case("int-beyond-float-x", lambda: interp(x=[0, 2**1100, 3, 4]), IE, "x could not be read",
         lambda: interp(x=[0, 2**20, 2**21, 2**22])),
    case("regression-masked", lambda: solvers.tv2_regression(X4, masked(Y4, [1, 0, 0, 0]), 0.1), IE, "masked",
         lambda: solvers.tv2_regression(X4, Y4, 0.1)),
    case("envelope-complex", lambda: solvers.tv2_envelope(X4, np.array(Y4) + 1j), IE, "y must be real",
         lambda: solvers.tv2_envelope(X4, Y4)),
    case("weighted-spline-complex", lambda: solvers.weighted_spline(X4, np.array(Y4) + 1j), IE,
         "y must be real", lambda: solvers.weighted_spline(X4, Y4)),
    # ---------------------------------------------------------------- tv2_cost, PiecewiseLinear
    case("tv2_cost-float", lambda: solvers.tv2_cost(3.0), IE, "f must be a PiecewiseLinear",
         lambda: solvers.tv2_cost(ABS)),
    case("tv2_cost-network", lambda: solvers.tv2_cost(net()), IE, "to_function",
         lambda: solvers.tv2_cost(mn.to_function(net()))),
    case("tv2_cost-solution", lambda: solvers.tv2_cost(interp()), IE, r"\.function",
         lambda: solvers.tv2_cost(interp().function)),
    case("PL-string-nodes", lambda: PiecewiseLinear(["a"], [1.0], 0, 0), IE, "nodes",
         lambda: PiecewiseLinear([0.0], [1.0], 0, 0)),
    case("PL-complex-values", lambda: PiecewiseLinear([0.0, 1.0], [1 + 1j, 2], 0, 0), IE, "values must be real",
         lambda: PiecewiseLinear([0.0, 1.0], [1, 2], 0, 0)),
    case("PL-string-slope", lambda: PiecewiseLinear([0.0, 1.0], [1.0, 2.0], "x", 0), IE, "slope_left",
         lambda: PiecewiseLinear([0.0, 1.0], [1.0, 2.0], 1.0, 0)),
    case("PL-array-slope", lambda: PiecewiseLinear([0.0, 1.0], [1.0, 2.0], 0, [1, 2]), IE, "slope_right",
         lambda: PiecewiseLinear([0.0, 1.0], [1.0, 2.0], 0, np.float64(1.0))),
    case("PL-bool-slope", lambda: PiecewiseLinear([0.0], [1.0], True, 0), IE, "slope_left",
         lambda: PiecewiseLinear([0.0], [1.0], 1, 0)),
    case("PL-nan-slope", lambda: PiecewiseLinear([0.0], [1.0], np.nan, 0), IE, "slope_left",
         lambda: PiecewiseLinear([0.0], [1.0], 0.0, 0)),
    case("from_values-empty", lambda: PiecewiseLinear.from_values([], []), IE, "x and y",
         lambda: PiecewiseLinear.from_values([0.0, 1.0], [0.0, 1.0])),
    case("from_knots-negative-merge_tol", lambda: PiecewiseLinear.from_knots([0, 1], [1, 1], 0, 0, merge_tol=-1),
         IE, "merge_tol", lambda: PiecewiseLinear.from_knots([0, 1], [1, 1], 0, 0, merge_tol=0.5)),
    case("from_knots-nan-merge_tol", lambda: PiecewiseLinear.from_knots([0, 1], [1, 1], 0, 0, merge_tol=np.nan),
         IE, "merge_tol", lambda: PiecewiseLinear.from_knots([0, 1], [1, 1], 0, 0)),
    case("from_knots-string-intercept", lambda: PiecewiseLinear.from_knots([0], [1], 0, "1"), IE, "intercept",
         lambda: PiecewiseLinear.from_knots([0], [1], 0, 1)),
    case("from_network-nan-w", lambda: PiecewiseLinear.from_network([1.0, 1.0], [1.0, np.nan], [0.0, 0.0]), IE,
         r"w\[1\] = nan", lambda: PiecewiseLinear.from_network([1.0, 1.0], [1.0, 0.0], [0.0, 0.0])),
    case("from_network-inf-a", lambda: PiecewiseLinear.from_network([np.inf], [1.0], [0.0]), IE, r"a\[0\] = inf",
         lambda: PiecewiseLinear.from_network([1e300], [1.0], [0.0])),
    case("from_network-nan-c", lambda: PiecewiseLinear.from_network([1.0], [1.0], [0.0], c=np.nan), IE, "c must",
         lambda: PiecewiseLinear.from_network([1.0], [1.0], [0.0], c=2.0)),
    case("PL-eval-strings", lambda: ABS(["1", "2"]), IE, "t must be real", lambda: ABS([1.0, 2.0])),
    case("PL-eval-complex", lambda: ABS(1 + 1j), IE, "t must be real", lambda: ABS(1.0)),
    case("PL-lp_norm-scalar-interval", lambda: ABS.lp_norm(3), IE, "interval", lambda: ABS.lp_norm((0, 3))),
    case("PL-times-string", lambda: ABS * "a", TypeError, "unsupported operand|can.t multiply", lambda: ABS * 2),
    case("PL-plus-string", lambda: ABS + "a", TypeError, "unsupported operand", lambda: ABS + 2.0),
    # ---------------------------------------------------------------- training: scalars
    case("train-seed-string", lambda: train(seed="a"), IE, "seed must be an integer", lambda: train(seed=3)),
    case("train-seed-2**70", lambda: train(seed=2**70), IE, "seed must be <=", lambda: train(seed=2**62)),
    case("train-seed-float", lambda: train(seed=1.5), IE, "seed", lambda: train(seed=1.0)),
    case("train-seed-negative", lambda: train(seed=-1), IE, "seed must be >= 0", lambda: train(seed=0)),
    case("train-seed-none", lambda: train(seed=None), IE, "seed", lambda: train(seed=np.int64(5))),
    case("population-seed-entry", lambda: train_pop(seed=[0, "a"]), IE, r"seed\[1\]", lambda: train_pop(seed=[0, 1])),
    case("train-steps-float", lambda: train(steps=10.5), IE, "steps must be an integer", lambda: train(steps=2.0)),
    case("train-steps-string", lambda: train(steps="3"), IE, "steps", lambda: train(steps=3)),
    case("train-log_every-float", lambda: train(log_every=0.5), IE, "log_every", lambda: train(log_every=1)),
    case("train-batch_size-float", lambda: train(optimizer="sgd", batch_size=2.5), IE, "batch_size",
         lambda: train(optimizer="sgd", batch_size=2)),
    case("train-batch_size-bool", lambda: train(optimizer="sgd", batch_size=True), IE, "batch_size",
         lambda: train(optimizer="sgd", batch_size=1)),
    case("train-penalize_bias-string", lambda: train(penalize_bias="no"), IE, "penalize_bias",
         lambda: train(penalize_bias=np.bool_(False))),
    case("train-penalize_affine-string", lambda: train(penalize_affine="yes"), IE, "penalize_affine",
         lambda: train(penalize_affine=True)),
    case("train-train_first_layer-string", lambda: train(train_first_layer="False"), IE, "train_first_layer",
         lambda: train(train_first_layer=False)),
    case("train-lr-string", lambda: train(lr="0.1"), IE, "lr must be a real number", lambda: train(lr=0.1)),
    case("train-weight_decay-bool", lambda: train(weight_decay=True), IE, "weight_decay",
         lambda: train(weight_decay=1.0)),
    case("train-tol-bool", lambda: train(tol=True), IE, "tol", lambda: train(tol=1.0)),
    case("train-betas-string", lambda: train(optimizer="adam", betas="ab"), IE, "betas",
         lambda: train(optimizer="adam", betas=(0.5, 0.9))),
    case("train-betas-scalar", lambda: train(optimizer="adam", betas=0.9), IE, "betas",
         lambda: train(optimizer="adam", betas=[0.9, 0.99])),
    case("train-betas-nan", lambda: train(optimizer="adam", betas=(0.9, np.nan)), IE, "betas",
         lambda: train(optimizer="adam")),
    case("population-lr-tensor-entry-string", lambda: train_pop(lr=[0.1, "x"]), IE, r"lr\[1\]",
         lambda: train_pop(lr=torch.tensor([0.1, 0.2]))),
    case("lr_sequence-lr-string", lambda: mn.lr_sequence("0.1", 3), IE, "lr", lambda: mn.lr_sequence(0.1, 3)),
    case("lr_sequence-steps-float", lambda: mn.lr_sequence(0.1, 2.5), IE, "steps", lambda: mn.lr_sequence(0.1, 2)),
    case("lr_sequence-ratio-string", lambda: mn.lr_sequence(0.1, 3, "cosine", "0.1"), IE, "lr_final_ratio",
         lambda: mn.lr_sequence(0.1, 3, "cosine", 0.1)),
    # ---------------------------------------------------------------- training: data
    case("train-complex-x", lambda: train(x=np.array(X4) + 1j), IE, "x must be real", lambda: train()),
    case("train-complex-y", lambda: train(y=np.array(Y4) + 1j), IE, "y must be real", lambda: train()),
    case("train-complex-tensor-y", lambda: train(y=torch.tensor(Y4, dtype=torch.complex128)), IE, "y must be real",
         lambda: train(y=torch.tensor(Y4))),
    case("train-masked-y", lambda: train(y=masked(Y4, [0, 0, 1, 0])), IE, "y is a masked array",
         lambda: train(y=masked(Y4, False))),
    case("train-string-x", lambda: train(x=["a", "b", "c", "d"]), IE, "x must be real numbers",
         lambda: train(x=np.array(X4))),
    case("train-object-y", lambda: train(y=[0.0, {}, 1.0, 0.0]), IE, "y", lambda: train(y=tuple(Y4))),
    case("train-bool-tensor-x", lambda: train(x=torch.tensor([True, False, True, False])), IE, "x must be real",
         lambda: train(x=torch.tensor(X4, dtype=torch.float32))),
    # ---------------------------------------------------------------- training: models
    case("population-same-module", lambda: train_pop(twice(net())), IE, "same module",
         lambda: train_pop(with_copy(net()))),
    case("population-shared-parameter", lambda: train_pop(shared_parameter_pair()), IE, "shares its parameter 'a'",
         lambda: train_pop([net(), net()])),
    case("Population-same-module", lambda: mn.Population(twice(net())), IE, "same module",
         lambda: mn.Population([net(), net()])),
    case("variant_for-string-model", lambda: mn.variant_for("x", False), IE, "ShallowReLU",
         lambda: mn.variant_for(net(), False)),
    case("variant_for-string-flag", lambda: mn.variant_for(net(), "no"), IE, "penalize_bias",
         lambda: mn.variant_for(net(skip=True), True)),
    case("loss_and_grad-string-model", lambda: mn.loss_and_grad("x", X4, Y4), IE, "model must be a ShallowReLU",
         lambda: mn.loss_and_grad(net(), X4, Y4)),
    case("loss_and_grad-flag-string", lambda: mn.loss_and_grad(net(), X4, Y4, penalize_bias="no"), IE,
         "penalize_bias", lambda: mn.loss_and_grad(net(), X4, Y4, penalize_bias=True)),
    case("loss_and_grad-first-layer-string", lambda: mn.loss_and_grad(net(), X4, Y4, train_first_layer="no"), IE,
         "train_first_layer", lambda: mn.loss_and_grad(net(), X4, Y4, train_first_layer=False)),
    case("loss_and_grad-complex-y", lambda: mn.loss_and_grad(net(), X4, np.array(Y4) + 1j), IE, "y must be real",
         lambda: mn.loss_and_grad(net(), X4, Y4)),
    case("to_function-nan-w", lambda: mn.to_function(broken_net("w", 1)), IE, r"unit 1 has w\[1\] = nan",
         lambda: mn.to_function(net())),
    case("to_function-inf-a", lambda: mn.to_function(broken_net("a", 2, float("inf"))), IE, r"a\[2\] = inf",
         lambda: mn.to_function(broken_net("a", 2, 1e3))),
    case("to_function-nan-b-population", lambda: mn.to_function(mn.Population([broken_net("b", 0)]), 0), IE,
         r"b\[0\] = nan", lambda: mn.to_function(mn.Population([net()]), 0)),
    case("to_function-k-out-of-range", lambda: mn.to_function(mn.Population([net()]), 1), IE, "k must be <= 0",
         lambda: mn.to_function(mn.Population([net()]), 0)),
    case("to_function-k-for-a-module", lambda: mn.to_function(net(), 0), IE, "k .* applies only to a Population",
         lambda: mn.to_function(net())),
    case("rebalance-nan", lambda: mn.rebalance(broken_net("w", 0), False), IE, r"w\[0\] = nan",
         lambda: mn.rebalance(net(), False)),
    case("rebalance-flag-string", lambda: mn.rebalance(net(), "no"), IE, "penalize_bias",
         lambda: mn.rebalance(net(), True)),
    case("parameter_cost-flag-string", lambda: mn.parameter_cost(net(), "yes"), IE, "penalize_bias",
         lambda: mn.parameter_cost(net(), False)),
    # ---------------------------------------------------------------- problems
    case("random-pl-knots-float", lambda: mn.make_problem("random-pl", target_params={"knots": 2.5}), IE, "knots",
         lambda: mn.make_problem("random-pl", target_params={"knots": 2})),
    case("random-pl-knots-string", lambda: mn.make_problem("random-pl", target_params={"knots": "3"}), IE, "knots",
         lambda: mn.make_problem("random-pl", target_params={"knots": 3})),
    case("random-pl-knots-bool", lambda: mn.make_problem("random-pl", target_params={"knots": True}), IE, "knots",
         lambda: mn.make_problem("random-pl", target_params={"knots": 1})),
    case("square-wave-width-string", lambda: mn.make_problem("square-wave", target_params={"width": "0.1"}), IE,
         "width", lambda: mn.make_problem("square-wave", target_params={"width": 0.1})),
    case("target_params-not-dict", lambda: mn.make_problem("random-pl", target_params=3), IE, "target_params",
         lambda: mn.make_problem("random-pl", target_params=None)),
    case("make_problem-seed-bool", lambda: mn.make_problem(seed=True), IE, "seed", lambda: mn.make_problem(seed=1)),
    case("make_problem-seed-2**70", lambda: mn.make_problem(seed=2**70), IE, "seed",
         lambda: mn.make_problem(seed=2**62)),
    case("make_problem-seed-string", lambda: mn.make_problem(seed="a"), IE, "seed", lambda: mn.make_problem(seed=0)),
    case("make_target-seed-float", lambda: make_target("random-pl", seed=0.5), IE, "seed",
         lambda: make_target("random-pl", seed=0)),
    case("make_problem-n-bool", lambda: mn.make_problem(n=True), IE, "n must be an integer",
         lambda: mn.make_problem(n=2)),
    case("make_problem-noise-string", lambda: mn.make_problem(noise="0.1"), IE, "noise",
         lambda: mn.make_problem(noise=0.1)),
    case("make_problem-noise-bool", lambda: mn.make_problem(noise=True), IE, "noise",
         lambda: mn.make_problem(noise=1.0)),
    case("make_problem-delta-string", lambda: mn.make_problem(design="known-regions", delta="0.2"), IE, "delta",
         lambda: mn.make_problem(design="known-regions", delta=0.2)),
    case("make_problem-eval_interval-scalar", lambda: mn.make_problem(eval_interval=3), IE, "eval_interval",
         lambda: mn.make_problem(eval_interval=(-3, 3))),
    case("make_problem-widen-negative", lambda: mn.make_problem(widen=-1), IE, "widen",
         lambda: mn.make_problem(widen=0)),
    case("make_problem-widen-string", lambda: mn.make_problem(widen="a"), IE, "widen",
         lambda: mn.make_problem(widen=1)),
    case("make_problem-domain-triple", lambda: mn.make_problem(domain=(0, 1, 2)), IE, "domain",
         lambda: mn.make_problem(domain=(0, 2))),
    case("callable-target-scalar", lambda: mn.make_problem(lambda x: 1.0), IE, "one value per point",
         lambda: mn.make_problem(lambda x: np.ones_like(x))),
    case("callable-target-nan", lambda: mn.make_problem(lambda x: np.full_like(x, np.nan)), IE, "non-finite",
         lambda: mn.make_problem(lambda x: np.log(x + 2))),
    case("callable-target-complex", lambda: mn.make_problem(lambda x: x + 1j), IE, "must be real",
         lambda: mn.make_problem(lambda x: x + 1)),
    # ---------------------------------------------------------------- metrics
    case("net_objective-negative-lam", lambda: metrics.net_objective(ABS, X4, Y4, -1.0), IE, "lam",
         lambda: metrics.net_objective(ABS, X4, Y4, 1.0)),
    case("net_objective-nan-lam", lambda: metrics.net_objective(ABS, X4, Y4, np.nan), IE, "lam",
         lambda: metrics.net_objective(ABS, X4, Y4, 0.0)),
    case("net_objective-length", lambda: metrics.net_objective(ABS, X4, [1.0], 1.0), IE, "same length",
         lambda: metrics.net_objective(ABS, X4, [1.0] * 4, 1.0)),
    case("train_loss-length", lambda: metrics.train_loss(ABS, X4, [1.0]), IE, "same length",
         lambda: metrics.train_loss(ABS, X4, Y4)),
    case("train_loss-masked", lambda: metrics.train_loss(ABS, X4, masked(Y4, [1, 0, 0, 0])), IE, "masked",
         lambda: metrics.train_loss(ABS, X4[1:], Y4[1:])),
    case("train_loss-complex-x", lambda: metrics.train_loss(ABS, np.array(X4) + 1j, Y4), IE, "x must be real",
         lambda: metrics.train_loss(ABS, X4, Y4)),
    case("cost_gap-nan-x", lambda: metrics.cost_gap(ABS, [0.0, np.nan, 1.0]), IE, "x must be finite",
         lambda: metrics.cost_gap(ABS, [0.0, 0.5, 1.0])),
    case("knots_per_interval-negative-merge_tol", lambda: metrics.knots_per_interval(ABS, X4, merge_tol=-1), IE,
         "merge_tol", lambda: metrics.knots_per_interval(ABS, X4, merge_tol=0)),
    case("knots_per_interval-nan-jump_tol", lambda: metrics.knots_per_interval(ABS, X4, jump_tol=np.nan), IE,
         "jump_tol", lambda: metrics.knots_per_interval(ABS, X4, jump_tol=0.5)),
    case("knots_per_interval-negative-data_tol", lambda: metrics.knots_per_interval(ABS, X4, data_tol=-1), IE,
         "data_tol", lambda: metrics.knots_per_interval(ABS, X4, data_tol=0.1)),
    case("knots_per_interval-nan-x", lambda: metrics.knots_per_interval(ABS, [0, np.nan, 2]), IE, "x must be finite",
         lambda: metrics.knots_per_interval(ABS, [0, 1, 2])),
    case("l2-subdivisions-zero", lambda: metrics.l2_distance(np.sin, ABS, (0, 1), subdivisions=0), IE,
         "subdivisions", lambda: metrics.l2_distance(np.sin, ABS, (0, 1), subdivisions=1)),
    case("l2-order-float", lambda: metrics.l2_distance(np.sin, ABS, (0, 1), order=2.5), IE, "order",
         lambda: metrics.l2_distance(np.sin, ABS, (0, 1), order=3)),
    case("lp_norm-p-string", lambda: metrics.lp_norm(np.sin, (0, 1), p="2"), IE, "p must be",
         lambda: metrics.lp_norm(np.sin, (0, 1), p=2)),
    case("lp_norm-p-bool", lambda: metrics.lp_norm(ABS, (0, 1), p=True), IE, "p must be",
         lambda: metrics.lp_norm(ABS, (0, 1), p=1)),
    case("compare-negative-lam", lambda: metrics.compare(ABS, _reference(), _problem(), lam=-1.0), IE, "lam",
         lambda: metrics.compare(ABS, _reference(), _problem(), lam=0.1)),
    case("compare-variant-typo", lambda: metrics.compare(ABS, _reference(), _problem(), cost_gap_variant="skipp"),
         IE, "cost_gap_variant", lambda: metrics.compare(ABS, _reference(), _problem(), cost_gap_variant="bias")),
    case("compare-problem-not-a-problem", lambda: metrics.compare(ABS, _reference(), _Thing()), IE,
         "problem must be", lambda: metrics.compare(ABS, _reference(), _problem())),
    case("compare-reference-not-a-reference", lambda: metrics.compare(ABS, _Thing(), _problem()), IE,
         "reference must be", lambda: metrics.compare(ABS, _reference(), _problem())),
    case("loss_and_grad-weight_decay-string", lambda: mn.loss_and_grad(net(), X4, Y4, weight_decay="1"), IE,
         "weight_decay", lambda: mn.loss_and_grad(net(), X4, Y4, weight_decay=1)),
    case("train-eps-string", lambda: train(optimizer="adam", eps="1e-8"), IE, "eps",
         lambda: train(optimizer="adam", eps=1e-8)),
    case("rel_cost_gap-complex-x", lambda: metrics.rel_cost_gap(ABS, np.array(X4) + 1j), IE, "x must be real",
         lambda: metrics.rel_cost_gap(ABS, X4)),
    case("min_cost-masked-y", lambda: metrics.min_cost(X4, masked(Y4, [1, 0, 0, 0])), IE, "y is a masked array",
         lambda: metrics.min_cost(X4[1:], Y4[1:])),
    case("compare-nan-network", lambda: metrics.compare(broken_net("w", 0), _reference(), _problem()), IE,
         r"unit 0 has w\[0\] = nan", lambda: metrics.compare(net(), _reference(), _problem())),
    case("train_loss-string-y", lambda: metrics.train_loss(ABS, X4, ["a"] * 4), IE, "y must be real numbers",
         lambda: metrics.train_loss(ABS, X4, [1] * 4)),
    case("l2-breakpoints-string", lambda: metrics.l2_distance(np.sin, ABS, (0, 1), breakpoints=["a"]), IE,
         "breakpoints", lambda: metrics.l2_distance(np.sin, ABS, (0, 1), breakpoints=[0.5])),
    case("to_function-k-string", lambda: mn.to_function(mn.Population([net()]), "0"), IE, "k must be an integer",
         lambda: mn.to_function(mn.Population([net()]), np.int64(0))),
    # ---------------------------------------------------------------- already clear before issue 9 (kept so)
    case("x-none", lambda: interp(x=None), IE, "x must be", lambda: interp(x=X4)),
    case("x-dict", lambda: interp(x={"a": 1}), IE, "x must be .*real numbers", lambda: interp(x=X4)),
    case("x-2d", lambda: interp(x=[[0.0, 1.0], [2.0, 3.0]]), IE, "x must be 1-D", lambda: interp(x=X4)),
    case("x-nan", lambda: interp(x=[0.0, np.nan, 2.0, 3.0]), IE, r"x must be finite; x\[1\]", lambda: interp()),
    case("PL-eval-nu", lambda: ABS(1.0, nu=3), IE, "nu must be", lambda: ABS(1.0, nu=2)),
    case("PL-lp_norm-p", lambda: ABS.lp_norm((0, 1), 3), IE, "p must be", lambda: ABS.lp_norm((0, 1), np.inf)),
    case("train-lr-nan", lambda: train(lr=np.nan), IE, "lr", lambda: train(lr=1e-3)),
    case("train-lr-inf", lambda: train(lr=np.inf), IE, "lr", lambda: train(lr=1.0)),
    case("train-steps-negative", lambda: train(steps=-1), IE, "steps", lambda: train(steps=0)),
    case("train-y-wrong-shape", lambda: train(y=np.zeros((2, 4))), IE, "y must have shape",
         lambda: train(y=np.zeros((1, 4)))),
    case("train_population-empty", lambda: mn.train_population([], X4, Y4, **TRAIN), IE, "non-empty",
         lambda: train_pop()),
    case("make_problem-n-negative", lambda: mn.make_problem(n=-5), IE, r"n must be .*>= 2",
         lambda: mn.make_problem(n=5)),
    case("make_problem-domain-inf", lambda: mn.make_problem(domain=(0, np.inf)), IE, "domain",
         lambda: mn.make_problem(domain=(0, 1e300))),
    case("l2-interval-nan", lambda: metrics.l2_distance(ABS, ABS, (0, np.nan)), IE, "interval",
         lambda: metrics.l2_distance(ABS, ABS, (0, 1))),
    case("as_function-float", lambda: metrics.as_function(3.0), IE, "expected a function",
         lambda: metrics.as_function(ABS)),
    case("net_cost-smooth", lambda: metrics.net_cost(np.sin), IE, "piecewise-linear", lambda: metrics.net_cost(ABS)),
    case("rebalance-string", lambda: mn.rebalance("x", True), IE, "expected a ShallowReLU",
         lambda: mn.rebalance(net(), True)),
    case("compare-negative-merge_tol", lambda: metrics.compare(ABS, _reference(), _problem(), merge_tol=-1), IE,
         "merge_tol", lambda: metrics.compare(ABS, _reference(), _problem(), merge_tol=0.1)),
]


@pytest.mark.parametrize("bad, err, match, good", CASES)
def test_bad_input_is_a_clear_error(bad, err, match, good):
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)  # a dropped imaginary part is an error too
        with pytest.raises(err, match=match):
            bad()


@pytest.mark.parametrize("bad, err, match, good", CASES)
def test_valid_neighbour_still_works(bad, err, match, good):
    good()


# ------------------------------------------------------------------------------ files (need tmp_path)
@pytest.mark.parametrize(
    "content, match",
    [(b"", "not a CSV"), (b"\x00\xff\xfe\x00binary\x80\x81", "not a CSV|numeric"), (b"x,y\n0,a\n1,2\n", "numeric")],
    ids=["empty", "binary", "non-numeric"],
)
def test_unreadable_data_files_name_the_path(tmp_path, content, match):
    path = _write(tmp_path, "data.csv", content)
    with pytest.raises(InputError, match=match) as info:
        load_csv_data(path)
    assert path in str(info.value)
    good = _write(tmp_path, "good.csv", b"x,y\n0,1\n1,2\n")
    np.testing.assert_array_equal(load_csv_data(good)[1], [1.0, 2.0])


def test_data_file_that_is_a_directory(tmp_path):
    with pytest.raises(InputError, match="not a regular file"):
        mn.make_problem(f"file:{tmp_path}")


# ------------------------------------------------------------------------------ accepted inputs
def test_tensor_data_with_requires_grad_is_detached_and_trains_as_plain_data():
    # The chosen behaviour: data tensors are constants of the objective, detached (no graph is
    # built through them, they are not modified); training equals training on plain arrays.
    x = torch.tensor(X4, requires_grad=True)
    y = torch.tensor(Y4, requires_grad=True)
    x0, y0 = x.detach().clone(), y.detach().clone()
    m_tensor, m_plain = net(), net()
    res = mn.train(m_tensor, x, y, steps=20, lr=0.05, weight_decay=1e-3)
    mn.train(m_plain, X4, Y4, steps=20, lr=0.05, weight_decay=1e-3)
    assert x.grad is None and y.grad is None
    assert torch.equal(x.detach(), x0) and torch.equal(y.detach(), y0)
    for name in ("a", "w", "b", "d"):
        assert torch.equal(getattr(m_tensor, name), getattr(m_plain, name)), name
        assert getattr(m_tensor, name).grad is None
    assert res.steps_done == 20
    _, grads = mn.loss_and_grad(m_tensor, x, y)
    assert all(g.grad_fn is None for g in grads.values())


def test_population_of_distinct_copies_matches_separate_training():
    # The neighbour of the [m, m] case: deep copies are trained independently, each like train().
    base = net()
    pair = [base, copy.deepcopy(base)]
    res = mn.train_population(pair, X4, Y4, steps=30, lr=[0.05, 0.02])
    alone = [copy.deepcopy(net()), copy.deepcopy(net())]
    r0 = mn.train(alone[0], X4, Y4, steps=30, lr=0.05)
    r1 = mn.train(alone[1], X4, Y4, steps=30, lr=0.02)
    assert torch.allclose(pair[0].a, alone[0].a, rtol=0, atol=1e-14)
    assert torch.allclose(pair[1].a, alone[1].a, rtol=0, atol=1e-14)
    assert not torch.equal(pair[0].a, pair[1].a)
    np.testing.assert_allclose(res[1].history["loss"], r1.history["loss"], rtol=1e-13)
    np.testing.assert_allclose(res[0].history["loss"], r0.history["loss"], rtol=1e-13)


def test_nan_unit_is_reported_where_the_network_itself_is_nan():
    # Independent of the conversion: the module's own forward pass is NaN everywhere.
    m = broken_net("w", 1)
    assert torch.isnan(m(torch.linspace(-2, 2, 9))).all()
    with pytest.raises(InputError, match="unit 1"):
        mn.to_function(m)
