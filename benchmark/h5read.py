"""Read the per-country HDF5 files of ARCHITECTURE.md "HDF5 layout" (the benchmark's only input).

Only the 17×17 region the models need is read from each point's (T, 64, 64) dataset, and
the point's scalar attributes (LUCAS columns) are kept as a table row. Where the region lies
is taken from the file's grid facts (``exports.grid.GridFacts``: patch size, the point's
pixel), so a file on another grid is read around its own point; files without them are on
the Sen4Map grid (point in [32, 32]).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from benchmark.composites import HALF_REGION, REGION_SIZE, region_around
from exports.grid import GridFacts
from lucas.errors import ConfigError, InputFormatError

log = logging.getLogger(__name__)

POINT_PREFIX = "Lucas_Point_"
_COUNTRY_FILE = re.compile(r"^[A-Z]{2}$")
_NON_TABLE_ATTRS = frozenset({"Image_ID", "transform"})


@dataclass
class PointBatch:
    """A batch of points read from one file, in file order."""

    names: list[str] = field(default_factory=list)
    stacks: list[np.ndarray] = field(default_factory=list)  # compound (T, 17, 17)
    months: list[np.ndarray] = field(default_factory=list)  # (T,) 1..12
    attrs: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)


def country_files(data_dir: Path, countries: Sequence[str] | None = None) -> list[Path]:
    """The ``<CC>.h5`` files of a year folder, optionally only the given countries."""
    if not data_dir.is_dir():
        raise ConfigError(f"benchmark --data {data_dir}: not a folder")
    found = {
        p.stem.upper(): p for p in sorted(data_dir.glob("*.h5")) if _COUNTRY_FILE.match(p.stem)
    }
    if countries is None:
        if not found:
            raise ConfigError(f"benchmark --data {data_dir}: no <CC>.h5 files in it")
        return [found[c] for c in sorted(found)]
    missing = [c for c in countries if c.upper() not in found]
    if missing:
        raise ConfigError(
            f"benchmark --countries: no file for {', '.join(missing)} in {data_dir} "
            f"(found: {', '.join(sorted(found)) or 'none'})"
        )
    return [found[c.upper()] for c in countries]


def image_months(image_ids: Sequence[Any]) -> np.ndarray:
    """Acquisition month (1..12) of each Image_ID ``YYYYMMDDTHHMMSS_…`` (chars 4:6)."""
    months = np.empty(len(image_ids), dtype=np.int64)
    for i, raw in enumerate(image_ids):
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            months[i] = int(text[4:6])
        except ValueError as e:
            raise InputFormatError(f"Image_ID {text!r}: no YYYYMMDD date at its start") from e
        if not 1 <= months[i] <= 12:
            raise InputFormatError(f"Image_ID {text!r}: month {months[i]} out of range")
    return months


def _scalar(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def point_attributes(ds: h5py.Dataset) -> dict[str, Any]:
    """The dataset's scalar attributes (LUCAS columns, crs), arrays left out."""
    out: dict[str, Any] = {}
    for key, value in ds.attrs.items():
        if key in _NON_TABLE_ATTRS or (isinstance(value, np.ndarray) and value.ndim > 0):
            continue
        out[key] = _scalar(value)
    return out


def point_names(path: Path) -> list[str]:
    """Names of the point datasets of a file, sorted."""
    with h5py.File(path, "r") as f:
        return sorted(k for k in f if k.startswith(POINT_PREFIX))


def grid_facts(f: h5py.File) -> GridFacts:
    """The grid a file says it is on (the Sen4Map grid when it says nothing)."""
    try:
        return GridFacts.from_attributes(f.attrs)
    except (TypeError, ValueError, IndexError) as e:
        raise InputFormatError(
            f"{f.filename}: unreadable grid attributes patch_size / center_pixel / "
            f"pixel_size_m ({e})"
        ) from e


def region_of(grid: GridFacts, filename: str) -> tuple[slice, slice]:
    """(rows, cols) of the 17×17 region around the grid's point pixel, refused when the
    patch leaves no room for it (the models need 8 pixels on each side of the point)."""
    row, col = grid.center_pixel
    if min(row, col) < HALF_REGION or max(row, col) + HALF_REGION >= grid.patch_size:
        raise InputFormatError(
            f"{filename}: grid of {grid.patch_size}×{grid.patch_size} pixels with the point "
            f"in pixel [{row}, {col}] leaves no room for the {REGION_SIZE}×{REGION_SIZE} "
            f"region the benchmark needs ({HALF_REGION} pixels on each side of the point)"
        )
    return region_around(row), region_around(col)


def read_point(
    ds: h5py.Dataset, grid: GridFacts
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(compound region stack (T, 17, 17), months (T,), scalar attributes) of one point."""
    size = grid.patch_size
    if ds.ndim != 3 or ds.dtype.names is None or "SCL" not in ds.dtype.names:
        raise InputFormatError(
            f"{ds.file.filename}:{ds.name}: expected a (T, {size}, {size}) compound dataset "
            "with SCL"
        )
    rows, cols = region_of(grid, ds.file.filename)
    if ds.shape[1] < rows.stop or ds.shape[2] < cols.stop:
        raise InputFormatError(
            f"{ds.file.filename}:{ds.name}: {ds.shape[1]}×{ds.shape[2]} pixels, too small "
            f"for rows {rows.start}–{rows.stop - 1}, cols {cols.start}–{cols.stop - 1} "
            "around the point"
        )
    ids = ds.attrs.get("Image_ID", np.array([], dtype=object))
    months = image_months(list(np.atleast_1d(ids)))
    if len(months) != ds.shape[0]:
        raise InputFormatError(
            f"{ds.file.filename}:{ds.name}: {ds.shape[0]} time steps but {len(months)} Image_IDs"
        )
    if ds.shape[0] == 0:
        return np.zeros((0, REGION_SIZE, REGION_SIZE), dtype=ds.dtype), months, point_attributes(ds)
    stack = ds[:, rows, cols]
    return stack, months, point_attributes(ds)


def read_batches(path: Path, batch_size: int = 64) -> Iterator[PointBatch]:
    """Points of one country file in sorted name order, ``batch_size`` at a time."""
    with h5py.File(path, "r") as f:
        grid = grid_facts(f)
        region_of(grid, str(path))  # refuse the file before reading any point of it
        names = sorted(k for k in f if k.startswith(POINT_PREFIX))
        batch = PointBatch()
        for name in names:
            stack, months, attrs = read_point(f[name], grid)
            batch.names.append(name)
            batch.stacks.append(stack)
            batch.months.append(months)
            batch.attrs.append(attrs)
            if len(batch) >= batch_size:
                yield batch
                batch = PointBatch()
        if len(batch):
            yield batch


def file_bands(path: Path) -> tuple[str, ...]:
    """Band fields present in a file (from its first point), SCL excluded."""
    with h5py.File(path, "r") as f:
        for key in f:
            if key.startswith(POINT_PREFIX):
                return tuple(n for n in (f[key].dtype.names or ()) if n != "SCL")
    return ()
