"""Worker processes die with the coordinator that started them, and never write after it.

A kill -9 (or any death) of the coordinator runs none of its clean-up. Its process-pool
workers then kept running their queued batches, staging points into a folder the next run
owns; and because each worker holds the forkserver's "alive" pipe and the resource
tracker's, those two waited for them, N + 2 processes in all. So each worker watches the
coordinator itself (a pidfd on Linux: woken the moment it exits, zombie or not, immune to
pid reuse; elsewhere a poll of its pid) and exits at once; and, in case the exit loses the
race with a write, every rename this process makes checks first that the coordinator lives
(:func:`lucas.safe_files.set_rename_guard`). With the workers gone, the forkserver and the
resource tracker see end-of-file and exit on their own.
"""

from __future__ import annotations

import os
import select
import threading
import time

from lucas.safe_files import set_rename_guard

EXIT_ORPHANED = 75  # EX_TEMPFAIL: nobody reads it, but it reads as "stopped, not failed"
POLL_S = 0.2  # how often a coordinator without a pidfd is looked at


class Lifeline:
    """Whether the process ``pid`` (the coordinator) still lives, seen from another."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd: int | None = None
        self._gone = False
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._gone = True  # died before this worker got going
        except (AttributeError, OSError):
            pass  # no pidfd (not Linux, old kernel, seccomp): poll the pid instead

    def alive(self) -> bool:
        if self._gone:
            return False
        if self._fd is not None:
            return not self._poll(0)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _poll(self, timeout_ms: int | None) -> bool:
        """Whether the pidfd says the process exited (readable), waiting up to the timeout."""
        assert self._fd is not None
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        return bool(poller.poll(timeout_ms))

    def wait(self) -> None:
        """Block until the coordinator has exited."""
        if self._fd is not None and not self._gone:
            self._poll(None)
            return
        while self.alive():
            time.sleep(POLL_S)


def die_with(coordinator: int) -> None:
    """In a worker process: exit as soon as ``coordinator`` exits, and refuse to rename any
    file into place after it has (the temp file is left for the next run's sweep)."""
    line = Lifeline(coordinator)

    def exit_when_gone() -> None:
        line.wait()
        os._exit(EXIT_ORPHANED)

    def rename_only_while_alive() -> None:
        if not line.alive():
            os._exit(EXIT_ORPHANED)

    set_rename_guard(rename_only_while_alive)
    threading.Thread(target=exit_when_gone, name="etl-lifeline", daemon=True).start()
