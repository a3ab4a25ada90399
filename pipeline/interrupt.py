"""Graceful Ctrl-C: the first SIGINT asks the run to stop after the unit in flight.

Stages poll :func:`stop_requested` between units; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_stop = threading.Event()


def stop_requested() -> bool:
    return _stop.is_set()


def request_stop() -> None:
    _stop.set()


@contextmanager
def graceful_interrupts() -> Iterator[None]:
    """Within the block, SIGINT sets the stop flag once, then raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if _stop.is_set():
            raise KeyboardInterrupt
        _stop.set()

    _stop.clear()
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
