"""What "finished, nothing lost, nothing corrupted" means for an output folder, as asserts."""

from __future__ import annotations

import subprocess
import sys
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
