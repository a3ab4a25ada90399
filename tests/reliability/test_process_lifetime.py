"""Every process of a run dies with it, and SIGTERM (a batch scheduler's pre-emption) stops
a run the way Ctrl-C does, against real ``etl run`` children.

Each child runs in a session of its own, so the test finds every process it started (the
process pool's forkserver, its resource tracker and workers; a local Dask cluster's worker
processes) by session id, whoever their parent is once the coordinator is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args
from tests.reliability.checks import (
    HARNESS,
    Paused,
    assert_finished_like_reference,
    processes_left,
)

POOL = ["--workers", "2", "--batch-size", "1"]


def _staged(out: Path) -> set[str]:
    folder = out / "2018" / ".staging" / "AT"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _killed_at(moment: str, args: list[str], logs: Path) -> subprocess.Popen[str]:
    """Run ``etl`` under the harness in a session of its own; it SIGKILLs itself at
    ``moment`` (kill -9 of the coordinator: its workers are not signalled)."""
    with logs.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, str(HARNESS), "kill", moment, "--", *args],
            stdout=log, stderr=log, text=True, start_new_session=True,
        )
    child.wait(timeout=120)
    return child


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scheduler", "moment"),
    [
        ([], "record:export:before#1"),  # the pool: more batches queued and running
        (["--scheduler", "local:2"], "record:export:before#1"),  # a local Dask cluster
    ],
    ids=["process-pool", "dask-local"],
)
def test_kill_9_of_the_coordinator_leaves_no_process_and_no_late_write(
    demo: DemoArchive, reference: Path, tmp_path: Path, scheduler: list[str], moment: str
) -> None:
    if scheduler:
        pytest.importorskip("distributed")
    out = tmp_path / "out"
    args = [*run_args(demo, out), *POOL, *scheduler]
    child = _killed_at(moment, args, tmp_path / "log")
    assert child.returncode == -signal.SIGKILL, (tmp_path / "log").read_text()[-3000:]
    staged_at_death = _staged(out)
    left = processes_left(child.pid)
    assert left == [], f"still running 5 s after the coordinator died: {left}"
    assert _staged(out) == staged_at_death, "a point was staged after the coordinator died"
    resumed = CliRunner().invoke(main, args)
    assert resumed.exit_code == 0, resumed.output
    assert_finished_like_reference(out, demo, reference)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workers", "moment", "group"),
    [
        ("1", "stage_write:export:before#3", False),  # the 3rd point read, not yet staged
        ("2", "record:export:before#2", False),  # the coordinator with a 2nd result to record
        ("2", "record:export:before#2", True),  # every process (a scheduler's scancel)
    ],
    ids=["inline", "pool-coordinator", "pool-process-group"],
)
def test_sigterm_stops_like_ctrl_c_with_exit_143_and_resumes(
    demo: DemoArchive, reference: Path, tmp_path: Path, workers: str, moment: str, group: bool
) -> None:
    out = tmp_path / "out"
    args = [*run_args(demo, out), "--workers", workers, "--batch-size", "1"]
    child = Paused(moment, tmp_path / "paused", args)
    try:
        if group:  # the workers and the forkserver too: they must leave the stop to it
            os.killpg(child.proc.pid, signal.SIGTERM)
        else:  # the coordinator only, as `kill PID` does
            os.kill(child.proc.pid, signal.SIGTERM)
        code, _, stderr = child.finish()
    finally:
        child.kill()
    left = processes_left(child.proc.pid)
    assert code == 143, stderr[-3000:]
    said = " ".join(stderr.split())
    assert "Terminated (SIGTERM)." in said and "run the same command again to resume" in said
    assert "Traceback" not in stderr
    assert left == [], f"still running 5 s after the run stopped: {left}"
    resumed = CliRunner().invoke(main, args)
    assert resumed.exit_code == 0, resumed.output
    assert_finished_like_reference(out, demo, reference)
