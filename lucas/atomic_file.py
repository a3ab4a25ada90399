"""Replace a file so that a crash, a kill or a full disk never leaves it half-written.

The new content goes to a temporary name in the target's folder (``.<name>.<random>.tmp``,
so a sweep for ``.*.tmp`` finds leftovers of killed runs), is flushed to disk, and is moved
over the target with ``os.replace``: readers see the old file or the new one, never a mix.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from lucas.errors import OutputError


def atomic_write(
    target: Path, write: Callable[[Path], object], hint: str = "check free space and permissions"
) -> Path:
    """Call ``write(tmp)``, fsync, rename over ``target``; ``hint`` ends the error message."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        os.close(fd)
    except OSError as e:
        raise OutputError(f"{target}: cannot write ({e}); {hint}") from e
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{target}: cannot write ({e}); {hint}") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(target: Path, text: str, hint: str = "check free space and permissions") -> (
    Path
):
    """``atomic_write`` of a UTF-8 text."""
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"), hint)
