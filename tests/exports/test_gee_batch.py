"""Batch path: tasks started once, ids stored, re-attached after a restart, results read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from ee import apitestcase

from exports.gee_batch import (
    BatchExporter,
    BatchTarget,
    band_names,
    read_geotiff,
    task_description,
)
from exports.gee_throttle import RetryPolicy, Throttle
from exports.source import PointFailure, PointRequest, PointStack, Scene
from tests.exports.gee_fakes import FakeClock, const, invocations, offline_ee, point, scene

BANDS = ("SCL", "B2", "B4")
TARGET = BatchTarget("my-bucket", "runs/2018")


@pytest.fixture
def ee_offline() -> Iterator[apitestcase.ApiTestCase]:
    with offline_ee() as case:
        yield case


class DictStore:
    def __init__(self) -> None:
        self.ids: dict[int, str] = {}

    def get(self, point_id: int) -> str | None:
        return self.ids.get(point_id)

    def put(self, point_id: int, task_id: str) -> None:
        self.ids[point_id] = task_id


class FakeTasks:
    """The project's task list, as ee.data.getTaskList / getTaskStatus would give it."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.started: list[Any] = []
        self.hidden: set[str] = set()  # ids the listing no longer shows

    def start(self, task: Any) -> str:
        task_id = f"T{len(self.tasks) + 1}"
        self.started.append(task)
        self.add(task_id, "READY", task.config["description"])
        return task_id

    def add(self, task_id: str, state: str, description: str = "", error: str = "") -> None:
        self.tasks[task_id] = {
            "id": task_id,
            "state": state,
            "description": description,
            "error_message": error,
        }

    def listing(self) -> list[dict[str, Any]]:
        return [t for i, t in self.tasks.items() if i not in self.hidden]

    def status(self, ids: list[str]) -> list[dict[str, Any]]:
        return [self.tasks.get(i, {"id": i, "state": "UNKNOWN"}) for i in ids]


def _exporter(store: DictStore, server: FakeTasks, read: Any = None) -> BatchExporter:
    clock = FakeClock()
    return BatchExporter(
        store,
        TARGET,
        throttle=Throttle(2, retry=RetryPolicy(max_attempts=2), clock=clock, sleep=clock.sleep),
        start_task=server.start,
        list_tasks=server.listing,
        task_status=server.status,
        read_raster=read,
    )


def _batch(n: int = 2) -> list[tuple[PointRequest, Sequence[Scene]]]:
    return [(point(i, 48.0 + i / 100, 16.0), [scene(20 + i), scene(5)]) for i in range(1, n + 1)]


def test_submit_starts_one_export_per_point_on_its_grid(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch()
    report = _exporter(store, server).submit(batch, BANDS)
    assert report.started == [1, 2] and store.ids == {1: "T1", 2: "T2"}

    pt, scenes = batch[0]
    config = server.started[0].config
    assert config["description"] == task_description(1, scenes, BANDS, TARGET)
    assert config["fileExportOptions"]["cloudStorageDestination"] == {
        "bucket": "my-bucket",
        "filenamePrefix": "runs/2018/00000001",
    }
    image = config["expression"]
    (reproject, *_) = invocations(image, "Image.reproject")
    assert const(reproject["crsTransform"]) == list(pt.grid.transform_tuple())
    crs = reproject["crs"]["functionInvocationValue"]["arguments"]["crs"]
    assert const(crs) == pt.grid.crs
    (rect,) = invocations(image, "GeometryConstructors.Rectangle")
    assert const(rect["coordinates"]) == [0, 0, 64, 64]
    # The export wraps the image twice (reproject, clip): keep each call once, in order.
    loads = list(dict.fromkeys(const(a["id"]) for a in invocations(image, "Image.load")))
    assert loads == [f"COPERNICUS/S2_SR_HARMONIZED/{s.image_id}" for s in (scenes[1], scenes[0])]
    selects = invocations(image, "Image.select")
    names = list(dict.fromkeys(n for a in selects for n in const(a["newNames"])))
    assert names == band_names(scenes, BANDS)


def test_restart_re_attaches_instead_of_exporting_again(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    _exporter(store, server).submit(_batch(), BANDS)
    report = _exporter(store, server).submit(_batch(), BANDS)  # a new run, same ledger
    assert report.attached == [1, 2] and report.started == []
    assert len(server.started) == 2


def test_task_started_before_a_crash_is_found_by_description(ee_offline: Any) -> None:
    server = FakeTasks()
    _exporter(DictStore(), server).submit(_batch(1), BANDS)  # ids lost with that store
    store = DictStore()
    report = _exporter(store, server).submit(_batch(1), BANDS)
    assert report.attached == [1] and store.ids == {1: "T1"}
    assert len(server.started) == 1


def test_queue_cap_defers_points(ee_offline: Any) -> None:
    server = FakeTasks()
    for i in range(2999):
        server.add(f"other{i}", "RUNNING")
    report = _exporter(DictStore(), server).submit(_batch(3), BANDS)
    assert report.started == [1] and report.deferred == [2, 3]


def test_failed_task_is_exported_again(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    _exporter(store, server).submit(_batch(1), BANDS)
    server.tasks["T1"]["state"] = "FAILED"
    report = _exporter(store, server).submit(_batch(1), BANDS)
    assert report.started == [1] and store.ids[1] == "T2"


def _fake_read(batch: list[tuple[PointRequest, Sequence[Scene]]]) -> Any:
    def read(path: str) -> tuple[np.ndarray, list[str | None]]:
        pid = int(Path(path).stem)
        scenes = dict(batch)[next(p for p, _ in batch if p.point_id == pid)]
        names = band_names(scenes, BANDS)
        array = np.full((len(names), 64, 64), 4, dtype=np.uint16)
        for i in range(len(names)):
            array[i, 32, 32] = 10 + i
        return array, [None] * len(names)

    return read


def test_collect_reads_finished_points_and_reports_failures(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(4)
    exporter = _exporter(store, server, read=_fake_read(batch))
    exporter.submit(batch, BANDS)
    server.tasks["T1"]["state"] = "COMPLETED"
    server.tasks["T2"].update(state="FAILED", error_message="User memory limit exceeded.")
    server.tasks["T3"]["state"] = "RUNNING"
    server.hidden.add("T4")
    del server.tasks["T4"]  # dropped out of the project's history: UNKNOWN

    results = {r.point_id: r for r in exporter.collect(batch, BANDS, 5.0)}
    assert set(results) == {1, 2, 4}
    done = results[1]
    assert isinstance(done, PointStack)
    assert done.image_ids == [scene(5).image_id, scene(21).image_id]
    assert done.data["SCL"].dtype == np.uint8
    assert int(done.data["B4"][1, 32, 32]) == 10 + band_names(batch[0][1], BANDS).index(
        f"{scene(21).image_id}_B4"
    )
    failed = results[2]
    assert isinstance(failed, PointFailure) and not failed.transient
    assert "User memory limit exceeded" in failed.message
    lost = results[4]
    assert isinstance(lost, PointFailure) and lost.transient


def test_read_geotiff_gives_bands_and_descriptions(tmp_path: Path) -> None:
    path = tmp_path / "00000001.tif"
    data = np.arange(2 * 4 * 4, dtype=np.uint16).reshape(2, 4, 4)
    profile = {
        "driver": "GTiff",
        "width": 4,
        "height": 4,
        "count": 2,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = ("a_B2", "a_SCL")
    array, descriptions = read_geotiff(str(path))
    assert np.array_equal(array, data)
    assert list(descriptions) == ["a_B2", "a_SCL"]


def test_drain_polls_until_done_and_bounds_the_wait(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(2)
    exporter = _exporter(store, server, read=_fake_read(batch))
    clock = FakeClock()

    def sleep(seconds: float) -> None:  # the server finishes point 1 during the first wait
        clock.sleep(seconds)
        server.tasks["T1"]["state"] = "COMPLETED"

    results = list(
        exporter.drain(batch, BANDS, 5.0, poll_s=60, timeout_s=150, clock=clock, sleep=sleep)
    )
    assert [type(r).__name__ for r in results] == ["PointStack", "PointFailure"]
    late = results[1]
    assert late.point_id == 2 and isinstance(late, PointFailure) and late.transient
    assert clock.sleeps == [60, 60] and len(server.started) == 2
