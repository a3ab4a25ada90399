"""Run ``etl`` with instrumented functions, and stop it dead at a chosen moment.

Usage::

    python harness.py trace TRACE.json -- <etl arguments>     # run through, list the moments
    python harness.py kill SPEC -- <etl arguments>            # SIGKILL at a moment
    python harness.py pause SPEC MARKER -- <etl arguments>    # at a moment: write MARKER, wait
                                                              # for a SIGINT or for MARKER to be
                                                              # deleted, then go on

A *moment* is an event: just before or just after a call of one of the instrumented
functions (below), each labelled with the stage it serves. ``SPEC`` is either the event's
1-based index in the run (as ``trace`` lists them; a run with ``--workers 1`` on the same
inputs replays the same sequence) or ``name:stage:when#k``, the k-th event with that label.

Why these functions: they are the points where something reaches the disk or the ledger
(the GeoParquet and staged-file temp writes, every ``os.replace``, every ledger
transaction, the pack's dataset copies and fsync) plus the slow calls in between (reading
the table, selecting, reading scenes), so a kill lands before, between and after every
durable step. A real SIGKILL: no cleanup handler runs, exactly like kill -9 or power loss.
Worker processes (``--workers 2``) are not instrumented: moments are in the coordinator.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Event = tuple[str, str, str]  # (name, stage, "before" | "after")

_events: list[Event] = []
_act: Callable[[int, Event], None] = lambda n, e: None  # noqa: E731


def label(event: Event) -> str:
    return ":".join(event)


def _emit(event: Event) -> None:
    _events.append(event)
    _act(len(_events), event)


def _wrap(
    func: Callable[..., Any], name: str, stage: Callable[..., str] | str
) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        where = stage(*args, **kwargs) if callable(stage) else stage
        _emit((name, where, "before"))
        result = func(*args, **kwargs)
        _emit((name, where, "after"))
        return result

    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    return wrapper


def _replace_stage(src: Any, dst: Any, *args: Any, **kwargs: Any) -> str:
    path = str(dst)
    if "/.staging/" in path:
        return "export"
    if "/points/" in path:
        return "ingest"
    return "pack" if path.endswith(".h5") else "other"


def _record_stage(ledger: Any, stage: str, *args: Any, **kwargs: Any) -> str:
    return stage


def instrument() -> None:
    """Wrap every instrumented function (module attributes, so callers see the wrappers)."""
    import h5py

    import exports.stac.source
    import lucas.output
    import lucas.safe_files
    import pipeline.dataset.sen4map_writer
    import pipeline.ledger
    import pipeline.stage_ingest

    os.replace = _wrap(os.replace, "replace", _replace_stage)
    lucas.output._write_parquet = _wrap(lucas.output._write_parquet, "parquet", "ingest")
    pipeline.stage_ingest.ingest_table = _wrap(
        pipeline.stage_ingest.ingest_table, "read_table", "ingest")
    pipeline.ledger.Ledger.record = _wrap(  # type: ignore[method-assign]
        pipeline.ledger.Ledger.record, "record", _record_stage)
    exports.stac.source.StacSource.find_scenes = _wrap(  # type: ignore[method-assign]
        exports.stac.source.StacSource.find_scenes, "find_scenes", "select")
    exports.stac.source.read_scene = _wrap(exports.stac.source.read_scene, "read_scene", "export")
    writer = pipeline.dataset.sen4map_writer
    writer.write_point = _wrap(writer.write_point, "stage_write", "export")  # type: ignore[assignment]
    h5py.Group.copy = _wrap(h5py.Group.copy, "h5copy", "pack")
    lucas.safe_files.fsync_file = _fsync_events(lucas.safe_files.fsync_file)


def _fsync_events(fsync: Callable[..., Any]) -> Callable[..., Any]:
    """The fsync of a staged point's or a country file's temp file, as a moment (one shared
    helper flushes every file now: other files, folders included, are not moments)."""
    staged, packed = _wrap(fsync, "stage_fsync", "export"), _wrap(fsync, "pack_fsync", "pack")

    def wrapper(path: Any) -> Any:
        text = str(path)
        if "/.staging/" in text and text.endswith(".tmp"):
            return staged(path)
        if text.endswith(".tmp") and ".h5." in Path(text).name:
            return packed(path)
        return fsync(path)

    return wrapper


def _matcher(spec: str) -> Callable[[int, Event], bool]:
    if spec.isdigit():
        return lambda n, e: n == int(spec)
    wanted, k = spec.rsplit("#", 1)
    seen = 0

    def match(n: int, e: Event) -> bool:
        nonlocal seen
        if label(e) != wanted:
            return False
        seen += 1
        return seen == int(k)

    return match


def _pause(marker: Path) -> None:
    """Tell the test we are here (MARKER holds our pid), then wait, up to a minute, until its
    SIGINT arrived or it deleted MARKER."""
    from pipeline.interrupt import stop_requested

    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not stop_requested() and marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def main() -> None:
    global _act
    mode = sys.argv[1]
    etl_args = sys.argv[sys.argv.index("--") + 1 :]
    trace_file: Path | None = None
    if mode == "trace":
        trace_file = Path(sys.argv[2])
    elif mode == "kill":
        hit = _matcher(sys.argv[2])

        def kill(n: int, e: Event) -> None:
            if hit(n, e):
                os.kill(os.getpid(), signal.SIGKILL)

        _act = kill
    elif mode == "pause":
        hit, marker = _matcher(sys.argv[2]), Path(sys.argv[3])
        _act = lambda n, e: _pause(marker) if hit(n, e) else None  # noqa: E731
    else:
        raise SystemExit(f"unknown mode {mode}")
    instrument()
    from pipeline.cli import main as etl

    sys.argv = ["etl", *etl_args]
    try:
        etl()
    finally:
        if trace_file is not None:
            trace_file.write_text(json.dumps([list(e) for e in _events]))


if __name__ == "__main__":
    main()
