"""What "finished, nothing lost, nothing corrupted" means for an output folder, as asserts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py

from exports.file_index import index_is_current
from pipeline.demo import DemoArchive
from pipeline.ledger import LEDGER_NAME, Ledger
from tests.pipeline.h5compare import assert_same_content

HARNESS = Path(__file__).with_name("harness.py")
POINT_FILES = {"AT.parquet", "rejects.csv", "location_mismatches.csv", "ingest_summary.json"}


def harness(
    mode: str, *spec: str, args: list[str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``etl`` under the instrumenting harness in a child process (see harness.py)."""
    return subprocess.run(
        [sys.executable, str(HARNESS), mode, *spec, "--", *args],
        capture_output=True, text=True, timeout=timeout,
    )


class Paused:
    """An ``etl run`` child held at a moment of the run (see harness.py ``pause``), in a
    session of its own (so its processes can be found and signalled as a group); its output
    goes to files, which processes it leaves behind cannot hold open as they would a pipe."""

    def __init__(self, spec: str, marker: Path, args: list[str]) -> None:
        self.marker = marker
        self.logs = marker.with_name(marker.name + ".out"), marker.with_name(marker.name + ".err")
        with self.logs[0].open("w") as out, self.logs[1].open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(HARNESS), "pause", spec, str(marker), "--", *args],
                stdout=out, stderr=err, text=True, start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while not marker.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the run never reached {spec}: "
                                     f"{self.logs[1].read_text()[-3000:]}")
            time.sleep(0.02)

    def finish(self) -> tuple[int, str, str]:
        code = self.proc.wait(timeout=120)
        return code, self.logs[0].read_text(), self.logs[1].read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def session_processes(session: int) -> list[str]:
    """``pid command`` of every live process of a session (Linux ``/proc``); zombies are
    left out (they run nothing and hold nothing, only wait to be reaped)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
        state, _, pgid, sid = stat[stat.rindex(")") + 2 :].split()[:4]
        if session in (int(pgid), int(sid)) and state != "Z":
            found.append(f"{entry.name} {command[:160]}")
    return found


def processes_left(session: int, within: float = 5.0) -> list[str]:
    """The session's processes still alive ``within`` seconds from now (killed afterwards,
    so a failing test leaves nothing running)."""
    deadline = time.monotonic() + within
    while (left := session_processes(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for line in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    return left


def temp_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.name.endswith(".tmp"))


def assert_finished_like_reference(out: Path, demo: DemoArchive, reference: Path) -> None:
    """Same datasets, values and attributes as the uninterrupted run; no stray file anywhere;
    the ledger says every unit is done exactly once per point."""
    target = out / "2018" / "AT.h5"
    assert_same_content(target, reference)
    names = [f"Lucas_Point_{pid:08d}" for pid in sorted(demo.point_ids)]
    with h5py.File(target, "r") as f:
        assert sorted(f) == names, "a point is missing or extra"
        assert int(f.attrs["point_count"]) == len(names)
    assert temp_files(out) == [], f"temp files left after success: {temp_files(out)}"
    assert {p.name for p in out.iterdir()} == {LEDGER_NAME, ".etl.lock", "2018"}
    assert {p.name for p in (out / "2018").iterdir()} == {"AT.h5", "AT.index.parquet", ".staging",
                                                          "points"}
    assert index_is_current(target), "the index does not describe the finished file"
    assert {p.name for p in (out / "2018" / "points").iterdir()} == POINT_FILES
    staged = {p.name for p in (out / "2018" / ".staging" / "AT").iterdir()}
    assert staged == {f"{n}.h5" for n in names}, "staged files differ from the points"
    with Ledger(out / LEDGER_NAME) as ledger:
        assert ledger.counts() == {
            "ingest": {"done": 1}, "select": {"done": len(names)},
            "export": {"done": len(names)}, "pack": {"done": 1},
        }
