"""Dask export under faults: a worker SIGKILLed mid-task, a client SIGKILLed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args
from tests.pipeline.h5compare import assert_same_content
from tests.pipeline.test_dask import export_units

distributed = pytest.importorskip("distributed")
WorkerPlugin: Any = distributed.WorkerPlugin

HARNESS = Path(__file__).with_name("crash_harness.py")


def _kill_once(marker: Path, func: Callable[..., Any], nth: int, after: bool) -> Callable[..., Any]:
    """``func`` that SIGKILLs its own process at the n-th call of this process, once in the
    whole cluster (the marker file, created atomically, says it happened)."""
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if not after and calls == nth and _claim(marker):
            os.kill(os.getpid(), signal.SIGKILL)
        result = func(*args, **kwargs)
        if after and calls == nth and _claim(marker):
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapper


def _claim(marker: Path) -> bool:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


class KillWorkerOnce(WorkerPlugin):
    """Installed in every worker: one of them dies during a scene read or a point's staging.

    ``scene``: the 15th asset open of a worker (inside its 2nd scene task, some of the
    fragment written); ``point``: right after a worker's 2nd point was staged and renamed
    into place, before the client heard of it.
    """

    def __init__(self, marker: str, moment: str) -> None:
        self.marker, self.moment = marker, moment

    def setup(self, worker: Any) -> None:
        marker = Path(self.marker)
        if self.moment == "scene":
            from exports.stac import dataset_pool

            # every local asset open of the stac source goes through this function
            dataset_pool.open_local = _kill_once(marker, dataset_pool.open_local, 15, after=False)
        else:
            import pipeline.export.dask_tasks as tasks

            tasks._stage = _kill_once(marker, tasks._stage, 2, after=True)


class DiskFullWhileStaging(WorkerPlugin):
    """Installed in every worker: from its 2nd point on, staging fails with ENOSPC."""

    def setup(self, worker: Any) -> None:
        import errno

        import pipeline.dataset.sen4map_writer as stage_export

        real = self.real = stage_export.stage_point
        calls = 0

        def full(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls >= 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(*args, **kwargs)

        stage_export.stage_point = full

    def teardown(self, worker: Any) -> None:
        import pipeline.dataset.sen4map_writer

        pipeline.dataset.sen4map_writer.stage_point = self.real


@pytest.fixture
def cluster() -> Iterator[Any]:
    """An existing cluster to connect to with --scheduler tcp://…, 2 workers × 1 thread."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as lc, distributed.Client(lc) as client:
        yield client


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["scene", "point"])
def test_worker_killed_during_export_gives_the_same_file(
    demo: DemoArchive, reference: Path, tmp_path: Path, cluster: Any, moment: str
) -> None:
    marker = tmp_path / "killed"
    cluster.register_plugin(KillWorkerOnce(str(marker), moment))
    address = cluster.scheduler.address
    out = tmp_path / "out"
    result = CliRunner().invoke(main, run_args(demo, out, "--scheduler", address))
    assert marker.exists(), "no worker was killed: the test proves nothing"
    assert result.exit_code == 0, result.output
    assert_same_content(out / "2018" / "AT.h5", reference)
    assert export_units(out) == export_units(reference.parents[1])
    assert not (out / "2018" / ".staging" / ".dask").exists(), "scratch left behind"


@pytest.mark.slow
def test_client_killed_mid_export_resumes(
    demo: DemoArchive, reference: Path, tmp_path: Path
) -> None:
    """SIGKILL of `etl run --scheduler local:2` before its 4th ledger transaction (some
    points recorded, others staged or in flight), then a plain re-run: the same file."""
    out = tmp_path / "out"
    args = run_args(demo, out, "--scheduler", "local:2")
    proc = subprocess.run([sys.executable, str(HARNESS), "ledger", "4", "--", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert (out / "2018" / ".staging" / ".dask").exists(), "not killed during the export"
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert_same_content(out / "2018" / "AT.h5", reference)
    assert not (out / "2018" / ".staging" / ".dask").exists(), "scratch left behind"


@pytest.mark.slow
def test_disk_full_on_a_worker_stops_the_run_and_the_rerun_completes(
    demo: DemoArchive, reference: Path, tmp_path: Path, cluster: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As on one machine: exit 2 with the single-line message, nothing marked failed."""
    out = tmp_path / "out"
    args = run_args(demo, out, "--scheduler", cluster.scheduler.address)
    cluster.register_plugin(DiskFullWhileStaging(), name="disk-full")
    monkeypatch.setenv("COLUMNS", "400")
    failed = CliRunner().invoke(main, args)
    assert failed.exit_code == 2, failed.output
    message = " ".join(failed.output.split())
    assert "disk full while staging point" in message and "free space there" in message
    assert str(out / "2018" / ".staging" / "AT") in message  # the real folder, not scratch
    assert all(state != "failed" for _, state, _, _ in export_units(out))
    cluster.unregister_worker_plugin("disk-full")
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert_same_content(out / "2018" / "AT.h5", reference)


@pytest.mark.slow
def test_injected_faults_hit_points_not_scene_reads(
    demo: DemoArchive, reference: Path, tmp_path: Path
) -> None:
    """--inject-faults draws one fate per point read, as on one machine (not one per scene
    task, which would fail almost every point); retried in-run, the file is the same."""
    out = tmp_path / "out"
    args = run_args(demo, out, "--scheduler", "local:2", "--inject-faults", "0.2",
                    "--retries", "8")  # a point failing 8 times in a row: 0.2**8
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert_same_content(out / "2018" / "AT.h5", reference)
