"""GeeRadarSource: series from a fake computePixels, failures per point, the build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import ee
import httplib2
import numpy as np
import pytest
from ee import apitestcase

from exports.gee import source as gee_source
from exports.gee.auth import GeeAuth
from exports.gee.source import GeeSettings
from exports.gee.throttle import RetryPolicy
from exports.registry import SourceContext
from exports.s1.options import S1Options
from exports.s1.scene import S1_DTYPE, S1Scene
from exports.s1.source import RadarSource
from exports.s1.sources import get_radar_spec
from exports.s1gee.pixels import NODATA_DB, pixel_request
from exports.s1gee.source import GeeRadarSource
from exports.source import PointFailure, PointStack
from lucas.errors import ConfigError
from tests.exports.gee_fakes import (
    S1_FILL,
    FakeClock,
    const,
    invocations,
    npy_bytes,
    point,
    s1_marker,
    s1_npy_answer,
    s1_scene,
)


def _requested(params: dict[str, Any], scenes: list[S1Scene]) -> list[S1Scene]:
    (listed,) = invocations(params["expression"], "Filter.listContains")
    ids = const(listed["leftValue"])
    return [s for s in scenes if s.scene_id in ids]


def _source(compute_pixels: Any, workers: int = 4, attempts: int = 4) -> GeeRadarSource:
    clock = FakeClock()
    settings = GeeSettings(workers=workers, retry=RetryPolicy(max_attempts=attempts))
    return GeeRadarSource(settings, compute_pixels=compute_pixels, clock=clock,
                          sleep=clock.sleep)


def test_it_is_a_radar_source_of_sigma0_db() -> None:
    source: RadarSource = GeeRadarSource(GeeSettings(workers=1))
    assert (source.name, source.convention) == ("gee", "sigma0_db")


def test_the_marker_of_slice_k_lands_at_32_32_of_its_step(ee_offline: Any) -> None:
    pt = point()
    scenes = [s1_scene(150), s1_scene(3, relative_orbit=22, orbit_pass="DESCENDING"),
              s1_scene(77, mission="S1B")]  # not in time order
    answered: list[S1Scene] = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        group = _requested(params, scenes)[::-1]  # fields in an order of the server's choosing
        answered.extend(group)
        return npy_bytes(s1_npy_answer(group))

    (stack,) = _source(compute_pixels).fetch([(pt, scenes)], 5.0, "nearest")
    assert isinstance(stack, PointStack)
    ordered = sorted(scenes, key=lambda s: s.acquired)
    assert stack.image_ids == [s.scene_id for s in ordered]
    assert stack.acquired == [s.acquired for s in ordered]
    assert stack.data.dtype == S1_DTYPE and stack.data.shape == (3, 64, 64)
    for t, s in enumerate(ordered):
        k = answered.index(s)  # the slice's position in the answer
        assert stack.data["VV"][t, 32, 32] == np.float32(s1_marker(k, "VV"))
        assert stack.data["VH"][t, 32, 32] == np.float32(s1_marker(k, "VH"))
        assert stack.data["VV"][t, 0, 0] == np.float32(S1_FILL["VV"])  # dB, unchanged
    assert stack.step_attributes["orbit_pass"] == ["DESCENDING", "ASCENDING", "ASCENDING"]
    assert stack.step_attributes["relative_orbit"] == [22, 73, 73]
    assert stack.step_attributes["platform"] == ["sentinel-1a", "sentinel-1b", "sentinel-1a"]


def test_masked_pixels_are_nan_and_a_mostly_masked_slice_is_dropped(ee_offline: Any) -> None:
    pt = point()
    edge, gone = s1_scene(5), s1_scene(17)

    def compute_pixels(params: dict[str, Any]) -> bytes:
        answer = s1_npy_answer(_requested(params, [edge, gone]))
        answer[f"{edge.scene_id}_VH"][:, :2] = NODATA_DB  # 3.1 % of the patch
        answer[f"{gone.scene_id}_VV"][:32] = NODATA_DB  # 50 %
        return npy_bytes(answer)

    (stack,) = _source(compute_pixels).fetch([(pt, [edge, gone])], 5.0, "nearest")
    assert isinstance(stack, PointStack)
    assert stack.image_ids == [edge.scene_id]
    assert np.isnan(stack.data["VH"][0, :, :2]).all()
    assert not np.isnan(stack.data["VH"][0, :, 2:]).any()
    assert not np.isnan(stack.data["VV"][0]).any()
    assert [(d.scene_id, d.kind) for d in stack.dropped] == [(gone.scene_id, "patch_nodata")]


def test_one_slice_per_datatake(ee_offline: Any) -> None:
    pt = point()
    a, b = s1_scene(40, 0), s1_scene(40, 1)  # one datatake, overlapping slices
    assert a.datatake == b.datatake

    def compute_pixels(params: dict[str, Any]) -> bytes:
        answer = s1_npy_answer([a, b])
        answer[f"{a.scene_id}_VV"][:1] = NODATA_DB  # a: the edge of its swath
        return npy_bytes(answer)

    (stack,) = _source(compute_pixels).fetch([(pt, [a, b])], 5.0, "nearest")
    assert isinstance(stack, PointStack)
    assert stack.image_ids == [b.scene_id]
    assert [d.kind for d in stack.dropped] == ["duplicate_datatake"]


def test_bilinear_reaches_the_request(ee_offline: Any) -> None:
    modes: list[list[str]] = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        modes.append([const(r["mode"]) for r in invocations(params["expression"],
                                                             "Image.resample")])
        return npy_bytes(s1_npy_answer([s1_scene(5)]))

    source = _source(compute_pixels)
    list(source.fetch([(point(), [s1_scene(5)])], 5.0, "bilinear"))
    list(source.fetch([(point(), [s1_scene(5)])], 5.0, "nearest"))
    assert modes == [["bilinear"], []]


def test_a_point_without_slices_needs_no_request(ee_offline: Any) -> None:
    def compute_pixels(params: dict[str, Any]) -> bytes:
        raise AssertionError("no request expected")

    (stack,) = _source(compute_pixels).fetch([(point(), [])], 5.0, "nearest")
    assert isinstance(stack, PointStack) and stack.data.shape == (0, 64, 64)


def test_a_persistent_429_is_a_transient_point_failure(ee_offline: Any) -> None:
    calls: list[int] = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        calls.append(1)
        raise ee.EEException("Too many concurrent aggregations.")

    ok = point(2, 47.9, 13.1)

    def answer(params: dict[str, Any]) -> bytes:
        if _requested(params, [s1_scene(9)]):
            return npy_bytes(s1_npy_answer([s1_scene(9)]))
        return compute_pixels(params)

    results = {r.point_id: r for r in _source(answer, workers=1, attempts=3).fetch(
        [(point(1), [s1_scene(5)]), (ok, [s1_scene(9)])], 5.0, "nearest")}
    failure = results[1]
    assert isinstance(failure, PointFailure) and failure.transient
    assert "Too many concurrent aggregations" in failure.message
    assert len(calls) > 3  # 429s are retried for the quota budget, then the point is recorded
    assert isinstance(results[2], PointStack)  # the other point of the batch is unharmed


def test_a_permanent_error_is_a_point_failure_with_its_message(ee_offline: Any) -> None:
    def compute_pixels(params: dict[str, Any]) -> bytes:
        raise ee.EEException("Image.load: Image asset 'COPERNICUS/S1_GRD/x' not found.")

    (failure,) = _source(compute_pixels).fetch([(point(7), [s1_scene(5)])], 5.0, "nearest")
    assert isinstance(failure, PointFailure) and not failure.transient
    assert "not found" in failure.message and failure.point_id == 7


def test_a_wrong_shape_is_a_point_failure(ee_offline: Any) -> None:
    def compute_pixels(params: dict[str, Any]) -> bytes:
        return npy_bytes(s1_npy_answer([s1_scene(5)], size=48))

    (failure,) = _source(compute_pixels).fetch([(point(7), [s1_scene(5)])], 5.0, "nearest")
    assert isinstance(failure, PointFailure) and "shape" in failure.message


def test_unknown_resampling_is_a_config_error(ee_offline: Any) -> None:
    with pytest.raises(ConfigError, match="resampling"):
        list(_source(lambda p: b"").fetch([(point(), [s1_scene(5)])], 5.0, "cubic"))


def _http(*responses: tuple[int, bytes]) -> Any:
    http = mock.MagicMock(httplib2.Http)
    http.request.side_effect = [
        (httplib2.Response({"status": status}), body) for status, body in responses
    ]
    return http


def _error(status: int, message: str, kind: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": status, "message": message, "status": kind}}
                              ).encode()


def test_a_429_then_a_200_through_the_clients_http(ee_offline: Any) -> None:
    """No injected callable: ee.data.computePixels runs against a mocked httplib2."""
    pt, scenes = point(), [s1_scene(5), s1_scene(11)]
    http = _http(
        _error(429, "Too many concurrent aggregations.", "RESOURCE_EXHAUSTED"),
        (200, npy_bytes(s1_npy_answer(scenes))),
    )
    ee.data.setMaxRetries(0)  # as exports.gee.auth.initialize does: the retries are ours
    clock = FakeClock()
    source = GeeRadarSource(GeeSettings(workers=2, retry=RetryPolicy(max_attempts=4)),
                            clock=clock, sleep=clock.sleep)
    with apitestcase.UsingCloudApi(mock_http=http):
        (result,) = source.fetch([(pt, scenes)], 5.0, "nearest")
    assert isinstance(result, PointStack), result
    assert result.image_ids == [s.scene_id for s in scenes]
    assert http.request.call_count == 2
    uri, = http.request.call_args_list[1].args[:1]
    assert "/projects/my-project/image:computePixels" in uri
    body = json.loads(http.request.call_args_list[1].kwargs["body"])
    assert body["fileFormat"] == "NPY"
    assert body["grid"]["crsCode"] == pt.grid.crs
    expected = pixel_request(pt, scenes, "nearest")["expression"]
    assert body["expression"] == ee.serializer.encode(expected, for_cloud_api=True)
    assert source.throttle.limiter.limit < 2  # the 429 lowered the concurrency


def test_build_connects_like_the_s2_gee_source(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[GeeAuth] = []
    monkeypatch.setattr(gee_source, "initialize", seen.append)  # GeeService.connect
    context = SourceContext(bands=("B4",), year=2018, workers=3, project="my-project",
                            key_file="key.json")
    options = S1Options(s1="series", s1_source="gee")
    source = get_radar_spec("gee").build(options, context)
    assert isinstance(source, GeeRadarSource)
    assert seen == [GeeAuth(project="my-project", key_file=Path("key.json"))]
    assert source.throttle.workers == source.settings.workers == 3
    many = get_radar_spec("gee").build(options, SourceContext(bands=(), year=2018, workers=99))
    assert isinstance(many, GeeRadarSource) and many.settings.workers == 40
    assert seen[-1] == GeeAuth()
