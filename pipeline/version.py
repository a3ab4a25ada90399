"""The producer version written into every output file and shown by ``etl --version``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def producer_version() -> str:
    """The installed package's version ("unknown" when run from a bare checkout)."""
    try:
        return version("sen4map-etl")
    except PackageNotFoundError:
        return "unknown"
