"""The compiled (numba) training backend against the torch path, its reference.

Expected values: the torch implementation of the same training run (``backend="torch"``,
itself tested against autograd in test_training.py), and for one step the independent autograd
gradient of the dense formula (``loss_and_grad(method="autograd")``). Agreement is asked to
1e-12 relative (norm-wise per parameter, elementwise on the history).
"""

import copy
import itertools
import math

import numpy as np
import pytest
import torch

import minnorm as mn
from solvers.errors import InputError

RTOL = 1e-12
N_POINTS = 11


def _data():
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(-1.0, 1.0, N_POINTS))
    return x, np.sin(3.0 * x) + 0.1 * rng.standard_normal(N_POINTS)


def _population(x):
    """Networks of different widths (padding), skip/no-skip, with/without output bias, both
    parametrisations, and one kink exactly on a data point (w*x+b = 0: relu'(0) = 0 must agree)."""
    specs = [(6, True, True, "standard"), (4, False, True, "mean-field"), (8, True, False, "standard"),
             (5, False, False, "mean-field")]
    nets = [mn.ShallowReLU(m, skip=s, output_bias=ob, parametrization=p, seed=10 + i)
            for i, (m, s, ob, p) in enumerate(specs)]
    with torch.no_grad():
        net = nets[0]
        net.b[2] = -(float(x[4]) * float(net.w[2]))
    return nets


def _rel(u, v):
    """max |u - v| / max |u| over the finite entries; inf unless u and v are NaN at the same places."""
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    if not np.array_equal(np.isnan(u), np.isnan(v)):
        return float("inf")
    u, v = u[~np.isnan(u)], v[~np.isnan(v)]
    if not np.size(u):
        return 0.0
    return float(np.max(np.abs(u - v))) / max(float(np.max(np.abs(u))), 1e-300)


def _assert_same(nets_t, nets_c, res_t, res_c):
    for k, (mt, mc, rt, rc) in enumerate(zip(nets_t, nets_c, res_t, res_c)):
        assert rt.backend == "torch" and rc.backend == "compiled"
        for nm in ("a", "w", "b", "c", "d"):
            pt, pc = getattr(mt, nm), getattr(mc, nm)
            if pt is None:
                assert pc is None
                continue
            err = _rel(pt.detach().numpy(), pc.detach().numpy())
            assert err <= RTOL, f"network {k}, {nm}: relative difference {err:.3g}"
        assert rt.stop_reason == rc.stop_reason and rt.steps_done == rc.steps_done
        np.testing.assert_array_equal(rt.history["step"], rc.history["step"])
        for key in ("loss", "penalty", "objective", "grad_norm", "balance_drift"):
            np.testing.assert_allclose(rc.history[key], rt.history[key], rtol=RTOL, atol=0.0,
                                       err_msg=f"network {k}, history {key}")
        assert (rt.diverged is None) == (rc.diverged is None)
        if rt.diverged is not None:
            assert (rt.diverged.step, rt.diverged.index) == (rc.diverged.step, rc.diverged.index)
            np.testing.assert_allclose(rc.diverged.last_finite_loss, rt.diverged.last_finite_loss, rtol=RTOL)
            np.testing.assert_allclose(rc.diverged.loss, rt.diverged.loss, rtol=RTOL)
        assert rt.config == rc.config and rt.lam == rc.lam and rt.reference == rc.reference


def _both(kwargs, x=None, y=None, nets=None):
    if x is None:
        x, y = _data()
    nets_t = nets if nets is not None else _population(x)
    nets_c = copy.deepcopy(nets_t)
    res_t = mn.train_population(nets_t, x, y, backend="torch", **kwargs)
    res_c = mn.train_population(nets_c, x, y, backend="compiled", **kwargs)
    return nets_t, nets_c, res_t, res_c


#: (optimizer, batch_size): full batch, minibatches that divide n = 11 unevenly (last batch
#: smaller, down to one point), Adam on minibatches
STEPPERS = [("gd", None), ("sgd", 4), ("sgd", 3), ("adam", None), ("adam", 5)]
#: Langevin temperature per network: none, or mixed (one network noiseless)
NOISE = [0.0, [1e-4, 0.0, 1e-3, 1e-5]]
TABLE = list(itertools.product(STEPPERS, NOISE, ("constant", "cosine", "exponential"), (True, False),
                               ((False, False), (True, False), (False, True), (True, True))))


@pytest.mark.parametrize("stepper, temp, schedule, train_first_layer, penalties", TABLE,
                         ids=[f"{o}{b or ''}-T{int(t != 0.0)}-{s}-{'both' if f else 'frozen'}-pb{int(p[0])}pa{int(p[1])}"
                              for (o, b), t, s, f, p in TABLE])
def test_compiled_equals_torch(stepper, temp, schedule, train_first_layer, penalties):
    """Every option combination; the population covers both parametrisations, skip and output
    bias present or not, padding (different widths) and a kink on a data point."""
    optimizer, batch_size = stepper
    lr = [0.05, 0.2, 0.03, 0.1] if optimizer != "adam" else [0.01, 0.02, 0.005, 0.01]
    kwargs = dict(steps=30, lr=lr, weight_decay=[1e-3, 0.0, 1e-2, 3e-3], optimizer=optimizer, batch_size=batch_size,
                  noise_temperature=temp, lr_schedule=schedule, train_first_layer=train_first_layer,
                  penalize_bias=penalties[0], penalize_affine=penalties[1], log_every=7, seed=[3, 4, 5, 6])
    _assert_same(*_both(kwargs))


def test_tol_stops_at_the_same_step():
    x, y = _data()
    probe = mn.train_population(_population(x), x, y, steps=300, lr=0.05, weight_decay=1e-2, backend="torch",
                                log_every=300)
    # a tolerance between the final gradient norms: some networks stop early, the others run out
    gns = sorted(r.history["grad_norm"][-1] for r in probe)
    tol = 0.5 * (gns[1] + gns[2])
    kwargs = dict(steps=300, lr=0.05, weight_decay=1e-2, tol=tol, log_every=10)
    out = _both(kwargs)
    _assert_same(*out)
    assert {r.stop_reason for r in out[3]} == {"tol", "steps"}


def test_tol_met_only_by_the_final_state_is_not_a_stop():
    """The state after the last step is measured, not tested: reason "steps" on both paths."""
    x, y = _data()
    kwargs = dict(steps=60, lr=0.01, optimizer="adam", log_every=1)  # every step's norm is logged
    probe = mn.train_population(_population(x), x, y, backend="torch", **kwargs)
    gns = [r.history["grad_norm"] for r in probe]
    k = int(np.argmin([g[-1] for g in gns]))
    tol = 0.5 * (gns[k][-1] + gns[k][:-1].min())  # above the final norm only
    assert gns[k][-1] <= tol < gns[k][:-1].min()
    out = _both(dict(kwargs, tol=tol))
    _assert_same(*out)
    assert out[3][k].stop_reason == "steps"


def test_divergence_freezes_the_same_network_at_the_same_step():
    kwargs = dict(steps=200, lr=[0.05, 40.0, 0.03, 0.1], optimizer="gd", log_every=3)
    out = _both(kwargs)
    _assert_same(*out)
    assert out[3][1].stop_reason == "diverged" and out[3][0].stop_reason == "steps"


@pytest.mark.parametrize("steps, log_every", [(0, 1), (1, 1), (17, 5), (50, 50)])
def test_short_runs_and_log_intervals(steps, log_every):
    _assert_same(*_both(dict(steps=steps, lr=0.05, optimizer="adam", weight_decay=1e-3, log_every=log_every)))


def test_single_network_train_and_one_step_against_autograd():
    x, y = _data()
    net = mn.ShallowReLU(9, skip=True, seed=3)
    ref = copy.deepcopy(net)
    lr, wd = 0.07, 2e-3
    _, grads = mn.loss_and_grad(ref, x, y, weight_decay=wd, method="autograd")
    res = mn.train(net, x, y, steps=1, lr=lr, weight_decay=wd, backend="compiled")
    assert res.backend == "compiled"
    for nm, g in grads.items():
        expected = (getattr(ref, nm) - lr * g).detach().numpy()
        np.testing.assert_allclose(getattr(net, nm).detach().numpy(), expected, rtol=1e-12, atol=1e-15)
    # and a longer single-network run equals the torch path
    nets = [mn.ShallowReLU(9, skip=True, seed=3)]
    _assert_same(*_both(dict(steps=150, lr=0.05, weight_decay=1e-3, optimizer="adam"), x, y, nets))


def test_auto_selects_compiled_where_supported():
    x, y = _data()
    res = mn.train(mn.ShallowReLU(5, seed=1), x, y, steps=3, lr=0.01)
    assert res.backend == "compiled"


@pytest.mark.parametrize("options", [dict(dtype=torch.float32), dict(optimizer="adam", eps=0.0)],
                         ids=["float32", "adam-eps0-padded"])
def test_unsupported_options_fall_back_to_torch(options):
    x, y = _data()
    options = dict(options)
    dtype = options.pop("dtype", torch.float64)

    def nets():  # different widths: padding
        return [mn.ShallowReLU(5, seed=1, dtype=dtype), mn.ShallowReLU(3, seed=2, dtype=dtype)]

    res = mn.train_population(nets(), x, y, steps=3, lr=0.01, **options)
    assert {r.backend for r in res} == {"torch"}
    with pytest.raises(InputError, match="backend='compiled' does not support"):
        mn.train_population(nets(), x, y, steps=3, lr=0.01, backend="compiled", **options)


def test_adam_eps0_without_padding():
    """eps = 0: 0/0 = NaN wherever a gradient entry is exactly 0 (absent c or d: those networks
    diverge at step 1; a dead unit turns NaN without reaching f), as on the torch path."""
    x, y = _data()
    nets = [mn.ShallowReLU(6, skip=s, output_bias=ob, parametrization=p, seed=i)
            for i, (s, ob, p) in enumerate([(True, True, "standard"), (False, True, "mean-field"),
                                            (True, False, "standard")])]
    out = _both(dict(optimizer="adam", eps=0.0, steps=50, lr=0.01, log_every=3), x, y, nets)
    _assert_same(*out)
    assert [r.stop_reason for r in out[3]] == ["steps", "diverged", "diverged"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_draws_across_chunk_boundaries(monkeypatch, optimizer):
    """Kernel calls of a few steps each, so that chunks begin inside minibatch epochs (the epoch's
    batches carry over) and noise is drawn chunk by chunk; with tol, networks stop mid-chunk."""
    from minnorm.training import compiled

    monkeypatch.setattr(compiled, "_DRAW_BYTES", 3 * 4 * 3 * 8 * 4)  # 3 steps of noise draws
    x, y = _data()
    lr = 0.05 if optimizer == "sgd" else 0.01
    probe = mn.train_population(_population(x), x, y, steps=80, lr=lr, optimizer=optimizer, batch_size=4,
                                noise_temperature=1e-5, backend="torch", log_every=80)
    gns = sorted(r.history["grad_norm"][-1] for r in probe)
    kwargs = dict(steps=80, lr=lr, optimizer=optimizer, batch_size=4, noise_temperature=[1e-5, 1e-5, 0.0, 1e-5],
                  weight_decay=1e-3, log_every=6, tol=0.5 * (gns[1] + gns[2]), seed=11)
    out = _both(kwargs)
    _assert_same(*out)
    assert "tol" in {r.stop_reason for r in out[3]}


def test_minibatch_divergence_record():
    """The divergence record of a minibatch run holds minibatch losses, its history the full-data one."""
    kwargs = dict(steps=60, lr=[0.05, 400.0, 0.03, 0.1], optimizer="sgd", batch_size=4, noise_temperature=1e-4,
                  log_every=4)
    out = _both(kwargs)
    _assert_same(*out)
    assert out[3][1].stop_reason == "diverged" and out[3][0].stop_reason == "steps"


def test_kernels_compile_without_a_writable_cache(monkeypatch):
    """Where numba finds no writable cache directory it refuses cache=True at decoration time
    (RuntimeError "cannot cache function ..."); the kernels are then compiled uncached, with a warning."""
    from minnorm.training import compiled

    def fake_njit(cache=False, **options):
        if cache:
            raise RuntimeError("cannot cache function 'f': no locator available for file 'compiled.py'")
        return lambda func: ("uncached", func, options)

    monkeypatch.setattr(compiled, "njit", fake_njit)
    monkeypatch.setattr(compiled, "_cache", [True])
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        first = compiled._jit(len)
    # IEEE division as torch, and the GIL released so that networks can run in threads
    assert first == ("uncached", len, {"error_model": "numpy", "nogil": True})
    assert compiled._jit(abs)[0] == "uncached"  # decided once, no second warning needed


@pytest.mark.parametrize("schedule, ratio", [("constant", 1.0), ("cosine", 0.01), ("cosine", 0.0),
                                             ("exponential", 0.01), ("exponential", 0.37)])
def test_step_tables_equal_pythons_arithmetic(schedule, ratio):
    """The kernel's per-step lr factors and Adam bias corrections are the torch path's Python values, to the bit."""
    from minnorm.training import compiled
    from minnorm.training.optim import _adam_bias_correction
    from minnorm.training.options import lr_factor

    steps, b1, b2 = 3001, 0.9, 0.999
    factors, sqrt_factors, bc1, sbc2 = compiled._step_tables(steps, compiled._SCHEDULE_CODES[schedule], ratio, b1,
                                                             b2, True)
    expected = [lr_factor(schedule, t, steps, ratio) for t in range(steps)]
    np.testing.assert_array_equal(factors, expected)
    np.testing.assert_array_equal(sqrt_factors, [1.0 if f == 1.0 else math.sqrt(f) for f in expected])
    corrections = np.array([_adam_bias_correction(b1, b2, t + 1) for t in range(steps)])
    np.testing.assert_array_equal(bc1, corrections[:, 0])
    np.testing.assert_array_equal(sbc2, corrections[:, 1])


@pytest.mark.parametrize("bad", ["numba", "", None, 1])
def test_bad_backend_is_an_input_error(bad):
    x, y = _data()
    with pytest.raises(InputError, match="backend"):
        mn.train(mn.ShallowReLU(5, seed=1), x, y, steps=3, lr=0.01, backend=bad)


def test_threads_do_not_change_the_iterates():
    """Networks run in Python threads (one stride each) when torch allows several threads; every
    network must end bit-for-bit where a single thread puts it, and its history too."""
    x = torch.linspace(-1, 1, 9, dtype=torch.float64)
    y = torch.sin(3 * x)

    def run(threads):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            nets = [mn.ShallowReLU(m, seed=s) for s, m in enumerate((7, 12, 5, 12, 9))]
            res = mn.train_population(nets, x, y, steps=300, lr=0.05, weight_decay=1e-3, optimizer="adam",
                                   log_every=50, backend="compiled")
        finally:
            torch.set_num_threads(old)
        return nets, res

    one, r1 = run(1)
    many, r2 = run(3)
    for n1, n2, a, b in zip(one, many, r1, r2):
        for p1, p2 in zip(n1.parameters(), n2.parameters()):
            assert torch.equal(p1, p2)
        assert np.array_equal(np.asarray(a.history["loss"]), np.asarray(b.history["loss"]))
