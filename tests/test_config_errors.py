"""Bad sweep configs and bad command-line input fail early and clearly (issue 9).

Each config case was accepted by ``load_config`` before and failed only later, as "failed" runs
of a sweep that exited 0 (or went wrong silently: a typo in the main metric fitted no rate, a
name of ".." put the store outside the output directory). The expected behaviour is the
issue's specification: a :class:`ConfigError` whose message starts with the key's dotted path
and says what is expected; on the command line exit status 2, one line on stderr, no
traceback, nothing printed before the error.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minnorm.cli import main
from minnorm.comparison.sweeps.config import ConfigError, load_config, metric_names, parse_config

from _fixtures import TINY, with_changes

ROOT = Path(__file__).resolve().parents[1]

BASE = with_changes(TINY, {"name": "t", "problem.n": 8, "train.steps": 10, "output": None})


def with_values(**changes):
    """BASE with ``section__key=value`` replaced (``None`` deletes the key)."""
    return with_changes(BASE, changes, sep="__")


def _files(tmp_path):
    """Data files that exist but cannot be used as a target (and one that can)."""
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "ragged.csv").write_text("x,y\n0,0\n1,1,7\n2,0\n")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "good.csv").write_text("x,y\n0,0\n1,1\n2,0\n3,2\n")
    (tmp_path / "folder.csv").mkdir()
    return tmp_path


# (case id, changes to BASE, key the message must start with, fragment it must contain).
# "{tmp}" in a value is replaced by a temporary folder holding the files of _files().
CASES = [
    ("unknown target", {"problem__target": "sinn"}, "problem.target", "did you mean 'sin'"),
    ("unknown design", {"problem__design": "grid"}, "problem.design", "expected one of 'uniform'"),
    ("unknown reference", {"reference__name": "tv2:nonsense"}, "reference.name", "unknown reference"),
    ("unknown spline law", {"reference__name": "spline:cauchy"}, "reference.name", "spline:LAW"),
    ("sparsest of a unique variant", {"reference__name": "tv2:bias:sparsest"}, "reference.name", "sparsest"),
    ("reference param of another law", {"reference__params": {"sigma_w": 2.0}}, "reference.params.sigma_w",
     "unknown key"),
    ("unknown solver method", {"reference__params": {"method": "newton"}}, "reference.params.method",
     "expected one of 'exact', 'cvxpy'"),
    ("solver not installed", {"reference__params": {"method": "cvxpy", "solver": "MOSEK9"}},
     "reference.params.solver", "expected one of"),
    ("reference lam given twice", {"reference__lam": 0.1, "reference__params": {"lam": 0.2}},
     "reference.params.lam", "contradicts reference.lam"),
    ("unknown init law", {"model__init": "normal"}, "model.init", "expected one of"),
    ("unknown output_init", {"model__output_init": "ones"}, "model.output_init", "expected one of"),
    ("init_params key of another law", {"model__init_params": {"sigma_w": 2.0}}, "model.init_params.sigma_w",
     "init 'uniform' takes A, B"),
    ("init_params value", {"model__init_params": {"A": -1.0}}, "model.init_params.A", "positive"),
    ("target_params of a target without any", {"problem__target_params": {"knots": 3}},
     "problem.target_params.knots", "takes no parameters"),
    ("target_params misspelt", {"problem__target": "random-pl", "problem__target_params": {"knot": 3}},
     "problem.target_params.knot", "takes knots"),
    ("target_params value", {"problem__target": "random-pl", "problem__target_params": {"knots": 0}},
     "problem.target_params", "knots"),
    ("batch_size > n", {"train__optimizer": "sgd", "train__batch_size": 20}, "train.batch_size",
     "more than the n = 8"),
    ("gd with batch_size", {"train__optimizer": "gd", "train__batch_size": 4}, "train.batch_size", "full-batch"),
    ("gd in an optimizer grid with batch_size", {"train__optimizer": ["sgd", "gd"], "train__batch_size": 4},
     "train.batch_size", "full-batch"),
    ("delta without known regions", {"problem__delta": 0.2}, "problem.delta", "applies only to design"),
    ("known regions without delta", {"problem__design": "known-regions"}, "problem.delta", "required"),
    ("delta too wide", {"problem__design": "known-regions", "problem__delta": 5.0}, "problem.delta", "delta"),
    ("antisymmetric init, odd width", {"model__antisymmetric": True, "model__width": [8, 5]},
     "model.antisymmetric", "even widths"),
    ("missing file target", {"problem__target": "file:{tmp}/nope.csv"}, "problem.target", "does not exist"),
    ("file target is a folder", {"problem__target": "file:{tmp}/folder.csv"}, "problem.target", "is a directory"),
    ("empty file target", {"problem__target": "file:{tmp}/empty.csv"}, "problem.target", "is empty"),
    ("ragged file target", {"problem__target": "file:{tmp}/ragged.csv"}, "problem.target", "not a CSV"),
    ("binary file target", {"problem__target": "file:{tmp}/binary.csv"}, "problem.target", "binary"),
    ("n that contradicts the file", {"problem__target": "file:{tmp}/good.csv", "problem__n": 10}, "problem.n",
     "the data file has 4 points"),
    ("width beyond int64", {"model__width": 2**63}, "model.width", "2**63 - 1"),
    ("width that cannot fit in memory", {"model__width": 10**12}, "model.width", "GB of memory"),
    ("n that cannot fit in memory", {"problem__n": 10**14}, "problem.n", "GB of memory"),
    ("n beyond int64", {"problem__n": 10**20}, "problem.n", "2**63 - 1"),
    ("overflowing weight-decay schedule", {"train__weight_decay": {"c": 1.0, "alpha": 400}}, "train.weight_decay",
     "overflows float64 at n = 8"),
    ("overflowing schedule in a grid", {"train__weight_decay": [1e-3, {"c": 1e300, "beta": 10}]},
     "train.weight_decay[1]", "overflows"),
    ("main metric typo", {"metrics__main": "envelope_violaton"}, "metrics.main", "did you mean 'envelope_violation'"),
    ("name ..", {"name": ".."}, "name", "plain file name"),
    ("name .", {"name": "."}, "name", "plain file name"),
    ("name with a separator", {"name": "../escape"}, "name", "plain file name"),
    ("empty name", {"name": ""}, "name", "plain file name"),
    ("seed 1.5", {"seeds": [0, 1.5]}, "seeds[1]", "expected a seed"),
    ("negative seed", {"seeds": [-1]}, "seeds[0]", "expected a seed"),
    ("seed beyond int64", {"problem__seed": 2**70}, "problem.seed", "2**63 - 1"),
    ("problem seed 0.5", {"problem__seed": 0.5}, "problem.seed", "expected a seed"),
]


def _fill(value, tmp):
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, dict):
        return {k: _fill(v, tmp) for k, v in value.items()}
    return value


@pytest.mark.parametrize("changes, key, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_is_a_config_error_naming_the_key(changes, key, fragment, tmp_path):
    tmp = _files(tmp_path)
    d = with_values(**{k: _fill(v, tmp) for k, v in changes.items()})
    with pytest.raises(ConfigError) as exc:
        parse_config(d)
    msg = str(exc.value)
    assert msg.startswith(key + ":"), msg
    assert fragment in msg, msg
    assert "\n" not in msg  # one line on the command line


def test_the_base_and_every_library_name_are_accepted(tmp_path):
    """The allowed sets are the library's own tables: every entry of each is accepted."""
    from minnorm.training.options import INIT_LAWS, OUTPUT_INITS
    from minnorm.comparison.problems import DESIGNS, TARGETS
    from minnorm.comparison.references import REFERENCES

    parse_config(BASE)
    for target in TARGETS:
        parse_config(with_values(problem__target=target))
    for design in DESIGNS:
        extra = {"problem__delta": 0.3} if design == "known-regions" else {}
        parse_config(with_values(problem__design=design, **extra))
    for name in REFERENCES:
        parse_config(with_values(reference__name=name))
    parse_config(with_values(reference__params={"method": "cvxpy", "solver": "CLARABEL"}))
    parse_config(with_values(reference__name="krr:no-skip:gaussian",
                             reference__params={"sigma_b": 2.0, "output_bias": False}))
    for law, params in INIT_LAWS.items():
        parse_config(with_values(model__init=law, model__init_params=dict(params)))
    for out in OUTPUT_INITS:
        parse_config(with_values(model__output_init=out))
    for m in metric_names():
        parse_config(with_values(metrics__main=m))
    cfg = parse_config(with_values(problem__target=f"file:{_files(tmp_path) / 'good.csv'}", problem__n=None))
    assert cfg.problem["n"] == [4]  # the file fixes n
    ok = parse_config(with_values(train__optimizer="gd", train__batch_size=8))  # one batch of all n points
    assert ok.train["batch_size"] == 8


def test_metric_names_are_what_a_run_stores():
    """The main metric is checked against compare()'s keys: the metrics a report shows are among them."""
    from minnorm.comparison.sweeps.report import SECONDARY_METRICS

    assert set(SECONDARY_METRICS) <= set(metric_names())
    assert "envelope_violation" in metric_names() and "envelope_violaton" not in metric_names()


def test_load_config_file_that_is_not_a_config(tmp_path):
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00garbage" * 10)
    with pytest.raises(ConfigError, match="not a text file"):
        load_config(tmp_path / "bin.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


# --------------------------------------------------------------------------- command line
def _solve(*args):
    return ["solve", *map(str, args)]


def _cli_cases(tmp):
    """(id, argv, fragment of the one-line error)."""
    files = _files(tmp)
    good = files / "good.csv"
    cfg = files / "cfg.toml"
    cfg.write_text('[problem]\nn = 6\n[model]\nwidth = 4\n[train]\nsteps = 2\nlr = 0.01\n')
    (files / "afile").write_text("x")
    return [
        ("empty csv", _solve(files / "empty.csv", "--variant", "skip"), "is empty"),
        ("ragged row", _solve(files / "ragged.csv", "--variant", "skip"), "not a CSV"),
        ("binary file", _solve(files / "binary.csv", "--variant", "skip"), "binary"),
        ("data is a directory", _solve(files / "folder.csv", "--variant", "skip"), "is a directory"),
        ("missing data", _solve(files / "nope.csv", "--variant", "skip"), "does not exist"),
        ("--json is a directory", _solve(good, "--variant", "skip", "--json", files / "folder.csv"),
         "--json: "),
        ("--csv into a missing folder", _solve(good, "--variant", "skip", "--csv", files / "no" / "k.csv"),
         "--csv: folder"),
        ("--select for a unique variant", _solve(good, "--variant", "bias", "--lam", "0.1", "--select", "sparsest"),
         "--select applies to --variant skip or no-skip"),
        ("sweep config is a directory", ["sweep", str(files / "folder.csv")], "is a directory"),
        ("sweep config is binary", ["sweep", str(files / "binary.csv")], "not a text file"),
        ("--out is a file", ["sweep", str(cfg), "--out", str(files / "afile")], "--out: "),
        ("--out below a file", ["sweep", str(cfg), "--out", str(files / "afile" / "sub")], "is not a directory"),
    ]




def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    for name, argv, fragment in _cli_cases(tmp_path):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2, (name, code, out, err)
        assert out == "", (name, out)  # checked before any work is printed
        assert err.endswith("\n") and err.count("\n") == 1, (name, err)
        assert err.startswith(f"minnorm {argv[0]}: error: ") and fragment in err, (name, err)
        assert "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: no unwritable folder to test with")
def test_cli_sweep_out_not_writable(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[problem]\nn = 6\n[model]\nwidth = 4\n[train]\nsteps = 2\nlr = 0.01\n')
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert main(["sweep", str(cfg), "--out", str(locked / "o")]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_cli_bad_input_in_a_real_process(tmp_path):
    """Through the console entry point (one process: each pays the import of torch; the in-process
    cases above cover the rest): exit 2, one stderr line, no traceback, nothing created."""
    bad_cfg = tmp_path / "typo.toml"
    bad_cfg.write_text('[problem]\nn = 6\n[model]\nwidth = 4\n[train]\nsteps = 2\nlr = 0.01\n'
                       '[metrics]\nmain = "envelope_violaton"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "minnorm.cli", "sweep", str(bad_cfg), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == "" and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, (r.stdout, r.stderr)
    assert r.stderr.startswith("minnorm sweep: error: metrics.main: ") and "envelope_violation" in r.stderr
    assert not (tmp_path / "o").exists()  # the typo stopped the sweep before it made anything


def test_parsing_a_config_imports_no_torch(tmp_path):
    """A config is checked before anything trains: loading one (every name checked against the
    library's tables, each problem and the metric list built) must not pay for torch."""
    cfg = tmp_path / "light.toml"
    cfg.write_text('[problem]\nn = [6, 8]\n[reference]\nlam = "mapped"\n[model]\nwidth = [4, 8]\n'
                   '[train]\nsteps = 2\nlr = 0.01\nweight_decay = 1e-3\ntrain_first_layer = false\n'
                   'lr_schedule = "cosine"\n')
    code = ("import sys; from minnorm.comparison.sweeps.config import load_config, expand; "
            f"expand(load_config({str(cfg)!r})); "
            "assert 'torch' not in sys.modules, 'parsing a config imported torch'")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stderr
