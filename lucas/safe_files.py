"""Files every stage writes safely: atomic replacement, leftover sweeps, the output lock.

The bottom of the import graph (lucas → exports → pipeline; benchmark), so every package
writes its files the same way. Atomic replacement: the new content goes to a temporary name
in the target's folder (``.<name>.<random>.tmp``, so a sweep for ``.*.tmp`` finds leftovers
of killed runs), is flushed to disk, and is moved over the target with ``os.replace``:
readers see the old file or the new one, never a mix.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from lucas.errors import LedgerError, OutputError

LOCK_NAME = ".etl.lock"

_rename_guard: Callable[[], None] | None = None


def set_rename_guard(guard: Callable[[], None] | None) -> None:
    """Call ``guard`` right before every rename into place this process makes.

    A worker process installs one that exits once its coordinator is gone, so an orphaned
    worker never makes a file visible in a folder another run may own by now.
    """
    global _rename_guard
    _rename_guard = guard


def atomic_write(
    target: Path, write: Callable[[Path], object], hint: str = "check free space and permissions"
) -> Path:
    """Call ``write(tmp)``, fsync, rename over ``target``; ``hint`` ends the error message."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        # mkstemp makes the file 0600; the result is an ordinary output (a report, a
        # table), readable as the user's umask says, as if written with open().
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
    except OSError as e:
        raise OutputError(f"{target}: cannot write ({e}); {hint}") from e
    try:
        replace_atomically(target, write, Path(tmp_name))
    except OSError as e:
        raise OutputError(f"{target}: cannot write ({e}); {hint}") from e
    return target


@functools.cache
def _umask() -> int:
    """The process's umask (read once: setting it back at once is the only portable way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_atomically(
    target: Path, write: Callable[[Path], object], tmp: Path, *, sync_folder: bool = False
) -> Path:
    """Call ``write(tmp)``, fsync ``tmp``, rename it over ``target`` (and fsync the folder).

    The temp file is removed on any error, which is re-raised as it came (callers turn an
    ``OSError`` into the message that fits their unit of work).
    """
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    replace_together([(tmp, target)], sync_folder=sync_folder)
    return target


def replace_together(renames: Sequence[tuple[Path, Path]], *, sync_folder: bool = False) -> None:
    """Fsync every ``(tmp, target)`` temp, then rename each over its target.

    For files written side by side that are only valid as a set (the benchmark's cache):
    none becomes visible before all are on disk. A crash between two renames can still
    leave a mixed set, so readers check the parts against each other. The temp files are
    removed on any error, which is re-raised as it came; ``sync_folder`` fsyncs each
    target's folder after the renames.
    """
    try:
        for tmp, _ in renames:
            fsync_file(tmp)
        if _rename_guard is not None:
            _rename_guard()
        for tmp, target in renames:
            os.replace(tmp, target)
        if sync_folder:
            for folder in dict.fromkeys(target.parent for _, target in renames):
                fsync_file(folder)
    except BaseException:
        for tmp, _ in renames:
            tmp.unlink(missing_ok=True)
        raise


def fsync_file(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_leftovers(
    folder: Path, pattern: str, *, in_use: Callable[[Path], bool] | None = None
) -> int:
    """Delete temp files of writes killed before their rename; returns how many.

    Only safe while the folder's :class:`OutputLock` is held (no live writer owns them), or
    where ``in_use`` tells a live writer's temp file apart (those are kept).
    """
    if not folder.is_dir():
        return 0
    stale = [p for p in folder.glob(pattern) if in_use is None or not in_use(p)]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def atomic_write_text(target: Path, text: str, hint: str = "check free space and permissions") -> (
    Path
):
    """``atomic_write`` of a UTF-8 text."""
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"), hint)


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (what a ``mkdir -p`` would write into)."""
    here = path.absolute()
    while not os.path.lexists(here) and here != here.parent:
        here = here.parent
    return here


def folder_problem(folder: Path, error: OSError | None = None, flag: str = "--out") -> str | None:
    """Why ``folder`` cannot be created or written (naming the path and the fix), or None.

    Without ``error`` it only looks (nothing is written): the nearest existing part of the
    path must be a folder this process may write in. With ``error`` (a failed mkdir or
    open) it explains that error.
    """
    base = _first_existing(folder)
    code = error.errno if error is not None else None
    if code == errno.ENOTDIR or (base.exists() and not base.is_dir()):
        return (f"{flag} {folder}: {base} is a file, not a folder; choose another {flag} "
                "or move the file away")
    if code == errno.EROFS or (code is None and _read_only_fs(base)):
        return (f"{flag} {folder}: {base} is on a read-only file system; choose an {flag} "
                "on a writable disk")
    if code in (errno.EACCES, errno.EPERM) or (code is None and not os.access(
            base, os.W_OK | os.X_OK)):
        return (f"{flag} {folder}: no permission to write in {base}; choose an {flag} you "
                f"can write to, or make it writable (chmod u+w {base})")
    if error is not None:
        return f"{flag} {folder}: cannot write there ({error.strerror or error}); check free " \
               "space and permissions"
    return None


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_output_folder(folder: Path, flag: str = "--out") -> None:
    """Raise :class:`OutputError` when ``folder`` cannot be written, before anything is."""
    problem = folder_problem(folder, flag=flag)
    if problem:
        raise OutputError(problem)


class OutputLock:
    """Exclusive lock on an output folder, held for the duration of a run.

    ``fcntl.flock`` is released by the kernel when the holder exits for any reason (kill -9,
    power loss), so a crashed run never leaves a stale lock behind. The lock is on the
    folder itself, which cannot be deleted from under a run (a lock file can: a second run
    would then lock a new file and get in); ``.etl.lock`` is locked too (what older
    versions lock) and holds the pid that names the holder in the error message.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LOCK_NAME
        self._fds: list[int] = []

    def acquire(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise OutputError(folder_problem(folder, e) or str(e)) from e
        try:
            self._take(folder_fd, folder)
            try:
                file_fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise OutputError(folder_problem(folder, e) or str(e)) from e
            self._take(file_fd, folder)
        except BaseException:
            self.release()
            raise
        os.ftruncate(self._fds[-1], 0)
        os.pwrite(self._fds[-1], f"{os.getpid()}\n".encode(), 0)

    def _take(self, fd: int, folder: Path) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(fd)
            raise LedgerError(
                f"another etl process (pid {self._holder(folder)}) is working on {folder}; "
                "wait for it to finish or stop it, or use another --out"
            ) from e
        except OSError:  # a filesystem that cannot lock folders (NFS): the lock file only
            os.close(fd)
            return
        self._fds.append(fd)

    def _holder(self, folder: Path) -> str:
        """The pid in the lock file, else the kernel's record of the folder's lock."""
        try:
            pid = self.path.read_text(errors="replace").strip()
        except OSError:
            pid = ""
        return pid or flock_holder(folder) or "unknown"

    def release(self) -> None:
        for fd in reversed(self._fds):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._fds = []

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def flock_holder(path: Path) -> str:
    """The pid holding a ``flock`` on ``path`` according to ``/proc/locks`` (Linux), or ''."""
    try:
        st = os.stat(path)
        locks = Path("/proc/locks").read_text()
    except OSError:
        return ""
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in locks.splitlines():
        fields = line.split()  # id: FLOCK ADVISORY WRITE pid maj:min:inode start end
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            return fields[4]
    return ""
