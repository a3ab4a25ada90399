"""Batch path: many points per task, the same pixels as the fast path, request ids stored
before the start, re-attach after a crash at either point, polls that touch only this run's
tasks in flight, a failed task resubmitted only for its own points."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from unittest import mock

import ee
import numpy as np
import pytest
from ee import apitestcase

from exports.gee.batch import BatchExporter, TableTarget, TaskRecord
from exports.gee.groups import even_chunks, group_points
from exports.gee.patch_table import export_task, group_description
from exports.gee.source import GeeBatchSource, GeeSettings, GeeSource
from exports.gee.throttle import RetryPolicy, Throttle
from exports.grid import patch_grid
from exports.source import PointFailure, PointRequest, PointStack, Scene
from tests.exports.gee_fakes import (
    FakeClock,
    FakeTasks,
    export_samples,
    invocations,
    lattice_compute_pixels,
    point,
    scene,
    table_bytes,
)

BANDS = ("SCL", "B2", "B4", "B8A")
TARGET = TableTarget("my-bucket", "runs/2018")
Item = tuple[PointRequest, Sequence[Scene]]


class DictStore:
    def __init__(self) -> None:
        self.records: dict[int, TaskRecord] = {}
        self.puts = 0

    def get(self, point_id: int) -> TaskRecord | None:
        return self.records.get(point_id)

    def put(self, point_id: int, record: TaskRecord) -> None:
        self.puts += 1
        self.records[point_id] = record

    @property
    def ids(self) -> dict[int, str]:
        return {pid: r.task_id for pid, r in self.records.items()}


class Crash(BaseException):
    """A kill -9 at this very line: nothing after it runs, no handler sees it."""


def _exporter(store: DictStore, server: FakeTasks, **kw: Any) -> BatchExporter:
    clock = FakeClock()
    return BatchExporter(
        store, TARGET,
        throttle=Throttle(2, retry=RetryPolicy(max_attempts=2), clock=clock, sleep=clock.sleep),
        new_request_id=server.new_id, start_export=server.start, task_status=server.status,
        list_tasks=server.listing, open_object=server.open, **kw,
    )  # fmt: skip


def lucas_points(n: int, east: int = 4700, north: int = 2800) -> list[PointRequest]:
    """``n`` points of the LUCAS 2 km grid (EPSG:3035 nodes), a block around (east, north) km."""
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)
    side = int(np.ceil(np.sqrt(n)))
    out = []
    for k in range(n):
        e, no = east + 2 * (k % side), north + 2 * (k // side)
        lon, lat = to_wgs84.transform(e * 1000.0, no * 1000.0)
        out.append(PointRequest(int(f"{e:04d}{no:04d}"), lat, lon, patch_grid(lat, lon)))
    return out


def _batch(n: int, scenes_of: Any = None) -> list[Item]:
    """Points of one UTM zone; each point its own scene list (not all share every scene)."""
    pts = [point(i, 48.0 + i / 200, 16.0 + (i % 5) / 200) for i in range(1, n + 1)]
    scenes_of = scenes_of or (lambda i: [scene(5), scene(20 + i % 3), scene(90)][: 2 + i % 2])
    return [(p, scenes_of(p.point_id)) for p in pts]


def _drain(exporter: BatchExporter, batch: list[Item], server: FakeTasks,
           finish: Any = None, **kw: Any) -> dict[int, PointStack | PointFailure]:
    """A drain whose waits let the server finish ``finish(server)`` (default: everything)."""
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        (finish or _complete_all)(server)

    kw.setdefault("timeout_s", 3600)
    results = exporter.drain(batch, BANDS, 5.0, poll_s=60, clock=clock, sleep=sleep, **kw)
    return {r.point_id: r for r in results}


def _complete_all(server: FakeTasks) -> None:
    for task_id, task in server.tasks.items():
        if task["state"] in ("READY", "RUNNING"):
            server.complete(task_id)


# --- grouping ------------------------------------------------------------------------


def test_a_dense_set_gives_groups_of_at_least_100_neighbours_of_one_crs() -> None:
    pts = lucas_points(1500, east=4432, north=2700)  # across the 12° E zone boundary (32/33)
    items = [(p, []) for p in pts]
    groups = group_points(items, 128)
    zones = {p.grid.epsg for p in pts}
    assert zones == {32632, 32633}
    assert sum(len(g) for g in groups) == 1500
    assert sorted(p.point_id for g in groups for p, _ in g) == sorted(p.point_id for p in pts)
    for g in groups:
        assert len({p.grid.epsg for p, _ in g}) == 1, "one CRS per group"
        assert 100 <= len(g) <= 128
        xs = [p.grid.x_min for p, _ in g]
        ys = [p.grid.y_max for p, _ in g]
        # 128 points of a 2 km grid: a compact block, not a strip across the country
        assert max(xs) - min(xs) < 60_000 and max(ys) - min(ys) < 60_000
    assert group_points(list(reversed(items)), 128) == groups, "deterministic"


def test_groups_are_cut_evenly() -> None:
    assert [len(c) for c in even_chunks(list(range(300)), 256)] == [150, 150]
    assert [len(c) for c in even_chunks(list(range(6000)), 128)] == [128] * 31 + [127] * 16


# --- what a task exports --------------------------------------------------------------


def test_a_group_exports_each_points_own_scenes_as_a_tfrecord_table(ee_offline: Any) -> None:
    batch = _batch(6)
    task = export_task(batch, BANDS, TARGET)
    config = task.config
    assert config["fileExportOptions"]["fileFormat"] == "TF_RECORD_TABLE"
    assert config["fileExportOptions"]["cloudStorageDestination"] == {
        "bucket": "my-bucket", "filenamePrefix": f"runs/2018/{config['description']}"}
    assert config["selectors"] == ["point_id", "image_id", *BANDS]
    assert config["description"] == group_description(batch, BANDS, TARGET)
    asked = {(int(s.point_id), s.image_id) for s in export_samples(config)}  # checked too
    assert asked == {(p.point_id, s.image_id) for p, scenes in batch for s in scenes}
    loads = [a["id"]["constantValue"] for a in invocations(config["expression"], "Image.load")]
    assert len(loads) == len(set(loads)) == 5, "each scene loaded once for the whole group"


def test_points_of_two_zones_are_never_one_export(ee_offline: Any) -> None:
    west, east = point(1, 48.0, 11.99), point(2, 48.0, 12.01)
    with pytest.raises(ValueError, match="several CRSs"):
        export_task([(west, [scene(5)]), (east, [scene(5)])], BANDS, TARGET)


# --- values ----------------------------------------------------------------------------


def test_batch_stacks_equal_the_fast_paths(ee_offline: Any) -> None:
    batch = _batch(7)
    batch.append((point(99, 47.5, 11.999), [scene(40, "32TQT"), scene(41, "33TUN")]))  # zone 32
    store, server = DictStore(), FakeTasks()
    exporter = _exporter(store, server, group_size=4)
    results = _drain(exporter, batch, server)
    clock = FakeClock()
    fast = GeeSource(GeeSettings(workers=2), compute_pixels=lattice_compute_pixels,
                     clock=clock, sleep=clock.sleep)
    reference = {r.point_id: r for r in fast.fetch(batch, BANDS, 5.0)}
    assert len(server.started) == 3  # zone 33: 4 + 3 points; zone 32: 1
    assert sorted(results) == sorted(reference) == sorted(p.point_id for p, _ in batch)
    for pid, got in results.items():
        want = reference[pid]
        assert isinstance(got, PointStack) and isinstance(want, PointStack), got
        assert got.image_ids == want.image_ids == sorted(got.image_ids), "time order"
        assert got.data.dtype == want.data.dtype and got.data["SCL"].dtype == np.uint8
        for band in BANDS:
            assert np.array_equal(got.data[band], want.data[band]), (pid, band)


def test_a_scene_missing_from_the_table_is_dropped_with_the_reason(ee_offline: Any) -> None:
    batch = _batch(2, lambda i: [scene(5), scene(20)])
    store, server = DictStore(), FakeTasks()

    def finish(srv: FakeTasks) -> None:
        (config,) = srv.configs.values()
        kept = [s for s in export_samples(config)
                if not (s.point_id == "00000001" and s.image_id == scene(20).image_id)]
        srv.files[("my-bucket", f"runs/2018/{config['description']}.tfrecord.gz")] = (
            table_bytes(kept))
        srv.tasks["T1"]["state"] = "COMPLETED"

    results = _drain(_exporter(store, server), batch, server, finish)
    one, two = results[1], results[2]
    assert isinstance(one, PointStack) and one.image_ids == [scene(5).image_id]
    assert "no patch for this scene" in one.dropped[0].reason
    assert isinstance(two, PointStack) and len(two.image_ids) == 2


# --- restart safety ----------------------------------------------------------------------


def test_request_id_is_stored_for_every_member_before_the_start_call(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(5)
    seen: list[dict[int, TaskRecord]] = []

    def start(request_id: str, task: Any) -> str:
        seen.append(dict(store.records))  # what a crash at this very moment leaves behind
        return server.start(request_id, task)

    exporter = _exporter(store, server)
    exporter._start = start
    _drain(exporter, batch, server)
    (before,) = seen
    assert set(before) == {1, 2, 3, 4, 5}
    assert {(r.request_id, r.task_id) for r in before.values()} == {("req-1", "")}
    assert {r.task_id for r in store.records.values()} == {"T1"}


def test_kill_after_storing_the_request_id_before_the_start(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(5)

    def killed(request_id: str, task: Any) -> str:
        raise Crash

    exporter = _exporter(store, server)
    exporter._start = killed
    with pytest.raises(Crash):
        _drain(exporter, batch, server)
    assert server.started == [] and {r.request_id for r in store.records.values()} == {"req-1"}

    results = _drain(_exporter(store, server), batch, server)  # the restarted run
    assert len(server.started) == 1 and server.ids_drawn == 1, "the stored request id, resent"
    assert all(isinstance(r, PointStack) for r in results.values()) and len(results) == 5


def test_kill_while_storing_the_request_ids_starts_nothing_twice(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(5)
    real_put = store.put

    def put(pid: int, record: TaskRecord) -> None:
        if store.puts == 2:
            raise Crash  # two members recorded, three not: the start was never sent
        real_put(pid, record)

    store.put = put  # type: ignore[method-assign]
    with pytest.raises(Crash):
        _drain(_exporter(store, server), batch, server)
    store.put = real_put  # type: ignore[method-assign]
    results = _drain(_exporter(store, server), batch, server)
    assert len(server.started) == 1 and server.members("T1") == [1, 2, 3, 4, 5]
    assert all(isinstance(r, PointStack) for r in results.values())


def test_kill_after_the_start_before_the_task_id_is_stored(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(5)

    def started_then_killed(request_id: str, task: Any) -> str:
        server.start(request_id, task)
        raise Crash  # the answer (the task id) never reached the ledger

    exporter = _exporter(store, server)
    exporter._start = started_then_killed
    with pytest.raises(Crash):
        _drain(exporter, batch, server)
    assert {r.task_id for r in store.records.values()} == {""}

    results = _drain(_exporter(store, server), batch, server)  # the restarted run
    assert len(server.started) == 1, "the server refused the request id a second time"
    assert server.ids_drawn == 1 and server.listings == 1, "found once by its description"
    assert store.ids == dict.fromkeys(range(1, 6), "T1")
    assert all(isinstance(r, PointStack) for r in results.values()) and len(results) == 5


def test_a_lost_start_answer_not_listed_yet_waits_for_the_next_run(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(3)

    def started_then_killed(request_id: str, task: Any) -> str:
        server.hidden.add(server.start(request_id, task))  # not in the listing yet
        raise Crash

    exporter = _exporter(store, server)
    exporter._start = started_then_killed
    with pytest.raises(Crash):
        _drain(exporter, batch, server)
    results = _drain(_exporter(store, server), batch, server)
    assert len(server.started) == 1 and server.listings == 1
    for r in results.values():
        assert isinstance(r, PointFailure) and r.transient and "run again" in r.message
    server.hidden.clear()
    again = _drain(_exporter(store, server), batch, server)
    assert len(server.started) == 1 and server.ids_drawn == 1
    assert all(isinstance(r, PointStack) for r in again.values()) and len(again) == 3


def test_a_restart_re_attaches_by_the_stored_task_id(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(6)
    first = _drain(_exporter(store, server, group_size=3), batch, server,
                   finish=lambda s: None, timeout_s=0)
    assert all(isinstance(r, PointFailure) and "re-attach" in r.message for r in first.values())
    assert len(server.started) == 2
    again = _drain(_exporter(store, server, group_size=3), batch, server)
    assert len(server.started) == 2 and server.listings == 0
    assert all(isinstance(r, PointStack) for r in again.values()) and len(again) == 6


def test_another_export_of_a_point_is_not_reused(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(2, lambda i: [scene(5)])
    _drain(_exporter(store, server), batch, server)
    other = [(p, [*s, scene(200)]) for p, s in batch]  # e.g. --force with other thresholds
    results = _drain(_exporter(store, server), other, server)
    assert len(server.started) == 2 and store.ids == {1: "T2", 2: "T2"}
    assert all(isinstance(r, PointStack) and len(r.image_ids) == 2 for r in results.values())


# --- polling -----------------------------------------------------------------------------


def test_polls_touch_only_this_runs_tasks_still_in_flight(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    for i in range(50):
        server.add(f"other{i}", "RUNNING")  # the project's other work: never looked at
    batch = _batch(12)
    exporter = _exporter(store, server, group_size=2, max_in_flight=3)

    def one_per_poll(srv: FakeTasks) -> None:  # the server finishes one of ours per poll
        ours = [t for t in srv.tasks if t.startswith("T") and srv.tasks[t]["state"] == "READY"]
        if ours:
            srv.complete(ours[0])

    answers: list[list[dict[str, Any]]] = []

    def status(ids: list[str]) -> list[dict[str, Any]]:
        answers.append(server.status(ids))
        return answers[-1]

    exporter._status = status
    results = _drain(exporter, batch, server, one_per_poll)
    assert len(results) == 12 and all(isinstance(r, PointStack) for r in results.values())
    assert len(server.started) == 6 and server.listings == 0
    done: set[str] = set()
    for answer in answers:
        ids = {t["id"] for t in answer}
        assert 1 <= len(ids) <= 3 and not any(i.startswith("other") for i in ids)
        assert not done & ids, "a finished task is never asked for again"
        done |= {t["id"] for t in answer if t["state"] == "COMPLETED"}
    assert len(done) == 6


# --- failures ------------------------------------------------------------------------------


def test_a_failed_task_is_resubmitted_only_for_its_points_in_smaller_groups(
    ee_offline: Any,
) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(8)
    exporter = _exporter(store, server, group_size=4)

    def first_fails(srv: FakeTasks) -> None:
        srv.fail("T1", "User memory limit exceeded.")
        srv.complete("T2")

    results = _drain(exporter, batch, server, first_fails)
    failed = server.members("T1")
    assert len(failed) == 4 and len(server.started) == 2, "not restarted within one drain"
    assert all(isinstance(results[p], PointFailure) and results[p].transient for p in failed)
    assert sum(isinstance(r, PointStack) for r in results.values()) == 4

    left = [item for item in batch if item[0].point_id in failed]  # what the stage retries
    again = _drain(exporter, left, server)
    assert len(server.started) == 4
    assert sorted(server.members("T3") + server.members("T4")) == failed, "only its points"
    assert len(server.members("T3")) == 2, "halved after a failure"
    assert all(isinstance(r, PointStack) for r in again.values())
    assert {store.records[p].submissions for p in failed} == {2}


def test_a_single_point_deterministic_failure_is_final(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    batch = _batch(1)
    results = _drain(_exporter(store, server), batch, server,
                     lambda s: s.fail("T1", "User memory limit exceeded."))
    (failure,) = results.values()
    assert isinstance(failure, PointFailure) and not failure.transient
    assert "User memory limit exceeded" in failure.message
    assert store.records[1].state == "FAILED"


def test_a_task_unknown_to_the_server_is_a_transient_failure(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    results = _drain(_exporter(store, server), _batch(2), server,
                     lambda s: s.tasks.clear())
    assert all(isinstance(r, PointFailure) and r.transient and "unknown" in r.message
               for r in results.values())


def test_a_status_query_that_keeps_failing_is_a_transient_failure(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()

    def status(ids: list[str]) -> list[dict[str, Any]]:
        raise ee.EEException("Service Unavailable")

    exporter = _exporter(store, server)
    exporter._status = status
    results = _drain(exporter, _batch(2), server)
    assert sorted(results) == [1, 2]
    assert all(isinstance(r, PointFailure) and r.transient for r in results.values())


def test_an_unreadable_table_is_a_transient_failure_naming_the_object(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()

    def damaged(srv: FakeTasks) -> None:
        _complete_all(srv)
        for key, data in srv.files.items():
            srv.files[key] = data[: len(data) // 2]

    results = _drain(_exporter(store, server), _batch(2), server, damaged)
    for r in results.values():
        assert isinstance(r, PointFailure) and r.transient
        assert "gs://my-bucket/runs/2018/sen4map_g00000001_2_" in r.message


def test_drain_bounds_the_wait_and_defers_what_the_in_flight_cap_holds(
    ee_offline: Any,
) -> None:
    store, server = DictStore(), FakeTasks()
    exporter = _exporter(store, server, group_size=1, max_in_flight=2)
    results = _drain(exporter, _batch(3), server, lambda s: None, timeout_s=150)
    assert len(server.started) == 2
    started = {p for task_id in server.tasks for p in server.members(task_id)}
    for pid, r in results.items():
        assert isinstance(r, PointFailure) and r.transient
        expected = "unfinished at the batch timeout" if pid in started else "not started"
        assert expected in r.message


def test_ctrl_c_ends_the_wait_within_a_second_and_starts_nothing_more(ee_offline: Any) -> None:
    store, server = DictStore(), FakeTasks()
    clock = FakeClock()
    gee = GeeSource(GeeSettings(workers=2), clock=clock, sleep=clock.sleep)
    pressed: list[bool] = []

    def sleep(seconds: float) -> None:  # Ctrl-C during the first second of the wait
        clock.sleep(seconds)
        pressed.append(True)

    exporter = _exporter(store, server, group_size=1)
    source = GeeBatchSource(gee, exporter, clock=clock, sleep=sleep, stop=lambda: bool(pressed))
    assert list(source.fetch(_batch(2), BANDS, 5.0)) == []  # no result: nothing recorded
    assert clock.sleeps == [1.0] and len(server.started) == 2
    assert list(source.fetch(_batch(3)[2:], BANDS, 5.0)) == [] and len(server.started) == 2


def test_the_start_call_sends_the_stored_request_id(ee_offline: Any) -> None:
    """The default start goes through ee.data.exportTable; the HTTP resource is a mock."""
    resource = mock.MagicMock()
    export = resource.projects.return_value.table.return_value.export
    export.return_value.execute.return_value = {"name": "projects/my-project/operations/OP1"}
    store = DictStore()
    clock = FakeClock()
    exporter = BatchExporter(store, TARGET, throttle=Throttle(2, clock=clock, sleep=clock.sleep),
                             task_status=lambda ids: [])
    with apitestcase.UsingCloudApi(cloud_api_resource=resource):
        exporter.start(exporter.plan(_batch(3), BANDS).fresh[0], BANDS)
    body = export.call_args.kwargs["body"]
    (request_id,) = {r.request_id for r in store.records.values()}
    assert body["requestId"] == request_id and len(request_id) == 36  # a uuid
    assert body["description"] == store.records[1].description
    assert body["fileExportOptions"]["fileFormat"] == "TF_RECORD_TABLE"
    assert {(r.task_id, r.state) for r in store.records.values()} == {("OP1", "READY")}
