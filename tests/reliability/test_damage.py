"""Damage after the fact: a truncated country file, a truncated or lost staged file (a
rename undone by a power loss), a damaged ledger page. Each is noticed by the next run:
files are packed or exported again in that same run, a damaged ledger is refused with one
line naming it and what to do (exit code 2, no traceback)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pipeline.export.stage
from pipeline.cli import main
from pipeline.demo import DemoArchive
from pipeline.ledger import LEDGER_NAME, Ledger
from tests.pipeline.conftest import run_args
from tests.reliability.checks import assert_finished_like_reference

PAGE = 4096  # SQLite's default page size


def _finished(demo: DemoArchive, out: Path, reference: Path) -> list[str]:
    args = run_args(demo, out)
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert_finished_like_reference(out, demo, reference)
    return args


def _truncate(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _one_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is not None
    return " ".join(result.output.split())


@pytest.mark.slow
def test_a_truncated_country_file_is_packed_again_not_reported_up_to_date(
    demo: DemoArchive, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = _finished(demo, out, reference)
    target = out / "2018" / "AT.h5"
    _truncate(target)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "up to date" not in again.output
    assert "packed again" in " ".join(again.output.split())
    assert_finished_like_reference(out, demo, reference)
    # Now it is current again: the next run rewrites nothing.
    mtime = target.stat().st_mtime_ns
    quiet = CliRunner().invoke(main, args)
    assert quiet.exit_code == 0 and "Nothing to do" in quiet.output
    assert target.stat().st_mtime_ns == mtime


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "lost"])
def test_a_damaged_or_lost_staged_file_is_exported_again_in_the_same_run(
    demo: DemoArchive, reference: Path, tmp_path: Path, damage: str
) -> None:
    out = tmp_path / "out"
    args = _finished(demo, out, reference)
    pid = sorted(demo.point_ids)[2]
    staged = out / "2018" / ".staging" / "AT" / f"Lucas_Point_{pid:08d}.h5"
    if damage == "truncated":
        _truncate(staged)
    else:  # the rename undone by a power loss: the ledger says done, the file is not there
        staged.unlink()
    (out / "2018" / "AT.h5").unlink()  # so the run must pack from the staged files
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())
    assert f"1 staged file(s) of AT missing or damaged (point {pid:08d}" in text
    assert "exported again" in text
    assert_finished_like_reference(out, demo, reference)


def test_the_staging_folder_is_flushed_before_the_ledger_marks_points_done(
    demo: DemoArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    record = Ledger.record

    def fsync(path: Path) -> None:
        events.append(f"fsync {Path(path).name}")

    def recording(self: Ledger, stage: str, updates: Any) -> None:
        if stage == "export":
            events.append("record")
        record(self, stage, updates)

    monkeypatch.setattr(pipeline.export.stage, "fsync_file", fsync, raising=False)
    monkeypatch.setattr(Ledger, "record", recording)
    result = CliRunner().invoke(main, run_args(demo, tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert events.count("record") == len(demo.point_ids)  # one batch per point here
    for i, event in enumerate(events):
        if event == "record":
            assert i > 0 and events[i - 1] == "fsync AT", events


def _damage_a_page(ledger: Path) -> None:
    """Garbage over a page in the middle of the file (a table's b-tree page)."""
    pages = ledger.stat().st_size // PAGE
    assert pages >= 4
    with ledger.open("r+b") as f:
        f.seek((pages // 2) * PAGE)
        f.write(b"\xa5" * PAGE)


@pytest.mark.slow
def test_a_damaged_ledger_is_refused_with_one_line_and_moving_it_away_recovers(
    demo: DemoArchive, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = _finished(demo, out, reference)
    ledger = out / LEDGER_NAME
    _damage_a_page(ledger)
    for command in (args, ["status", "--out", str(out)]):
        text = _one_line(CliRunner().invoke(main, command))
        assert f"the ledger {ledger} is damaged" in text, text
        assert "move it away and run again with --force" in text
    ledger.rename(tmp_path / "damaged.sqlite")
    again = CliRunner().invoke(main, [*args, "--force"])
    assert again.exit_code == 0, again.output
    assert_finished_like_reference(out, demo, reference)


class _Malformed:
    """A connection whose reads of the units table fail after a while, as a page damaged
    after the ledger was opened does."""

    def __init__(self, db: sqlite3.Connection, after: int) -> None:
        self._db, self._left = db, after

    def execute(self, sql: str, *args: Any) -> Any:
        if "FROM units" in sql:
            self._left -= 1
            if self._left < 0:
                raise sqlite3.DatabaseError("database disk image is malformed")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@pytest.mark.slow
def test_a_ledger_damaged_during_the_run_stops_it_with_one_line(
    demo: DemoArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Ledger._add_task_columns

    def then_damaged(self: Ledger) -> None:
        opened(self)
        self._db = _Malformed(self._db, after=3)  # type: ignore[assignment]

    monkeypatch.setattr(Ledger, "_add_task_columns", then_damaged)
    out = tmp_path / "out"
    for command in (run_args(demo, out), ["status", "--out", str(out)]):
        text = _one_line(CliRunner().invoke(main, command))
        assert f"the ledger {out / LEDGER_NAME} is damaged (database disk image is " \
               "malformed)" in text, text
