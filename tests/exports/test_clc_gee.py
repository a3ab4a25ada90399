"""GeeClc offline: the computePixels request, 999 for no label, blocks, patch slicing."""

from __future__ import annotations

from typing import Any
from unittest import mock

import ee
import numpy as np
import pytest

from exports.clc.gee import (
    DEFAULT_ASSET,
    UNCOVERED,
    AreaGrid,
    Block,
    GeeClc,
    answer_codes,
    max_block_px,
)
from exports.gee.pixels import MAX_BYTES
from exports.gee.throttle import RetryPolicy, Throttle
from exports.grid import PatchGrid
from lucas.errors import ConfigError, SourceError
from tests.exports.gee_fakes import FakeClock, const, invocations, npy_bytes

EPSG = 32633
TILE_X, TILE_Y = 399960.0, 5400000.0  # T33UUP's top-left corner


def _throttle() -> Throttle:
    clock = FakeClock()
    return Throttle(4, retry=RetryPolicy(max_attempts=3), clock=clock, sleep=clock.sleep)


def code_at(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The fake server's code of global 10 m pixel (row, col) of the tile: unique-ish, > 0."""
    return (1 + (rows * 131 + cols * 7) % 60000).astype(np.uint16)


class FakeServer:
    """computePixels answering each block from :func:`code_at`, as NPY bytes with one
    ``landcover`` field; records every request."""

    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.errors = list(errors or [])  # raised by the first calls, one each

    def __call__(self, params: dict[str, Any]) -> bytes:
        self.requests.append(params)
        if self.errors:
            raise self.errors.pop(0)
        grid = params["grid"]
        t, d = grid["affineTransform"], grid["dimensions"]
        row0 = round((TILE_Y - t["translateY"]) / 10)
        col0 = round((t["translateX"] - TILE_X) / 10)
        rows, cols = np.mgrid[row0 : row0 + d["height"], col0 : col0 + d["width"]]
        array = np.zeros((d["height"], d["width"]), dtype=[("landcover", "<u2")])
        array["landcover"] = code_at(rows, cols)
        return npy_bytes(array)


def tile_bounds(width: int, height: int) -> tuple[float, float, float, float]:
    return (TILE_X, TILE_Y - 10 * height, TILE_X + 10 * width, TILE_Y)


def test_the_source_describes_itself() -> None:
    clc = GeeClc(compute_pixels=FakeServer())
    assert clc.name == "gee" and clc.coarse is True
    assert clc.asset_id == DEFAULT_ASSET == "COPERNICUS/CORINE/V20/100m/2018"
    assert clc.native_resolution_m == 100.0
    assert "100 m" in clc.description and DEFAULT_ASSET in clc.description


def test_request_is_the_landcover_band_as_npy_on_the_areas_grid(ee_offline: Any) -> None:
    server = FakeServer()
    GeeClc(compute_pixels=server, throttle=_throttle()).for_area(EPSG, tile_bounds(50, 40))
    (params,) = server.requests
    assert params["fileFormat"] == "NPY"
    grid = params["grid"]
    assert grid["crsCode"] == "EPSG:32633"
    assert grid["dimensions"] == {"width": 50, "height": 40}
    assert grid["affineTransform"] == {
        "scaleX": 10.0, "shearX": 0.0, "translateX": TILE_X,
        "shearY": 0.0, "scaleY": -10.0, "translateY": TILE_Y,
    }
    image = params["expression"]
    (load,) = invocations(image, "Image.load")
    assert const(load["id"]) == DEFAULT_ASSET
    (select,) = invocations(image, "Image.select")
    assert const(select["bandSelectors"]) == ["landcover"]
    (unmask,) = invocations(image, "Image.unmask")
    fill = unmask["value"]["functionInvocationValue"]
    assert fill["functionName"] == "Image.constant"
    assert const(fill["arguments"]["value"]) == UNCOVERED == 999
    assert const(unmask["sameFootprint"]) is False  # outside the footprint too
    assert len(invocations(image, "Image.toUint16")) == 1
    assert not invocations(image, "Image.reproject")  # EE's default: nearest neighbour


def test_another_asset_is_asked_for(ee_offline: Any) -> None:
    server = FakeServer()
    GeeClc("users/me/clc_2018", compute_pixels=server, throttle=_throttle()).for_area(
        EPSG, tile_bounds(8, 8))
    (load,) = invocations(server.requests[0]["expression"], "Image.load")
    assert const(load["id"]) == "users/me/clc_2018"


def test_the_default_call_is_ee_data_compute_pixels(ee_offline: Any) -> None:
    server = FakeServer()
    with mock.patch.object(ee.data, "computePixels", side_effect=server) as patched:
        area = GeeClc(throttle=_throttle()).for_area(EPSG, tile_bounds(8, 8))
    assert patched.call_count == 1
    rows, cols = np.mgrid[0:8, 0:8]
    np.testing.assert_array_equal(area.codes, code_at(rows, cols))


def test_bounds_snap_outward_to_the_10_m_grid() -> None:
    g = AreaGrid.covering(EPSG, (TILE_X + 3.0, TILE_Y - 95.0, TILE_X + 41.0, TILE_Y - 0.5))
    assert (g.x_min, g.y_max, g.width, g.height) == (TILE_X, TILE_Y, 5, 10)
    tile = AreaGrid.covering(EPSG, (399960.0, 5290200.0, 509760.0, 5400000.0))
    assert (tile.width, tile.height) == (10980, 10980)
    assert tile.bounds == (399960.0, 5290200.0, 509760.0, 5400000.0)
    with pytest.raises(ValueError, match="empty"):
        AreaGrid.covering(EPSG, (10.0, 0.0, 10.0, 50.0))


def test_masked_and_zero_become_999() -> None:
    plain = np.array([[0, 111], [523, 312]], dtype=np.uint16)
    assert answer_codes(plain, (2, 2)).tolist() == [[999, 111], [523, 312]]
    masked = np.ma.array([[311, 211], [0, 512]], mask=[[True, False], [False, False]])
    assert answer_codes(masked, (2, 2)).tolist() == [[999, 211], [999, 512]]
    structured = np.zeros((2, 2), dtype=[("landcover", "<u2")])
    structured["landcover"] = [[999, 0], [121, 0]]
    assert answer_codes(npy_bytes(structured), (2, 2)).tolist() == [[999, 999], [121, 999]]
    floats = np.array([[np.nan, 242.0], [-1.0, 231.0]], dtype=np.float32)
    assert answer_codes(floats, (2, 2)).tolist() == [[999, 242], [999, 231]]


def test_a_masked_answer_reaches_the_reference_map_as_999(ee_offline: Any) -> None:
    def server(params: dict[str, Any]) -> bytes:
        d = params["grid"]["dimensions"]
        array = np.zeros((d["height"], d["width"]), dtype=[("landcover", "<u2")])
        array["landcover"][:, : d["width"] // 2] = 312  # right half: no CORINE (0 = masked)
        return npy_bytes(array)

    area = GeeClc(compute_pixels=server, throttle=_throttle()).for_area(EPSG, tile_bounds(8, 8))
    patch = area.reference_map(PatchGrid(EPSG, TILE_X, TILE_Y, size=8))
    assert patch.dtype == np.uint16 and patch.shape == (8, 8)
    assert (patch[:, :4] == 312).all() and (patch[:, 4:] == 999).all()


def test_answers_of_another_shape_or_fields_are_errors() -> None:
    with pytest.raises(SourceError, match="shape"):
        answer_codes(np.ones((3, 2), dtype=np.uint16), (2, 2))
    two = np.zeros((2, 2), dtype=[("a", "<u2"), ("b", "<u2")])
    with pytest.raises(SourceError, match="landcover"):
        answer_codes(two, (2, 2))


def test_blocks_are_stitched_in_place(ee_offline: Any) -> None:
    server = FakeServer()
    clc = GeeClc(compute_pixels=server, throttle=_throttle(), block_px=32)
    area = clc.for_area(EPSG, tile_bounds(80, 70))
    assert area.codes.shape == (70, 80)
    assert len(server.requests) == 9  # 3 × 3 blocks: 32 + 32 + 16 by 32 + 32 + 6
    dims = [(r["grid"]["dimensions"]["height"], r["grid"]["dimensions"]["width"])
            for r in server.requests]
    assert all(h <= 32 and w <= 32 for h, w in dims)
    assert sum(h * w for h, w in dims) == 70 * 80  # each pixel asked for once
    rows, cols = np.mgrid[0:70, 0:80]
    np.testing.assert_array_equal(area.codes, code_at(rows, cols))


def test_a_marker_per_block_lands_on_that_block(ee_offline: Any) -> None:
    def server(params: dict[str, Any]) -> bytes:
        t, d = params["grid"]["affineTransform"], params["grid"]["dimensions"]
        row0 = round((TILE_Y - t["translateY"]) / 10)
        col0 = round((t["translateX"] - TILE_X) / 10)
        array = np.full((d["height"], d["width"]), 111, dtype=np.uint16)
        array[0, 0] = 200 + 10 * (row0 // 16) + col0 // 16  # block (i, j) -> 2ij
        return npy_bytes(array)

    area = GeeClc(compute_pixels=server, throttle=_throttle(), block_px=16).for_area(
        EPSG, tile_bounds(40, 40))
    for i in range(3):
        for j in range(3):
            assert area.codes[16 * i, 16 * j] == 200 + 10 * i + j
    assert (area.codes == 111).sum() == 40 * 40 - 9


def test_reference_map_slices_at_the_patch_offset(ee_offline: Any) -> None:
    area = GeeClc(compute_pixels=FakeServer(), throttle=_throttle(), block_px=100).for_area(
        EPSG, tile_bounds(300, 250))
    r0, c0 = 57, 126  # a BigEarthNet-style 120 px patch, not block aligned
    grid = PatchGrid(EPSG, TILE_X + 10 * c0, TILE_Y - 10 * r0, size=120)
    patch = area.reference_map(grid)
    assert patch.dtype == np.uint16 and patch.shape == (120, 120)
    np.testing.assert_array_equal(patch, area.codes[r0 : r0 + 120, c0 : c0 + 120])
    rows, cols = np.mgrid[r0 : r0 + 120, c0 : c0 + 120]
    np.testing.assert_array_equal(patch, code_at(rows, cols))


def test_reference_map_is_999_beyond_the_area_and_refuses_another_crs(ee_offline: Any) -> None:
    area = GeeClc(compute_pixels=FakeServer(), throttle=_throttle()).for_area(
        EPSG, tile_bounds(100, 100))
    grid = PatchGrid(EPSG, TILE_X + 10 * 40, TILE_Y - 10 * 90, size=64)  # half below, right
    patch = area.reference_map(grid)
    np.testing.assert_array_equal(patch[:10, :60], area.codes[90:100, 40:100])
    assert (patch[10:, :] == 999).all() and (patch[:, 60:] == 999).all()
    # Pixel centres decide: a patch off the 10 m edges by 4 m takes the pixel under each centre.
    shifted = area.reference_map(PatchGrid(EPSG, TILE_X + 4.0, TILE_Y - 4.0, size=8))
    np.testing.assert_array_equal(shifted, area.codes[:8, :8])
    with pytest.raises(ValueError, match="EPSG:32632"):
        area.reference_map(PatchGrid(32632, TILE_X, TILE_Y))


def test_block_side_is_bounded_by_the_request_limits() -> None:
    side = max_block_px()
    assert side * side * 2 <= MAX_BYTES < (side + 1) * (side + 1) * 2
    GeeClc(compute_pixels=FakeServer(), block_px=side)
    with pytest.raises(ConfigError, match="block"):
        GeeClc(compute_pixels=FakeServer(), block_px=side + 1)
    with pytest.raises(ConfigError):
        GeeClc(compute_pixels=FakeServer(), block_px=0)
    assert GeeClc(compute_pixels=FakeServer()).block_px ** 2 * 2 <= MAX_BYTES


def test_a_deterministic_failure_is_raised_once_not_transient(ee_offline: Any) -> None:
    server = FakeServer([ee.EEException("Image.load: Image asset 'X/Y' not found.")])
    with pytest.raises(SourceError, match="not found") as caught:
        GeeClc(compute_pixels=server, throttle=_throttle()).for_area(EPSG, tile_bounds(8, 8))
    assert caught.value.transient is False
    assert len(server.requests) == 1


def test_transient_failures_are_retried(ee_offline: Any) -> None:
    server = FakeServer([ee.EEException("Internal error."), ee.EEException("Quota exceeded")])
    area = GeeClc(compute_pixels=server, throttle=_throttle()).for_area(EPSG, tile_bounds(8, 8))
    assert len(server.requests) == 3
    rows, cols = np.mgrid[0:8, 0:8]
    np.testing.assert_array_equal(area.codes, code_at(rows, cols))


def test_transient_failures_past_the_retries_are_transient_errors(ee_offline: Any) -> None:
    server = FakeServer([ee.EEException("Internal error.")] * 3)
    with pytest.raises(SourceError) as caught:
        GeeClc(compute_pixels=server, throttle=_throttle()).for_area(EPSG, tile_bounds(8, 8))
    assert caught.value.transient is True


def test_a_block_refused_for_memory_is_asked_for_in_quarters(ee_offline: Any) -> None:
    server = FakeServer([ee.EEException("User memory limit exceeded.")])
    area = GeeClc(compute_pixels=server, throttle=_throttle(), block_px=600).for_area(
        EPSG, tile_bounds(600, 520))
    dims = [(r["grid"]["dimensions"]["height"], r["grid"]["dimensions"]["width"])
            for r in server.requests]
    assert dims == [(520, 600), (260, 300), (260, 300), (260, 300), (260, 300)]
    rows, cols = np.mgrid[0:520, 0:600]
    np.testing.assert_array_equal(area.codes, code_at(rows, cols))


def test_quarters_cover_the_block() -> None:
    b = Block(10, 20, 5, 1)
    assert b.quarters() == [Block(10, 20, 3, 1), Block(13, 20, 2, 1)]
    q = Block(0, 0, 7, 9).quarters()
    assert sum(x.height * x.width for x in q) == 63
