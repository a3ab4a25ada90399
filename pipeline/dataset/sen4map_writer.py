"""The Sen4Map writer: stage one point (a small HDF5 file), pack a country (``<CC>.h5``).

A staged file holds exactly the dataset the country file will hold, so packing is a raw copy
(H5Ocopy, no recompression) and a staged point is trusted only once renamed into place
(temp + fsync + rename, :mod:`lucas.safe_files`). The point's HDF5 file is built in memory
and written with plain writes: HDF5 handed a failing write (a full disk) leaves its library
in a broken state (``RuntimeError``, then a segfault), a plain write raises ``ENOSPC``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import h5py

from exports.file_index import index_is_current, write_index
from exports.grid import PatchGrid
from exports.source import PointStack
from lucas.safe_files import remove_leftovers, replace_atomically
from pipeline.dataset import sen4map_pack
from pipeline.dataset.errors import is_disk_full, staging_error
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.sen4map_format import dataset_name, write_point

TMP_SUFFIX = ".tmp"


def staged_path(stage_dir: Path, point_id: int) -> Path:
    return stage_dir / f"{dataset_name(point_id)}.h5"


def stage_point(
    stage_dir: Path,
    stack: PointStack,
    grid: PatchGrid,
    attributes: Mapping[str, Any],
    write: Callable[[h5py.File, PointStack, PatchGrid, Mapping[str, Any]], object] | None = None,
) -> Path:
    """Write a point's stack to ``stage_dir`` via temp file + fsync + rename; ``write``
    puts the dataset into the in-memory file (default: the Sen4Map layout)."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    final = staged_path(stage_dir, stack.point_id)
    image = BytesIO()
    with h5py.File(image, "w") as f:  # the same bytes a file on disk gets
        (write or _write_sen4map)(f, stack, grid, attributes)
    return replace_atomically(final, lambda tmp: tmp.write_bytes(image.getbuffer()),
                              final.with_name(final.name + TMP_SUFFIX))


def _write_sen4map(
    f: h5py.File, stack: PointStack, grid: PatchGrid, attributes: Mapping[str, Any]
) -> None:
    write_point(f, stack.point_id, stack.data, stack.image_ids, grid.crs,
                grid.transform_tuple(), attributes)


def staged_image_ids(path: Path, point_id: int) -> list[str]:
    """The ``Image_ID`` of each step of a staged point (``--s1 closest`` pairs with them)."""
    with h5py.File(path, "r") as f:
        ids = f[dataset_name(point_id)].attrs["Image_ID"]
    return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]


def staged_problem(path: Path, point_id: int) -> str | None:
    """Why a staged file cannot be packed (missing, unreadable, without its dataset)."""
    if not path.is_file():
        return "missing"
    try:
        with h5py.File(path, "r") as f:
            if dataset_name(point_id) not in f:
                return f"no dataset {dataset_name(point_id)}"
    except (OSError, RuntimeError) as e:  # truncated, overwritten, not HDF5 at all
        return f"unreadable ({e})"
    return None


def remove_temp_files(stage_dir: Path) -> int:
    """Delete leftovers of staged writes interrupted by a crash; returns how many."""
    return remove_leftovers(stage_dir, f"*{TMP_SUFFIX}")


@dataclass(frozen=True)
class Sen4MapWriter:
    """Today's output format (:mod:`pipeline.dataset.sen4map_format`); picklable, stateless.

    Implements :class:`pipeline.dataset.writer.DatasetWriter`.
    """

    name: str = "sen4map"

    def output_path(self, layout: OutputLayout, year: int, country: str) -> Path:
        return layout.country_file(year, country)

    def stage(self, stage_dir: Path, stack: PointStack, grid: PatchGrid,
              attributes: Mapping[str, Any]) -> Path:
        try:
            return stage_point(stage_dir, stack, grid, attributes, write=self.write_dataset)
        except (OSError, RuntimeError) as e:  # HDF5 reports some write errors as RuntimeError
            if isinstance(e, OSError) or is_disk_full(e):
                raise staging_error(e, stage_dir, stack.point_id) from e
            raise

    def write_dataset(self, f: h5py.File, stack: PointStack, grid: PatchGrid,
                      attributes: Mapping[str, Any]) -> None:
        """One unit's dataset in its (in-memory) staged file: the format of this writer."""
        _write_sen4map(f, stack, grid, attributes)

    def staged_path(self, stage_dir: Path, unit_id: int) -> Path:
        return staged_path(stage_dir, unit_id)

    def staged_image_ids(self, path: Path, unit_id: int) -> list[str]:
        """The steps' ``Image_ID`` (optional writer method: ``--s1 closest`` needs it)."""
        return staged_image_ids(path, unit_id)

    def check_staged(self, path: Path, unit_id: int) -> str | None:
        return staged_problem(path, unit_id)

    def remove_unfinished(self, stage_dir: Path) -> int:
        return remove_temp_files(stage_dir)

    def pack(self, staged: Sequence[tuple[int, Path]], target: Path,
             attributes: Mapping[str, Any],
             progress: Callable[[int], None] | None = None) -> Path:
        packed = sen4map_pack.pack_country(staged, target, attributes, progress)
        self.ensure_index(packed)
        return packed

    def indexed_file(self, target: Path) -> Path:
        """The country file whose ``<CC>.index.parquet`` describes ``target``."""
        return target

    def ensure_index(self, target: Path) -> None:
        """Write the index beside the country file unless it is current (after a pack, and
        for a file found up to date: a crash between the file's rename and the index's)."""
        country_file = self.indexed_file(target)
        if country_file.is_file() and not index_is_current(country_file):
            write_index(country_file)

    def check_packed(self, target: Path, unit_ids: Sequence[int]) -> str | None:
        return sen4map_pack.packed_problem(target, unit_ids)

    def remove_stale(self, target: Path) -> int:
        return sen4map_pack.remove_stale_temp_files(target)

    def file_attributes(self, **run: Any) -> dict[str, Any]:
        return sen4map_pack.file_attributes_for(**run)
