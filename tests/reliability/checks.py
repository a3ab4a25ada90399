"""What "finished, nothing lost, nothing corrupted" means for an output folder, as asserts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py

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
    assert {p.name for p in (out / "2018").iterdir()} == {"AT.h5", ".staging", "points"}
    assert {p.name for p in (out / "2018" / "points").iterdir()} == POINT_FILES
    staged = {p.name for p in (out / "2018" / ".staging" / "AT").iterdir()}
    assert staged == {f"{n}.h5" for n in names}, "staged files differ from the points"
    with Ledger(out / LEDGER_NAME) as ledger:
        assert ledger.counts() == {
            "ingest": {"done": 1}, "select": {"done": len(names)},
            "export": {"done": len(names)}, "pack": {"done": 1},
        }


class Paused:
    """An ``etl run`` child held at a moment of the run (see harness.py ``pause``)."""

    def __init__(self, spec: str, marker: Path, args: list[str]) -> None:
        self.marker = marker
        self.proc = subprocess.Popen(
            [sys.executable, str(HARNESS), "pause", spec, str(marker), "--", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while not marker.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                _, err = self.proc.communicate(timeout=5) if self.proc.poll() is not None \
                    else ("", "timed out")
                raise AssertionError(f"the run never reached {spec}: {err[-3000:]}")
            time.sleep(0.02)

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate(timeout=30)
