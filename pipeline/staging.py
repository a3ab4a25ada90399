"""Staged points: one small HDF5 file per finished point, written atomically.

A staged file holds exactly the dataset the country file will hold, so packing is a raw copy
(H5Ocopy, no recompression) and a staged point is trusted only once renamed into place.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py

from exports.grid import PatchGrid
from exports.source import PointStack
from lucas.errors import OutputError
from pipeline.h5format import dataset_name, write_point

TMP_SUFFIX = ".tmp"


def staging_dir(out_dir: Path, year: int, country: str) -> Path:
    return out_dir / str(year) / ".staging" / country


def staged_path(stage_dir: Path, point_id: int) -> Path:
    return stage_dir / f"{dataset_name(point_id)}.h5"


def stage_point(
    stage_dir: Path,
    stack: PointStack,
    grid: PatchGrid,
    attributes: Mapping[str, Any],
) -> Path:
    """Write a point's stack to ``stage_dir`` via temp file + fsync + rename."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    final = staged_path(stage_dir, stack.point_id)
    tmp = final.with_name(final.name + TMP_SUFFIX)
    try:
        with h5py.File(tmp, "w") as f:
            write_point(
                f,
                stack.point_id,
                stack.data,
                stack.image_ids,
                grid.crs,
                grid.transform_tuple(),
                attributes,
            )
        _fsync(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def staging_error(e: OSError, stage_dir: Path, point_id: int) -> OutputError:
    """The run-stopping error for a staged write that failed (disk full, permissions)."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(
            f"disk full while staging point {point_id:08d} in {stage_dir}: free space there "
            "and run the same command again (finished points are kept)"
        )
    return OutputError(
        f"cannot stage point {point_id:08d} in {stage_dir}: {e}; fix it and run the same "
        "command again (finished points are kept)"
    )


def remove_temp_files(stage_dir: Path) -> int:
    """Delete leftovers of writes interrupted by a crash; returns how many."""
    if not stage_dir.exists():
        return 0
    leftovers = list(stage_dir.glob(f"*{TMP_SUFFIX}"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
