"""The ledger and the output lock: what resuming relies on."""

from __future__ import annotations

import errno
import fcntl
import multiprocessing as mp
import os
import stat
import time
from pathlib import Path

import pytest

from lucas.errors import LedgerError
from lucas.safe_files import OutputLock
from pipeline.ledger import DONE, FAILED, Ledger, UnitUpdate


def test_states_survive_reopen_and_attempts_count(tmp_path: Path) -> None:
    with Ledger.in_folder(tmp_path) as ledger:
        failed = UnitUpdate("2018/AT/47001234", FAILED, "read error", {"transient": True})
        ledger.record("export", [failed])
        ledger.record("export", [UnitUpdate("2018/AT/47001234", DONE, payload={"steps": 3})])
        ledger.mark("export", "2018/DE/45001234", DONE)
    with Ledger.in_folder(tmp_path) as ledger:
        unit = ledger.get("export", "2018/AT/47001234")
        assert unit is not None
        assert (unit.state, unit.attempts, unit.last_error) == (DONE, 2, None)
        assert unit.payload == {"steps": 3}
        assert ledger.states("export", "2018/AT/") == {"2018/AT/47001234": DONE}
        assert ledger.counts() == {"export": {DONE: 2}}


def test_record_is_all_or_nothing(tmp_path: Path) -> None:
    with Ledger.in_folder(tmp_path) as ledger:
        bad = [UnitUpdate("a", DONE), UnitUpdate("b", DONE, payload={"x": object()})]
        with pytest.raises(TypeError):
            ledger.record("export", bad)
        assert ledger.states("export") == {}


def test_forget_and_tasks(tmp_path: Path) -> None:
    with Ledger.in_folder(tmp_path) as ledger:
        ledger.record("select", [UnitUpdate(f"2018/AT/{i:08d}", DONE) for i in range(3)])
        ledger.mark("select", "2022/AT/00000001", DONE)
        ledger.forget("select", "2018/")
        assert list(ledger.states("select")) == ["2022/AT/00000001"]
        ledger.put_task_row("2018/AT/1", "OP123", "RUNNING")
        assert ledger.get_task_row("2018/AT/1").task_id == "OP123"  # type: ignore[union-attr]


def test_damaged_ledger_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "ledger.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="ledger.sqlite"):
        Ledger.in_folder(tmp_path)


def _hold_lock(folder: str, ready: mp.synchronize.Event) -> None:
    with OutputLock(Path(folder)):
        ready.set()
        time.sleep(30)


def test_second_run_on_same_folder_is_refused_with_holder_pid(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LedgerError, match=f"pid {holder.pid}"):
            OutputLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.join()
    # The kernel releases the lock of a killed process: no stale lock.
    with OutputLock(tmp_path):
        assert (tmp_path / ".etl.lock").read_text().strip() == str(os.getpid())


def test_lock_holds_when_its_file_is_deleted_and_still_names_the_holder(tmp_path: Path) -> None:
    with OutputLock(tmp_path):
        (tmp_path / ".etl.lock").unlink()
        with pytest.raises(LedgerError, match=f"pid {os.getpid()}"):  # from /proc/locks
            OutputLock(tmp_path).acquire()
        assert not (tmp_path / ".etl.lock").exists()


def test_lock_falls_back_to_the_file_where_folders_cannot_be_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_flock = fcntl.flock

    def no_folder_locks(fd: int, op: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EBADF, "Bad file descriptor")  # NFS: flock of a folder
        real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", no_folder_locks)
    with OutputLock(tmp_path), pytest.raises(LedgerError, match=f"pid {os.getpid()}"):
        OutputLock(tmp_path).acquire()
    with OutputLock(tmp_path):
        pass
