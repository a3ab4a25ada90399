"""The run-stopping errors of writing outputs, shared by every writer (and the Dask tasks)."""

from __future__ import annotations

import errno
from pathlib import Path

from lucas.errors import OutputError


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
