"""The results store: one SQLite file per sweep directory, one row per run.

Design
------
- The primary key is the run's :attr:`~minnorm.comparison.sweeps.config.RunSpec.key`, so re-running a sweep
  skips what is done and never duplicates a row.
- Each run is written as soon as it is measured, in its own transaction (``BEGIN IMMEDIATE``
  ... ``COMMIT``) in WAL mode, so a ``kill -9`` loses only the runs not yet written: a
  transaction is either entirely in the file or not at all.
- Concurrent sweeps into one store share the work through claims (table ``claims``: run key,
  owner, host, pid, heartbeat time). A sweep claims a population's runs, in one ``BEGIN
  IMMEDIATE`` transaction, just before it starts them; a run claimed by a live owner is left to
  it. A claim whose owner is dead (same host, pid gone) or silent for :data:`STALE_AFTER` seconds
  is taken over, so a killed sweep never blocks a re-run.
- ``"ok"`` and ``"diverged"`` rows are final. A ``"failed"`` row (an exception, e.g. a bug or
  a solver failure) is replaced when the run is retried, so a re-run after a fix heals it.
- Solutions of references are stored once per reference (table ``references``); each run
  stores its network's exact function (``PiecewiseLinear.to_dict``), so plots never retrain.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from solvers.errors import InputError

__all__ = ["ResultStore", "StoreError", "load_results", "load_references", "finished_keys", "STORE_NAME",
           "FINAL_STATUSES", "STALE_AFTER"]

#: File name of the store inside a sweep's output directory.
STORE_NAME = "results.sqlite"
#: Statuses that mark a run as finished (not retried on resume).
FINAL_STATUSES = ("ok", "diverged")
STATUSES = ("ok", "failed", "diverged")
#: Seconds without a heartbeat after which another owner's claim may be taken over.
STALE_AFTER = 60.0


class StoreError(InputError):
    """The results store cannot be used: not SQLite, not a minnorm store, damaged, or a directory."""

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
CREATE TABLE IF NOT EXISTS claims (
    key       TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    heartbeat REAL NOT NULL
);
"""
# Tables (and their columns) a store must have to be read; `claims` is created on first write.
_REQUIRED = {"runs": None, "refs": ("key", "name", "solution"), "sweeps": ("name", "config", "updated")}

_RUN_COLUMNS = ("key", "sweep", "population", "config", "coords", "metrics", "function", "reference_key",
                "status", "error", "solver_status", "solver_value", "solver_lower_bound", "solver_gap",
                "solver", "versions", "seed", "wall_time", "timestamp")
_JSON_COLUMNS = {"config", "coords", "metrics", "function", "versions"}

_FINISHED = f"SELECT key FROM runs WHERE status IN ({', '.join('?' * len(FINAL_STATUSES))})"
# A finished row is never overwritten; a failed one is replaced by its retry.
_UPSERT = (
    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))}) "
    "ON CONFLICT(key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c != "key")
    + " WHERE runs.status = 'failed'"
)


def _check_schema(con, path, *, writer=False):
    """Raise :class:`StoreError` unless ``con`` is a minnorm store; return False if it has no tables.

    A writer also accepts a store whose creation was interrupted (some of our tables, no others);
    a reader needs all of them.
    """
    try:
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return False
        ours = set(_REQUIRED) | {"claims"}
        missing = [t for t in _REQUIRED if t not in tables]
        if missing and (not writer or not tables <= ours):
            raise StoreError(f"{path}: not a minnorm results store (no table {', '.join(missing)}; "
                             f"tables: {', '.join(sorted(tables))})")
        for table, need in _REQUIRED.items():
            if table not in tables:
                continue
            cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            absent = [c for c in (need or _RUN_COLUMNS) if c not in cols]
            if absent:
                raise StoreError(f"{path}: not a minnorm results store (table {table} lacks {', '.join(absent)})")
        # quick_check reads every page: a truncated or overwritten file is reported here, not mid-sweep.
        problems = [m for (m,) in con.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise StoreError(f"{path}: damaged results store (sqlite quick_check: {'; '.join(problems[:3])})")
    except sqlite3.DatabaseError as exc:
        what = "not a readable SQLite results store" if "not a database" in str(exc) else "damaged results store"
        raise StoreError(f"{path}: {what} ({exc})") from None
    return True


def _connect(path, *, readonly=False, allow_empty=False):
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path}: the results store is a directory; expected an SQLite file (remove or "
                         f"rename the directory)")
    if readonly:
        if not path.exists():
            raise FileNotFoundError(f"no results store at {path}")
        # A plain connection (not mode=ro): readers of a WAL database may need to create its -shm file.
        con = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        try:
            # allow_empty: a store being created right now reads as empty, not as foreign.
            if not _check_schema(con, path, writer=allow_empty) and not allow_empty:
                raise StoreError(f"{path}: empty file, not a minnorm results store")
        except BaseException:
            con.close()
            raise
        return con
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60.0, isolation_level=None)  # autocommit; explicit BEGIN below
    try:
        # Checked before anything is written: a foreign or damaged file is reported, never altered.
        _check_schema(con, path, writer=True)
        con.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against a killed process (the WAL is in the OS cache); only power loss can
        # drop the last commits, and then the file is still consistent.
        con.execute("PRAGMA synchronous=NORMAL")
        con.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        con.close()
        raise StoreError(f"{path}: not a writable SQLite results store ({exc})") from None
    except BaseException:
        con.close()
        raise
    return con


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class Owner:
    """Who claims runs: ``host:pid:token`` (the token tells two lives of one pid apart)."""

    def __init__(self):
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.name = f"{self.host}:{self.pid}:{os.urandom(4).hex()}"

    def __str__(self):
        return self.name


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
        # A directory named like a store file is a mistake to report, not a sweep directory to write into.
        meant_file = p.name == STORE_NAME or p.suffix in (".sqlite", ".sqlite3", ".db")
        self.path = p / STORE_NAME if ((p.is_dir() and not meant_file) or p.suffix == "") else p
        self._con = _connect(self.path)
        self._stale_after = STALE_AFTER

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
            # A written run is done with, whoever claimed it.
            con.executemany("DELETE FROM claims WHERE key = ?", [(v[0],) for v in values])
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
        """Keys of the finished (``ok`` or ``diverged``) runs."""
        return {k for (k,) in self._con.execute(_FINISHED, FINAL_STATUSES)}

    def _live(self, owner, host, pid, heartbeat, now):
        if host == owner.host and not _pid_alive(pid):
            return False
        return now - heartbeat < self._stale_after

    def claim(self, keys, owner):
        """Claim the runs ``keys`` for ``owner`` in one transaction; return ``(claimed, taken)``.

        ``claimed``: keys now held by ``owner`` (unfinished, and unclaimed, claimed by ``owner``
        already, or claimed by a dead or silent owner). ``taken``: keys finished meanwhile or held
        by another live owner -- left alone.
        """
        keys = list(dict.fromkeys(keys))
        con, now = self._con, time.time()
        con.execute("BEGIN IMMEDIATE")
        try:
            finished, held = set(), {}
            for i in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                chunk = keys[i:i + 500]
                marks = ", ".join("?" * len(chunk))
                finished.update(k for (k,) in con.execute(
                    f"SELECT key FROM runs WHERE key IN ({marks}) AND status IN "
                    f"({', '.join('?' * len(FINAL_STATUSES))})", chunk + list(FINAL_STATUSES)))
                held.update({k: rest for k, *rest in con.execute(
                    f"SELECT key, owner, host, pid, heartbeat FROM claims WHERE key IN ({marks})", chunk)})
            claimed, taken = [], []
            for k in keys:
                h = held.get(k)
                if k in finished or (h is not None and h[0] != owner.name and self._live(owner, *h[1:], now)):
                    taken.append(k)
                else:
                    claimed.append(k)
            con.executemany("INSERT OR REPLACE INTO claims (key, owner, host, pid, heartbeat) VALUES (?, ?, ?, ?, ?)",
                            [(k, owner.name, owner.host, owner.pid, now) for k in claimed])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return claimed, taken

    def release(self, owner):
        """Drop every claim of ``owner`` (its sweep is over)."""
        self._con.execute("DELETE FROM claims WHERE owner = ?", (owner.name,))

    def claimed_elsewhere(self, keys, owner):
        """Of ``keys``, those unfinished and held by another live owner now."""
        keys, now = set(keys), time.time()
        rows = self._con.execute("SELECT key, owner, host, pid, heartbeat FROM claims WHERE owner != ?",
                                 (owner.name,)).fetchall()
        return {k for k, _, *h in rows if k in keys and self._live(owner, *h, now)} - self.finished_keys()


def heartbeat(path, owner, stop, every=5.0):
    """Refresh ``owner``'s claims every ``every`` seconds until the event ``stop`` is set.

    Runs in a thread of the sweep's parent, on its own connection: a long population trained in
    the main thread (serial sweeps) must not let the claims look abandoned.
    """
    with closing(sqlite3.connect(path, timeout=60.0, isolation_level=None)) as con:
        while not stop.wait(every):
            try:
                con.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?", (time.time(), owner.name))
            except sqlite3.OperationalError:  # busy for a minute: try again at the next beat
                pass


def finished_keys(path) -> set:
    """Keys of the finished (``ok`` or ``diverged``) runs in a store; empty if there is none."""
    p = _resolve(path)
    if not p.exists():
        return set()
    with closing(_connect(p, readonly=True, allow_empty=True)) as con:
        try:
            return {k for (k,) in con.execute(_FINISHED, FINAL_STATUSES)}
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a store being created right now
                return set()
            raise StoreError(f"{p}: damaged results store ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{p}: damaged results store ({exc})") from None


def _query(con, path, sql, params=()):
    """All rows of ``sql``; a damaged page met while reading becomes a :class:`StoreError`."""
    try:
        return con.execute(sql, params).fetchall()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: damaged results store ({exc})") from None


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
        raw = _query(con, p, f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs ORDER BY timestamp, key")
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
    p = _resolve(path)
    with closing(_connect(p, readonly=True)) as con:
        return {k: (name, json.loads(sol)) for k, name, sol in _query(con, p, "SELECT key, name, solution FROM refs")}


def load_sweeps(path) -> dict:
    """``{sweep name: config dict}`` recorded in a store."""
    p = _resolve(path)
    with closing(_connect(p, readonly=True)) as con:
        return {name: json.loads(cfg) for name, cfg in _query(con, p, "SELECT name, config FROM sweeps")}
