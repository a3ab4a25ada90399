"""Run ``etl`` in this process and SIGKILL it at a chosen moment (used by the crash tests).

Usage: python crash_harness.py <moment> <n> -- <etl arguments>

Moments: ``stage`` (the n-th staged point file, right after its rename, before the ledger
records it), ``stage-tmp`` (while the n-th staged file is still a temp file), ``pack`` (after
the n-th dataset copied into the country file's temp file), ``ledger`` (before the n-th ledger
transaction). A real SIGKILL: no cleanup handler runs, exactly like a power loss or kill -9.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def _after_nth(n: int, func: Callable[..., Any], before: bool = False) -> Callable[..., Any]:
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if before and calls == n:
            os.kill(os.getpid(), signal.SIGKILL)
        result = func(*args, **kwargs)
        if not before and calls == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapper


def main() -> None:
    moment, n = sys.argv[1], int(sys.argv[2])
    etl_args = sys.argv[sys.argv.index("--") + 1 :]
    import h5py

    import pipeline.ledger

    if moment == "stage":
        os.replace = _after_nth(n, os.replace)
    elif moment == "stage-tmp":
        os.replace = _after_nth(n, os.replace, before=True)
    elif moment == "pack":
        h5py.Group.copy = _after_nth(n, h5py.Group.copy)  # type: ignore[method-assign]
    elif moment == "ledger":
        pipeline.ledger.Ledger.record = _after_nth(  # type: ignore[method-assign]
            n, pipeline.ledger.Ledger.record, before=True
        )
    else:
        raise SystemExit(f"unknown moment {moment}")
    from pipeline.cli import main as etl

    sys.argv = ["etl", *etl_args]
    etl()


if __name__ == "__main__":
    main()
