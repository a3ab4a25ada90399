"""The export stage on Dask (--scheduler): same file, same ledger, no Dask without the flag."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from exports.grid import patch_grid
from exports.source import PointRequest, Scene
from lucas.errors import ConfigError
from pipeline.cli import main
from pipeline.config import build_config
from pipeline.demo import DemoArchive
from pipeline.executors.dask_cluster import SchedulerSpec, dask_client, parse_scheduler
from pipeline.export.dask_waves import wave_graph
from pipeline.export.jobs import PointItem
from tests.pipeline.conftest import run_args
from tests.pipeline.h5compare import assert_same_content

pytest.importorskip("distributed")


def export_units(out: Path) -> list[tuple[Any, ...]]:
    """The export rows of a ledger (key, state, error, payload): what a run decided."""
    with sqlite3.connect(out / "ledger.sqlite") as db:
        return db.execute("SELECT key, state, last_error, payload FROM units "
                          "WHERE stage = 'export' ORDER BY key").fetchall()


# --- the flag ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://10.0.0.5:8786", SchedulerSpec(address="tcp://10.0.0.5:8786")),
        ("tcp://node17", SchedulerSpec(address="tcp://node17:8786")),
        ("tls://sched.example.org:9000", SchedulerSpec(address="tls://sched.example.org:9000")),
        ("local", SchedulerSpec(local_workers=0)),
        ("local:3", SchedulerSpec(local_workers=3)),
    ],
)
def test_scheduler_syntax(text: str, expected: SchedulerSpec) -> None:
    assert parse_scheduler(text) == expected


@pytest.mark.parametrize("text", ["localhost:8786", "local:0", "local:x", "http://h:1",
                                  "tcp://h:99999", "tcp://"])
def test_bad_scheduler_names_the_flag(text: str) -> None:
    with pytest.raises(ConfigError, match="--scheduler"):
        build_config({}, {"out": "o", "scheduler": text}, None)


def test_gee_refuses_scheduler() -> None:
    with pytest.raises(ConfigError, match="40 concurrent requests") as info:
        build_config({}, {"out": "o", "source": "gee", "scheduler": "tcp://h:8786"}, None)
    assert "--scheduler" in str(info.value)


def test_unreachable_scheduler_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.executors.dask_cluster

    monkeypatch.setattr(pipeline.executors.dask_cluster, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"), \
            dask_client(SchedulerSpec(address="tcp://127.0.0.1:9"), 1):
        pass


def test_without_the_flag_dask_is_never_imported(demo: DemoArchive, tmp_path: Path) -> None:
    """A whole run in a fresh interpreter, then a look at sys.modules."""
    args = run_args(demo, tmp_path / "out", "--workers", "2")
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from pipeline.cli import main\n"
        f"result = CliRunner().invoke(main, {args!r})\n"
        "assert result.exit_code == 0, result.output\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed'))\n"
        "loaded += [m for m in sys.modules if m.startswith('pipeline.') and 'dask' in m]\n"
        "print(loaded)\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


# --- the graph -------------------------------------------------------------------------


def _scene(sid: str, tile: str, day: int) -> Scene:
    return Scene(sid, f"2018{day:04d}", datetime(2018, 1, day, tzinfo=UTC), f"dt{day}", tile,
                 32633, 0.0, 0.0, {"B2": f"/{sid}/B2.tif"})


def test_wave_graph_reads_each_scene_once_in_tile_time_order() -> None:
    a1, a2, b1 = _scene("a1", "33UUP", 1), _scene("a2", "33UUP", 2), _scene("b1", "32UQU", 1)
    grid = patch_grid(48.0, 12.01)
    p1, p2 = PointRequest(1, 48.0, 12.01, grid), PointRequest(2, 48.0, 12.01, grid)
    items = [PointItem(p1, [a2, b1, a1, a1], {}), PointItem(p2, [a1], {})]  # a1 twice: read once
    scenes, reads = wave_graph(items)
    assert [(s.scene_id, [p.point_id for p in pts]) for s, pts in scenes] == [
        ("b1", [1]), ("a1", [1, 2]), ("a2", [1])]
    assert reads == [[(0, 0), (1, 0), (2, 0)], [(1, 1)]]  # (scene index, row)


# --- the demo on a LocalCluster ---------------------------------------------------------


@pytest.mark.slow
def test_local_cluster_gives_the_single_process_file(
    demo: DemoArchive, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2 workers × 1 thread, waves of 3 points (so several waves overlap and share scenes):
    the same HDF5 content and the same ledger decisions as the single-process run."""
    import pipeline.export.dask_waves

    monkeypatch.setattr(pipeline.export.dask_waves, "WAVE_POINTS", 3)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, run_args(demo, out, "--scheduler", "local:2"))
    assert result.exit_code == 0, result.output
    assert "export ran on Dask: a local cluster of 2 worker(s)" in result.output
    assert_same_content(out / "2018" / "AT.h5", reference)
    assert export_units(out) == export_units(reference.parents[1])
    assert not (out / "2018" / ".staging" / ".dask").exists(), "scratch left behind"
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
