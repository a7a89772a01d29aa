"""The package version (one home: setup.cfg reads it, the CLI and stored runs report it)."""

__version__ = "0.2.0.dev0"
