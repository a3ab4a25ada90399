"""A real full disk (a small tmpfs mounted for the test) during staging, select, pack and
``--force``: the run stops with one line naming the folder to free, exit code 2, records no
point as failed, and the same command completes identically once space is freed.

Injected errors (test_disk_full.py) cannot show what a real full filesystem does: HDF5
reports a failed write as ``RuntimeError`` (then its library may segfault), SQLite answers
"database or disk is full" or a bare I/O error. The run is held at a moment (harness.py
``pause``), the disk filled, then the run let go. Mounting needs root; elsewhere these tests
are skipped with the reason.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args
from tests.reliability.checks import Paused, assert_finished_like_reference, temp_files

DISK_MB = 16  # room for the 8-point demo's whole run (about 3 MB) several times over
FILLER = "filler"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh tmpfs of DISK_MB: a filesystem that really runs out of space."""
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs mounted for the test, which needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mnt)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip() or mount.returncode}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path, leave: int = 0) -> None:
    """Take all free space but ``leave`` bytes (tmpfs counts whole pages)."""
    left = shutil.disk_usage(disk).free - leave
    fd = os.open(disk / FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        block = b"\0" * 65536
        while left > 0:
            left -= os.write(fd, block[: min(left, len(block))])
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)


def free_space(disk: Path) -> None:
    (disk / FILLER).unlink()


def _stopped_by_full_disk(rc: int, out: str, err: str, message: str) -> str:
    """The run ended with the one line, exit code 2: no segfault, no traceback."""
    text = " ".join((out + err).split())
    assert rc == 2, f"exit code {rc}: {text[-3000:]}"
    assert "Traceback" not in out + err, text[-3000:]
    assert message in text, text[-3000:]
    return text


def _failures(out: Path) -> str:
    status = CliRunner().invoke(main, ["status", "--out", str(out)])
    assert status.exit_code == 0, status.output
    return status.output


def _completes(demo: DemoArchive, out: Path, reference: Path, *extra: str) -> None:
    again = CliRunner().invoke(main, [*run_args(demo, out), *extra])
    assert again.exit_code == 0, again.output
    assert_finished_like_reference(out, demo, reference)


def _held_then_filled(moment: str, args: list[str], tmp_path: Path, disk: Path,
                      leave: int) -> tuple[int, str, str]:
    child = Paused(moment, tmp_path / "paused", args)
    try:
        fill(disk, leave)
        (tmp_path / "paused").unlink()
        return child.finish()
    finally:
        child.kill()


@pytest.mark.slow
@pytest.mark.parametrize("workers, moment, leave", [
    ("1", "stage_write:export:before#4", 16 * 1024),  # the 4th point does not fit
    ("2", "record:select:after#1", 300 * 1024),  # some points fit, the workers fill it
])
def test_disk_full_while_staging_stops_records_no_failure_and_the_rerun_completes(
    demo: DemoArchive, reference: Path, tmp_path: Path, disk: Path,
    workers: str, moment: str, leave: int,
) -> None:
    out = disk / "out"
    args = [*run_args(demo, out), "--workers", workers]
    text = _stopped_by_full_disk(*_held_then_filled(moment, args, tmp_path, disk, leave),
                                 "disk full while")
    assert "free space" in text
    free_space(disk)
    assert "No failures." in _failures(out), "a full disk is no property of a point"
    _completes(demo, out, reference)


@pytest.mark.slow
def test_disk_full_while_select_records_names_the_ledger_and_the_rerun_completes(
    demo: DemoArchive, reference: Path, tmp_path: Path, disk: Path
) -> None:
    out = disk / "out"
    rc, stdout, stderr = _held_then_filled("record:select:before#1", run_args(demo, out),
                                           tmp_path, disk, 0)
    text = _stopped_by_full_disk(rc, stdout, stderr, "disk full while writing the ledger")
    assert f"free space in {out}" in text
    free_space(disk)
    assert "No failures." in _failures(out)
    _completes(demo, out, reference)


@pytest.mark.slow
def test_disk_full_before_pack_keeps_the_staged_points_and_the_rerun_completes(
    demo: DemoArchive, reference: Path, tmp_path: Path, disk: Path
) -> None:
    out = disk / "out"
    rc, stdout, stderr = _held_then_filled("record:export:after#8", run_args(demo, out),
                                           tmp_path, disk, 200 * 1024)
    target = out / "2018" / "AT.h5"
    text = _stopped_by_full_disk(rc, stdout, stderr, f"disk full while writing {target}")
    assert f"in {target.parent} and run the same command again" in text
    assert not target.exists() and temp_files(out) == []
    free_space(disk)
    assert "No failures." in _failures(out)
    _completes(demo, out, reference)


@pytest.mark.slow
def test_disk_full_on_force_is_one_line_and_force_completes_once_freed(
    demo: DemoArchive, reference: Path, disk: Path
) -> None:
    out = disk / "out"
    _completes(demo, out, reference)
    fill(disk)
    forced = subprocess.run([sys.executable, "-c", "from pipeline.cli import main; main()",
                             *run_args(demo, out), "--force"],
                            capture_output=True, text=True, timeout=120)
    _stopped_by_full_disk(forced.returncode, forced.stdout, forced.stderr,
                          "disk full while writing the ledger")
    free_space(disk)
    _completes(demo, out, reference, "--force")
