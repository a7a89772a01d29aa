"""``.. minnorm-config-schema::``: the sweep-config reference, generated from the parser itself.

The tables, their keys and what an omitted key becomes are read from
:mod:`minnorm.comparison.sweeps.config` at build time: the key sets of the schema, the values of
a minimal config after :func:`minnorm.parse_config` (the defaults), and which keys a config
without them is refused for (the required ones). Only the one-line meaning of each key is
written here, in :data:`KEY_DOCS`; the build fails when the schema has a key without a line
or a line names a key the schema lacks, so the reference cannot drift from the parser.
"""

import json

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

#: Section ("" for the top level) -> key -> meaning (rst). Defaults and choices are generated.
KEY_DOCS = {
    "": {
        "name": "Sweep name: labels the store's rows and the default output folder ``runs/<name>``"
                " (default: the file's stem).",
        "description": "Free text, copied into the report.",
        "seeds": "Number of seeds (``3`` is ``[0, 1, 2]``) or an explicit list; a grid axis.",
        "problem": "The data set (table, required).",
        "reference": "The exact problem the networks are compared with (table).",
        "model": "The network (table, required).",
        "train": "The training recipe (table, required).",
        "metrics": "Where and by which metric the networks are measured (table).",
        "output": "Where results go (table).",
    },
    "problem": {
        "target": "Target function, or ``file:PATH`` to read (x, y) from a CSV/NPZ file.",
        "target_params": "Keyword arguments of the target (e.g. the seed of ``random-pl``).",
        "design": "How the n inputs are placed in ``domain``.",
        "n": "Number of data points (integer or list: a grid axis).",
        "noise": "Standard deviation of Gaussian noise added to the targets.",
        "seed": "Seed of the design and the noise (the data are the same for every run).",
        "domain": "Interval ``[a, b]`` the inputs lie in.",
        "delta": "Half-width of the gap ``(c-delta, c+delta)`` around the centre c of ``domain`` in the ``known-regions`` design.",
    },
    "reference": {
        "name": "Reference problem (see :data:`minnorm.REFERENCES`; the guide :doc:`limits` says which"
                " one a recipe converges to).",
        "lam": "``\"mapped\"`` (from the weight decay by :func:`minnorm.solver_lam`), a number, or omitted"
               " (interpolation). With a frozen first layer ``\"mapped\"`` also fills in the init law's"
               " spline as the name.",
        "params": "Parameters of the reference (law parameters of a spline, ``method``/``solver``).",
    },
    "model": {
        "width": "Number of hidden units (integer or list: a grid axis).",
        "skip": "Skip connection ``cx + d``.",
        "output_bias": "Output bias ``d``.",
        "parametrization": "``standard`` (f = Σ a relu(wx+b)) or ``mean-field`` (f = (1/m) Σ ...).",
        "init": "Initialisation law of (w, b) (its kink density is :func:`minnorm.kink_density`).",
        "init_params": "Parameters of the init law (defaults: the law's table).",
        "init_ratio": "Init ratio ρ = \\|a\\|/‖(w, b)‖ (list: a grid axis): scales the output layer by √ρ"
                      " and the hidden layer by 1/√ρ. Not together with ``output_scale``.",
        "output_scale": "Scale of the output-layer initialisation (list: a grid axis).",
        "hidden_scale": "Scale s of the hidden layer (enters the frozen-layer lam map as s²).",
        "output_init": "Law of the output weights at initialisation.",
        "antisymmetric": "Antisymmetric initialisation (f ≡ 0 at init; needs even widths).",
    },
    "train": {
        "optimizer": "Optimiser (or a list: a grid axis).",
        "steps": "Number of steps.",
        "lr": ("Peak learning rate (number, list: a grid axis, or a size rule table ``{c, alpha, beta}``: "
               "lr = c·n^α·m^β, e.g. ``beta = -1`` in the kernel regime, where the NTK grows like m)."),
        "weight_decay": "Weight decay (number, list, or a schedule table ``{c, alpha, beta}``:"
                        " λ = c·n^α·m^β).",
        "penalize_bias": "Penalise the hidden biases b (variants ``bias``/``bias-no-skip``).",
        "penalize_affine": "Penalise the skip slope and the output bias too.",
        "batch_size": "Minibatch size (omitted: full batch).",
        "noise_temperature": "Langevin noise temperature (0: none).",
        "train_first_layer": "Train w, b (``false``: random features, ridge on a).",
        "tol": "Stop when the gradient norm of the objective is at most this (omitted: run all steps).",
        "lr_schedule": "Learning-rate schedule.",
        "lr_final_ratio": "lr at the last step / lr (1 for ``constant``, 0.01 when decaying).",
    },
    "metrics": {
        "interval": "Interval ``[a, b]`` the distances are measured on (omitted: the data hull widened by"
                    " 50 %).",
        "main": "Metric the rates and the report's figures use.",
    },
    "output": {
        "dir": "Output folder (omitted: ``runs/<name>``).",
        "report": "Write ``report.md`` and the figures after the sweep.",
    },
}

_MINIMAL = {"problem": {}, "model": {"width": 8}, "train": {"steps": 10, "lr": 0.01}}


def _choices():
    """Key -> the library's own tuple of valid values (the tables the parser checks against)."""
    import minnorm as mn
    from minnorm.comparison.sweeps.config import metric_names
    from minnorm.training.options import INIT_LAWS, LR_SCHEDULES, OPTIMIZERS, OUTPUT_INITS, PARAMETRIZATIONS

    return {
        ("problem", "target"): list(mn.TARGETS),
        ("problem", "design"): list(mn.DESIGNS),
        ("reference", "name"): list(mn.REFERENCES),
        ("model", "parametrization"): list(PARAMETRIZATIONS),
        ("model", "init"): list(INIT_LAWS),
        ("model", "output_init"): list(OUTPUT_INITS),
        ("train", "optimizer"): list(OPTIMIZERS),
        ("train", "lr_schedule"): list(LR_SCHEDULES),
        ("metrics", "main"): list(metric_names()),
    }


def schema():
    """Section -> list of (key, required, default-as-parsed) read from the parser."""
    import copy

    from minnorm.comparison.sweeps import config as c

    sets = {"": c._TOP, "problem": c._PROBLEM, "reference": c._REFERENCE, "model": c._MODEL,
            "train": c._TRAIN, "metrics": c._METRICS, "output": c._OUTPUT}
    parsed = c.parse_config(copy.deepcopy(_MINIMAL))
    out = {}
    for sec, keys in sets.items():
        rows = []
        for key in sorted(keys):
            required = False
            if sec:
                given = _MINIMAL.get(sec, {})
                if key in given:
                    data = copy.deepcopy(_MINIMAL)
                    del data[sec][key]
                    try:
                        c.parse_config(data)
                    except c.ConfigError as err:
                        required = str(err).startswith(f"{sec}.{key}: required")
                default = None if required else getattr(parsed, sec)[key]
            else:
                required = key in ("problem", "model", "train")
                default = "(table)" if key in sets else getattr(parsed, key)
            rows.append((key, required, default))
        out[sec] = rows
    return out


def _fmt(value):
    if value is None:
        return "(omitted)"
    if value == "(table)":
        return value
    return "``" + json.dumps(value, default=str) + "``"


def check_docs(sch=None):
    """Raise ValueError when KEY_DOCS and the parser's schema disagree."""
    sch = sch or schema()
    problems = []
    for sec, rows in sch.items():
        keys = {k for k, _, _ in rows}
        doc = set(KEY_DOCS.get(sec, {}))
        problems += [f"{sec or '<top>'}.{k}: in the schema, not documented" for k in sorted(keys - doc)]
        problems += [f"{sec or '<top>'}.{k}: documented, not in the schema" for k in sorted(doc - keys)]
    if set(KEY_DOCS) - set(sch):
        problems.append(f"unknown sections documented: {sorted(set(KEY_DOCS) - set(sch))}")
    if problems:
        raise ValueError("sweep-config reference out of date: " + "; ".join(problems))


def rst_lines():
    """The reference as rst lines: one list-table per section."""
    sch = schema()
    check_docs(sch)
    choices = _choices()
    lines = []
    for sec, rows in sch.items():
        title = "Top level" if not sec else f"``[{sec}]``"
        lines += [title, "~" * len(title), ""]
        lines += [f".. list-table:: {'top-level keys' if not sec else 'keys of [' + sec + ']'}",
                  "   :header-rows: 1", "   :widths: 18 22 60", "",
                  "   * - key", "     - default", "     - meaning"]
        for key, required, default in rows:
            text = KEY_DOCS[sec][key]
            if (sec, key) in choices:
                text += " One of " + ", ".join(f"``{v}``" for v in choices[(sec, key)]) + "."
            lines += [f"   * - ``{key}``", f"     - {'**required**' if required else _fmt(default)}",
                      f"     - {text}"]
        lines.append("")
    return lines


class ConfigSchema(SphinxDirective):
    has_content = False

    def run(self):
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(rst_lines(), source="minnorm-config-schema"), self.content_offset,
                                node, match_titles=True)
        return node.children


def setup(app):
    app.add_directive("minnorm-config-schema", ConfigSchema)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
