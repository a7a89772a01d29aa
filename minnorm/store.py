"""The results store: one SQLite file per sweep directory, one row per run.

Design
------
- The primary key is the run's :attr:`~minnorm.config.RunSpec.key`, so re-running a sweep
  skips what is done and never duplicates a row.
- Each finished population is written in a single transaction (``BEGIN IMMEDIATE`` ...
  ``COMMIT``) in WAL mode, so a ``kill -9`` loses at most the populations in flight: a
  transaction is either entirely in the file or not at all.
- ``"ok"`` and ``"diverged"`` rows are final. A ``"failed"`` row (an exception, e.g. a bug or
  a solver failure) is replaced when the run is retried, so a re-run after a fix heals it.
- Solutions of references are stored once per reference (table ``references``); each run
  stores its network's exact function (``PiecewiseLinear.to_dict``), so plots never retrain.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

__all__ = ["ResultStore", "load_results", "load_references", "finished_keys", "STORE_NAME", "FINAL_STATUSES"]

#: File name of the store inside a sweep's output directory.
STORE_NAME = "results.sqlite"
#: Statuses that mark a run as finished (not retried on resume).
FINAL_STATUSES = ("ok", "diverged")
STATUSES = ("ok", "failed", "diverged")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key                TEXT PRIMARY KEY,
    sweep              TEXT NOT NULL,
    population         TEXT,
    config             TEXT NOT NULL,
    coords             TEXT NOT NULL,
    metrics            TEXT,
    function           TEXT,
    reference_key      TEXT,
    status             TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'diverged')),
    error              TEXT,
    solver_status      TEXT,
    solver_value       REAL,
    solver_lower_bound REAL,
    solver_gap         REAL,
    solver             TEXT,
    versions           TEXT,
    seed               INTEGER,
    wall_time          REAL,
    timestamp          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refs (
    key      TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    solution TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweeps (
    name    TEXT PRIMARY KEY,
    config  TEXT NOT NULL,
    updated TEXT NOT NULL
);
"""

_RUN_COLUMNS = ("key", "sweep", "population", "config", "coords", "metrics", "function", "reference_key",
                "status", "error", "solver_status", "solver_value", "solver_lower_bound", "solver_gap",
                "solver", "versions", "seed", "wall_time", "timestamp")
_JSON_COLUMNS = {"config", "coords", "metrics", "function", "versions"}

# A finished row is never overwritten; a failed one is replaced by its retry.
_UPSERT = (
    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))}) "
    "ON CONFLICT(key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c != "key")
    + " WHERE runs.status = 'failed'"
)


def _connect(path, *, readonly=False):
    path = Path(path)
    if readonly:
        if not path.exists():
            raise FileNotFoundError(f"no results store at {path}")
        # A plain connection (not mode=ro): readers of a WAL database may need to create its -shm file.
        return sqlite3.connect(path, timeout=60.0, isolation_level=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60.0, isolation_level=None)  # autocommit; explicit BEGIN below
    con.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable against a killed process (the WAL is in the OS cache); only power loss can
    # drop the last commits, and then the file is still consistent.
    con.execute("PRAGMA synchronous=NORMAL")
    con.executescript(_SCHEMA)
    return con


def _resolve(path):
    """Accept either the store file or the sweep directory that holds it."""
    p = Path(path)
    return p / STORE_NAME if p.is_dir() else p


class ResultStore:
    """Writer for a sweep's SQLite store.

    Parameters
    ----------
    path : str or Path
        The ``.sqlite`` file or a directory (then ``DIR/results.sqlite``); created if missing.

    Examples
    --------
    >>> with ResultStore(tmp_path) as store:            # doctest: +SKIP
    ...     store.write_rows([row], references={ref_key: ("tv2:skip", solution_dict)})
    """

    def __init__(self, path):
        p = Path(path)
        self.path = p / STORE_NAME if (p.is_dir() or p.suffix == "") else p
        self._con = _connect(self.path)

    def close(self):
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def write_rows(self, rows, references=None):
        """Write finished runs (and the references they use) in one transaction.

        Parameters
        ----------
        rows : list of dict
            Keys as the ``runs`` columns; JSON columns may hold Python objects.
        references : dict, optional
            ``{reference_key: (name, solution_dict)}``; stored once (first writer wins).

        Returns
        -------
        int
            Number of rows inserted or healed (finished duplicates are ignored).
        """
        values = []
        for row in rows:
            unknown = set(row) - set(_RUN_COLUMNS)
            if unknown:
                raise ValueError(f"unknown result columns: {sorted(unknown)}")
            if row.get("status") not in STATUSES:
                raise ValueError(f"status must be one of {STATUSES}; got {row.get('status')!r}")
            values.append(tuple(
                json.dumps(row.get(c), allow_nan=True) if c in _JSON_COLUMNS and row.get(c) is not None
                else row.get(c)
                for c in _RUN_COLUMNS
            ))
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            before = con.total_changes
            for k, (name, sol) in (references or {}).items():
                con.execute("INSERT OR IGNORE INTO refs (key, name, solution) VALUES (?, ?, ?)",
                            (k, name, json.dumps(sol, allow_nan=True)))
            ref_changes = con.total_changes - before
            con.executemany(_UPSERT, values)
            changed = con.total_changes - before - ref_changes
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return changed

    def record_sweep(self, name, config_dict, timestamp):
        """Remember the configuration of a sweep (for the report)."""
        self._con.execute(
            "INSERT INTO sweeps (name, config, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET config = excluded.config, updated = excluded.updated",
            (name, json.dumps(config_dict), timestamp),
        )

    def finished_keys(self):
        q = f"SELECT key FROM runs WHERE status IN ({', '.join('?' * len(FINAL_STATUSES))})"
        return {k for (k,) in self._con.execute(q, FINAL_STATUSES)}


def finished_keys(path) -> set:
    """Keys of the finished (``ok`` or ``diverged``) runs in a store; empty if there is none."""
    p = _resolve(path)
    if not p.exists():
        return set()
    with closing(_connect(p, readonly=True)) as con:
        q = f"SELECT key FROM runs WHERE status IN ({', '.join('?' * len(FINAL_STATUSES))})"
        try:
            return {k for (k,) in con.execute(q, FINAL_STATUSES)}
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a store being created right now
                return set()
            raise


def _flatten(prefix, d, out):
    for k, v in d.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and v:
            _flatten(name, v, out)
        elif isinstance(v, (list, dict)):
            out[name] = json.dumps(v)  # keep cells hashable so groupby/unique work
        else:
            out[name] = v


def load_results(path):
    """All runs of a store as a flat :class:`pandas.DataFrame`.

    Columns: the store's columns (``key``, ``sweep``, ``status``, ``error``, ``seed``,
    ``wall_time``, ``timestamp``, ``solver_*``, ``function`` and ``config`` as JSON strings), the grid
    coordinates (``width``, ``n``, ``weight_decay``, ``optimizer``, ``lr``, ...), every metric
    under its own name (``linf``, ``l2``, ...), every config value as a dotted column
    (``problem.target``, ``model.skip``, ...) and versions as ``version.<package>``.
    ``df.attrs["metrics"]`` lists the metric columns.

    Parameters
    ----------
    path : str or Path
        The store file or the sweep directory.
    """
    import pandas as pd

    p = _resolve(path)
    with closing(_connect(p, readonly=True)) as con:
        cur = con.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs ORDER BY timestamp, key")
        raw = cur.fetchall()
    records, metric_names = [], {}
    for tup in raw:
        row = dict(zip(_RUN_COLUMNS, tup))
        rec = {c: row[c] for c in _RUN_COLUMNS if c not in _JSON_COLUMNS}
        rec["function"] = row["function"]
        rec["config"] = row["config"]
        rec.update(json.loads(row["coords"]))
        metrics = json.loads(row["metrics"]) if row["metrics"] else {}
        metric_names.update(dict.fromkeys(metrics))
        _flatten("", metrics, rec)
        _flatten("", json.loads(row["config"]), rec)
        for k, v in (json.loads(row["versions"]) if row["versions"] else {}).items():
            rec[f"version.{k}"] = v
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    if df.empty:
        df = pd.DataFrame(columns=[c for c in _RUN_COLUMNS if c not in _JSON_COLUMNS or c == "function"])
    df.attrs["metrics"] = list(metric_names)
    return df


def load_references(path) -> dict:
    """``{reference_key: (name, solution_dict)}`` of a store."""
    with closing(_connect(_resolve(path), readonly=True)) as con:
        return {k: (name, json.loads(sol)) for k, name, sol in con.execute("SELECT key, name, solution FROM refs")}


def load_sweeps(path) -> dict:
    """``{sweep name: config dict}`` recorded in a store."""
    with closing(_connect(_resolve(path), readonly=True)) as con:
        return {name: json.loads(cfg) for name, cfg in con.execute("SELECT name, config FROM sweeps")}
