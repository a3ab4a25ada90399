"""The Sentinel-1 writer: stage one point, pack a country into ``<CC>_S1.h5``.

The same machinery as the Sen4Map writer (staged file built in memory, temp + fsync +
rename; pack by raw dataset copy, temp + rename), with the radar layout of
:mod:`pipeline.dataset.s1_format`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exports.grid import PatchGrid
from exports.source import PointStack
from pipeline.dataset import sen4map_pack
from pipeline.dataset.errors import is_disk_full, staging_error
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.s1_format import s1_file_attributes, write_s1_point
from pipeline.dataset.sen4map_writer import (
    remove_temp_files,
    stage_point,
    staged_path,
    staged_problem,
)


@dataclass(frozen=True)
class Sentinel1Writer:
    """``<CC>_S1.h5`` beside ``<CC>.h5``; picklable, stateless (a DatasetWriter)."""

    name: str = "sen4map_s1"

    def output_path(self, layout: OutputLayout, year: int, country: str) -> Path:
        return layout.s1_file(year, country)

    def stage(self, stage_dir: Path, stack: PointStack, grid: PatchGrid,
              attributes: Mapping[str, Any]) -> Path:
        try:
            return stage_point(stage_dir, stack, grid, attributes, write=write_s1_point)
        except (OSError, RuntimeError) as e:
            if isinstance(e, OSError) or is_disk_full(e):
                raise staging_error(e, stage_dir, stack.point_id) from e
            raise

    def staged_path(self, stage_dir: Path, unit_id: int) -> Path:
        return staged_path(stage_dir, unit_id)

    def check_staged(self, path: Path, unit_id: int) -> str | None:
        return staged_problem(path, unit_id)

    def remove_unfinished(self, stage_dir: Path) -> int:
        return remove_temp_files(stage_dir)

    def pack(self, staged: Sequence[tuple[int, Path]], target: Path,
             attributes: Mapping[str, Any],
             progress: Callable[[int], None] | None = None) -> Path:
        return sen4map_pack.pack_country(staged, target, attributes, progress)

    def check_packed(self, target: Path, unit_ids: Sequence[int]) -> str | None:
        return sen4map_pack.packed_problem(target, unit_ids)

    def remove_stale(self, target: Path) -> int:
        return sen4map_pack.remove_stale_temp_files(target)

    def file_attributes(self, **run: Any) -> dict[str, Any]:
        return s1_file_attributes(**run)
