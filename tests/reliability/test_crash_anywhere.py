"""SIGKILL at 10 seeded random moments across ingest, select, export and pack, then re-run:
the same file as an uninterrupted run, nothing missing, nothing doubled, nothing left over.

The moments are drawn from a trace of a real run (every instrumented event, see harness.py),
stratified so that each stage is hit, including the ingest's GeoParquet write and the select
stage's ledger transaction. That traced run is also the uninterrupted run every re-run is
compared with. Three bands instead of eleven keep the suite quick: what a crash can break
(temp files, renames, ledger transactions) is the same for any band count.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args
from tests.reliability.checks import assert_finished_like_reference, harness

pytestmark = pytest.mark.slow

SEED = 5
BANDS = ("--bands", "SCL,B4,B8")
Event = tuple[str, str, str]
# (what, how many moments, which events qualify): 10 moments in all.
STRATA: list[tuple[str, int, Callable[[Event], bool]]] = [
    ("ingest: GeoParquet write", 1, lambda e: e[0] == "parquet"),
    ("ingest", 1, lambda e: e[1] == "ingest" and e[0] != "parquet"),
    ("select: ledger write", 1, lambda e: e[1] == "select" and e[0] == "record"),
    ("select", 1, lambda e: e[1] == "select" and e[0] != "record"),
    ("export", 4, lambda e: e[1] == "export"),
    ("pack", 2, lambda e: e[1] == "pack"),
]
N_MOMENTS = sum(n for _, n, _ in STRATA)


@pytest.fixture(scope="module")
def uninterrupted(demo: DemoArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One traced run without a kill: its output folder (the trace is in trace.json)."""
    tmp = tmp_path_factory.mktemp("trace")
    proc = harness("trace", str(tmp / "trace.json"), args=run_args(demo, tmp / "out", *BANDS))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_finished_like_reference(tmp / "out", demo, tmp / "out" / "2018" / "AT.h5")
    return tmp


@pytest.fixture(scope="module")
def moments(uninterrupted: Path) -> list[tuple[int, Event]]:
    """The seeded draw of moments from the traced run's events."""
    trace = uninterrupted / "trace.json"
    events: list[Event] = [(a, b, c) for a, b, c in json.loads(trace.read_text())]
    rng = random.Random(SEED)
    chosen: list[tuple[int, Event]] = []
    for what, n, qualifies in STRATA:
        candidates = [i for i, e in enumerate(events, 1) if qualifies(e)]
        assert len(candidates) >= n, f"the trace has too few {what} events"
        chosen += [(i, events[i - 1]) for i in sorted(rng.sample(candidates, n))]
    return chosen


@pytest.mark.parametrize("k", range(N_MOMENTS))
def test_sigkill_then_rerun_gives_the_uninterrupted_file(
    demo: DemoArchive,
    uninterrupted: Path,
    moments: list[tuple[int, Event]],
    tmp_path: Path,
    k: int,
) -> None:
    index, event = moments[k]
    out = tmp_path / "out"
    args = run_args(demo, out, *BANDS)
    killed = harness("kill", str(index), args=args)
    assert killed.returncode == -9, (
        f"no SIGKILL at event {index} {event}: {killed.returncode} {killed.stderr[-2000:]}"
    )
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, f"re-run after a kill at {event}: {result.output}"
    assert_finished_like_reference(out, demo, uninterrupted / "out" / "2018" / "AT.h5")
