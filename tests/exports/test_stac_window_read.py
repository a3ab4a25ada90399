"""Reading one scene onto the patch grids of many points."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.env import get_gdal_config
from rasterio.warp import Resampling, reproject

from exports.gdal_env import gdal_env
from exports.grid import point_utm
from exports.source import ALL_BANDS, Scene
from exports.stac.scene_meta import scene_from_item
from exports.stac.window_read import read_scene, to_patch
from tests.fixtures.synthetic_s2 import (
    boundary_tiles,
    marker_values,
    point_request,
    tile_around,
    write_scene,
)

WHEN = datetime(2018, 6, 1, 10, 20, 30, tzinfo=UTC)
TILE32, TILE33 = boundary_tiles(400)
PA = point_request(1, 48.0, 11.99)  # zone 32
PB = point_request(2, 48.0, 12.01)  # zone 33
MARK = 9999


def scene_of(item: Any) -> Scene:
    return scene_from_item(item)


def test_marker_pixel_lands_at_32_32_same_zone(tmp_path: Path) -> None:
    x, y = point_utm(PA.lat, PA.lon, 32632)
    values = marker_values({"B4": (x, y, MARK)})
    scene = scene_of(write_scene(tmp_path, "s", TILE32, WHEN, bands=["B4"], values=values))
    read = read_scene(scene, ["B4"], {1: PA.grid})
    patch = read.patches[1]["B4"]
    assert patch.shape == (64, 64) and patch.dtype == np.uint16
    assert patch[32, 32] == MARK
    assert np.count_nonzero(patch == MARK) == 1


def test_marker_pixel_lands_at_32_32_other_zone(tmp_path: Path) -> None:
    # the point is in zone 32; the scene's rasters are in zone 33 -> reprojected, nearest
    x, y = point_utm(PA.lat, PA.lon, 32633)
    values = marker_values({"B4": (x, y, MARK)}, half_width=1)  # 3×3: robust to the warp
    scene = scene_of(write_scene(tmp_path, "s", TILE33, WHEN, bands=["B4"], values=values))
    assert scene.epsg != PA.grid.epsg
    patch = read_scene(scene, ["B4"], {1: PA.grid}).patches[1]["B4"]
    assert patch[32, 32] == MARK
    assert 4 <= np.count_nonzero(patch == MARK) <= 16
    assert np.all(patch > 0)  # fully covered: no holes from the warp


def test_20m_band_covers_the_right_2x2_pixels(tmp_path: Path) -> None:
    x, y = point_utm(PB.lat, PB.lon, 32633)
    values = marker_values({"B5": (x, y, MARK), "SCL": (x, y, 9)})
    item = write_scene(tmp_path, "s", TILE33, WHEN, bands=["B5", "SCL"], values=values)
    patches = read_scene(scene_of(item), ["B5", "SCL"], {2: PB.grid}).patches[2]
    g = PB.grid
    col0 = int((math.floor(x / 20) * 20 - g.x_min) / 10)
    row0 = int((g.y_max - (math.floor(y / 20) * 20 + 20)) / 10)
    expected = {(r, c) for r in (row0, row0 + 1) for c in (col0, col0 + 1)}
    assert (32, 32) in expected
    assert {tuple(rc) for rc in np.argwhere(patches["B5"] == MARK)} == expected
    assert {tuple(rc) for rc in np.argwhere(patches["SCL"] == 9)} == expected
    assert patches["SCL"].dtype == np.uint8


def test_same_zone_patch_is_an_exact_copy(tmp_path: Path) -> None:
    item = write_scene(tmp_path, "s", TILE32, WHEN, bands=["B2", "B11"])
    patches = read_scene(scene_of(item), ["B2", "B11"], {1: PA.grid}).patches[1]
    g = PA.grid
    for band, res in (("B2", 10), ("B11", 20)):
        with rasterio.open(tmp_path / "s" / f"{band}.tif") as src:
            full = src.read(1)
            for r, c in ((0, 0), (32, 32), (63, 5), (17, 63)):
                xc, yc = g.x_min + 10 * c + 5, g.y_max - 10 * r - 5
                row, col = src.index(xc, yc)
                assert patches[band][r, c] == full[row, col], (band, r, c)
            assert res == src.res[0]


def test_gather_equals_gdal_nearest_reproject() -> None:
    rng = np.random.default_rng(1)
    raw = rng.integers(1, 60000, (40, 40)).astype(np.uint16)
    g = PA.grid
    crs = CRS.from_epsg(32632)
    for res, dx in ((10.0, 0.0), (20.0, -10.0), (20.0, 0.0), (60.0, -30.0)):
        transform = Affine(res, 0, g.x_min - 2 * res + dx, 0, -res, g.y_max + 2 * res)
        ours = to_patch(raw, transform, crs, 32632, g)
        gdal = np.zeros((64, 64), np.uint16)
        reproject(raw, gdal, src_transform=transform, src_crs=crs, dst_transform=g.transform,
                  dst_crs=g.crs, resampling=Resampling.nearest)  # fmt: skip
        np.testing.assert_array_equal(ours, gdal)


def test_window_off_the_raster_edge_is_zero_filled(tmp_path: Path) -> None:
    tile = tile_around("33UUP", 32633, 48.0, 12.3, 400)
    left, _, _, top = tile.extent()
    lon, lat = Transformer.from_crs(32633, 4326, always_xy=True).transform(left + 105, top - 205)
    p = point_request(3, lat, lon)  # in source pixel (row 20, col 10)
    item = write_scene(tmp_path, "s", tile, WHEN, bands=["B3"])
    patch = read_scene(scene_of(item), ["B3"], {3: p.grid}).patches[3]["B3"]
    zero_cols = np.flatnonzero((patch == 0).all(axis=0))
    zero_rows = np.flatnonzero((patch == 0).all(axis=1))
    assert list(zero_cols) == list(range(22))  # 32 - 10 columns west of the edge
    assert list(zero_rows) == list(range(12))
    assert np.all(patch[12:, 22:] > 0)


def test_boa_offset_applied_to_reflectance_not_scl(tmp_path: Path) -> None:
    def values(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        v = np.full(x.shape, 1500 if band != "SCL" else 4)
        v[:, :80] = 600  # below the offset -> 1 (not 0: still a valid pixel)
        v[:, 80:100] = 0  # no-data stays 0
        return v

    item = write_scene(tmp_path, "s", TILE33, WHEN, bands=["B2", "SCL"], values=values,
                       properties={"s2:processing_baseline": "04.00"})  # fmt: skip
    scene = scene_of(item)
    assert scene.boa_offset == 1000
    p = point_request(4, 48.0, 12.0)  # zone 33, near the west edge of TILE33's middle
    patches = read_scene(scene, ["B2", "SCL"], {4: p.grid}).patches[4]
    assert set(np.unique(patches["B2"])) <= {0, 1, 500}
    assert set(np.unique(patches["SCL"])) <= {0, 4}
    assert 500 in patches["B2"]


def test_each_asset_opened_once_for_all_points(tmp_path: Path, open_calls: list[str]) -> None:
    item = write_scene(tmp_path, "s", TILE32, WHEN)
    points = [point_request(10 + k, 48.0 + 0.001 * k, 11.99 + 0.001 * k) for k in range(5)]
    open_calls.clear()
    read = read_scene(scene_of(item), ALL_BANDS, {p.point_id: p.grid for p in points})
    assert len(open_calls) == len(ALL_BANDS)
    assert len(set(open_calls)) == len(ALL_BANDS)
    assert sorted(read.patches) == [p.point_id for p in points] and not read.errors


def test_corrupt_asset_is_an_error_for_its_points_only(tmp_path: Path) -> None:
    item = write_scene(tmp_path, "s", TILE32, WHEN, bands=["B2", "B3"], block=128)
    path = tmp_path / "s" / "B3.tif"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 5])  # the tiles under the patch are gone
    read = read_scene(scene_of(item), ["B2", "B3"], {1: PA.grid})
    assert read.patches == {}
    err = read.errors[1]
    assert str(err).startswith(f"read error {path}")
    assert "item s" in str(err) and not err.transient


def test_missing_file_is_an_error_naming_the_href(tmp_path: Path) -> None:
    item = write_scene(tmp_path, "s", TILE32, WHEN, bands=["B2"])
    (tmp_path / "s" / "B2.tif").unlink()
    read = read_scene(scene_of(item), ["B2"], {1: PA.grid, 2: PB.grid})
    assert sorted(read.errors) == [1, 2]
    assert "B2.tif" in str(read.errors[1]) and "open" in str(read.errors[1])


def test_gdal_env_keeps_a_real_block_cache() -> None:
    with gdal_env():
        assert get_gdal_config("GDAL_CACHEMAX") >= 64 * 2**20  # bytes, not "256"
        assert get_gdal_config("GDAL_DISABLE_READDIR_ON_OPEN") == "EMPTY_DIR"


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_asset_without_georeference_is_an_error(tmp_path: Path) -> None:
    item = write_scene(tmp_path, "s", TILE32, WHEN, bands=["B2"])
    path = tmp_path / "s" / "B2.tif"
    path.unlink()
    with rasterio.open(path, "w", driver="GTiff", width=50, height=50, count=1,
                       dtype="uint16") as dst:  # fmt: skip
        dst.write(np.ones((1, 50, 50), np.uint16))
    read = read_scene(scene_of(item), ["B2"], {1: PA.grid})
    assert "not georeferenced" in str(read.errors[1]) and read.patches == {}
