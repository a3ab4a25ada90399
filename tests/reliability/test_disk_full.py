"""Disk full while packing: the previous file stays intact, the message says how much to
free and where, and the same command run again completes.

The full disk is simulated by the error a full disk gives inside HDF5's writes: h5py raises
``OSError`` with errno ENOSPC (what it raises on a real full filesystem, e.g. /dev/full).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args
from tests.pipeline.h5compare import assert_same_content
from tests.reliability.checks import assert_finished_like_reference, temp_files


def _fail_at(n: int, func: Callable[..., Any], error: OSError) -> Callable[..., Any]:
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls >= n:
            raise error
        return func(*args, **kwargs)

    return wrapper


@pytest.mark.slow
def test_disk_full_during_pack_keeps_the_previous_file(
    demo: DemoArchive, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    args = run_args(demo, out)
    runner = CliRunner()
    assert runner.invoke(main, args).exit_code == 0
    target = out / "2018" / "AT.h5"
    before = target.read_bytes()

    full = OSError(errno.ENOSPC, "Can't write data (file write failed: errno = 28, error "
                   "message = 'No space left on device')")
    with monkeypatch.context() as mp:
        mp.setattr(h5py.Group, "copy", _fail_at(3, h5py.Group.copy, full))
        mp.setenv("COLUMNS", "400")
        failed = runner.invoke(main, [*args, "--force"])
    assert failed.exit_code == 2, failed.output
    message = " ".join(failed.output.split())
    assert f"disk full while writing {target}" in message
    free = re.search(r"free at least (\d+) MB in (\S+) and run the same command again", message)
    assert free is not None, message
    assert int(free.group(1)) >= 1 and free.group(2) == str(target.parent)
    assert "Traceback" not in failed.output
    # The previous complete file is untouched, and no half-written temp file is left.
    assert target.read_bytes() == before
    assert temp_files(out) == []

    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    assert_same_content(target, reference)
    assert_finished_like_reference(out, demo, reference)


@pytest.mark.slow
def test_disk_full_while_staging_stops_the_run_and_the_rerun_completes(
    demo: DemoArchive, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.dataset.sen4map_writer

    out = tmp_path / "out"
    args = run_args(demo, out)
    runner = CliRunner()
    full = OSError(errno.ENOSPC, "No space left on device")
    with monkeypatch.context() as mp:
        mp.setattr(pipeline.dataset.sen4map_writer, "stage_point",
                   _fail_at(4, pipeline.dataset.sen4map_writer.stage_point, full))
        mp.setenv("COLUMNS", "400")
        failed = runner.invoke(main, args)
    assert failed.exit_code == 2, failed.output
    message = " ".join(failed.output.split())
    assert "disk full while staging point" in message and "free space there" in message
    assert "Traceback" not in failed.output
    # The three points staged before the disk filled are done; no point was marked failed.
    status = runner.invoke(main, ["status", "--out", str(out)])
    assert "No failures." in status.output
    assert temp_files(out) == []

    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    assert_same_content(out / "2018" / "AT.h5", reference)
