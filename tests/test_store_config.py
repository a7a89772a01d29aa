"""Sweep configs (validation, expansion, keys) and the SQLite results store."""

import copy
import hashlib
import json
import sqlite3

import pytest

from minnorm.comparison.sweeps.config import ConfigError, RunSpec, expand, group_populations, load_config, parse_config
from minnorm.comparison.sweeps.store import ResultStore, finished_keys, load_references, load_results

from _fixtures import TINY, with_changes

BASE = with_changes(TINY, {"name": "t", "seeds": 3, "problem.n": [8, 12], "model.width": [16, 32, 64],
                           "train.optimizer": ["gd", "adam"], "train.steps": 10, "train.weight_decay": [1e-3, 1e-2],
                           "output": None})


def bad(path, value):
    """BASE with one value replaced (path like 'train.weight_decay'); None deletes the key."""
    return with_changes(BASE, {path: value})


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("train.weight_decay", "abc", "train.weight_decay: expected a number or list of numbers"),
        ("train.weight_decay", [], "train.weight_decay: empty grid"),
        ("train.weight_decay", [1e-3, "x"], "train.weight_decay: expected a number"),
        ("train.weight_decay", {"alpha": 1}, "train.weight_decay.c: required"),
        ("train.weight_decay", {"c": 1, "gamma": 2}, "train.weight_decay.gamma: unknown key"),
        ("train.lr", -1.0, "train.lr: expected a positive value"),
        ("train.steps", 1.5, "train.steps: expected an integer"),
        ("train.steps", None, "train.steps: required"),
        ("train.optimizer", "lbfgs", "train.optimizer: expected one of"),
        ("train.optimizer", [], "train.optimizer: empty grid"),
        ("train.penalize_bias", "yes", "train.penalize_bias: expected true or false"),
        ("train.momentum", 0.9, "train.momentum: unknown key"),
        ("train.lr_schedule", "linear", "train.lr_schedule: expected one of 'constant', 'cosine', 'exponential'"),
        ("train.lr_schedule", 1, "train.lr_schedule: expected a string"),
        ("train.lr_final_ratio", 0.1, "train.lr_final_ratio: 0.1 needs lr_schedule"),
        ("train.lr_final_ratio", "low", "train.lr_final_ratio: expected a number"),
        ("train.lr_final_ratio", -0.1, "train.lr_final_ratio: expected a non-negative value"),
        ("model.width", [], "model.width: empty grid"),
        ("model.width", [16, 0], "model.width"),
        ("model.width", [16, 16], "model.width: duplicate values"),
        ("model.width", None, "model.width: required"),
        ("model.skip", 1, "model.skip: expected true or false"),
        ("model.parametrization", "ntk", "model.parametrization: expected one of"),
        ("problem.n", [8, True], "problem.n: expected an integer"),
        ("problem.n", 1, "problem.n: expected at least 2"),
        ("problem.domain", [1, -1], "problem.domain: expected a < b"),
        ("problem.colour", "red", "problem.colour: unknown key"),
        ("reference.lam", "auto", "reference.lam: expected \"mapped\""),
        ("metrics.interval", [0, 1, 2], "metrics.interval: expected [a, b]"),
        ("seeds", 0, "seeds: expected a count >= 1"),
        ("seeds", [], "seeds: empty grid"),
        ("extra", {}, "extra: unknown key"),
    ],
)
def test_bad_configs_name_the_key(path, value, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(bad(path, value))
    assert str(exc.value).startswith(message.split(":")[0] + ":"), str(exc.value)
    assert message in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_lr_schedule_keys():
    d = bad("train.lr_schedule", "cosine")
    cfg = parse_config(d)
    assert cfg.train["lr_schedule"] == "cosine" and cfg.train["lr_final_ratio"] == 0.01  # the default
    d["train"]["lr_final_ratio"] = 1.5
    with pytest.raises(ConfigError, match=r"^train\.lr_final_ratio: expected a value in \[0, 1\], got 1.5"):
        parse_config(d)
    d = bad("train.lr_schedule", "exponential")
    d["train"]["lr_final_ratio"] = 0.0
    with pytest.raises(ConfigError, match=r"^train\.lr_final_ratio: expected a positive value"):
        parse_config(d)
    d["train"]["lr_final_ratio"] = 0.001
    runs = expand(parse_config(d))
    scheds = {(r.spec["train"]["lr_schedule"], r.spec["train"]["lr_final_ratio"]) for r in runs}
    assert scheds == {("exponential", 0.001)}
    # A schedule is part of a run's identity; the constant one (the default) is left out of the
    # spec, so the keys of runs stored before schedules existed do not change.
    plain = expand(parse_config(BASE))
    const = expand(parse_config(bad("train.lr_schedule", "constant")))
    assert [r.key for r in const] == [r.key for r in plain]
    assert "lr_schedule" not in plain[0].spec["train"]
    assert not {r.key for r in runs} & {r.key for r in plain}
    # Still one population per (n, optimizer): the schedule is shared by the whole sweep.
    assert len(group_populations(runs)) == 4


def test_mapped_lam_needs_weight_decay():
    with pytest.raises(ConfigError, match=r"^reference\.lam: "):
        parse_config(bad("train.weight_decay", 0.0))


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    p = tmp_path / "broken.toml"
    p.write_text("[train\nsteps = 3")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(p)
    p.write_text('[problem]\nn = 8\n[model]\nwidth = 4\n[train]\nsteps = 3\nlr = "fast"\n')
    with pytest.raises(ConfigError, match=r"^train\.lr: expected a number or list of numbers, got 'fast'"):
        load_config(p)


def test_expand_counts_and_order():
    cfg = parse_config(BASE)
    runs = expand(cfg)
    assert cfg.n_runs() == len(runs) == 3 * 2 * 2 * 3 * 2  # width, n, wd, seed, optimizer
    assert len({r.key for r in runs}) == len(runs)
    assert sorted(cfg.varying_axes()) == sorted(["width", "n", "weight_decay", "seed", "optimizer"])
    # Populations share everything but seed, width, weight decay and lr.
    pops = group_populations(runs)
    assert len(pops) == 2 * 2  # n x optimizer
    for members in pops.values():
        assert len(members) == 3 * 2 * 3
        assert len({(r.spec["problem"]["n"], r.spec["train"]["optimizer"]) for r in members}) == 1


# The canonical JSON of BASE's first run, written out by hand from the documented defaults of
# parse_config (sorted keys, no whitespace). Its sha256 (hashlib, not minnorm) is the run's key: if
# either the defaults or the hashing drift, every existing store would re-run from scratch.
FIRST_RUN_CANONICAL_JSON = (
    '{"metrics":{"interval":null},'
    '"model":{"antisymmetric":false,"hidden_scale":1.0,"init":"uniform","init_params":{},"init_ratio":null,'
    '"output_bias":true,"output_init":"gaussian","output_scale":null,"parametrization":"standard","skip":true,'
    '"width":16},'
    '"problem":{"delta":null,"design":"uniform","domain":[-1.0,1.0],"n":8,"noise":0.0,"seed":0,"target":"sin",'
    '"target_params":{}},'
    '"reference":{"lam":"mapped","name":"tv2:skip","params":{}},'
    '"seed":0,'
    '"train":{"batch_size":null,"lr":0.01,"noise_temperature":0.0,"optimizer":"gd","penalize_affine":false,'
    '"penalize_bias":false,"steps":10,"tol":null,"train_first_layer":true,"weight_decay":0.001,'
    '"weight_decay_rule":"0.001"}}'
)


def _reversed_tables(d):
    """The same config with every table's keys in reverse insertion order."""
    if isinstance(d, dict):
        return {k: _reversed_tables(d[k]) for k in reversed(list(d))}
    return d


def test_key_is_sha256_of_the_canonical_json_written_out():
    first = expand(parse_config(BASE))[0]
    assert first.key == hashlib.sha256(FIRST_RUN_CANONICAL_JSON.encode()).hexdigest()
    assert json.loads(first.to_json()) == json.loads(FIRST_RUN_CANONICAL_JSON)


def test_keys_are_order_insensitive_and_content_addressed():
    runs1 = expand(parse_config(BASE))
    # TOML tables are unordered: the order in which keys were written must not change a key.
    shuffled = _reversed_tables(copy.deepcopy(BASE))
    assert list(shuffled) != list(BASE)
    assert sorted(r.key for r in expand(parse_config(shuffled))) == sorted(r.key for r in runs1)
    renamed = expand(parse_config({**BASE, "name": "other"}))
    assert [r.key for r in renamed] == [r.key for r in runs1]  # the sweep's name is not part of a run
    # Any value that changes a run's result changes its key.
    for path, value in [("train.steps", 11), ("train.lr", 0.02), ("train.penalize_bias", True),
                        ("model.skip", False), ("problem.target", "abs"), ("problem.noise", 0.1),
                        ("reference.name", "tv2:no-skip"), ("seeds", [5, 6, 7])]:
        changed = expand(parse_config(bad(path, value)))
        assert len(changed) == len(runs1), path
        assert not {r.key for r in changed} & {r.key for r in runs1}, path
    # Widening a grid keeps the keys of the old runs (a resumed, extended sweep re-uses them).
    wider = expand(parse_config(bad("model.width", [16, 32, 64, 128])))
    assert {r.key for r in runs1} < {r.key for r in wider}


def test_weight_decay_schedule():
    cfg = parse_config(bad("train.weight_decay", {"c": 0.5, "alpha": -1, "beta": 0.5}))
    for r in expand(cfg):
        n, m = r.spec["problem"]["n"], r.spec["model"]["width"]
        assert r.spec["train"]["weight_decay"] == pytest.approx(0.5 / n * m ** 0.5, rel=1e-15)
        assert r.spec["train"]["weight_decay_rule"] == "0.5*n^-1*m^0.5"
    # A schedule varies with width, yet the runs of one (n, optimizer) still form one population.
    assert len(group_populations(expand(cfg))) == 4


def test_seed_list_and_regime_axis():
    d = bad("seeds", [3, 7])
    d["model"]["init_ratio"] = [0.01, 100.0]
    cfg = parse_config(d)
    runs = expand(cfg)
    assert {r.seed for r in runs} == {3, 7}
    assert len(runs) == 3 * 2 * 2 * 2 * 2 * 2
    with pytest.raises(ConfigError, match=r"^model\.init_ratio: give either"):
        d["model"]["output_scale"] = 1.0
        parse_config(d)


# ------------------------------------------------------------------------------ store
def _row(spec, status="ok", **metrics):
    r = RunSpec(spec)
    return {"key": r.key, "sweep": "t", "population": r.population_key, "config": spec, "coords": r.coords,
            "metrics": metrics, "function": {"nodes": [0.0], "values": [1.0], "slope_left": 0, "slope_right": 1},
            "reference_key": "ref0", "status": status, "error": None if status == "ok" else "boom",
            "solver_status": "optimal", "solver_value": 2.0, "solver_lower_bound": 2.0, "solver_gap": 0.0,
            "solver": "closed-form", "versions": {"minnorm": "0.1.0", "numpy": "x"}, "seed": spec["seed"],
            "wall_time": 0.5, "timestamp": "2024-01-01T00:00:00"}


def test_store_round_trip_and_no_duplicates(tmp_path):
    runs = expand(parse_config(BASE))[:5]
    rows = [_row(r.spec, linf=0.1 * i, l2=float("nan")) for i, r in enumerate(runs)]
    with ResultStore(tmp_path) as store:
        assert store.write_rows(rows[:3], {"ref0": ("tv2:skip", {"value": 2.0, "x": [0, 1]})}) == 3
        # Writing finished rows again changes nothing (resume after a crash between write and ack).
        assert store.write_rows(rows[:3]) == 0
        assert store.write_rows(rows[3:]) == 2
    con = sqlite3.connect(tmp_path / "results.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM runs").fetchone() == (5, 5)
    con.close()
    df = load_results(tmp_path)
    assert len(df) == 5 and set(df["key"]) == {r.key for r in runs}
    got = df.set_index("key")
    for i, r in enumerate(runs):
        assert got.loc[r.key, "linf"] == pytest.approx(0.1 * i, abs=0)
        assert got.loc[r.key, "width"] == r.spec["model"]["width"]
        assert got.loc[r.key, "problem.target"] == "sin"
        assert got.loc[r.key, "train.optimizer"] == r.spec["train"]["optimizer"]
        assert got.loc[r.key, "version.minnorm"] == "0.1.0"
    assert df["l2"].isna().all()  # NaN metrics survive the JSON round trip as NaN
    assert {"linf", "l2"} <= set(df.attrs["metrics"])
    assert finished_keys(tmp_path) == {r.key for r in runs}
    assert load_references(tmp_path)["ref0"][0] == "tv2:skip"


def test_failed_rows_are_retried_finished_rows_are_not(tmp_path):
    runs = expand(parse_config(BASE))[:2]
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.write_rows([_row(runs[0].spec, "failed"), _row(runs[1].spec, "diverged")])
        assert store.finished_keys() == {runs[1].key}
        assert store.write_rows([_row(runs[0].spec, "ok", linf=1.0), _row(runs[1].spec, "ok", linf=2.0)]) == 1
    df = load_results(tmp_path / "s.sqlite").set_index("key")
    assert df.loc[runs[0].key, "status"] == "ok" and df.loc[runs[0].key, "linf"] == 1.0
    assert df.loc[runs[1].key, "status"] == "diverged"  # a final row is never overwritten


def test_store_rejects_bad_rows_atomically(tmp_path):
    runs = expand(parse_config(BASE))[:2]
    good = _row(runs[0].spec)
    with ResultStore(tmp_path) as store:
        with pytest.raises(ValueError, match="status"):
            store.write_rows([good, _row(runs[1].spec, "weird")])
        assert store.finished_keys() == set()
