"""The project's exception hierarchy.

Every error names the object at fault (file, row, point id, scene id) and, where one exists,
the flag or config key that fixes it. Subclasses mix in the matching built-in so callers that
only know Python's exceptions still catch them.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base class of every error this tool raises on purpose."""


class ConfigError(EtlError, ValueError):
    """A config file, a flag or a combination of them is invalid."""


class InputFormatError(EtlError, ValueError):
    """An input table or catalog cannot be read as any supported format."""


class LegendError(EtlError, ValueError):
    """A legend file is malformed or inconsistent."""


class SourceError(EtlError, RuntimeError):
    """An imagery source failed; ``transient`` says whether retrying may help."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SceneReadError(SourceError):
    """One scene (asset) could not be read for one or more points."""


class LedgerError(EtlError, RuntimeError):
    """The work ledger is locked by another run or is unusable."""


class OutputError(EtlError, OSError):
    """An output file could not be written (disk full, permissions, …)."""
