"""Worker processes tied to their coordinator's life (pipeline/executors/lifeline.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lucas.safe_files import atomic_write_text, set_rename_guard
from pipeline.executors.lifeline import EXIT_ORPHANED, Lifeline

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _worker(coordinator: int, then: str) -> subprocess.Popen[str]:
    """A process that ties itself to ``coordinator`` and then runs ``then``."""
    code = f"from pipeline.executors.lifeline import die_with; die_with({coordinator}); {then}"
    return subprocess.Popen([sys.executable, "-c", code], text=True, stderr=subprocess.PIPE)


def test_a_lifeline_sees_the_coordinator_die_even_before_it_is_reaped() -> None:
    coordinator = subprocess.Popen(SLEEPER)
    line = Lifeline(coordinator.pid)
    assert line.alive()
    coordinator.kill()
    time.sleep(0.2)  # a zombie now: kill(pid, 0) would still say it lives
    assert not line.alive()
    line.wait()  # returns at once
    coordinator.wait()


def test_a_worker_exits_the_moment_its_coordinator_is_killed() -> None:
    coordinator = subprocess.Popen(SLEEPER)
    worker = _worker(coordinator.pid, "import time; print('ready', flush=True); time.sleep(60)")
    try:
        time.sleep(1.0)  # let the worker start and watch
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        coordinator.kill()
        assert worker.wait(timeout=5) == EXIT_ORPHANED
    finally:
        coordinator.kill()
        worker.kill()
        coordinator.wait()
        worker.wait()


def test_an_orphaned_worker_renames_nothing_into_place(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    target = tmp_path / "staged.h5"
    worker = _worker(gone.pid, "from lucas.safe_files import atomic_write_text; from pathlib "
                     f"import Path; atomic_write_text(Path({str(target)!r}), 'late')")
    assert worker.wait(timeout=30) == EXIT_ORPHANED
    assert not target.exists()


def test_a_rename_guard_that_refuses_leaves_neither_target_nor_temp(tmp_path: Path) -> None:
    def refuse() -> None:
        raise RuntimeError("coordinator gone")

    set_rename_guard(refuse)
    try:
        with pytest.raises(RuntimeError):
            atomic_write_text(tmp_path / "a.txt", "late")
    finally:
        set_rename_guard(None)
    assert list(tmp_path.iterdir()) == []
