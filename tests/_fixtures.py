"""Small shared helpers of the sweep and command-line tests: the tiny sweep config they start from,
edited copies of a config dict, and a config's TOML text (the form a user writes)."""

import copy
import json

#: A sweep small enough for a test: 2 seeds x widths 8 and 16 on 6 uniform points of sin, 200 Adam
#: steps, no report. Each test states what it changes (``with_changes``).
TINY = {
    "name": "tiny",
    "seeds": 2,
    "problem": {"target": "sin", "design": "uniform", "n": 6},
    "reference": {"name": "tv2:skip", "lam": "mapped"},
    "model": {"width": [8, 16], "skip": True},
    "train": {"optimizer": "adam", "steps": 200, "lr": 0.01, "weight_decay": 1e-3},
    "output": {"report": False},
}


def with_changes(config, changes, sep="."):
    """A deep copy of the config dict ``config`` with each entry of ``changes`` set: its key is a path
    of nested keys joined by ``sep`` (``"train.steps"``), missing tables are created, and a value
    of None deletes the key."""
    d = copy.deepcopy(config)
    for dotted, value in changes.items():
        *parents, last = dotted.split(sep)
        sub = d
        for p in parents:
            sub = sub.setdefault(p, {})
        if value is None:
            sub.pop(last, None)
        else:
            sub[last] = value
    return d


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(e) for e in v) + "]"
    return "{" + ", ".join(f"{k} = {_toml_value(e)}" for k, e in v.items()) + "}"


def config_toml(config):
    """TOML text of a config dict: top-level keys first, then one table per section (deeper dicts
    as inline tables)."""
    top = [f"{k} = {_toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "".join(f"{kk} = {_toml_value(vv)}\n" for kk, vv in v.items())
              for k, v in config.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "".join(tables)
