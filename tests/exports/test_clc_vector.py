"""CLC 2018 from a vector file: pixel-centre rasterising, reprojection, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Polygon, box

from exports.clc.codes import UNCOVERED
from exports.clc.vector import VectorClc
from exports.grid import PatchGrid
from lucas.errors import InputFormatError
from tests.exports.clc_fixtures import LAEA, X0, Y1, write_gpkg

SIZE = 12  # a 12×12 grid of 10 m: pixel centres at X0 + 5, 15, …, 115


def _grid(size: int = SIZE, dx: float = 0.0, dy: float = 0.0) -> PatchGrid:
    return PatchGrid(epsg=LAEA, x_min=X0 + dx, y_max=Y1 + dy, size=size)


def _map(path: Path, grid: PatchGrid | None = None) -> np.ndarray:
    grid = grid or _grid()
    area = VectorClc(path).for_area(grid.epsg, grid.bounds)
    return area.reference_map(grid)


def _cols(first: int, last: int) -> np.ndarray:
    """A full-height 12×12 mask of columns first…last."""
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[:, first:last + 1] = True
    return mask


def test_an_edge_between_pixel_centres(tmp_path: Path) -> None:
    # The shared edge at X0 + 20 lies between the centres of columns 1 (X0+15) and 2 (X0+25).
    path = write_gpkg(tmp_path / "clc.gpkg", [
        (box(X0 - 50, Y1 - 200, X0 + 20, Y1 + 50), "211"),
        (box(X0 + 20, Y1 - 200, X0 + 200, Y1 + 50), "311"),
    ])
    result = _map(path)
    assert result.dtype == np.uint16 and result.shape == (SIZE, SIZE)
    assert (result == np.where(_cols(0, 1), 211, 311)).all()


def test_an_edge_through_a_column_of_pixel_centres_goes_to_the_left_polygon(
    tmp_path: Path,
) -> None:
    # The shared edge at X0 + 25 runs through the centres of column 2: GDAL gives them to the
    # polygon on the left, whichever order the file has.
    left = (box(X0 - 50, Y1 - 200, X0 + 25, Y1 + 50), "211")
    right = (box(X0 + 25, Y1 - 200, X0 + 200, Y1 + 50), "311")
    for name, order in (("a.gpkg", [left, right]), ("b.gpkg", [right, left])):
        result = _map(write_gpkg(tmp_path / name, order))
        assert (result == np.where(_cols(0, 2), 211, 311)).all()


def test_a_lone_polygon_by_pixel_centre(tmp_path: Path) -> None:
    # x: edges through the centres of columns 1 (X0+15) and 4 (X0+45): the left one leaves
    # its centres out, the right one takes them in. y: edges between centres, rows 2…5.
    # A sliver inside pixel [8, 8] misses its centre; a sliver over pixel [10, 10]'s centre
    # takes it.
    path = write_gpkg(tmp_path / "clc.gpkg", [
        (box(X0 + 15, Y1 - 60, X0 + 45, Y1 - 20), "211"),
        (box(X0 + 81, Y1 - 89, X0 + 84, Y1 - 81), "512"),
        (box(X0 + 104, Y1 - 106, X0 + 106, Y1 - 104), "112"),
    ])
    result = _map(path)
    expected = np.full((SIZE, SIZE), UNCOVERED)
    expected[2:6, 2:5] = 211
    expected[10, 10] = 112
    assert (result == expected).all()


def test_a_horizontal_edge_through_centres_goes_to_the_later_polygon(tmp_path: Path) -> None:
    # The edge at Y1 - 45 runs through the centres of row 4: both polygons hold them (GDAL
    # closes the scanline range) and the later one in the file wins.
    top = (box(X0 - 50, Y1 - 45, X0 + 200, Y1 + 50), "211")
    bottom = (box(X0 - 50, Y1 - 200, X0 + 200, Y1 - 45), "311")
    result = _map(write_gpkg(tmp_path / "clc.gpkg", [top, bottom]))
    assert (result[:4] == 211).all() and (result[4:] == 311).all()
    result = _map(write_gpkg(tmp_path / "other.gpkg", [bottom, top]))
    assert (result[:5] == 211).all() and (result[5:] == 311).all()


def test_999_where_no_polygon_covers(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "clc.gpkg", [(box(X0, Y1 - 60, X0 + 60, Y1), "231")])
    result = _map(path)
    assert (result[:6, :6] == 231).all()
    assert (result[6:] == UNCOVERED).all() and (result[:, 6:] == UNCOVERED).all()
    far = _grid(dx=50_000.0)  # no polygon meets the area at all
    assert (_map(path, far) == UNCOVERED).all()


def test_reprojection_from_3035_to_a_utm_grid(tmp_path: Path) -> None:
    # A polygon with a slanted edge, drawn in EPSG:3035 near 9° E 50° N; the grid is in UTM
    # 32N. Expected: each pixel centre projected to 3035 and tested against the polygon.
    to_laea = pyproj.Transformer.from_crs(32632, LAEA, always_xy=True)
    grid = PatchGrid(epsg=32632, x_min=500_000.0, y_max=5_550_000.0, size=120)
    left, bottom, right, top = grid.bounds
    cx, cy = to_laea.transform((left + right) / 2, (bottom + top) / 2)
    shape = Polygon([(cx - 300, cy - 400), (cx + 350, cy - 250), (cx + 200, cy + 420),
                     (cx - 380, cy + 300)])
    path = write_gpkg(tmp_path / "clc.gpkg", [(shape, "311"), (shape.buffer(3000).difference(
        shape), "211")])
    result = VectorClc(path).for_area(grid.epsg, grid.bounds).reference_map(grid)

    cols, rows = np.meshgrid(np.arange(120), np.arange(120))
    xs = left + (cols + 0.5) * grid.pixel
    ys = top - (rows + 0.5) * grid.pixel
    lx, ly = to_laea.transform(xs, ys)
    points = shapely.points(lx, ly)
    inside = shapely.contains_xy(shape, lx, ly)
    near_edge = shapely.distance(shape.boundary, points) < 0.5  # metres
    assert near_edge.sum() < 60  # the comparison below covers nearly every pixel
    assert ((result == 311) == inside)[~near_edge].all()
    assert ((result == 211) == ~inside)[~near_edge].all()
    assert 2_000 < (result == 311).sum() < 14_400 - 2_000  # the polygon is inside the patch


def test_one_render_serves_every_patch_of_the_area(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "clc.gpkg", [
        (box(X0 + 33, Y1 - 377, X0 + 211, Y1 - 12), "211"),
        (Polygon([(X0 + 250, Y1 - 20), (X0 + 470, Y1 - 300), (X0 + 100, Y1 - 460)]), "311"),
    ])
    area = VectorClc(path).for_area(LAEA, (X0, Y1 - 480, X0 + 480, Y1))
    grids = [_grid(dx=c * 120.0, dy=-r * 120.0) for r in range(4) for c in range(4)]
    maps = [area.reference_map(g) for g in grids]
    assert area.renders == 1
    for grid, got in zip(grids, maps, strict=True):  # slices equal rasterising the grid alone
        assert (got == area._render(grid.transform, SIZE, SIZE)).all()
    shifted = _grid(dx=5.0)  # off the lattice: rendered on its own
    assert (area.reference_map(shifted) == area._render(shifted.transform, SIZE, SIZE)).all()
    assert area.renders == 2
    assert len({m.tobytes() for m in maps}) > 3


def test_the_layer_with_code_18_is_picked(tmp_path: Path) -> None:
    path = tmp_path / "clc.gpkg"
    write_gpkg(path, [(box(X0, Y1 - 50, X0 + 50, Y1), "x")], field="name", layer="aaa_other")
    write_gpkg(path, [(box(X0, Y1 - 200, X0 + 200, Y1), 312)], layer="clc")  # integers serve
    source = VectorClc(path)
    assert (source.layer, source.field, source.name, source.coarse) == ("clc", "Code_18",
                                                                        "vector", False)
    assert source.description == f"{path} (layer clc)"
    assert (_map(path) == 312).all()
    with pytest.raises(InputFormatError, match=r"no layer 'nope' \(layers: aaa_other, clc\)"):
        VectorClc(path, layer="nope")
    with pytest.raises(InputFormatError, match=r"fields found: aaa_other: name\)"):
        VectorClc(path, layer="aaa_other")


def test_code_18_is_matched_whatever_its_case(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "clc.geojson", [(box(X0, Y1 - 200, X0 + 200, Y1), "523")],
                      field="CODE_18", driver="GeoJSON")
    assert (_map(path) == 523).all()


def test_a_file_without_code_18_is_refused_naming_its_fields(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "clc.gpkg", [(box(X0, Y1 - 50, X0 + 50, Y1), "211")],
                      field="Code_12", layer="clc12")
    with pytest.raises(InputFormatError) as info:
        VectorClc(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "no layer has the field Code_18 (fields found: clc12: Code_12)" in message


def test_a_value_that_is_no_clc_code_is_refused(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "clc.gpkg", [(box(X0, Y1 - 50, X0 + 50, Y1), "211"),
                                              (box(X0 + 50, Y1 - 50, X0 + 90, Y1), "215")])
    source = VectorClc(path)
    with pytest.raises(InputFormatError, match=r"Code_18 value '215' is not a CLC 2018 code"):
        source.for_area(LAEA, _grid().bounds)


def test_unclassified_codes_read_as_999(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "clc.gpkg", [(box(X0, Y1 - 200, X0 + 60, Y1), "990"),
                                              (box(X0 + 60, Y1 - 200, X0 + 200, Y1), "999")])
    assert (_map(path) == UNCOVERED).all()


def test_a_missing_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"nope.gpkg: file not found; pass the CLC"):
        VectorClc(tmp_path / "nope.gpkg")
    bad = tmp_path / "bad.gpkg"
    bad.write_text("not a geopackage")
    with pytest.raises(InputFormatError, match=r"bad.gpkg: cannot read as a vector file") as info:
        VectorClc(bad)
    assert "\n" not in str(info.value)


def test_a_grid_in_another_crs_is_refused(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "clc.gpkg", [(box(X0, Y1 - 200, X0 + 200, Y1), "211")])
    area = VectorClc(path).for_area(LAEA, _grid().bounds)
    with pytest.raises(ValueError, match="opened in EPSG:3035"):
        area.reference_map(PatchGrid(epsg=32632, x_min=500_000.0, y_max=5_550_000.0))
