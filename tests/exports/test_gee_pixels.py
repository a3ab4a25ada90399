"""The fast path's request (grid, format, splitting) and the parsing of its NPY answer."""

from __future__ import annotations

from typing import Any
from unittest import mock

import ee
import numpy as np
import pytest
from ee import apitestcase

from exports.gee.pixels import (
    MAX_BANDS,
    fetch_patches,
    pixel_request,
    plan_requests,
    scenes_per_request,
    split_fields,
)
from exports.gee.source import GeeSource
from exports.gee.throttle import RetryPolicy, Throttle
from exports.grid import PatchGrid
from exports.source import ALL_BANDS
from tests.exports.gee_fakes import (
    FakeClock,
    const,
    invocations,
    marker,
    npy_answer,
    npy_bytes,
    point,
    scene,
)

BANDS = ALL_BANDS


def _throttle() -> Throttle:
    clock = FakeClock()
    return Throttle(4, retry=RetryPolicy(max_attempts=3), clock=clock, sleep=clock.sleep)


def test_request_is_npy_on_the_points_patch_grid(ee_offline: Any) -> None:
    pt = point()
    scenes = [scene(5), scene(10)]
    params = pixel_request(pt, scenes, ["B2", "SCL"])
    assert params["fileFormat"] == "NPY"
    grid = params["grid"]
    assert grid["crsCode"] == pt.grid.crs == "EPSG:32633"
    assert grid["dimensions"] == {"width": 64, "height": 64}
    affine = grid["affineTransform"]
    assert (affine["translateX"], affine["translateY"]) == (pt.grid.x_min, pt.grid.y_max)
    assert (affine["scaleX"], affine["scaleY"], affine["shearX"], affine["shearY"]) == (
        10.0,
        -10.0,
        0.0,
        0.0,
    )
    t = pt.grid.transform  # the PatchGrid's affine, term by term
    assert (affine["translateX"], affine["translateY"]) == (t.c, t.f)

    image = params["expression"]
    (listed,) = invocations(image, "Filter.listContains")
    assert const(listed["leftValue"]) == [s.image_id for s in scenes]
    (span,) = invocations(image, "DateRange")
    first_ms, last_ms = (s.acquired.timestamp() * 1000 for s in scenes)
    assert const(span["start"]) < first_ms and const(span["end"]) > last_ms
    (select,) = invocations(image, "Image.select")
    assert const(select["bandSelectors"]) == ["B2", "SCL"]
    assert len(invocations(image, "ImageCollection.toBands")) == 1
    (unmask,) = invocations(image, "Image.unmask")
    assert unmask["value"]["functionInvocationValue"]["functionName"] == "Image.constant"
    assert len(invocations(image, "Image.toUint16")) == 1


def test_split_above_1024_bands() -> None:
    grid = point().grid
    assert scenes_per_request(11, grid) == MAX_BANDS // 11 == 93
    scenes = [scene(d) for d in range(1, 201)]
    groups = plan_requests(scenes, BANDS, grid)
    assert [len(g) for g in groups] == [93, 93, 14]
    assert all(len(g) * len(BANDS) <= MAX_BANDS for g in groups)
    assert [s for g in groups for s in g] == sorted(scenes, key=lambda s: s.acquired)


def test_split_above_48_mb() -> None:
    big = PatchGrid(epsg=32633, x_min=0.0, y_max=0.0, size=2048)
    # 2048² px × 2 B × 11 bands = 92 MB per scene: one scene per request, still sent.
    assert scenes_per_request(11, big) == 1
    assert scenes_per_request(1, big) == 6  # 8 MB per scene, 48 MB per request


def test_fields_match_their_scene_and_scl_becomes_u1() -> None:
    scenes = [scene(5), scene(10), scene(15)]
    patches, dropped = split_fields(npy_answer(scenes, BANDS), scenes, BANDS)
    assert dropped == []
    assert [p.scene for p in patches] == scenes
    for i, p in enumerate(patches):
        for band in BANDS:
            assert p.bands[band][32, 32] == marker(i, band)
            assert p.bands[band].shape == (64, 64)
        assert p.bands["SCL"].dtype == np.uint8
        assert p.bands["B2"].dtype == np.dtype("<u2")


def test_fields_with_an_extra_server_prefix_still_match() -> None:
    scenes = [scene(5)]
    patches, _ = split_fields(npy_answer(scenes, ["B8", "B8A"], prefix="0_"), scenes, ["B8", "B8A"])
    assert patches[0].bands["B8"][32, 32] == marker(0, "B8")
    assert patches[0].bands["B8A"][32, 32] == marker(0, "B8A")


def test_scene_missing_from_the_answer_is_dropped_with_reason() -> None:
    scenes = [scene(5), scene(10)]
    answer = npy_answer(scenes[:1], BANDS)
    patches, dropped = split_fields(answer, scenes, BANDS)
    assert [p.scene for p in patches] == scenes[:1]
    assert [d.scene_id for d in dropped] == [scenes[1].scene_id]
    assert dropped[0].kind == "gee_missing_band"


def test_fetch_patches_sends_one_request_per_group(ee_offline: Any) -> None:
    pt = point()
    scenes = [scene(d) for d in range(1, 101)]
    seen: list[list[str]] = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        (listed,) = invocations(params["expression"], "Filter.listContains")
        ids = const(listed["leftValue"])
        seen.append(ids)
        group = [s for s in scenes if s.image_id in ids]
        return npy_bytes(npy_answer(group, BANDS))

    patches, dropped = fetch_patches(
        pt, scenes, BANDS, compute_pixels=compute_pixels, throttle=_throttle()
    )
    assert [len(ids) for ids in seen] == [93, 7]
    assert len(patches) == 100 and dropped == []
    assert {p.scene.image_id for p in patches} == {s.image_id for s in scenes}


def test_default_call_goes_through_ee_data_compute_pixels(
    ee_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No injected callable: ee.data.computePixels runs, the HTTP resource is a mock."""
    pt = point()
    scenes = [scene(5), scene(10)]
    resource = mock.MagicMock()
    call = resource.projects.return_value.image.return_value.computePixels
    call.return_value.execute.return_value = npy_bytes(npy_answer(scenes, BANDS))
    with apitestcase.UsingCloudApi(cloud_api_resource_raw=resource):
        (result,) = list(GeeSource().fetch([(pt, scenes)], BANDS, 5.0))
    assert result.point_id == pt.point_id
    assert result.image_ids == [s.image_id for s in scenes]  # type: ignore[union-attr]
    body = call.call_args.kwargs["body"]
    assert call.call_args.kwargs["project"] == "projects/my-project"
    assert body["fileFormat"] == "NPY"
    assert body["grid"]["crsCode"] == pt.grid.crs
    expected = pixel_request(pt, scenes, BANDS)["expression"]
    assert body["expression"] == ee.serializer.encode(expected, for_cloud_api=True)
