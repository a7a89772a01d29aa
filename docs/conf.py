"""Sphinx configuration of minnorm's documentation.

Build: ``sphinx-build -W --keep-going docs docs/_build/html`` (executes the gallery in ``examples/``).
Environment switches:

* ``MINNORM_DOCS_GALLERY=0`` -- do not execute the gallery (the fast API-only build that
  ``tests/test_docs.py`` runs); the example pages are still generated, without figures.
* ``MINNORM_DOCS_INTERSPHINX=1`` -- link to numpy, scipy, torch and cvxpy. Off by default: the
  inventories are fetched over the network, and an unreachable one is a warning (an error under
  ``-W``) on an offline machine.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages, also without `pip install -e .`
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

import minnorm  # noqa: E402

project = "minnorm"
author = "minnorm contributors"
copyright = "2026, minnorm contributors"
release = minnorm.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "minnorm_config_schema",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.py", "auto_examples/*.ipynb",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "Exact function-space limits of shallow 1-D ReLU networks",
                      "fixed_sidebar": True}

# -- API reference -------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False  # the class pages list attributes from the docstring itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- intersphinx (opt-in: offline machines have no inventories) ----------------------------------
if os.environ.get("MINNORM_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "scipy": ("https://docs.scipy.org/doc/scipy/", None),
        "torch": ("https://pytorch.org/docs/stable/", None),
        "cvxpy": ("https://www.cvxpy.org/", None),
    }
    intersphinx_timeout = 10
else:
    intersphinx_mapping = {}

# -- gallery ---------------------------------------------------------------------------------------
# plot_minimum_norm.py is the README's figure script (its docstring has no gallery title); the
# limits guide shows it with its figure. reproduce_all.py is a long job, not an example. Pages
# an earlier build generated for them are stale: excluded, so they cannot fail a -W build.
_NOT_IN_GALLERY = ("reproduce_all", "plot_minimum_norm")
exclude_patterns += [f"auto_examples/{name}.rst" for name in _NOT_IN_GALLERY]
_run_gallery = os.environ.get("MINNORM_DOCS_GALLERY", "1") != "0"
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every plot_*.py is executed
    "ignore_pattern": rf"({'|'.join(_NOT_IN_GALLERY)})\.py",
    "plot_gallery": "True" if _run_gallery else "False",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 0,
}
