"""Batch path: request ids stored before the start, tasks re-attached after a restart,
failures resubmitted a bounded number of times, the queue capped, results read and cropped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import ee
import numpy as np
import rasterio
from affine import Affine
from ee import apitestcase

from exports.gee.batch import (
    MAX_QUEUED,
    BatchExporter,
    BatchTarget,
    Raster,
    TaskRecord,
    band_names,
    read_geotiff,
    task_description,
)
from exports.gee.source import GeeBatchSource, GeeSettings, GeeSource
from exports.gee.throttle import RetryPolicy, Throttle
from exports.source import PointFailure, PointRequest, PointStack, Scene
from tests.exports.gee_fakes import (
    FakeClock,
    FakeTasks,
    const,
    fake_reader,
    invocations,
    point,
    scene,
)

BANDS = ("SCL", "B2", "B4")
TARGET = BatchTarget("my-bucket", "runs/2018")


class DictStore:
    def __init__(self) -> None:
        self.records: dict[int, TaskRecord] = {}

    def get(self, point_id: int) -> TaskRecord | None:
        return self.records.get(point_id)

    def put(self, point_id: int, record: TaskRecord) -> None:
        self.records[point_id] = record

    @property
    def ids(self) -> dict[int, str]:
        return {pid: r.task_id for pid, r in self.records.items()}


def _exporter(store: DictStore, server: FakeTasks, read: Any = None) -> BatchExporter:
    clock = FakeClock()
    return BatchExporter(
        store,
        TARGET,
        throttle=Throttle(2, retry=RetryPolicy(max_attempts=2), clock=clock, sleep=clock.sleep),
        new_request_id=server.new_id,
        start_export=server.start,
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
        "filenamePrefix": f"runs/2018/{config['description']}",
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
    assert MAX_QUEUED == 2500  # of Earth Engine's 3,000 per project
    server = FakeTasks()
    for i in range(MAX_QUEUED - 1):
        server.add(f"other{i}", "RUNNING")
    server.add("done", "COMPLETED")  # finished tasks do not count
    report = _exporter(DictStore(), server).submit(_batch(3), BANDS)
    assert report.started == [1] and report.deferred == [2, 3]


def test_failed_task_is_exported_again(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    _exporter(store, server).submit(_batch(1), BANDS)
    server.tasks["T1"]["state"] = "FAILED"
    report = _exporter(store, server).submit(_batch(1), BANDS)
    assert report.started == [1] and store.ids[1] == "T2"
    assert store.records[1].submissions == 2 and store.records[1].request_id == "req-2"


def test_collect_reads_finished_points_and_reports_failures(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(4)
    exporter = _exporter(store, server, read=fake_reader(BANDS, batch))
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
    raster = read_geotiff(str(path))
    assert np.array_equal(raster.array, data)
    assert list(raster.descriptions) == ["a_B2", "a_SCL"]
    assert raster.crs == "EPSG:32633" and raster.transform == profile["transform"]


def test_drain_polls_until_done_and_bounds_the_wait(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(2)
    exporter = _exporter(store, server, read=fake_reader(BANDS, batch))
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


def test_request_id_is_stored_before_the_start_call(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    seen: list[TaskRecord | None] = []

    def start(request_id: str, task: Any) -> str:
        seen.append(store.get(1))  # what a crash at this very moment would leave behind
        return server.start(request_id, task)

    exporter = _exporter(store, server)
    exporter._start = start
    exporter.submit(_batch(1), BANDS)
    (before,) = seen
    assert before is not None and before.request_id == "req-1" and before.task_id == ""
    assert store.records[1].task_id == "T1" and store.records[1].request_id == "req-1"


def test_lost_start_answer_resends_the_same_request_id(ee_offline: Any) -> None:
    """Crash after the start reached the server, before its answer was stored."""
    server = FakeTasks()
    store = DictStore()
    _exporter(store, server).submit(_batch(1), BANDS)
    store.records[1] = TaskRecord("req-1", store.records[1].description)  # id never stored
    server.hidden.add("T1")  # and the listing does not show the task yet
    exporter = _exporter(store, server)
    report = exporter.submit(_batch(1), BANDS)
    assert report.attached == [1] and len(server.started) == 1  # the server refused a 2nd
    assert server.ids_drawn == 1, "the stored request id was sent again, no new one drawn"
    server.hidden.clear()
    assert list(exporter.collect(_batch(1), BANDS, 5.0)) == []  # READY: nothing to read yet
    assert store.ids[1] == "T1", "found by its description and stored"


def test_record_of_another_export_is_not_reused(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    _exporter(store, server).submit(_batch(1), BANDS)
    server.tasks["T1"]["state"] = "COMPLETED"
    pt, scenes = _batch(1)[0]
    other = [(pt, [*scenes, scene(200)])]  # e.g. --force with other thresholds
    report = _exporter(store, server).submit(other, BANDS)
    assert report.started == [1] and store.ids[1] == "T2"


def test_drain_starts_a_point_once_and_a_later_drain_resubmits(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(2)
    exporter = _exporter(store, server, read=fake_reader(BANDS, batch))
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        server.tasks["T1"].update(state="FAILED", error_message="Internal error.")
        server.tasks["T2"].update(state="FAILED", error_message="User memory limit exceeded.")

    results = {
        r.point_id: r
        for r in exporter.drain(batch, BANDS, 5.0, poll_s=60, timeout_s=600, clock=clock,
                                sleep=sleep)
    }
    assert len(server.started) == 2, "a failed task is not restarted within one drain"
    transient, deterministic = results[1], results[2]
    assert isinstance(transient, PointFailure) and transient.transient
    assert isinstance(deterministic, PointFailure) and not deterministic.transient
    assert store.records[2].state == "FAILED"

    again = list(exporter.drain(batch[:1], BANDS, 5.0, poll_s=60, timeout_s=0, clock=clock,
                                sleep=clock.sleep))
    assert len(server.started) == 3 and store.records[1].submissions == 2
    assert isinstance(again[0], PointFailure) and "unfinished" in again[0].message


def test_a_wider_export_is_cropped_to_the_patch(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(1)
    target = BatchTarget("my-bucket", "runs/2018", margin_px=8)
    exporter = _exporter(store, server, read=fake_reader(BANDS, batch, margin=8))
    exporter.target = target
    exporter.submit(batch, BANDS)
    image = server.started[0].config["expression"]
    (rect,) = invocations(image, "GeometryConstructors.Rectangle")
    assert const(rect["coordinates"]) == [0, 0, 80, 80]
    (reproject, *_) = invocations(image, "Image.reproject")
    g = batch[0][0].grid
    assert const(reproject["crsTransform"]) == [10.0, 0.0, g.x_min - 80, 0.0, -10.0, g.y_max + 80]
    server.tasks["T1"]["state"] = "COMPLETED"
    (stack,) = exporter.collect(batch, BANDS, 5.0)
    assert isinstance(stack, PointStack) and stack.data.shape == (2, 64, 64)
    names = band_names(batch[0][1], BANDS)
    assert int(stack.data["B2"][0, 32, 32]) == 10 + names.index(f"{scene(5).image_id}_B2")


def test_an_export_on_another_grid_is_a_permanent_failure(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(1)
    good = fake_reader(BANDS, batch)

    def shifted(path: str) -> Raster:
        raster = good(path)
        assert raster.transform is not None
        half_pixel = raster.transform @ Affine.translation(0.5, 0)
        return Raster(raster.array, raster.descriptions, half_pixel, raster.crs)

    exporter = _exporter(store, server, read=shifted)
    exporter.submit(batch, BANDS)
    server.tasks["T1"]["state"] = "COMPLETED"
    (failure,) = exporter.collect(batch, BANDS, 5.0)
    assert isinstance(failure, PointFailure) and not failure.transient
    assert "not the patch grid" in failure.message


def test_drain_keeps_the_queue_under_its_cap(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(3)
    exporter = _exporter(store, server, read=fake_reader(BANDS, batch))
    exporter.max_queued = 2
    clock = FakeClock()
    queued: list[int] = []

    def sleep(seconds: float) -> None:  # one task finishes per poll
        clock.sleep(seconds)
        active = [t for t in server.tasks.values() if t["state"] == "READY"]
        queued.append(len(active))
        active[0]["state"] = "COMPLETED"

    results = list(exporter.drain(batch, BANDS, 5.0, poll_s=60, clock=clock, sleep=sleep))
    assert sorted(r.point_id for r in results) == [1, 2, 3]
    assert all(isinstance(r, PointStack) for r in results)
    assert max(queued) <= 2 and len(server.started) == 3


def test_a_task_listing_that_keeps_failing_is_a_transient_failure(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()

    def listing() -> list[dict[str, Any]]:
        raise ee.EEException("Service Unavailable")

    exporter = _exporter(store, server)
    exporter._list = listing
    results = list(exporter.drain(_batch(2), BANDS, 5.0, poll_s=60, timeout_s=600,
                                  clock=FakeClock(), sleep=lambda s: None))
    assert [r.point_id for r in results] == [1, 2]
    assert all(isinstance(r, PointFailure) and r.transient for r in results)
    assert server.started == []


def test_ctrl_c_ends_the_wait_within_a_second_and_starts_nothing_more(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    clock = FakeClock()
    gee = GeeSource(GeeSettings(workers=2), clock=clock, sleep=clock.sleep)
    pressed: list[bool] = []

    def sleep(seconds: float) -> None:  # Ctrl-C during the first second of the wait
        clock.sleep(seconds)
        pressed.append(True)

    source = GeeBatchSource(gee, _exporter(store, server), clock=clock, sleep=sleep,
                            stop=lambda: bool(pressed))
    assert list(source.fetch(_batch(2), BANDS, 5.0)) == []  # no result: nothing recorded
    assert clock.sleeps == [1.0] and len(server.started) == 2
    assert list(source.fetch(_batch(3)[2:], BANDS, 5.0)) == [] and len(server.started) == 2


def test_the_start_call_sends_the_stored_request_id(ee_offline: Any) -> None:
    """The default start goes through ee.data.exportImage; the HTTP resource is a mock."""
    resource = mock.MagicMock()
    export = resource.projects.return_value.image.return_value.export
    export.return_value.execute.return_value = {"name": "projects/my-project/operations/OP1"}
    store = DictStore()
    clock = FakeClock()
    exporter = BatchExporter(store, TARGET, throttle=Throttle(2, clock=clock, sleep=clock.sleep),
                             list_tasks=list, task_status=lambda ids: [])
    with apitestcase.UsingCloudApi(cloud_api_resource=resource):
        report = exporter.submit(_batch(1), BANDS)
    assert report.started == [1]
    record = store.records[1]
    body = export.call_args.kwargs["body"]
    assert body["requestId"] == record.request_id and len(record.request_id) == 36  # a uuid
    assert body["description"] == record.description
    assert record.task_id == "OP1" and record.state == "READY"
