"""Sentinel-1 slice selection on Earth Engine: the expression sent, the answer parsed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import ee
import pytest
from ee import apitestcase

from exports.gee.source import GeeSettings
from exports.gee.throttle import RetryPolicy, Throttle
from exports.s1.source import S1Filter
from exports.s1gee.select import PROPS, acquisition_query, parse_answer, select_acquisitions
from exports.s1gee.source import GeeRadarSource
from tests.exports.gee_fakes import (
    FakeClock,
    const,
    invocations,
    point,
    point_ids,
    s1_answer,
    s1_index,
    s1_row,
)

# The client's own computeValue, taken at collection: a test that monkeypatches ee.data
# while ee_offline is active leaves apitestcase's fake behind (the autouse network guard
# holds the monkeypatch, which is undone after ee_offline's teardown), so
# ``ee_offline.old_compute_value`` may be that fake.
REAL_COMPUTE_VALUE = ee.data.computeValue


def _throttle() -> Throttle:
    clock = FakeClock()
    return Throttle(4, retry=RetryPolicy(max_attempts=3), clock=clock, sleep=clock.sleep)


def _fake_server(rows_for: Any) -> Any:
    """A computeValue that answers an acquisition_query for whatever points it holds."""
    queries: list[Any] = []

    def compute_value(query: Any) -> dict[str, Any]:
        queries.append(query)
        return s1_answer({pid: rows_for(pid) for pid in point_ids(query)})

    compute_value.queries = queries  # type: ignore[attr-defined]
    return compute_value


def _equals(query: Any) -> dict[str, Any]:
    return {const(a["leftField"]): const(a["rightValue"])
            for a in invocations(query, "Filter.equals")}


@pytest.mark.parametrize(("orbit", "expected"), [
    ("both", None), ("ascending", "ASCENDING"), ("descending", "DESCENDING")])
def test_query_filters_mode_polarisations_resolution_orbit_year_and_buffer(
    ee_offline: Any, orbit: str, expected: str | None
) -> None:
    pts = [point(1, 48.2, 16.37), point(2, 48.3, 16.5)]
    query = acquisition_query(pts, 2018, S1Filter(orbit=orbit, buffer_m=650.0))

    loads = invocations(query, "ImageCollection.load")
    assert [const(a["id"]) for a in loads] == ["COPERNICUS/S1_GRD"]
    (span,) = invocations(query, "DateRange")
    assert (const(span["start"]), const(span["end"])) == ("2018-01-01", "2019-01-01")
    equals = _equals(query)
    assert equals.pop("instrumentMode") == "IW"
    assert equals.pop("resolution_meters") == 10
    assert equals.pop("orbitProperties_pass", None) == expected
    assert equals == {}
    polarisations = sorted(
        (const(a["leftField"]), const(a["rightValue"]))
        for a in invocations(query, "Filter.listContains"))
    assert polarisations == [("transmitterReceiverPolarisation", "VH"),
                             ("transmitterReceiverPolarisation", "VV")]
    # The footprint contains the point's buffer; the bounds filter uses the same buffer.
    (contains,) = invocations(query, "Filter.contains")
    assert const(contains["leftField"]) == ".geo"
    buffer = contains["rightValue"]["functionInvocationValue"]
    assert buffer["functionName"] == "Geometry.buffer"
    assert const(buffer["arguments"]["distance"]) == 650.0
    (bounds,) = invocations(query, "Filter.intersects")  # filterBounds(buffer)
    bounds_geometry = bounds["rightValue"]["functionInvocationValue"]["arguments"]["geometry"]
    assert bounds_geometry["functionInvocationValue"] == buffer
    (columns,) = invocations(query, "Collection.reduceColumns")
    assert const(columns["selectors"]) == list(PROPS)
    (to_list,) = invocations(query, "Reducer.toList")
    assert const(to_list["tupleSize"]) == len(PROPS)
    coords = [const(a["coordinates"]) for a in invocations(query, "GeometryConstructors.Point")]
    assert coords == [[16.37, 48.2], [16.5, 48.3]]


def test_an_unknown_orbit_filter_is_refused(ee_offline: Any) -> None:
    with pytest.raises(ValueError, match="orbit"):
        acquisition_query([point()], 2018, S1Filter(orbit="north"))


def test_answer_becomes_time_ordered_s1_scenes() -> None:
    answer = s1_answer({
        7: [s1_row(200, orbit_pass="DESCENDING", relative_orbit=51, mission="S1B"),
            s1_row(5, relative_orbit=73)],
        8: [],
    })
    parsed = parse_answer(answer, 2018, "both")
    assert parsed[8] == ([], [])
    (first, second), dropped = parsed[7]
    assert dropped == []
    assert first.scene_id == s1_index(5)
    assert first.scene_id.startswith("S1A_IW_GRDH_1SDV_20180105T165050_")
    assert first.acquired == datetime(2018, 1, 5, 16, 50, 50, tzinfo=UTC)
    assert first.acquired.tzinfo is UTC
    assert (first.orbit_pass, first.relative_orbit, first.platform) == (
        "ASCENDING", 73, "sentinel-1a")
    assert first.convention == "sigma0_db" and first.epsg is None
    assert first.assets == {"VV": f"COPERNICUS/S1_GRD/{first.scene_id}",
                            "VH": f"COPERNICUS/S1_GRD/{first.scene_id}"}
    assert first.datatake == f"S1A_{0x020005:06X}"
    assert (second.orbit_pass, second.relative_orbit, second.platform) == (
        "DESCENDING", 51, "sentinel-1b")
    assert second.acquired == datetime(2018, 7, 19, 16, 50, 50, tzinfo=UTC)


def test_two_slices_of_one_datatake_share_its_key() -> None:
    rows = [s1_row(40, 0), s1_row(40, 1), s1_row(52, 0)]
    (a, b, c), _ = parse_answer(s1_answer({1: rows}), 2018, "both")[1]
    assert a.scene_id != b.scene_id
    assert a.datatake == b.datatake != c.datatake
    assert (b.acquired - a.acquired).total_seconds() == 25


def test_platform_falls_back_to_the_product_id() -> None:
    row = s1_row(10, mission="S1B")[:4]  # platform_number missing (optional column)
    (scene,), _ = parse_answer(s1_answer({1: [row]}), 2018, "both")[1]
    assert scene.platform == "sentinel-1b"


def test_shared_filters_still_drop_what_the_server_should_not_have_sent() -> None:
    wrong_pass = s1_row(10, orbit_pass="DESCENDING")
    next_year = s1_row(10)
    next_year[1] = int(datetime(2019, 1, 1, 0, 0, 5, tzinfo=UTC).timestamp()) * 1000
    kept, dropped = parse_answer(
        s1_answer({1: [s1_row(3), wrong_pass, next_year]}), 2018, "ascending")[1]
    assert [s.scene_id for s in kept] == [s1_index(3)]
    assert sorted(d.kind for d in dropped) == ["orbit", "wrong_year"]


def test_many_points_in_few_calls(ee_offline: Any) -> None:
    pts = [point(i, 48.0 + i * 0.01, 16.0) for i in range(1, 24)]
    server = _fake_server(lambda pid: [s1_row(pid), s1_row(100)])
    selection = select_acquisitions(
        pts, 2018, S1Filter(), evaluate=server, throttle=_throttle(), chunk_size=10)
    assert len(server.queries) == 3
    assert set(selection.scenes) == {p.point_id for p in pts}
    assert [s.scene_id for s in selection.scenes[5]] == [s1_index(5), s1_index(100)]
    assert selection.scenes_seen == 24
    assert selection.dropped == []


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

    selection = select_acquisitions(pts, 2018, S1Filter(), evaluate=evaluate,
                                    throttle=_throttle())
    assert sorted(selection.scenes) == [1, 2, 3, 4]
    assert sizes.count(1) == 4 and sizes[0] == 4


def test_a_429_is_retried_then_answered(ee_offline: Any) -> None:
    inner = _fake_server(lambda pid: [s1_row(5)])
    calls: list[int] = []

    def evaluate(query: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ee.EEException("Too many concurrent aggregations.")
        return inner(query)

    selection = select_acquisitions([point(1)], 2018, S1Filter(), evaluate=evaluate,
                                    throttle=_throttle())
    assert len(calls) == 2 and len(selection.scenes[1]) == 1


def test_a_failed_chunk_becomes_transient_point_failures(ee_offline: Any) -> None:
    def evaluate(query: Any) -> Any:
        raise ee.EEException("Service Unavailable")

    selection = select_acquisitions([point(1)], 2018, S1Filter(), evaluate=evaluate,
                                    throttle=_throttle())
    assert selection.scenes == {}
    failure = selection.failed[1]
    assert failure.transient
    assert failure.message.startswith(
        "gee Sentinel-1 selection failed: Service Unavailable")


def test_a_deterministic_failure_is_not_transient(ee_offline: Any) -> None:
    def evaluate(query: Any) -> Any:
        raise ee.EEException("Collection.filter: Invalid argument")

    selection = select_acquisitions([point(1)], 2018, S1Filter(), evaluate=evaluate,
                                    throttle=_throttle())
    assert not selection.failed[1].transient
    assert "retrying will not help" in selection.failed[1].message


def test_find_acquisitions_sends_the_query_through_the_mocked_cloud_api(
    ee_offline: apitestcase.ApiTestCase,
) -> None:
    """Default path: ee.data.computeValue, with the HTTP layer replaced by a mock resource."""
    resource = mock.MagicMock()
    compute = resource.projects.return_value.value.return_value.compute
    compute.return_value.execute.return_value = {"result": s1_answer({3: [s1_row(42)]})}
    pts = [point(3)]
    s1_filter = S1Filter(orbit="descending")
    fake = ee.data.computeValue
    ee.data.computeValue = REAL_COMPUTE_VALUE  # put back here, before ee_offline's teardown
    try:
        with apitestcase.UsingCloudApi(cloud_api_resource=resource):
            selection = GeeRadarSource(GeeSettings(workers=2)).find_acquisitions(
                pts, 2018, s1_filter)
    finally:
        ee.data.computeValue = fake
    # The pass filter is the server's; the answer's slice is ASCENDING, so the shared
    # filter drops it with its reason.
    assert selection.scenes == {3: []}
    assert [d.kind for d in selection.dropped] == ["orbit"]
    kwargs = compute.call_args.kwargs
    assert kwargs["project"] == "projects/my-project"
    expected = ee.serializer.encode(acquisition_query(pts, 2018, s1_filter), for_cloud_api=True)
    assert kwargs["body"]["expression"] == expected
