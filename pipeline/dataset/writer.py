"""The writer interface (stage one unit, pack a group) and the registry of output formats.

The export stage stages each finished unit through a writer, the pack stage packs a country's
staged units through the same writer; neither knows the format. Today's Sen4Map HDF5 layout
is the first implementation (:class:`~pipeline.dataset.sen4map_writer.Sen4MapWriter`); a new
format is one module implementing :class:`DatasetWriter` plus one :func:`register_writer`
line. Readers live with their users on the other side of the files (the benchmark reads the
Sen4Map files with :mod:`benchmark.h5read`; the file attributes are the shared contract).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from exports.grid import PatchGrid
from exports.source import PointStack
from lucas.errors import ConfigError
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.s1_writer import Sentinel1Writer
from pipeline.dataset.sen4map_writer import Sen4MapWriter


class DatasetWriter(Protocol):
    """Stages units and packs groups of them; picklable (it travels to worker processes)."""

    @property
    def name(self) -> str:
        """The format's name (the ``writer`` config key)."""
        ...

    def output_path(self, layout: OutputLayout, year: int, country: str) -> Path:
        """Where a country's packed output lies (the pack stage's target)."""
        ...

    def stage(self, stage_dir: Path, stack: PointStack, grid: PatchGrid,
              attributes: Mapping[str, Any]) -> Path:
        """Write one finished unit atomically; disk errors raise ``OutputError``."""
        ...

    def staged_path(self, stage_dir: Path, unit_id: int) -> Path:
        """Where a unit's staged file lies (the pack stage checks it exists)."""
        ...

    def check_staged(self, path: Path, unit_id: int) -> str | None:
        """Why a staged file cannot be packed (missing, damaged), or None: such a unit is
        exported again before packing."""
        ...

    def remove_unfinished(self, stage_dir: Path) -> int:
        """Delete staged temp files of a killed run (the folder's lock is held)."""
        ...

    def pack(self, staged: Sequence[tuple[int, Path]], target: Path,
             attributes: Mapping[str, Any],
             progress: Callable[[int], None] | None = None) -> Path:
        """Write ``target`` from the staged units (temp + rename: the old file survives)."""
        ...

    def ensure_index(self, target: Path) -> None:
        """Bring the reader's index of ``target`` up to date (written after each pack; a
        file found up to date whose index is missing or stale gets it again)."""
        ...

    def check_packed(self, target: Path, unit_ids: Sequence[int]) -> str | None:
        """Why a packed file does not hold ``unit_ids`` (damaged, other content), or None:
        such a file is packed again instead of reported up to date."""
        ...

    def remove_stale(self, target: Path) -> int:
        """Delete temp files of packs killed before their rename."""
        ...

    def file_attributes(self, **run: Any) -> dict[str, Any]:
        """The file-level attributes of a packed file, from the run's settings."""
        ...


_WRITERS: dict[str, DatasetWriter] = {}


def register_writer(writer: DatasetWriter) -> DatasetWriter:
    """Add an output format (or replace one of the same name, e.g. in a test)."""
    _WRITERS[writer.name] = writer
    return writer


def unregister_writer(name: str) -> None:
    """Remove an output format (tests that registered a toy one)."""
    _WRITERS.pop(name, None)


def get_writer(name: str) -> DatasetWriter:
    """The writer called ``name``; a ConfigError lists the registered ones."""
    try:
        return _WRITERS[name]
    except KeyError:
        raise ConfigError(f"unknown output format '{name}' (writer); choose one of "
                          f"{', '.join(_WRITERS)}") from None


register_writer(Sen4MapWriter())
register_writer(Sentinel1Writer())
