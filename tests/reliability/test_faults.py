"""Faults in the source (``--inject-faults``): the run completes, transient failures are
retried a bounded number of times, permanent ones are recorded once per point with the scene
and the message, shown by ``etl status`` and retried only with ``--retry-failed``."""

from __future__ import annotations

import types
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

import pipeline.export.stage
from exports import faults
from exports.faults import FaultInjectingSource
from exports.grid import patch_grid
from exports.source import (
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    SceneFilter,
    SceneSelection,
)
from pipeline.cli import main
from pipeline.demo import DemoArchive
from pipeline.ledger import DONE, FAILED, LEDGER_NAME, Ledger
from pipeline.points import point_key
from tests.pipeline.conftest import run_args
from tests.pipeline.h5compare import assert_same_content, content

RETRIES = 3  # RunConfig's default


class _Echo:
    """A source that returns an empty stack for every point it is asked for."""

    name = "echo"

    def __init__(self) -> None:
        self.asked: list[int] = []

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        raise AssertionError("not used")

    def fetch(
        self, batch: Sequence[tuple[PointRequest, Sequence[Scene]]], bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        for req, _ in batch:
            self.asked.append(req.point_id)
            yield PointStack(req.point_id, None, [], [])  # type: ignore[arg-type]


def _scene(i: int) -> Scene:
    when = datetime(2018, 1, 1, tzinfo=UTC)
    return Scene(f"S{i:03d}", f"img{i}", when, f"dt{i}", "33TTN", 32633, 0.0, 0.0)


def _request(pid: int) -> PointRequest:
    return PointRequest(pid, 47.0, 12.0, patch_grid(47.0, 12.0))


def test_shares_are_as_asked_and_permanent_faults_are_stable() -> None:
    scenes = [_scene(i) for i in range(5)]
    batch = [(_request(pid), scenes) for pid in range(1, 4001)]
    src = FaultInjectingSource(_Echo(), 0.2, seed=3)
    first = {r.point_id: r for r in src.fetch(batch, ["B4"], 5.0)}
    transient = [r for r in first.values() if isinstance(r, PointFailure) and r.transient]
    permanent = [r for r in first.values() if isinstance(r, PointFailure) and not r.transient]
    assert 0.17 < len(transient) / 4000 < 0.23
    assert 0.005 < len(permanent) / 4000 < 0.016
    assert all(r.message.startswith("scene S") and "--inject-faults" in r.message
               for r in transient + permanent)
    # A permanent fault meets every attempt, in every instance (another process, another run)
    # and whatever the salt, with the same message: the ledger records it once per point.
    again = FaultInjectingSource(_Echo(), 0.2, seed=3, salt=12345)
    for _ in range(2):
        second = {r.point_id: r for r in again.fetch(batch, ["B4"], 5.0)}
        for r in permanent:
            assert second[r.point_id] == r
    # Transient faults are drawn afresh per attempt: retries succeed 80 % of the time.
    retried = {r.point_id: r for r in src.fetch([(_request(r.point_id), scenes)
                                                 for r in transient], ["B4"], 5.0)}
    still = [r for r in retried.values() if isinstance(r, PointFailure)]
    assert len(still) / len(transient) < 0.3
    # Salted instances (worker processes) draw other transient fates.
    fates = [src.fate(pid, 1) for pid in range(1, 401)]
    assert fates != [again.fate(pid, 1) for pid in range(1, 401)]


def test_points_without_scenes_and_selection_are_passed_through() -> None:
    inner = _Echo()
    src = FaultInjectingSource(inner, 0.99, permanent_share=0.0)
    out = list(src.fetch([(_request(7), [])], ["B4"], 5.0))
    assert [r.point_id for r in out] == [7] and isinstance(out[0], PointStack)
    assert src.name == "echo"


def _seed_for(point_ids: Sequence[int]) -> tuple[int, int, dict[int, int]]:
    """A seed giving, on these points, one permanent fault, some transient faults, and every
    other point readable within the in-run attempts: (seed, permanent point, attempts)."""
    for seed in range(2000):
        src = FaultInjectingSource(_Echo(), 0.2, seed=seed)
        broken = [p for p in point_ids if src.is_permanent(p)]
        if len(broken) != 1:
            continue
        attempts = {}
        for p in point_ids:
            if p != broken[0]:
                first_ok = next((a for a in range(1, RETRIES + 1) if src.fate(p, a) == "ok"), 0)
                attempts[p] = first_ok
        if all(attempts.values()) and max(attempts.values()) >= 2:
            return seed, broken[0], attempts
    raise AssertionError("no suitable seed")


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The export stage's backoff sleeps, recorded instead of slept."""
    slept: list[float] = []
    fake = types.SimpleNamespace(perf_counter=pipeline.export.stage.time.perf_counter,
                                 sleep=slept.append)
    monkeypatch.setattr(pipeline.export.stage, "time", fake)
    return slept


def _units(out: Path) -> dict[int, tuple[str, int, str | None, bool]]:
    with Ledger(out / LEDGER_NAME) as ledger:
        return {int(u.key.rsplit("/", 1)[1]): (u.state, u.attempts, u.last_error,
                                               bool((u.payload or {}).get("transient")))
                for u in ledger.units("export")}


@pytest.mark.slow
def test_inject_faults_run_completes_and_permanent_failures_wait_for_retry_failed(
    demo: DemoArchive, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    no_backoff: list[float],
) -> None:
    seed, broken, attempts = _seed_for(demo.point_ids)
    monkeypatch.setattr(faults, "DEFAULT_SEED", seed)
    monkeypatch.setenv("COLUMNS", "400")  # status rows on one line each
    out = tmp_path / "out"
    runner = CliRunner()
    args = run_args(demo, out, "--inject-faults", "0.2")

    first = runner.invoke(main, args)
    # The run completes: every other point is in the file, identical to a run without faults.
    assert first.exit_code == 1, first.output  # 1: a point failed (permanently)
    assert "1 unit(s) failed" in first.output and "--retry-failed" in first.output
    ref = content(reference)
    got = content(out / "2018" / "AT.h5")
    assert sorted(k for k in got if k != "file_attrs") == sorted(
        k for k in ref if k not in ("file_attrs", f"Lucas_Point_{broken:08d}"))
    assert all(got[k] == ref[k] for k in got if k != "file_attrs")
    # Transient faults: retried in the run, as many attempts as predicted, never more than
    # --retries, with a bounded backoff between rounds.
    units = _units(out)
    for pid, n in attempts.items():
        assert units[pid][:2] == (DONE, n)
    assert max(u[1] for u in units.values()) <= RETRIES
    assert no_backoff and all(s <= 30 for s in no_backoff)
    # The permanent fault: one failed unit, tried once, naming the scene and the fault.
    state, tries, error, transient = units[broken]
    assert (state, tries, transient) == (FAILED, 1, False)
    assert error is not None and error.startswith("scene S2") and "permanent" in error
    status = runner.invoke(main, ["status", "--out", str(out)])
    assert status.exit_code == 0
    key = point_key(2018, "AT", broken)
    rows = [line for line in status.output.splitlines() if key in line]
    assert len(rows) == 1, status.output
    assert "permanent" in rows[0] and error in rows[0]

    # Re-running without --retry-failed does not touch it ...
    again = runner.invoke(main, args)
    assert again.exit_code == 1 and "Nothing to do" in again.output
    assert "1 unit(s) failed in earlier runs" in " ".join(again.output.split())
    assert _units(out)[broken][:2] == (FAILED, 1)
    # ... --retry-failed retries it (the fault is still there: same unit, same message) ...
    retried = runner.invoke(main, [*args, "--retry-failed"])
    assert retried.exit_code == 1
    assert _units(out)[broken] == (FAILED, 2, error, False)
    # ... and once the fault is gone, --retry-failed completes the file.
    fixed = runner.invoke(main, [*run_args(demo, out), "--retry-failed"])
    assert fixed.exit_code == 0, fixed.output
    assert _units(out)[broken][:2] == (DONE, 3)
    assert_same_content(out / "2018" / "AT.h5", reference)


@pytest.mark.slow
def test_transient_failures_stop_after_retries_and_the_next_run_takes_them_up(
    demo: DemoArchive, reference: Path, tmp_path: Path, no_backoff: list[float]
) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    flaky = runner.invoke(main, run_args(demo, out, "--inject-faults", "0.9", "--retries", "2"))
    assert flaky.exit_code == 1
    assert "still failing after 2 attempts; the next run retries them" in flaky.output
    assert no_backoff == [2.0]  # one pause between the two rounds, none after the last
    units = _units(out)
    leftovers = [pid for pid, u in units.items() if u[0] == FAILED and u[3]]
    assert leftovers, "with 90 % faults some point must fail twice"
    assert all(units[pid][1] == 2 for pid in leftovers), "exactly --retries attempts"
    # No --retry-failed needed for transient failures: a plain re-run retries them.
    permanent = {pid for pid, u in units.items() if u[0] == FAILED and not u[3]}
    rerun = runner.invoke(main, run_args(demo, out))
    units = _units(out)
    assert all(units[pid][0] == DONE for pid in leftovers)
    assert {pid for pid, u in units.items() if u[0] == FAILED} == permanent
    if not permanent:
        assert rerun.exit_code == 0
        assert_same_content(out / "2018" / "AT.h5", reference)
    with h5py.File(out / "2018" / "AT.h5", "r") as f:
        assert len(f) == len(demo.point_ids) - len(permanent)


@pytest.mark.slow
def test_a_run_that_does_other_work_still_exits_1_for_points_failed_earlier(
    demo: DemoArchive, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    no_backoff: list[float],
) -> None:
    seed, broken, _ = _seed_for(demo.point_ids)
    monkeypatch.setattr(faults, "DEFAULT_SEED", seed)
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, run_args(demo, out, "--inject-faults", "0.2")).exit_code == 1
    # The next run has other work (the country file to write again) but leaves the failed
    # point out of it: the exit code and the last lines say so.
    (out / "2018" / "AT.h5").unlink()
    again = runner.invoke(main, run_args(demo, out))
    text = " ".join(again.output.split())
    assert again.exit_code == 1, again.output
    assert "files written" in text
    assert "1 unit(s) failed in earlier runs and are not in the file" in text
    assert f"etl status --out {out}" in text
    with h5py.File(out / "2018" / "AT.h5", "r") as f:
        assert f"Lucas_Point_{broken:08d}" not in f
    # The failure retried in this run and failing again is counted once, as this run's.
    retried = runner.invoke(main, run_args(demo, out, "--inject-faults", "0.2",
                                           "--retry-failed"))
    assert retried.exit_code == 1
    assert "earlier runs" not in retried.output and "1 unit(s) failed." in retried.output
