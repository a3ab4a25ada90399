"""The window maths of a read, from numbers alone: no raster file is opened here."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from exports.grid import PatchGrid
from exports.source import Scene
from exports.stac.window import (
    AssetMismatch,
    asset_mismatch,
    can_gather,
    finish_patch,
    gather,
    is_transient,
    lacks_georeference,
    on_raster,
    read_error,
    source_window,
    window_text,
    window_transform,
    zero_nodata,
)

G = PatchGrid(epsg=32632, x_min=700_000.0, y_max=5_320_000.0)  # 64 px of 10 m
SMALL = PatchGrid(epsg=32632, x_min=1000.0, y_max=2000.0, size=4)
UTM32 = CRS.from_epsg(32632)
SCENE = Scene(
    scene_id="S2A_32TPT_20180601_0_L2A",
    image_id="20180601T102031_20180601T102031_T32TPT",
    acquired=datetime(2018, 6, 1, 10, 20, 31, tzinfo=UTC),
    datatake="S2A_20180601T102031",
    tile="32TPT",
    epsg=32632,
    cloud_cover=1.0,
    nodata_percent=0.0,
)


def test_source_window_has_one_pixel_margin() -> None:
    transform = Affine(20.0, 0, G.x_min - 200, 0, -20.0, G.y_max + 100)
    w = source_window(G, transform, UTM32, 32632)
    assert (w.col_off, w.row_off, w.width, w.height) == (9, 4, 34, 34)


def test_source_window_of_an_aligned_10m_raster() -> None:
    transform = Affine(10.0, 0, G.x_min - 1000, 0, -10.0, G.y_max + 500)
    w = source_window(G, transform, UTM32, 32632)
    assert (w.col_off, w.row_off, w.width, w.height) == (99, 49, 66, 66)
    w0 = source_window(G, transform, UTM32, 32632, margin=0)
    assert (w0.col_off, w0.row_off, w0.width, w0.height) == (100, 50, 64, 64)


def test_source_window_rounds_outwards_on_a_misaligned_raster() -> None:
    transform = Affine(20.0, 0, G.x_min - 210, 0, -20.0, G.y_max + 110)  # half a pixel off
    w = source_window(G, transform, UTM32, 32632, margin=0)
    # cols (210 / 20 = 10.5) .. (850 / 20 = 42.5) -> 10..43; rows 5.5..37.5 -> 5..38
    assert (w.col_off, w.row_off, w.width, w.height) == (10, 5, 33, 33)


def test_source_window_in_another_zone_covers_the_patch() -> None:
    utm33 = CRS.from_epsg(32633)
    transform = Affine(10.0, 0, 200_000.0, 0, -10.0, 5_400_000.0)
    w = source_window(G, transform, utm33, 32633, margin=0)
    assert 64 <= w.width <= 70 and 64 <= w.height <= 70  # a slightly rotated square


def test_window_transform_moves_the_origin_by_whole_pixels() -> None:
    t = Affine(10.0, 0, 500_000.0, 0, -10.0, 5_300_000.0)
    assert window_transform(t, Window(3, 4, 10, 10)) == Affine(
        10.0, 0, 500_030.0, 0, -10.0, 5_299_960.0
    )
    assert window_transform(t, Window(-2, -1, 5, 5)) == Affine(
        10.0, 0, 499_980.0, 0, -10.0, 5_300_010.0
    )


def test_on_raster_inside_edge_and_off() -> None:
    inner, (rows, cols) = on_raster(Window(2, 3, 4, 5), 100, 100) or pytest.fail("inside")
    assert inner == Window(2, 3, 4, 5) and (rows, cols) == (slice(0, 5), slice(0, 4))
    inner, (rows, cols) = on_raster(Window(-2, -1, 6, 6), 3, 100) or pytest.fail("edge")
    assert inner == Window(0, 0, 3, 5) and (rows, cols) == (slice(1, 6), slice(2, 5))
    assert on_raster(Window(100, 0, 6, 6), 100, 100) is None
    assert on_raster(Window(-6, 0, 6, 6), 100, 100) is None


def test_can_gather_only_in_the_grid_crs_north_up() -> None:
    t = Affine(10.0, 0, 0.0, 0, -10.0, 0.0)
    assert can_gather(t, 32632, G)
    assert not can_gather(t, 32633, G)
    assert not can_gather(Affine(10.0, 0.5, 0.0, 0, -10.0, 0.0), 32632, G)
    assert not can_gather(Affine(10.0, 0, 0.0, 0, 10.0, 0.0), 32632, G)  # south-up


def test_gather_same_resolution_is_a_slice() -> None:
    raw = np.arange(36, dtype=np.uint16).reshape(6, 6)
    t = Affine(10.0, 0, SMALL.x_min - 10, 0, -10.0, SMALL.y_max + 20)  # patch at (2, 1)
    np.testing.assert_array_equal(gather(raw, t, SMALL), raw[2:6, 1:5])


def test_gather_20m_repeats_each_pixel_2x2() -> None:
    raw = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.uint16)
    t = Affine(20.0, 0, SMALL.x_min - 20, 0, -20.0, SMALL.y_max + 20)
    assert gather(raw, t, SMALL).tolist() == [
        [5, 5, 6, 6],
        [5, 5, 6, 6],
        [8, 8, 9, 9],
        [8, 8, 9, 9],
    ]


def test_gather_zero_fills_centres_off_the_raw_window() -> None:
    raw = np.full((3, 3), 7, dtype=np.uint16)
    t = Affine(10.0, 0, SMALL.x_min + 10, 0, -10.0, SMALL.y_max - 20)  # starts at (2, 1)
    assert gather(raw, t, SMALL).tolist() == [
        [0, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 7, 7, 7],
        [0, 7, 7, 7],
    ]


def test_zero_nodata_maps_the_assets_value_to_zero() -> None:
    patch = np.array([[65535, 3], [0, 65535]], dtype=np.uint16)
    assert zero_nodata(patch.copy(), 65535).tolist() == [[0, 3], [0, 0]]
    assert zero_nodata(patch.copy(), None).tolist() == patch.tolist()
    assert zero_nodata(patch.copy(), 0).tolist() == patch.tolist()


def test_finish_patch_offset_rule() -> None:
    raw = np.array([[0, 1, 999, 1000, 1001, 11000]], dtype=np.uint16)
    out = finish_patch(raw, np.dtype("<u2"), 1000)
    assert out.tolist() == [[0, 1, 1, 1, 1, 10000]]
    assert finish_patch(raw, np.dtype("<u2"), 0).tolist() == raw.tolist()


def test_finish_patch_clips_into_the_band_dtype() -> None:
    raw = np.array([[0, 12, 255, 300]], dtype=np.uint16)  # SCL read from a uint16 asset
    out = finish_patch(raw, np.dtype("u1"), 0)
    assert out.dtype == np.uint8 and out.tolist() == [[0, 12, 255, 255]]


def test_transient_only_for_remote_network_errors() -> None:
    assert is_transient("https://x/B04.tif", "HTTP response code: 503")
    assert is_transient("https://x/B04.tif", "Connection timed out")
    assert not is_transient("/data/B04.tif", "Connection timed out")
    assert not is_transient("https://x/B04.tif", "HTTP response code: 404")


def test_read_error_names_href_item_and_window() -> None:
    where = window_text(Window(9, 4, 34, 34))
    err = read_error(SCENE, "https://x/B04.tif", where, OSError("Connection timed out"))
    assert str(err) == (
        f"read error https://x/B04.tif: Connection timed out (item {SCENE.scene_id}, "
        "window col_off=9 row_off=4 width=34 height=34)"
    )
    assert err.transient
    assert window_text(None) == "window not computed"


def test_asset_mismatch_from_metadata() -> None:
    assert asset_mismatch(SCENE, "B4", "B04.tif", 32632, "uint16") is None
    assert asset_mismatch(SCENE, "SCL", "SCL.tif", None, "uint8") is None  # no CRS: the item's
    crs = asset_mismatch(SCENE, "B4", "B04.tif", 32633, "uint16")
    assert isinstance(crs, AssetMismatch) and crs.kind == "crs_mismatch" and not crs.transient
    assert "EPSG:32633" in str(crs) and "proj:epsg 32632" in str(crs)
    dtype = asset_mismatch(SCENE, "B4", "B04.tif", 32632, "float32")
    assert dtype is not None and dtype.kind == "unexpected_dtype"
    assert "expected uint16" in str(dtype)
    scl = asset_mismatch(SCENE, "SCL", "SCL.tif", 32632, "int16")
    assert scl is not None and "expected uint8 or uint16" in str(scl)


def test_lacks_georeference() -> None:
    assert lacks_georeference(Affine.identity(), [])
    assert not lacks_georeference(Affine.identity(), [object()])  # GCPs georeference it
    assert not lacks_georeference(Affine(10.0, 0, 0.0, 0, -10.0, 0.0), [])
