"""Graceful stops: the first Ctrl-C (SIGINT) or SIGTERM asks the run to stop after the unit
in flight.

SIGTERM is what batch schedulers (SLURM, Kubernetes, systemd) send on pre-emption, usually
some seconds before a SIGKILL: it stops the run exactly as Ctrl-C does, so the work in
flight is recorded and the user is told how to resume. Stages poll :func:`stop_requested`
between units; a second signal (either) interrupts at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_stop = threading.Event()
_stopped_by: list[int] = []  # the signal that raised the flag (none: a stop requested in code)


def stop_requested() -> bool:
    return _stop.is_set()


def request_stop() -> None:
    _stop.set()


def stop_signal() -> int | None:
    """The signal that asked the run to stop (SIGINT or SIGTERM), if one did."""
    return _stopped_by[0] if _stopped_by else None


@contextmanager
def graceful_interrupts() -> Iterator[None]:
    """Within the block, SIGINT or SIGTERM sets the stop flag once, then raises
    KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if _stop.is_set():
            raise KeyboardInterrupt
        _stopped_by[:] = [signum]
        _stop.set()

    _stop.clear()
    _stopped_by.clear()
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
