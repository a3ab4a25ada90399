"""Packing a Sen4Map country file: staged points → ``<out>/<year>/<CC>.h5``, atomically.

The country file is assembled in a temp file beside the target and renamed over it only when
complete and flushed, so a crash or a full disk leaves the previous file untouched.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from exports.grid import SEN4MAP_GRID
from lucas.errors import OutputError
from lucas.safe_files import remove_leftovers, replace_atomically
from pipeline.dataset.errors import is_disk_full
from pipeline.dataset.sen4map_format import FORMAT_VERSION, dataset_name

log = logging.getLogger(__name__)

SPACE_MARGIN = 1 << 20  # HDF5 metadata beyond the staged datasets, and some slack


def pack_country(
    staged: Sequence[tuple[int, Path]],
    target: Path,
    file_attributes: Mapping[str, Any],
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Copy every staged point dataset, in point-id order, into ``target`` (temp + rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    needed = sum(p.stat().st_size for _, p in staged)
    if shutil.disk_usage(target.parent).free < needed + SPACE_MARGIN:
        # Refused before HDF5 writes a byte: a write HDF5 cannot complete breaks its library
        # (RuntimeError on close, then a segfault), so a full disk must never reach it.
        raise _write_error(OSError(errno.ENOSPC, "not enough free space"), target, needed)

    def write(path: Path) -> None:
        with h5py.File(path, "w", libver=("earliest", "latest")) as out:
            for point_id, staged_file in sorted(staged):
                _copy_point(out, point_id, staged_file)
                if progress is not None:
                    progress(1)
            for key, value in file_attributes.items():
                out.attrs[key] = value
            out.attrs["point_count"] = len(staged)
            out.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")

    try:
        replace_atomically(target, write, tmp, sync_folder=True)
    except OutputError:
        raise
    except (OSError, RuntimeError) as e:  # HDF5 reports some write errors as RuntimeError
        if isinstance(e, RuntimeError) and not is_disk_full(e):
            raise
        raise _write_error(e, target, needed) from e
    log.info("packed %d points into %s", len(staged), target)
    return target


def _copy_point(out: h5py.File, point_id: int, staged_file: Path) -> None:
    """Copy one staged dataset; a staged file that cannot be read is named as such (the next
    run's check finds it the same way and re-exports the point)."""
    name = dataset_name(point_id)
    try:
        src = h5py.File(staged_file, "r")
    except OSError as e:
        raise OutputError(f"staged file {staged_file} of point {point_id:08d} is damaged ({e}); "
                          "run the same command again: it re-exports the point") from e
    with src:
        out.copy(src[name], name)


def packed_problem(target: Path, point_ids: Sequence[int]) -> str | None:
    """Why a packed file does not hold what the ledger says: it does not open, or its point
    count or its dataset names differ (cheap: metadata only, no pixel is read)."""
    try:
        with h5py.File(target, "r") as f:
            count = f.attrs.get("point_count")
            names = set(f)
    except (OSError, RuntimeError) as e:
        return f"unreadable ({e})"
    if count is None or int(count) != len(point_ids):
        return f"its point_count is {count}, the ledger says {len(point_ids)}"
    if names != {dataset_name(pid) for pid in point_ids}:
        return "its datasets differ from the points the ledger says it holds"
    return None


def remove_stale_temp_files(target: Path) -> int:
    """Delete temp files of packs killed before their rename (we hold the folder's lock)."""
    return remove_leftovers(target.parent, f".{target.name}.*.tmp")


def file_attributes_for(
    *,
    year: int,
    country: str,
    source: str,
    bands: Sequence[str],
    thresholds: Mapping[str, float],
    config_hash: str,
    producer_version: str,
) -> dict[str, Any]:
    """The file-level attributes of ARCHITECTURE.md "HDF5 layout".

    The point count and the creation time are added at pack.
    """
    attrs: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "producer": "sen4map-etl",
        "producer_version": producer_version,
        "year": int(year),
        "country": country,
        "source": source,
        "bands": np.array(list(bands), dtype=h5py.string_dtype()),
        "config_hash": config_hash,
    }
    for key, value in thresholds.items():
        attrs[key] = float(value)
    attrs.update(SEN4MAP_GRID.as_attributes())  # readers take the point's pixel from here
    return attrs


def _write_error(e: Exception, target: Path, needed: int) -> OutputError:
    # Rounded up: "free at least 0 MB" helps nobody.
    mb = max(1, math.ceil((needed + SPACE_MARGIN) / 1e6))
    if is_disk_full(e):
        return OutputError(
            f"disk full while writing {target}: free at least {mb} MB in "
            f"{target.parent} and run the same command again (the previous file, if any, "
            "is untouched)"
        )
    return OutputError(f"cannot write {target}: {e}; the previous file, if any, is untouched")

