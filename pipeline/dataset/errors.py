"""The run-stopping errors of writing outputs, shared by every writer (and the Dask tasks)."""

from __future__ import annotations

import errno
from pathlib import Path

from lucas.errors import OutputError

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(e: BaseException) -> bool:
    """Whether an error is a full disk or quota: an ``OSError`` with its errno, or HDF5's
    ``RuntimeError`` / ``OSError`` whose text carries the write's ``errno = 28``."""
    if isinstance(e, OSError) and e.errno in FULL_ERRNOS:
        return True
    return any(f"errno = {n}," in str(e) for n in FULL_ERRNOS)


def staging_error(e: Exception, stage_dir: Path, point_id: int) -> OutputError:
    """The run-stopping error for a staged write that failed (disk full, permissions)."""
    if is_disk_full(e):
        return OutputError(
            f"disk full while staging point {point_id:08d} in {stage_dir}: free space there "
            "and run the same command again (finished points are kept)"
        )
    return OutputError(
        f"cannot stage point {point_id:08d} in {stage_dir}: {e}; fix it and run the same "
        "command again (finished points are kept)"
    )


def export_disk_full(e: BaseException, stage_dir: Path, points: int) -> OutputError:
    """A full disk met anywhere in an export batch (the source's own files included)."""
    where = getattr(e, "filename", None) or stage_dir
    return OutputError(
        f"disk full while exporting a batch of {points} point(s) (writing {where}): free "
        "space there and run the same command again (finished points are kept)"
    )
