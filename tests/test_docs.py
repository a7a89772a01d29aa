"""The documentation cannot rot: every public name has an API page, the API pages build with
warnings as errors, every Python code block of the README and of docs/**/*.rst runs, and every
gallery script runs top to bottom and draws a figure.

The full build with the executed gallery is ``sphinx-build -W --keep-going docs docs/_build/html``
(minutes); the build here skips the gallery's execution (``MINNORM_DOCS_GALLERY=0``), and the
gallery scripts are run one by one instead (:func:`test_gallery_example_runs`).
"""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GALLERY = sorted(p for p in (ROOT / "examples").glob("plot_*.py") if p.name != "plot_minimum_norm.py")


# -- (1) every public name is listed in docs/api.rst ---------------------------------------------

def _autosummary_names(rst):
    """``{module: [names]}`` of the ``.. autosummary::`` lists of an rst text, by the current module."""
    names, module, lines, i = {}, None, rst.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\.\. currentmodule:: (\S+)", line)
        if m:
            module = m.group(1)
        if line.startswith(".. autosummary::"):
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
                entry = lines[i].strip()
                if entry and not entry.startswith(":"):
                    names.setdefault(module, []).append(entry)
                i += 1
            continue
        i += 1
    return names


def test_autosummary_parser_reads_blocks():
    rst = ".. currentmodule:: pkg\n\n.. autosummary::\n   :toctree: g\n\n   one\n   two\n\ntext\n"
    assert _autosummary_names(rst) == {"pkg": ["one", "two"]}


def test_every_public_name_has_an_api_page():
    import minnorm
    import minnorm.studies
    import solvers

    listed = _autosummary_names((DOCS / "api.rst").read_text())
    in_solvers, in_minnorm = set(listed.get("solvers", [])), set(listed.get("minnorm", []))
    missing = [f"solvers.{n}" for n in solvers.__all__ if n not in in_solvers]
    missing += [f"minnorm.{n}" for n in minnorm.__all__ if n not in in_minnorm | in_solvers]
    missing += [f"minnorm.studies.{n}" for n in minnorm.studies.__all__
                if n not in listed.get("minnorm.studies", [])]
    assert not missing, f"public names without an API page (add them to docs/api.rst): {missing}"
    # and nothing listed that is not public (a renamed or removed name)
    public = {"solvers": set(solvers.__all__), "minnorm": set(minnorm.__all__),
              "minnorm.studies": set(minnorm.studies.__all__)}
    stale = [f"{mod}.{n}" for mod, ns in listed.items() for n in ns if n not in public.get(mod, set())]
    assert not stale, f"docs/api.rst lists names that are not public: {stale}"


def test_config_reference_covers_the_schema():
    """The sweep-config reference documents exactly the parser's keys (the build fails otherwise)."""
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import minnorm_config_schema as schema
    finally:
        sys.path.pop(0)
    schema.check_docs()
    lines = schema.rst_lines()
    assert any("``width``" in line for line in lines)
    assert any("**required**" in line for line in lines)


# -- (2) the API pages build with warnings as errors ---------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("numpydoc") is None
                    or importlib.util.find_spec("sphinx_gallery") is None,
                    reason="the docs extra (sphinx, numpydoc, sphinx-gallery) is not installed")
def test_api_docs_build_with_warnings_as_errors(tmp_path):
    env = dict(os.environ, MINNORM_DOCS_GALLERY="0", MPLBACKEND="Agg")
    env.pop("MINNORM_DOCS_INTERSPHINX", None)
    res = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    import minnorm
    import minnorm.studies
    import solvers

    pages = [f"solvers.{n}" for n in solvers.__all__]
    pages += [f"minnorm.{n}" for n in minnorm.__all__ if n not in solvers.__all__]
    pages += [f"minnorm.studies.{n}" for n in minnorm.studies.__all__]
    missing = [p for p in pages if not (tmp_path / "html" / "api" / "generated" / f"{p}.html").exists()]
    assert not missing, f"no generated page for {missing}"
    for guide in ("limits", "certificates", "sweeps", "reproductions"):
        assert (tmp_path / "html" / "guides" / f"{guide}.html").exists()
    assert "minnorm-config-schema" not in (tmp_path / "html" / "guides" / "sweeps.html").read_text()


# -- (3) every code block of the README and of the docs runs -------------------------------------

def _rst_blocks(text):
    """Python code of each ``.. code-block:: python`` / ``.. code:: python`` / ``>>>`` block, in order."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"(\s*)\.\. (?:code-block|code|sourcecode):: (?:python|python3|py)\s*$", line)
        if m:
            indent = len(m.group(1))
            i += 1
            while i < len(lines) and re.match(r"\s+:\w[\w-]*:", lines[i]):  # options
                i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                body.append(lines[i])
                i += 1
            blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
            continue
        if line.lstrip().startswith(">>> "):  # doctest block: run its statements
            body = []
            while i < len(lines) and lines[i].strip():
                s = lines[i].lstrip()
                if s.startswith((">>> ", "... ")):
                    body.append(s[4:])
                i += 1
            blocks.append("\n".join(body))
            continue
        i += 1
    return blocks


def _markdown_blocks(text):
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def _pages():
    pages = [("README.md", _markdown_blocks((ROOT / "README.md").read_text()))]
    for path in sorted(DOCS.rglob("*.rst")):
        rel = path.relative_to(ROOT)
        if rel.parts[1] in ("_build", "api", "auto_examples", "_templates"):
            continue  # generated
        pages.append((str(rel), _rst_blocks(path.read_text())))
    return [p for p in pages if p[1]]


def test_block_collector_finds_blocks():
    text = "x\n\n.. code-block:: python\n   :caption: c\n\n   a = 1\n\n   b = a + 1\n\nafter\n\n>>> c = 2\n>>> c\n2\n"
    assert _rst_blocks(text) == ["a = 1\n\nb = a + 1", "c = 2\nc"]
    assert any(page == "README.md" for page, _ in _pages())
    assert any(page.startswith("docs/guides/") for page, _ in _pages())


@pytest.mark.parametrize("page,blocks", _pages(), ids=[p for p, _ in _pages()])
def test_code_blocks_run(page, blocks, tmp_path, monkeypatch):
    """The blocks of one page run in order in one fresh namespace (a page's later blocks may use
    the names of its earlier ones, as a reader would), in an empty working folder."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_block_" + re.sub(r"\W", "_", page)}
    for k, block in enumerate(blocks):
        try:
            exec(compile(block, f"{page} [block {k + 1}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page}, code block {k + 1} fails:\n{block}") from exc
    import matplotlib.pyplot as plt

    plt.close("all")


# -- (4) every gallery script runs and draws a figure --------------------------------------------

def test_gallery_has_the_examples_of_issue_12():
    names = {p.stem for p in GALLERY}
    assert len(names) >= 8, names


@pytest.mark.slow
@pytest.mark.parametrize("script", GALLERY, ids=[p.stem for p in GALLERY])
def test_gallery_example_runs(script, tmp_path):
    code = ("import runpy, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
            f"runpy.run_path({str(script)!r}, run_name='__main__'); "
            "assert plt.get_fignums(), 'the example draws no figure'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT)), timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    source = script.read_text()
    assert re.match(r'"""\n.+\n=+\n', source), "a gallery script's docstring starts with a title"
    assert re.search(r"^import minnorm as mn$", source, re.M)
