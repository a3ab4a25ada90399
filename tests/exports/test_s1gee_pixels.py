"""The radar fast path's request (grid, slices, bands, resampling) and its NPY answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from exports.gee.throttle import RetryPolicy, Throttle
from exports.s1gee.pixels import (
    NODATA_DB,
    fetch_slices,
    pixel_request,
    plan_requests,
    slices_per_request,
    split_fields,
)
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


def _throttle() -> Throttle:
    clock = FakeClock()
    return Throttle(4, retry=RetryPolicy(max_attempts=3), clock=clock, sleep=clock.sleep)


def _requested_ids(params: dict[str, Any]) -> list[str]:
    (listed,) = invocations(params["expression"], "Filter.listContains")
    return list(const(listed["leftValue"]))


@pytest.mark.parametrize(("lat", "lon", "epsg"), [(48.2, 16.37, 32633), (38.72, -9.14, 32629)])
def test_request_is_npy_on_the_points_patch_grid(
    ee_offline: Any, lat: float, lon: float, epsg: int
) -> None:
    pt = point(1, lat, lon)
    params = pixel_request(pt, [s1_scene(5), s1_scene(11)], "nearest")
    assert params["fileFormat"] == "NPY"
    grid = params["grid"]
    assert grid["crsCode"] == pt.grid.crs == f"EPSG:{epsg}"
    assert grid["dimensions"] == {"width": 64, "height": 64}
    a = grid["affineTransform"]
    t = pt.grid.transform  # the PatchGrid's affine, term by term
    assert (a["scaleX"], a["shearX"], a["translateX"]) == (t.a, t.b, t.c) == (10.0, 0.0,
                                                                                pt.grid.x_min)
    assert (a["shearY"], a["scaleY"], a["translateY"]) == (t.d, t.e, t.f) == (0.0, -10.0,
                                                                                pt.grid.y_max)


def test_request_holds_the_vv_and_vh_of_the_points_slices(ee_offline: Any) -> None:
    pt = point()
    scenes = [s1_scene(40), s1_scene(5)]
    image = pixel_request(pt, scenes, "nearest")["expression"]
    loads = invocations(image, "ImageCollection.load")
    assert [const(x["id"]) for x in loads] == ["COPERNICUS/S1_GRD"]
    (listed,) = invocations(image, "Filter.listContains")
    assert const(listed["rightField"]) == "system:index"
    assert const(listed["leftValue"]) == [s.scene_id for s in scenes]
    (span,) = invocations(image, "DateRange")
    first_ms, last_ms = (s.acquired.timestamp() * 1000 for s in (scenes[1], scenes[0]))
    assert const(span["start"]) < first_ms and const(span["end"]) > last_ms
    (select,) = invocations(image, "Image.select")
    assert const(select["bandSelectors"]) == ["VV", "VH"]
    assert len(invocations(image, "ImageCollection.toBands")) == 1
    (unmask,) = invocations(image, "Image.unmask")
    fill = unmask["value"]["functionInvocationValue"]
    assert fill["functionName"] == "Image.constant"
    assert const(fill["arguments"]["value"]) == NODATA_DB
    assert const(unmask["sameFootprint"]) is False
    assert len(invocations(image, "Image.toFloat")) == 1
    assert invocations(image, "Image.resample") == []  # nearest: Earth Engine's default


def test_bilinear_resamples_every_slice(ee_offline: Any) -> None:
    image = pixel_request(point(), [s1_scene(5), s1_scene(11)], "bilinear")["expression"]
    (resample,) = invocations(image, "Image.resample")  # inside the collection's map
    assert const(resample["mode"]) == "bilinear"


def test_unknown_resampling_is_refused(ee_offline: Any) -> None:
    with pytest.raises(ValueError, match="resampling"):
        pixel_request(point(), [s1_scene(5)], "cubic")


def test_split_above_1024_bands() -> None:
    grid = point().grid
    assert slices_per_request(grid) == 512  # 2 bands each; 64² × 4 B × 2 = 32 kB ≪ 48 MB
    scenes = [s1_scene(d % 365 + 1, slice_no=d // 365) for d in range(600)]
    groups = plan_requests(scenes, grid)
    assert [len(g) for g in groups] == [512, 88]
    flat = [s for g in groups for s in g]
    assert flat == sorted(scenes, key=lambda s: (s.acquired, s.scene_id))


def test_fields_match_their_slice_and_stay_float32_db() -> None:
    scenes = [s1_scene(5), s1_scene(10), s1_scene(15)]
    patches, dropped = split_fields(s1_npy_answer(scenes), scenes)
    assert dropped == []
    assert [p.scene for p in patches] == scenes
    for k, p in enumerate(patches):
        assert p.vv.dtype == np.float32 and p.vh.dtype == np.float32
        assert p.vv.shape == p.vh.shape == (64, 64)
        assert p.vv[32, 32] == np.float32(s1_marker(k, "VV"))
        assert p.vh[32, 32] == np.float32(s1_marker(k, "VH"))
        assert p.vv[0, 0] == np.float32(S1_FILL["VV"])


def test_fields_with_an_extra_server_prefix_still_match() -> None:
    scenes = [s1_scene(5)]
    (patch,), _ = split_fields(s1_npy_answer(scenes, prefix="0_"), scenes)
    assert patch.vh[32, 32] == np.float32(s1_marker(0, "VH"))


def test_masked_pixels_become_nan() -> None:
    scenes = [s1_scene(5)]
    answer = s1_npy_answer(scenes)
    index = scenes[0].scene_id
    answer[f"{index}_VV"][:4] = NODATA_DB  # unmask(-9999): the swath's edge
    answer[f"{index}_VH"][10, 10] = np.nan
    (patch,), _ = split_fields(answer, scenes)
    assert np.isnan(patch.vv[:4]).all() and not np.isnan(patch.vv[4:]).any()
    assert np.isnan(patch.vh[10, 10]) and np.isnan(patch.vh).sum() == 1
    assert patch.vv[32, 32] == np.float32(s1_marker(0, "VV"))


def test_a_slice_missing_from_the_answer_is_dropped_with_reason() -> None:
    scenes = [s1_scene(5), s1_scene(10)]
    patches, dropped = split_fields(s1_npy_answer(scenes[:1]), scenes)
    assert [p.scene for p in patches] == scenes[:1]
    assert [(d.scene_id, d.kind) for d in dropped] == [(scenes[1].scene_id, "gee_missing_band")]


@pytest.mark.filterwarnings("ignore:Stored array in format 2.0")  # 1024 fields: a big header
def test_fetch_slices_sends_one_request_per_group(ee_offline: Any) -> None:
    pt = point()
    scenes = [s1_scene(d % 365 + 1, slice_no=d // 365) for d in range(520)]
    seen: list[int] = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        ids = _requested_ids(params)
        seen.append(len(ids))
        return npy_bytes(s1_npy_answer([s for s in scenes if s.scene_id in ids]))

    patches, dropped = fetch_slices(pt, scenes, "nearest", compute_pixels=compute_pixels,
                                    throttle=_throttle())
    assert seen == [512, 8]
    assert len(patches) == 520 and dropped == []
