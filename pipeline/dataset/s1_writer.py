"""The Sentinel-1 writer: stage one point, pack a country into ``<CC>_S1.h5``.

The same machinery as the Sen4Map writer (staged file built in memory, temp + fsync +
rename; pack by raw dataset copy, temp + rename), with the radar layout of
:mod:`pipeline.dataset.s1_format`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py

from exports.file_index import S1_SUFFIX
from exports.grid import PatchGrid
from exports.source import PointStack
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.s1_format import s1_file_attributes, write_s1_point
from pipeline.dataset.sen4map_writer import Sen4MapWriter


@dataclass(frozen=True)
class Sentinel1Writer(Sen4MapWriter):
    """``<CC>_S1.h5`` beside ``<CC>.h5``; picklable, stateless (a DatasetWriter).

    The Sen4Map writer's staging, checks and packing, with the radar layout and file name.
    """

    name: str = "sen4map_s1"

    def output_path(self, layout: OutputLayout, year: int, country: str) -> Path:
        return layout.s1_file(year, country)

    def indexed_file(self, target: Path) -> Path:
        """``<CC>.h5``: its index carries each point's radar step count."""
        return target.with_name(target.name.replace(S1_SUFFIX + ".h5", ".h5"))

    def write_dataset(self, f: h5py.File, stack: PointStack, grid: PatchGrid,
                      attributes: Mapping[str, Any]) -> None:
        write_s1_point(f, stack, grid, attributes)

    def staged_image_ids(self, path: Path, unit_id: int) -> list[str]:
        """Not a Sentinel-2 file: nothing pairs with it."""
        raise NotImplementedError("radar files are not paired with")

    def file_attributes(self, **run: Any) -> dict[str, Any]:
        return s1_file_attributes(**run)
