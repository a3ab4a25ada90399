"""Ctrl-C and a second run on the same folder, against a real ``etl run`` child process.

The child runs under the harness (harness.py), which holds it at a chosen moment until the
test has acted, so the signal or the second run lands exactly where the test says.
SIGINT goes to the child's whole process group, as a terminal's Ctrl-C does: with
``--workers 2`` the export processes receive it too and must ignore it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from exports.source import PointRequest, SceneFilter, SceneSelection
from pipeline import interrupt
from pipeline.cli import main
from pipeline.config import RunConfig
from pipeline.demo import DemoArchive
from pipeline.ledger import DONE, LEDGER_NAME, Ledger
from pipeline.points import point_key
from tests.pipeline.conftest import run_args
from tests.reliability.checks import Paused, assert_finished_like_reference, temp_files


def _export_states(out: Path) -> dict[int, str]:
    with Ledger(out / LEDGER_NAME) as ledger:
        return {int(u.key.rsplit("/", 1)[1]): u.state for u in ledger.units("export")}


def _assert_consistent(out: Path, demo: DemoArchive) -> dict[int, str]:
    """After a stop: every recorded point is staged, nothing else is, no temp file, no file
    packed from a partial export; returns the recorded export states."""
    states = _export_states(out)
    stage_dir = out / "2018" / ".staging" / "AT"
    staged = {int(p.stem.rsplit("_", 1)[1]) for p in stage_dir.glob("*.h5")}
    assert staged == {pid for pid, s in states.items() if s == DONE}
    for pid in staged:
        with h5py.File(stage_dir / f"Lucas_Point_{pid:08d}.h5", "r") as f:
            assert f[f"Lucas_Point_{pid:08d}"].shape[0] > 0
    assert temp_files(out) == []
    assert not (out / "2018" / "AT.h5").exists()
    with Ledger(out / LEDGER_NAME) as ledger:
        assert set(ledger.states("select", "2018/AT/")) == {
            point_key(2018, "AT", pid) for pid in demo.point_ids}
    return states


@pytest.mark.slow
def test_second_run_on_the_same_folder_is_refused_naming_the_holder(
    demo: DemoArchive, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = run_args(demo, out)
    holder = Paused("record:select:after#1", tmp_path / "paused", args)
    try:
        second = CliRunner().invoke(main, args)
        assert second.exit_code == 2
        text = " ".join(second.output.split())
        assert f"another etl process (pid {holder.proc.pid}) is working on {out}" in text
        assert "Traceback" not in second.output
        holder.marker.unlink()  # let the first run go on: the refused one changed nothing
        code, _, err = holder.finish()
        assert code == 0, err[-3000:]
    finally:
        holder.kill()
    assert_finished_like_reference(out, demo, reference)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workers", "moment"),
    [
        ("1", "stage_write:export:before#3"),  # the 3rd point read, not yet staged
        ("2", "record:export:before#2"),  # the coordinator with a 2nd result to record
    ],
)
def test_ctrl_c_finishes_the_unit_in_flight_and_resumes(
    demo: DemoArchive, reference: Path, tmp_path: Path, workers: str, moment: str
) -> None:
    out = tmp_path / "out"
    args = [*run_args(demo, out), "--workers", workers, "--batch-size", "1"]
    child = Paused(moment, tmp_path / "paused", args)
    try:
        os.killpg(child.proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        code, _, stderr = child.finish()
    finally:
        child.kill()
    assert code == 130, stderr[-3000:]
    said = " ".join(stderr.split())
    assert "Interrupted." in said and "run the same command again to resume" in said
    assert "Traceback" not in stderr
    states = _assert_consistent(out, demo)
    done = sorted(pid for pid, s in states.items() if s == DONE)
    if workers == "1":
        assert len(done) == 3 and len(states) == 3, "the point in flight, then nothing more"
    else:  # the batches already running finish and are recorded; no new one is started
        assert 2 <= len(done) < len(demo.point_ids) and len(states) == len(done)
    resumed = CliRunner().invoke(main, args)
    assert resumed.exit_code == 0, resumed.output
    assert_finished_like_reference(out, demo, reference)


class _StopAfterFirstChunk:
    """A source whose first selection call is interrupted by a Ctrl-C."""

    name = "stub"

    def __init__(self) -> None:
        self.calls = 0

    def find_scenes(
        self, points: list[PointRequest], year: int, sf: SceneFilter
    ) -> SceneSelection:
        self.calls += 1
        interrupt.request_stop()
        return SceneSelection(scenes={p.point_id: [] for p in points})


def test_ctrl_c_during_select_stops_after_the_chunk_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exports.grid import patch_grid
    from pipeline import stage_select

    monkeypatch.setattr(stage_select, "SELECT_CHUNK", 2)
    requests = [PointRequest(pid, 47.0, 12.0, patch_grid(47.0, 12.0)) for pid in range(1, 6)]
    source = _StopAfterFirstChunk()
    try:
        with Ledger.in_folder(tmp_path) as ledger:
            stage_select.run_select(RunConfig(out=tmp_path), ledger, source,  # type: ignore[arg-type]
                                    {"AT": requests})
            assert sorted(ledger.states("select")) == [point_key(2018, "AT", 1),
                                                       point_key(2018, "AT", 2)]
    finally:
        interrupt._stop.clear()
    assert source.calls == 1
