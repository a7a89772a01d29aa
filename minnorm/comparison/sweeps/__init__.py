"""Sweeps: a TOML config expanded into runs (:mod:`.config`), executed serially, in worker
processes or on Dask (:mod:`.run`, :mod:`.executors`), stored row by row (:mod:`.store`) and
reported with rate tables and figures (:mod:`.report`).

Names load on first use: parsing a config imports neither torch nor dask.
"""

from minnorm._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "ConfigError": "minnorm.comparison.sweeps.config",
    "SweepConfig": "minnorm.comparison.sweeps.config",
    "RunSpec": "minnorm.comparison.sweeps.config",
    "load_config": "minnorm.comparison.sweeps.config",
    "parse_config": "minnorm.comparison.sweeps.config",
    "expand": "minnorm.comparison.sweeps.config",
    "ResultStore": "minnorm.comparison.sweeps.store",
    "StoreError": "minnorm.comparison.sweeps.store",
    "load_results": "minnorm.comparison.sweeps.store",
    "finished_keys": "minnorm.comparison.sweeps.store",
    "run_sweep": "minnorm.comparison.sweeps.run",
    "SweepSummary": "minnorm.comparison.sweeps.run",
    "SweepInterrupted": "minnorm.comparison.sweeps.run",
})
