"""CLC 2018 from a GeoTIFF: codes or the Copernicus index, nearest by pixel centre."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
from affine import Affine

from exports.clc.codes import UNCOVERED
from exports.clc.raster import RASTER_INDEX, RasterClc
from exports.grid import PatchGrid
from lucas.errors import InputFormatError
from tests.exports.clc_fixtures import LAEA, X0, Y1, write_tif

COARSE = Affine(100.0, 0.0, X0, 0.0, -100.0, Y1)  # 100 m pixels from (X0, Y1)
CODES = np.array([[111, 211, 311], [512, 122, 999], [231, 243, 523]], dtype=np.uint16)


def _map(source: RasterClc, grid: PatchGrid) -> np.ndarray:
    return source.for_area(grid.epsg, grid.bounds).reference_map(grid)


def test_a_raster_of_codes_by_pixel_centre(tmp_path: Path) -> None:
    source = RasterClc(write_tif(tmp_path / "clc.tif", CODES, transform=COARSE))
    assert (source.name, source.coarse, source.description) == (
        "raster", True, str(tmp_path / "clc.tif"))
    grid = PatchGrid(epsg=LAEA, x_min=X0, y_max=Y1, size=30)
    assert (_map(source, grid) == np.kron(CODES, np.ones((10, 10), dtype=np.uint16))).all()
    # Shifted by half a source pixel: patch pixel centres at X0+55, +65 … fall in source
    # column 0 while below X0 + 100, so 5 patch columns of the first source column remain.
    shifted = PatchGrid(epsg=LAEA, x_min=X0 + 50, y_max=Y1, size=10)
    result = _map(source, shifted)
    assert (result[:, :5] == 111).all() and (result[:, 5:] == 211).all()


def test_999_outside_the_raster(tmp_path: Path) -> None:
    source = RasterClc(write_tif(tmp_path / "clc.tif", CODES, transform=COARSE))
    grid = PatchGrid(epsg=LAEA, x_min=X0 - 100, y_max=Y1 + 50, size=20)  # overlaps the corner
    result = _map(source, grid)
    assert (result[:5] == UNCOVERED).all() and (result[:, :10] == UNCOVERED).all()
    assert (result[5:15, 10:20] == 111).all() and (result[15:, 10:20] == 512).all()
    far = PatchGrid(epsg=LAEA, x_min=X0 + 90_000, y_max=Y1, size=12)
    assert (_map(source, far) == UNCOVERED).all()


def test_the_copernicus_index_maps_to_codes(tmp_path: Path) -> None:
    assert len(RASTER_INDEX) == 48
    assert [RASTER_INDEX[i] for i in (1, 2, 3, 4, 12, 23, 34, 44)] == [
        111, 112, 121, 122, 211, 311, 335, 523]
    assert {RASTER_INDEX[i] for i in (48, 49, 50, 128)} == {UNCOVERED}
    grid = PatchGrid(epsg=LAEA, x_min=X0, y_max=Y1, size=30)
    expected = np.kron(CODES, np.ones((10, 10), dtype=np.uint16))
    for name, no_class, nodata in (("a.tif", 128, 128), ("b.tif", 48, None), ("c.tif", 50, 0)):
        index = np.array([[1, 12, 23], [41, 4, no_class], [18, 21, 44]], dtype=np.uint8)
        source = RasterClc(write_tif(tmp_path / name, index, transform=COARSE, nodata=nodata))
        assert (_map(source, grid) == expected).all()


def test_declared_nodata_and_nan_read_as_999(tmp_path: Path) -> None:
    values = np.array([[0, 211], [311, 0]], dtype=np.uint16)
    source = RasterClc(write_tif(tmp_path / "a.tif", values, transform=COARSE, nodata=0))
    grid = PatchGrid(epsg=LAEA, x_min=X0, y_max=Y1, size=20)
    assert (_map(source, grid) == np.kron([[999, 211], [311, 999]], np.ones((10, 10)))).all()
    floats = np.array([[np.nan, 211.0], [311.0, 112.0]], dtype=np.float32)
    source = RasterClc(write_tif(tmp_path / "b.tif", floats, transform=COARSE))
    assert (_map(source, grid) == np.kron([[999, 211], [311, 112]], np.ones((10, 10)))).all()


def test_reprojection_from_3035_to_a_utm_grid(tmp_path: Path) -> None:
    # Expected: each pixel centre of the UTM grid projected to 3035 and looked up in the
    # 100 m raster (floor of its pixel coordinates).
    grid = PatchGrid(epsg=32632, x_min=500_000.0, y_max=5_550_000.0, size=120)
    to_laea = pyproj.Transformer.from_crs(32632, LAEA, always_xy=True)
    left, bottom, right, top = grid.bounds
    lx, ly = to_laea.transform([left, right, left, right], [bottom, bottom, top, top])
    origin_x, origin_y = np.floor(min(lx) / 100) * 100 - 300, np.ceil(max(ly) / 100) * 100 + 300
    codes = np.array([111, 211, 311, 512, 231], dtype=np.uint16)
    values = codes[np.random.default_rng(1).integers(0, 5, (24, 24))]
    transform = Affine(100.0, 0.0, origin_x, 0.0, -100.0, origin_y)
    source = RasterClc(write_tif(tmp_path / "clc.tif", values, transform=transform))
    result = _map(source, grid)

    cols, rows = np.meshgrid(np.arange(120), np.arange(120))
    px, py = to_laea.transform(left + (cols + 0.5) * 10.0, top - (rows + 0.5) * 10.0)
    fc, fr = (px - origin_x) / 100.0, (origin_y - py) / 100.0
    expected = values[np.floor(fr).astype(int), np.floor(fc).astype(int)]
    on_edge = (np.abs(fc - np.round(fc)) < 1e-4) | (np.abs(fr - np.round(fr)) < 1e-4)
    assert on_edge.sum() < 20
    assert (result == expected)[~on_edge].all()
    assert len(np.unique(result)) == 5


def test_values_neither_codes_nor_index_are_refused(tmp_path: Path) -> None:
    values = np.array([[0, 211], [311, 211]], dtype=np.uint16)  # 0 without declared nodata
    source = RasterClc(write_tif(tmp_path / "clc.tif", values, transform=COARSE))
    grid = PatchGrid(epsg=LAEA, x_min=X0, y_max=Y1, size=20)
    with pytest.raises(InputFormatError, match=r"clc.tif: values 0 are neither CLC 2018 codes"):
        source.for_area(grid.epsg, grid.bounds)
    mixed = RasterClc(write_tif(tmp_path / "mixed.tif", np.array([[1, 211]], dtype=np.uint16),
                                transform=COARSE))
    with pytest.raises(InputFormatError, match=r"the values mix CLC 2018 codes .* and the "):
        mixed.for_area(grid.epsg, grid.bounds)


def test_a_missing_or_unreadable_raster_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"nope.tif: file not found"):
        RasterClc(tmp_path / "nope.tif")
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff")
    with pytest.raises(InputFormatError, match=r"bad.tif: cannot read as a raster") as info:
        RasterClc(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(InputFormatError, match=r"no band 2 \(it has 1\)"):
        RasterClc(write_tif(tmp_path / "clc.tif", CODES, transform=COARSE), band=2)


def test_one_warp_serves_every_patch_of_the_area(tmp_path: Path) -> None:
    source = RasterClc(write_tif(tmp_path / "clc.tif", CODES, transform=COARSE))
    area = source.for_area(LAEA, (X0, Y1 - 300, X0 + 300, Y1))
    grids = [PatchGrid(epsg=LAEA, x_min=X0 + c * 60, y_max=Y1 - r * 60, size=6)
             for r in range(5) for c in range(5)]
    for grid in grids:
        assert (area.reference_map(grid) == area._render(grid.transform, 6, 6)).all()
    assert area.renders == 1  # the canvas; the comparisons called the renderer directly
