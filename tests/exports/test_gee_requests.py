"""What goes over the wire on the fast path, and what comes back, checked offline.

The serialized expressions, the request grid, HTTP 429 / 400 through the client's own
HTTP layer (``ee.apitestcase.UsingCloudApi`` with a mocked ``httplib2.Http``), the split of
a long series, and NPY bytes decoded into bands, dates and Image_IDs.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import ee
import httplib2
import numpy as np
import pytest
from ee import apitestcase
from pyproj import Transformer

from exports.gee.pixels import fetch_patches, pixel_request
from exports.gee.select import scene_query
from exports.gee.source import GeeSettings, GeeSource
from exports.gee.throttle import RetryPolicy, Throttle
from exports.source import ALL_BANDS, PointFailure, PointStack, SceneFilter
from tests.exports.gee_fakes import (
    FakeClock,
    const,
    invocations,
    npy_answer,
    npy_bytes,
    point,
    scene,
)

BANDS = ALL_BANDS


def test_serialized_expressions_hold_collection_dates_filters_and_to_bands(
    ee_offline: Any,
) -> None:
    pt = point()
    select = ee.serializer.toJSON(scene_query([pt], 2018, SceneFilter(40.0, 5.0, 650.0)))
    for text in ('"COPERNICUS/S2_SR_HARMONIZED"', '"2018-01-01"', '"2019-01-01"',
                 '"CLOUDY_PIXEL_PERCENTAGE"', '"NODATA_PIXEL_PERCENTAGE"', '"Filter.contains"',
                 '".geo"', '"Geometry.buffer"', "650"):
        assert text in select, text
    scenes = [scene(5), scene(200)]
    pixels = ee.serializer.toJSON(pixel_request(pt, scenes, BANDS)["expression"])
    for text in ('"COPERNICUS/S2_SR_HARMONIZED"', '"DateRange"', '"ImageCollection.toBands"',
                 '"Image.unmask"', '"Image.toUint16"', f'"{scenes[1].image_id}"'):
        assert text in pixels, text


@pytest.mark.parametrize(
    ("lat", "lon", "epsg"),
    [(48.2, 16.37, 32633), (38.72, -9.14, 32629), (60.17, 24.94, 32635), (47.5, 11.999, 32632)],
)
def test_request_grid_is_the_utm_grid_with_the_point_in_pixel_32_32(
    ee_offline: Any, lat: float, lon: float, epsg: int
) -> None:
    grid = pixel_request(point(1, lat, lon), [scene(5)], BANDS)["grid"]
    assert grid["crsCode"] == f"EPSG:{epsg}"
    assert grid["dimensions"] == {"width": 64, "height": 64}
    a = grid["affineTransform"]
    assert (a["scaleX"], a["scaleY"], a["shearX"], a["shearY"]) == (10.0, -10.0, 0.0, 0.0)
    assert a["translateX"] % 10 == 0 and a["translateY"] % 10 == 0  # native S2 alignment
    x, y = Transformer.from_crs("EPSG:4326", grid["crsCode"], always_xy=True).transform(lon, lat)
    col = int((x - a["translateX"]) // 10)
    row = int((a["translateY"] - y) // 10)
    assert (row, col) == (32, 32)


def _http(*responses: tuple[int, bytes]) -> Any:
    http = mock.MagicMock(httplib2.Http)
    http.request.side_effect = [
        (httplib2.Response({"status": status}), body) for status, body in responses
    ]
    return http


def _error(status: int, message: str, kind: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": status, "message": message, "status": kind}}
                              ).encode()


def _source() -> GeeSource:
    clock = FakeClock()
    settings = GeeSettings(workers=2, retry=RetryPolicy(max_attempts=4))
    return GeeSource(settings, clock=clock, sleep=clock.sleep)


def test_a_429_then_a_200_succeeds_through_the_clients_http(ee_offline: Any) -> None:
    pt, scenes = point(), [scene(5), scene(10)]
    http = _http(
        _error(429, "Too many concurrent aggregations.", "RESOURCE_EXHAUSTED"),
        (200, npy_bytes(npy_answer(scenes, BANDS))),
    )
    ee.data.setMaxRetries(0)  # as exports.gee.auth.initialize does: the retries are ours
    source = _source()
    with apitestcase.UsingCloudApi(mock_http=http):
        (result,) = source.fetch([(pt, scenes)], BANDS, 5.0)
    assert isinstance(result, PointStack), result
    assert result.image_ids == [s.image_id for s in scenes]
    assert http.request.call_count == 2
    uri = http.request.call_args_list[1].args[0]
    assert "/projects/my-project/image:computePixels" in uri
    assert source.throttle.limiter.limit < 2  # the 429 lowered the concurrency


def test_a_memory_limit_error_is_not_retried(ee_offline: Any) -> None:
    http = _http(_error(400, "User memory limit exceeded.", "INVALID_ARGUMENT"))
    ee.data.setMaxRetries(0)
    with apitestcase.UsingCloudApi(mock_http=http):
        (result,) = _source().fetch([(point(7), [scene(5)])], BANDS, 5.0)
    assert isinstance(result, PointFailure) and not result.transient
    assert "User memory limit exceeded" in result.message
    assert http.request.call_count == 1


def test_a_stack_of_130_scenes_is_split_into_two_requests(ee_offline: Any) -> None:
    pt = point()
    scenes = [scene(d) for d in range(1, 131)]
    sizes: list[int] = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        (listed,) = invocations(params["expression"], "Filter.listContains")
        ids = const(listed["leftValue"])
        sizes.append(len(ids))
        return npy_bytes(npy_answer([s for s in scenes if s.image_id in ids], BANDS))

    clock = FakeClock()
    throttle = Throttle(2, clock=clock, sleep=clock.sleep)
    patches, dropped = fetch_patches(pt, scenes, BANDS, compute_pixels=compute_pixels,
                                     throttle=throttle)
    assert sizes == [93, 37]  # 93 × 11 bands = 1023 ≤ 1024 per request
    assert len(patches) == 130 and dropped == []


def test_npy_bytes_become_the_right_bands_dates_and_image_ids(ee_offline: Any) -> None:
    pt = point()
    scenes = [scene(150), scene(3), scene(77)]  # not in time order
    # Fields in an order of the server's choosing, each pixel telling its scene and band.
    names = [(s, b) for b in reversed(BANDS) for s in scenes]
    array = np.zeros((64, 64), dtype=[(f"{s.image_id}_{b}", "<u2") for s, b in names])
    for s, b in names:
        array[f"{s.image_id}_{b}"] = 4 if b == "SCL" else 1000 + 10 * scenes.index(s)
        array[f"{s.image_id}_{b}"][0, 0] = 100 * (scenes.index(s) + 1) + BANDS.index(b)
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)

    source = GeeSource(GeeSettings(workers=1), compute_pixels=lambda params: buf.getvalue())
    (stack,) = source.fetch([(pt, scenes)], BANDS, 5.0)
    assert isinstance(stack, PointStack)
    ordered = sorted(scenes, key=lambda s: s.acquired)
    assert stack.image_ids == [s.image_id for s in ordered]
    assert stack.image_ids[0] == "20180103T100031_20180103T100029_T33UXP"
    assert stack.acquired == [datetime(2018, 1, 3, 10, 0, 31, tzinfo=UTC),
                              datetime(2018, 3, 18, 10, 0, 31, tzinfo=UTC),
                              datetime(2018, 5, 30, 10, 0, 31, tzinfo=UTC)]
    assert stack.data.dtype.names == BANDS and stack.data["SCL"].dtype == np.uint8
    for t, s in enumerate(ordered):
        i = scenes.index(s)
        for b in BANDS:
            assert int(stack.data[b][t, 0, 0]) == (100 * (i + 1) + BANDS.index(b)) % (
                256 if b == "SCL" else 65536)
        assert int(stack.data["B4"][t, 10, 10]) == 1000 + 10 * i
