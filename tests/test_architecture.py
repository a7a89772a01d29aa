"""The architecture as a checkable rule: three layers imported one way, no cycles, a light
``import minnorm``, and the public namespace users already rely on.

The import graph is read from the source with :mod:`ast` (every ``import``, function-local ones
included), not from ``sys.modules`` after a run, so an import that only some code paths reach is
still seen.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layer rank of each package prefix: a module may import only modules of its own rank or lower.
#: ``minnorm`` itself (the facade ``__init__``) sits on top: nothing in the package imports it.
LAYERS = [
    ("solvers", 0),
    ("minnorm._lazy", 0),
    ("minnorm._version", 0),
    ("minnorm.training", 1),
    ("minnorm.comparison", 2),
    ("minnorm.studies", 3),
    ("minnorm.cli", 4),
    ("minnorm", 5),
]


def rank(module):
    for prefix, r in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return r
    raise AssertionError(f"module {module} is in no layer")


def package_modules():
    """Dotted name -> (path, is_package) for every module of solvers/ and minnorm/."""
    out = {}
    for top in ("solvers", "minnorm"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            out[".".join(parts)] = (path, is_pkg)
    return out


MODULES = package_modules()


def resolve(name):
    """The module a dotted import name refers to: itself, or the package defining the attribute."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


DUNDER_IMPORTS = []


def imports_of(module):
    path, is_pkg = MODULES[module]
    package = module if is_pkg else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from pkg import sub`` imports the submodule; ``from pkg import name`` the package.
            names = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in MODULES else stem for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            DUNDER_IMPORTS.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            continue
        else:
            continue
        for n in names:
            if n.split(".")[0] in ("solvers", "minnorm"):
                target = resolve(n)
                if target and target != module:
                    found.add(target)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_no_hidden_imports():
    assert not DUNDER_IMPORTS, f"__import__() hides an import from readers and tools: {DUNDER_IMPORTS}"


def test_every_module_is_in_a_layer_and_imports_only_downwards():
    bad = [f"{a} (layer {rank(a)}) imports {b} (layer {rank(b)})"
           for a, deps in GRAPH.items() for b in deps if rank(b) > rank(a)]
    assert not bad, "imports against the layer order solvers <- training <- comparison <- studies <- cli:\n" + \
        "\n".join(sorted(bad))


def test_no_import_cycles():
    # Tarjan's strongly connected components; a component of size > 1 is a cycle.
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_solver_layer_never_imports_torch_or_minnorm():
    for module, (path, _) in MODULES.items():
        if rank(module) != 0 or not module.startswith("solvers"):
            continue
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level]
        assert not [n for n in names if n.split(".")[0] in ("torch", "minnorm")], module


def test_nothing_imports_the_command_line():
    users = [a for a, deps in GRAPH.items() if "minnorm.cli" in deps]
    assert not users, f"minnorm.cli is the top of the graph; imported by {users}"


def _fresh(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)


@pytest.mark.parametrize("statement", [
    "import minnorm",
    "import solvers; solvers.tv2_interpolant([0, 1, 2], [0, 1, 0])",
    "import minnorm as mn; mn.tv2_envelope([0, 1, 2], [0, 1, 0])",
    "from minnorm.comparison.sweeps.config import load_config; load_config('examples/quickstart.toml')",
])
def test_light_entry_points_do_not_import_torch(statement):
    r = _fresh(f"{statement}\nimport sys\nprint(sorted(m for m in ('torch', 'matplotlib', 'dask') if m in sys.modules))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"{statement!r} imported {r.stdout.strip()}"


#: The public namespace of ``import minnorm as mn`` (0.1's names, plus those added since).
#: Written out so that losing a name is a failing test, not a silent break of user code.
PUBLIC = """
InputError SolverError VARIANTS PiecewiseLinear tv2_cost Solution Envelope tv2_envelope
tv2_interpolant tv2_regression KinkDensity kink_density WeightedSplineFunction weighted_spline
ShallowReLU Population TrainResult TrainingDiverged train train_population loss_and_grad
lr_sequence limit_reference solver_lam variant_for random_features_ridge ridge_lam to_function
rebalance parameter_cost
TARGETS DESIGNS Problem make_problem REFERENCES Reference solve_reference solve_limit KnotCounts
compare cost_gap envelope_violation knots_per_interval l2_distance linf_distance net_cost
objective_gap rel_l2_distance rel_linf_distance train_loss RateFit fit_rate fit_rates
ConfigError SweepConfig RunSpec load_config parse_config expand ResultStore load_results
finished_keys run_sweep SweepSummary SweepInterrupted StoreError
""".split()


def test_public_namespace_keeps_every_name():
    import minnorm as mn

    missing = [n for n in PUBLIC if n not in mn.__all__]
    assert not missing, f"names dropped from minnorm.__all__: {missing}"
    unresolved = [n for n in mn.__all__ if not hasattr(mn, n)]
    assert not unresolved, f"in __all__ but not importable: {unresolved}"
    assert len(set(mn.__all__)) == len(mn.__all__)
    assert set(PUBLIC) <= set(dir(mn))


def test_each_public_name_has_one_home():
    """``mn.X`` is the very object its defining module holds (re-exports, not copies)."""
    import importlib

    import minnorm as mn

    for name in mn.__all__:
        obj = getattr(mn, name)
        home = getattr(obj, "__module__", None)
        if home and home.split(".")[0] in ("solvers", "minnorm") and callable(obj):
            assert getattr(importlib.import_module(home), obj.__name__) is obj, name
