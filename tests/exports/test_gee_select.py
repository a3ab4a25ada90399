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
from lucas.errors import SourceError
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
    assert first.datatake.startswith("GS2A_20180105T100031")
    assert (first.tile, first.epsg, first.cloud_cover) == ("32UQU", 32632, 39.9)
    assert first.assets == {} and first.boa_offset == 0
    assert second.tile == "33UXP"


def test_missing_datatake_falls_back_to_spacecraft_and_time() -> None:
    row = [*_row(10)[:5], None, "Sentinel-2B", None]
    (scene,) = parse_answer(_answer({1: [row]}))[1]
    assert scene.datatake == "Sentinel-2B_20180110T100031"


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


def test_failed_chunk_raises_a_source_error_naming_points(ee_offline: Any) -> None:
    def evaluate(query: Any) -> Any:
        raise ee.EEException("Service Unavailable")

    with pytest.raises(SourceError, match="points 1") as info:
        select_scenes([point(1)], 2018, SceneFilter(), evaluate=evaluate, throttle=_throttle())
    assert info.value.transient


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
