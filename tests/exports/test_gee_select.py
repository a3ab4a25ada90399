"""Scene selection on the server: the expression sent, the answer parsed, the chunking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import ee
import pytest
from ee import apitestcase

from exports.gee.select import PROPS, parse_answer, scene_query, select_scenes, utm_epsg_of_tile
from exports.gee.source import GeeSettings, GeeSource
from exports.gee.throttle import RetryPolicy, Throttle
from exports.source import PointRequest, SceneFilter
from tests.exports.gee_fakes import (
    FakeClock,
    const,
    image_id,
    invocations,
    point,
    point_ids,
)


def _row(day: int, tile: str = "33UXP", cloud: float = 12.5) -> list[Any]:
    index = image_id(day, tile)
    ms = int(datetime.strptime(index[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp())
    return [
        index,
        ms * 1000,
        tile,
        cloud,
        0.4,
        f"GS2A_{index[:15]}_013227_N02.06",
        "Sentinel-2A",
        "02.06",
    ]


def _answer(rows_by_point: dict[int, list[list[Any]]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": None, "properties": {"point_id": pid, "scenes": rows}}
            for pid, rows in rows_by_point.items()
        ],
    }


def _fake_server(rows_for: Any) -> Any:
    """A computeValue that answers a scene_query for whatever points it holds."""
    queries: list[Any] = []

    def compute_value(query: Any) -> dict[str, Any]:
        queries.append(query)
        return _answer({pid: rows_for(pid) for pid in point_ids(query)})

    compute_value.queries = queries  # type: ignore[attr-defined]
    return compute_value


def _throttle() -> Throttle:
    clock = FakeClock()
    return Throttle(4, retry=RetryPolicy(max_attempts=3), clock=clock, sleep=clock.sleep)


def test_query_filters_year_thresholds_and_buffer_containment(ee_offline: Any) -> None:
    pts = [point(1, 48.2, 16.37), point(2, 48.3, 16.5)]
    query = scene_query(pts, 2018, SceneFilter(40.0, 5.0, 650.0))

    loads = invocations(query, "ImageCollection.load")
    assert [const(a["id"]) for a in loads] == ["COPERNICUS/S2_SR_HARMONIZED"]
    less = {
        const(a["leftField"]): const(a["rightValue"]) for a in invocations(query, "Filter.lessThan")
    }
    assert less == {"CLOUDY_PIXEL_PERCENTAGE": 40.0, "NODATA_PIXEL_PERCENTAGE": 5.0}
    (span,) = invocations(query, "DateRange")
    assert (const(span["start"]), const(span["end"])) == ("2018-01-01", "2019-01-01")
    (contains,) = invocations(query, "Filter.contains")
    assert const(contains["leftField"]) == ".geo"
    buffer = contains["rightValue"]["functionInvocationValue"]
    assert buffer["functionName"] == "Geometry.buffer"
    assert const(buffer["arguments"]["distance"]) == 650.0
    (columns,) = invocations(query, "Collection.reduceColumns")
    assert const(columns["selectors"]) == list(PROPS)
    (to_list,) = invocations(query, "Reducer.toList")
    assert const(to_list["tupleSize"]) == len(PROPS)
    coords = [const(a["coordinates"]) for a in invocations(query, "GeometryConstructors.Point")]
    assert coords == [[16.37, 48.2], [16.5, 48.3]]


def test_answer_becomes_time_ordered_scenes() -> None:
    answer = _answer({7: [_row(200), _row(5, "32UQU", cloud=39.9)], 8: []})
    scenes = parse_answer(answer)
    assert scenes[8] == []
    first, second = scenes[7]
    assert first.image_id == image_id(5, "32UQU")
    assert first.scene_id == f"COPERNICUS/S2_SR_HARMONIZED/{image_id(5, '32UQU')}"
    assert first.acquired == datetime(2018, 1, 5, 10, 0, 31, tzinfo=UTC)
    assert first.datatake == "S2A_20180105T100031"
    assert (first.tile, first.epsg, first.cloud_cover) == ("32UQU", 32632, 39.9)
    assert first.assets == {} and first.boa_offset == 0
    assert second.tile == "33UXP"


def test_missing_datatake_falls_back_to_spacecraft_and_datatake_start() -> None:
    row = [*_row(10)[:5], None, "Sentinel-2B", None]
    (scene,) = parse_answer(_answer({1: [row]}))[1]
    assert scene.datatake == "S2B_20180110T100031"


def test_datatake_key_leaves_the_processing_baseline_out() -> None:
    old, new = _row(10), _row(10)
    old[5], new[5] = "GS2A_20180110T100031_013227_N02.06", "GS2A_20180110T100031_013227_N05.00"
    first, second = parse_answer(_answer({1: [old, new]}))[1]
    assert first.datatake == second.datatake == "S2A_20180110T100031"


def test_tile_zone_and_hemisphere() -> None:
    assert utm_epsg_of_tile("33UXP") == 32633
    assert utm_epsg_of_tile("21MYR") == 32721  # band M: south


def test_many_points_in_few_calls(ee_offline: Any) -> None:
    pts = [point(i, 48.0 + i * 0.01, 16.0) for i in range(1, 24)]
    server = _fake_server(lambda pid: [_row(pid)])
    selection = select_scenes(
        pts, 2018, SceneFilter(), evaluate=server, throttle=_throttle(), chunk_size=10
    )
    assert len(server.queries) == 3
    assert set(selection.scenes) == {p.point_id for p in pts}
    assert selection.scenes[5][0].image_id == image_id(5)
    assert selection.scenes_seen == 23


def test_too_heavy_chunk_is_split(ee_offline: Any) -> None:
    pts = [point(i, 48.0 + i * 0.01, 16.0) for i in range(1, 5)]
    inner = _fake_server(lambda pid: [])
    sizes: list[int] = []

    def evaluate(query: Any) -> Any:
        n = len(point_ids(query))
        sizes.append(n)
        if n > 1:
            raise ee.EEException("User memory limit exceeded.")
        return inner(query)

    selection = select_scenes(pts, 2018, SceneFilter(), evaluate=evaluate, throttle=_throttle())
    assert sorted(selection.scenes) == [1, 2, 3, 4]
    assert sizes.count(1) == 4 and sizes[0] == 4


def _timing_out_for(bad: set[int], sizes: list[int]) -> Any:
    """A computeValue that answers "Computation timed out." (the real server's HTTP 400
    text) for any chunk holding one of ``bad``, as a too-heavy chunk would."""
    inner = _fake_server(lambda pid: [_row(pid % 300 + 1)])

    def evaluate(query: Any) -> Any:
        ids = point_ids(query)
        sizes.append(len(ids))
        if bad & set(ids):
            raise ee.EEException("Computation timed out.")
        return inner(query)

    return evaluate


def test_a_timed_out_chunk_is_split_at_once_without_retries(ee_offline: Any) -> None:
    pts = [point(i, 48.0 + i * 0.01, 16.0) for i in range(1, 17)]
    sizes: list[int] = []
    clock = FakeClock()
    throttle = Throttle(4, retry=RetryPolicy(max_attempts=6), clock=clock, sleep=clock.sleep)

    def evaluate(query: Any) -> Any:
        n = len(point_ids(query))
        sizes.append(n)
        if n > 4:
            raise ee.EEException("Computation timed out.")
        return _fake_server(lambda pid: [])(query)

    selection = select_scenes(pts, 2018, SceneFilter(), evaluate=evaluate, throttle=throttle,
                              chunk_size=16)
    assert sorted(selection.scenes) == list(range(1, 17)) and selection.failed == {}
    # 16 → 8 + 8 → four 4s: each chunk sent once, no retry, no backoff sleep.
    assert sorted(sizes) == [4, 4, 4, 4, 8, 8, 16]
    assert [s for s in clock.sleeps if s >= 0.5] == []


def test_a_client_read_timeout_also_splits_at_once(ee_offline: Any) -> None:
    sizes: list[int] = []

    def evaluate(query: Any) -> Any:
        sizes.append(len(point_ids(query)))
        if sizes[-1] > 1:
            raise TimeoutError("The read operation timed out")
        return _fake_server(lambda pid: [])(query)

    pts = [point(1), point(2, 48.3, 16.5)]
    selection = select_scenes(pts, 2018, SceneFilter(), evaluate=evaluate,
                              throttle=_throttle())
    assert sizes == [2, 1, 1] and sorted(selection.scenes) == [1, 2]


def test_a_chunk_that_keeps_failing_becomes_transient_point_failures(ee_offline: Any) -> None:
    pts = [point(i, 48.0 + i * 0.01, 16.0) for i in range(1, 21)]
    sizes: list[int] = []
    selection = select_scenes(pts, 2018, SceneFilter(), evaluate=_timing_out_for({13}, sizes),
                              throttle=_throttle(), chunk_size=10)
    assert set(selection.scenes) == set(range(1, 21)) - {13}, "the rest is kept"
    assert selection.scenes[12][0].image_id == image_id(13)
    assert list(selection.failed) == [13]
    failure = selection.failed[13]
    assert failure.transient and failure.point_id == 13
    assert failure.message == ("gee scene selection failed: Computation timed out. "
                               "(the next `etl run` tries again)")
    assert sizes.count(1) >= 1 and max(sizes) == 10
    assert len(sizes) <= 2 + 2 * 4, "halving: at most log2(10) levels of two calls"


def test_a_chunk_failing_after_retries_loses_only_its_points(ee_offline: Any) -> None:
    pts = [point(i, 48.0 + i * 0.01, 16.0) for i in range(1, 21)]
    inner = _fake_server(lambda pid: [])
    calls: list[list[int]] = []

    def evaluate(query: Any) -> Any:
        ids = point_ids(query)
        calls.append(ids)
        if 3 in ids:
            raise ee.EEException("Service Unavailable")
        return inner(query)

    selection = select_scenes(pts, 2018, SceneFilter(), evaluate=evaluate,
                              throttle=_throttle(), chunk_size=10)
    bad = next(ids for ids in calls if 3 in ids)
    assert sum(1 for ids in calls if 3 in ids) == 3, "the throttle's 3 attempts, no split"
    assert sorted(selection.failed) == sorted(bad)
    assert sorted(selection.scenes) == sorted(set(range(1, 21)) - set(bad))
    assert all(f.transient for f in selection.failed.values())


def test_a_deterministic_failure_is_a_permanent_point_failure(ee_offline: Any) -> None:
    def evaluate(query: Any) -> Any:
        raise ee.EEException("Collection.filter: Invalid argument")

    selection = select_scenes([point(1)], 2018, SceneFilter(), evaluate=evaluate,
                              throttle=_throttle())
    assert not selection.failed[1].transient and selection.scenes == {}


def test_a_point_the_answer_lacks_is_a_transient_failure(ee_offline: Any) -> None:
    def evaluate(query: Any) -> Any:
        return _answer({1: [_row(5)]})

    pts = [point(1), point(2, 48.3, 16.5)]
    selection = select_scenes(pts, 2018, SceneFilter(), evaluate=evaluate,
                              throttle=_throttle())
    assert list(selection.scenes) == [1] and list(selection.failed) == [2]
    assert selection.failed[2].transient
    assert "lacked point 00000002" in selection.failed[2].message


def test_source_sends_the_query_through_the_mocked_cloud_api(
    ee_offline: apitestcase.ApiTestCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default path: ee.data.computeValue, with the HTTP layer replaced by a mock resource."""
    monkeypatch.setattr(ee.data, "computeValue", ee_offline.old_compute_value)
    resource = mock.MagicMock()
    compute = resource.projects.return_value.value.return_value.compute
    compute.return_value.execute.return_value = {"result": _answer({3: [_row(42)]})}
    pts: list[PointRequest] = [point(3)]
    with apitestcase.UsingCloudApi(cloud_api_resource=resource):
        selection = GeeSource(GeeSettings(workers=2)).find_scenes(pts, 2018, SceneFilter())
    assert [s.image_id for s in selection.scenes[3]] == [image_id(42)]
    kwargs = compute.call_args.kwargs
    assert kwargs["project"] == "projects/my-project"
    expected = ee.serializer.encode(scene_query(pts, 2018, SceneFilter()), for_cloud_api=True)
    assert kwargs["body"]["expression"] == expected


def test_two_baselines_of_one_datatake_give_one_time_step() -> None:
    """A reprocessed copy (another baseline, another granule stamp) is the same datatake:
    one time step; which copy is kept follows the shared rule (least patch no-data, the
    point's zone, then the smaller scene id)."""
    import numpy as np

    from exports.stack import ScenePatch, assemble_stack

    first, reprocessed = _row(10), _row(10)
    reprocessed[0] = reprocessed[0].replace("T100029", "T100030")
    first[5] = "GS2A_20180110T100031_013227_N02.06"
    reprocessed[5] = "GS2A_20180110T100031_013227_N05.00"
    other_day = _row(20)
    scenes = parse_answer(_answer({1: [first, reprocessed, other_day]}))[1]
    bands = ("SCL", "B2")
    full = {"SCL": np.full((64, 64), 4, "u1"), "B2": np.full((64, 64), 900, "u2")}
    gappy = {**full, "SCL": np.where(np.arange(64)[:, None] < 2, 0, 4).astype("u1")}
    patches = [ScenePatch(scenes[0], gappy), ScenePatch(scenes[1], full),
               ScenePatch(scenes[2], full)]
    stack = assemble_stack(point(1), patches, bands, max_patch_nodata=5.0)
    assert stack.image_ids == [reprocessed[0], other_day[0]], "least no-data wins"
    (dup,) = stack.dropped
    assert (dup.scene_id, dup.kind) == (scenes[0].scene_id, "duplicate_datatake")
    tie = assemble_stack(point(1), [ScenePatch(s, full) for s in scenes], bands, 5.0)
    assert tie.image_ids == [first[0], other_day[0]], "a tie: the smaller scene id"
