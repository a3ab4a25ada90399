"""The stac radar source over a static catalog of synthetic slices: selection, reading,
dB conversion, de-duplication, no-data, resampling, two UTM zones, errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyproj import Transformer
from rasterio.errors import RasterioError

import exports.s1stac.read as read_module
import exports.s1stac.source as source_module
from exports.grid import patch_grid, point_utm
from exports.registry import SourceContext
from exports.s1.db import linear_to_db
from exports.s1.options import S1Options
from exports.s1.scene import GAMMA0_DB, SIGMA0_DB, S1Scene
from exports.s1.source import S1Filter
from exports.s1stac.build import build_radar_source
from exports.s1stac.source import StacRadarSource
from exports.source import PointFailure, PointStack
from lucas.errors import InputFormatError
from tests.fixtures.synthetic_s1 import (
    LAT0,
    LON0,
    default_linear,
    point_request,
    product_id,
    raster_around,
    with_marks,
    write_catalog,
    write_slice,
)

YEAR = 2021
T0 = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
LAT, LON = 48.1, 12.5  # zone 33
MARK = 0.0123


def _db(linear: float) -> np.float32:
    """What a float32 linear value becomes: 10·log10 of it, as float32."""
    return np.float32(10.0 * np.log10(np.float64(np.float32(linear))))


def _source(catalog: Path) -> StacRadarSource:
    context = SourceContext(bands=(), year=YEAR)
    return build_radar_source(S1Options(s1="series", s1_catalog=catalog), context)


def _run(source: StacRadarSource, points: list[Any], s1_filter: S1Filter | None = None,
         max_nodata: float = 100.0, resampling: str = "nearest") -> dict[int, Any]:
    selection = source.find_acquisitions(points, YEAR, s1_filter or S1Filter())
    batch = [(p, selection.scenes[p.point_id]) for p in points]
    return {r.point_id: r for r in source.fetch(batch, max_nodata, resampling)}


def test_a_marker_at_the_point_lands_at_32_32_in_db(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON)
    x, y = point_utm(LAT, LON, 32633)
    values = with_marks({"VV": [(x, y, MARK)], "VH": [(x, y, MARK / 4)]})
    item_id = product_id(T0)
    item = write_slice(tmp_path, item_id, raster, T0, values=values)
    source = _source(write_catalog(tmp_path, [item]))
    point = point_request(1, LAT, LON)
    stack = _run(source, [point])[1]
    assert isinstance(stack, PointStack)
    assert stack.image_ids == [item_id]
    assert stack.acquired == [T0]
    assert stack.data.dtype.names == ("VV", "VH")
    vv, vh = stack.data["VV"][0], stack.data["VH"][0]
    assert vv.dtype == np.float32
    assert vv[32, 32] == _db(MARK)
    assert vh[32, 32] == _db(MARK / 4)
    # Every other pixel: the raster's pixel under it, converted the same way.
    grid = point.grid
    cx = grid.x_min + (np.arange(64) + 0.5) * 10
    cy = grid.y_max - (np.arange(64) + 0.5) * 10
    gx, gy = np.meshgrid(cx, cy)
    expected = linear_to_db(default_linear("VV", gx, gy))
    expected[32, 32] = _db(MARK)
    np.testing.assert_array_equal(vv, expected)
    assert stack.step_attributes["orbit_pass"] == ["DESCENDING"]
    assert stack.step_attributes["relative_orbit"] == [117]
    assert stack.step_attributes["platform"] == ["sentinel-1a"]
    assert stack.step_scenes[0].datatake == "S1A_038303"
    assert source.convention == GAMMA0_DB


def test_series_is_every_acquisition_in_time_order(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON)
    dates = [T0 + timedelta(days=d) for d in (24, 0, 12, 36)]
    items = [write_slice(tmp_path, product_id(t, datatake=f"0383{k:02X}", orbit=30641 + k),
                         raster, t, properties={"sat:orbit_state": "ascending" if k % 2
                                                else "descending", "sat:relative_orbit": 10 + k})
             for k, t in enumerate(dates)]
    items.append(write_slice(tmp_path, product_id(T0.replace(year=2020)), raster,
                             T0.replace(year=2020)))
    source = _source(write_catalog(tmp_path, items))
    point = point_request(1, LAT, LON)
    selection = source.find_acquisitions([point], YEAR, S1Filter())
    assert [s.acquired for s in selection.scenes[1]] == sorted(dates)
    assert [(d.kind, d.reason) for d in selection.dropped] == [("wrong_year",
                                                               "wrong year 2020 (want 2021)")]
    stack = next(iter(source.fetch([(point, selection.scenes[1])], 5.0, "nearest")))
    assert isinstance(stack, PointStack)
    assert stack.acquired == sorted(dates)
    by_date = {t: k for k, t in enumerate(dates)}
    assert stack.step_attributes["relative_orbit"] == [10 + by_date[t] for t in sorted(dates)]
    assert stack.step_attributes["orbit_pass"] == [
        "ASCENDING" if by_date[t] % 2 else "DESCENDING" for t in sorted(dates)]
    assert stack.step_attributes["acquired"][0] == "2021-03-04T05:06:07Z"
    assert not np.isnan(stack.data["VV"]).any()


def test_slices_of_one_datatake_keep_the_one_with_less_nodata(tmp_path: Path) -> None:
    _, y = point_utm(LAT, LON, 32633)
    # Two overlapping frames of one datatake: the first ends 150 m north of the point.
    north = raster_around(32633, LAT + 0.01, LON, 300)
    south = raster_around(32633, LAT - 0.004, LON, 300)

    def cut(pol: str, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        out = default_linear(pol, xs, ys)
        out[ys < y + 150] = 0.0  # the swath edge's fill
        return out

    first = write_slice(tmp_path, product_id(T0), north, T0, values=cut,
                        footprint=north.footprint().union(south.footprint()).convex_hull)
    t1 = T0 + timedelta(seconds=25)
    second = write_slice(tmp_path, product_id(t1), south, t1)
    source = _source(write_catalog(tmp_path, [first, second]))
    stack = _run(source, [point_request(1, LAT, LON)])[1]
    assert stack.image_ids == [second.id]
    assert [(d.scene_id, d.kind) for d in stack.dropped] == [(first.id, "duplicate_datatake")]
    assert second.id in stack.dropped[0].reason


def test_no_data_is_nan_zero_nan_nodata_value_and_off_the_raster(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON, 240)
    x, y = point_utm(LAT, LON, 32633)
    marks = {"VV": [(x + 10, y, 0.0), (x + 20, y, float("nan")), (x + 30, y, -32768.0),
                    (x + 40, y, -0.5)]}
    # The footprint says more than the raster holds: the patch hangs over its west edge.
    left = raster_around(32633, LAT, LON, 240)
    edge = math.floor((x - 200.0) / 10) * 10.0  # on the 10 m grid, 20 pixels west of x
    west_cut = type(left)(left.epsg, edge, left.y_max, 220, left.height)
    wide = raster.footprint()
    item = write_slice(tmp_path, product_id(T0), west_cut, T0, values=with_marks(marks),
                       nodata=-32768.0, footprint=wide)
    source = _source(write_catalog(tmp_path, [item]))
    point = point_request(1, LAT, LON)
    stack = _run(source, [point])[1]
    vv, vh = stack.data["VV"][0], stack.data["VH"][0]
    assert np.isnan(vv[32, 33:37]).all()  # 0, NaN, the nodata value, negative
    assert not np.isnan(vh[32, 33:37]).any()  # VH has no marks there
    assert not np.isnan(vv[32, 32])
    off = round((edge - point.grid.x_min) / 10)  # first patch column on the raster
    assert 0 < off < 32
    assert np.isnan(vv[:, :off]).all() and np.isnan(vh[:, :off]).all()
    assert not np.isnan(vh[:, off:]).any()
    # The no-data share decides: above the threshold the step is dropped.
    strict = _run(_source(tmp_path / "catalog.json"), [point], max_nodata=5.0)[1]
    assert strict.image_ids == []
    assert [d.kind for d in strict.dropped] == ["patch_nodata"]


def test_orbit_filter_keeps_one_direction(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON)
    asc = write_slice(tmp_path, product_id(T0, datatake="0383AA"), raster, T0,
                      properties={"sat:orbit_state": "ascending", "sat:relative_orbit": 44})
    t1 = T0 + timedelta(days=1)
    desc = write_slice(tmp_path, product_id(t1, datatake="0383BB"), raster, t1)
    source = _source(write_catalog(tmp_path, [asc, desc]))
    point = point_request(1, LAT, LON)
    selection = source.find_acquisitions([point], YEAR, S1Filter(orbit="ascending"))
    assert [s.scene_id for s in selection.scenes[1]] == [asc.id]
    assert [(d.scene_id, d.kind, d.reason) for d in selection.dropped] == [
        (desc.id, "orbit", "orbit DESCENDING (--s1-orbit ascending)")]
    both = source.find_acquisitions([point], YEAR, S1Filter())
    assert [s.scene_id for s in both.scenes[1]] == [asc.id, desc.id]


def test_an_item_without_vh_is_dropped_with_a_reason(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON)
    vv_only = write_slice(tmp_path, product_id(T0, datatake="0383AA"), raster, T0,
                          pols=("VV",))
    t1 = T0 + timedelta(days=1)
    declared_vv = write_slice(tmp_path, product_id(t1, datatake="0383BB"), raster, t1,
                              properties={"sar:polarizations": ["VV"]})
    t2 = T0 + timedelta(days=2)
    good = write_slice(tmp_path, product_id(t2, datatake="0383CC"), raster, t2)
    far = raster_around(32633, LAT + 1.0, LON)  # covers no point: its drop is no news
    t3 = T0 + timedelta(days=3)
    far_vv = write_slice(tmp_path, product_id(t3, datatake="0383DD"), far, t3, pols=("VV",))
    source = _source(write_catalog(tmp_path, [vv_only, declared_vv, good, far_vv]))
    selection = source.find_acquisitions([point_request(1, LAT, LON)], YEAR, S1Filter())
    assert [s.scene_id for s in selection.scenes[1]] == [good.id]
    drops = {d.scene_id: d for d in selection.dropped}
    assert set(drops) == {vv_only.id, declared_vv.id}
    assert drops[vv_only.id].kind == "missing_polarisation"
    assert drops[vv_only.id].reason == (
        "missing polarisation VH: no asset vh (both VV and VH are needed)")
    assert drops[declared_vv.id].kind == "missing_polarisation"
    assert "VH" in drops[declared_vv.id].reason


def test_mixed_sigma0_and_gamma0_are_refused(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON)
    other = raster_around(32633, LAT + 0.1, LON)
    rtc = write_slice(tmp_path, product_id(T0, datatake="0383AA"), raster, T0)
    t1 = T0 + timedelta(days=1)
    grd = write_slice(tmp_path, product_id(t1, datatake="0383BB", suffix=""), other, t1,
                      properties={"sar:product_type": "GRD"}, collection=None)
    catalog = write_catalog(tmp_path, [rtc, grd])
    here, there = point_request(1, LAT, LON), point_request(2, LAT + 0.1, LON)
    with pytest.raises(InputFormatError) as info:
        _source(catalog).find_acquisitions([here, there], YEAR, S1Filter())
    message = str(info.value)
    assert "\n" not in message
    assert f"{rtc.id} is {GAMMA0_DB}" in message and f"{grd.id} is {SIGMA0_DB}" in message
    assert "never mixed in one file: use a catalog of one kind" in message
    # Across calls of one source's life, too.
    source = _source(catalog)
    assert source.convention == GAMMA0_DB  # expected before any selection
    assert [s.scene_id for s in source.find_acquisitions([here], YEAR, S1Filter())
            .scenes[1]] == [rtc.id]
    with pytest.raises(InputFormatError, match="never mixed in one file"):
        source.find_acquisitions([there], YEAR, S1Filter())
    # A source that finds σ0 only says so.
    grd_only = _source(catalog)
    assert [s.convention for s in grd_only.find_acquisitions([there], YEAR, S1Filter())
            .scenes[2]] == [SIGMA0_DB]
    assert grd_only.convention == SIGMA0_DB


def test_an_item_of_unknown_convention_is_dropped(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON)
    item = write_slice(tmp_path, product_id(T0, suffix=""), raster, T0,
                       omit=["sar:product_type"], collection=None)
    source = _source(write_catalog(tmp_path, [item]))
    selection = source.find_acquisitions([point_request(1, LAT, LON)], YEAR, S1Filter())
    assert selection.scenes[1] == []
    assert [(d.scene_id, d.kind, d.reason) for d in selection.dropped] == [
        (item.id, "unknown_convention",
         "unknown backscatter convention (set sar:product_type RTC or GRD)")]


def test_two_utm_zones_share_one_slice_on_their_sentinel2_grids(tmp_path: Path) -> None:
    lat, lon32, lon33 = LAT0, LON0 - 0.004, LON0 + 0.004
    raster = raster_around(32633, lat, LON0, 400)
    marks = []
    for lon in (lon32, lon33):  # a 3×3 block around each point, in the slice's CRS
        px, py = point_utm(lat, lon, 32633)
        marks += [(px + dx, py + dy, MARK) for dx in (-10, 0, 10) for dy in (-10, 0, 10)]
    item = write_slice(tmp_path, product_id(T0), raster, T0,
                       values=with_marks({"VV": marks, "VH": marks}))
    source = _source(write_catalog(tmp_path, [item]))
    points = [point_request(1, lat, lon32), point_request(2, lat, lon33)]
    assert [p.grid.epsg for p in points] == [32632, 32633]
    for p in points:  # the radar patch grid is the Sentinel-2 one: crs and transform
        s2 = patch_grid(p.lat, p.lon)
        assert (p.grid.crs, p.grid.transform) == (s2.crs, s2.transform)
    stacks = _run(source, points)
    for pid in (1, 2):
        assert stacks[pid].image_ids == [item.id]
        assert stacks[pid].data["VV"][0][32, 32] == _db(MARK)
        assert stacks[pid].data["VH"][0][32, 32] == _db(MARK)
    # The zone-32 patch is the slice resampled by nearest neighbour: each pixel centre,
    # projected into EPSG:32633, falls in the slice pixel whose value it holds.
    grid = points[0].grid
    cx = grid.x_min + (np.arange(64) + 0.5) * 10
    cy = grid.y_max - (np.arange(64) + 0.5) * 10
    gx, gy = np.meshgrid(cx, cy)
    tx, ty = Transformer.from_crs(32632, 32633, always_xy=True).transform(gx, gy)
    cols = np.floor((tx - raster.x_min) / 10).astype(int)
    rows = np.floor((raster.y_max - ty) / 10).astype(int)
    sx, sy = raster.centres()
    full = with_marks({"VV": marks})("VV", sx, sy)
    expected = linear_to_db(full[rows, cols])
    same = np.mean(stacks[1].data["VV"][0] == expected)
    assert same > 0.99


def test_bilinear_differs_from_nearest_and_is_nan_safe(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON, 240, shift_m=5.0)  # half a pixel off the grid
    x, y = point_utm(LAT, LON, 32633)

    def values(pol: str, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        out = default_linear(pol, xs, ys)
        out[(np.abs(xs - x) < 5) & (np.abs(ys - y - 100) < 5)] = np.nan  # one NaN pixel
        out[(np.abs(xs - x + 200) < 50) & (np.abs(ys - y) < 50)] = 0.0  # a 10×10 hole
        return out

    item = write_slice(tmp_path, product_id(T0), raster, T0, values=values)
    catalog = write_catalog(tmp_path, [item])
    point = point_request(1, LAT, LON)
    near = _run(_source(catalog), [point])[1].data["VV"][0]
    bil = _run(_source(catalog), [point], resampling="bilinear")[1].data["VV"][0]
    both = ~np.isnan(near) & ~np.isnan(bil)
    assert both.mean() > 0.9
    assert np.mean(near[both] != bil[both]) > 0.5
    sx, sy = raster.centres()
    good = default_linear("VV", sx, sy)
    lo, hi = float(linear_to_db(good).min()), float(linear_to_db(good).max())
    assert np.nanmin(bil) >= lo - 1e-4 and np.nanmax(bil) <= hi + 1e-4  # no fill blended in
    assert np.isfinite(bil[~np.isnan(bil)]).all()
    row_nan = 32 - 10  # the single NaN pixel, 100 m north of the point
    assert np.isnan(near[row_nan - 1 : row_nan + 1, 32 : 34]).any()
    # A naive kernel would spread the NaN to the 4 patch pixels it touches: GDAL's weighs
    # the valid neighbours only, so at most the pixel centred on it stays NaN.
    assert np.isnan(bil[row_nan - 2 : row_nan + 3, 30:35]).sum() <= 1
    hole_col = 32 - 20  # the centre of the 10×10 hole
    assert np.isnan(bil[31:34, hole_col - 2 : hole_col + 2]).all()
    assert np.isnan(near[30:34, hole_col - 3 : hole_col + 3]).all()


def test_a_non_float_asset_is_dropped(tmp_path: Path) -> None:
    raster = raster_around(32633, LAT, LON)
    item = write_slice(tmp_path, product_id(T0), raster, T0, dtype=np.uint16)
    source = _source(write_catalog(tmp_path, [item]))
    stack = _run(source, [point_request(1, LAT, LON)])[1]
    assert stack.image_ids == []
    assert [d.kind for d in stack.dropped] == ["unexpected_dtype"]
    assert "unexpected dtype uint16" in stack.dropped[0].reason
    assert "linear float32 backscatter expected" in stack.dropped[0].reason


def test_each_asset_is_opened_once_for_all_points(tmp_path: Path, open_calls: list[str]) -> None:
    raster = raster_around(32633, LAT, LON, 300)
    items = [write_slice(tmp_path, product_id(T0 + timedelta(days=d), datatake=f"0383{d:02X}"),
                         raster, T0 + timedelta(days=d)) for d in (0, 6)]
    source = _source(write_catalog(tmp_path, items))
    points = [point_request(k, LAT + 0.001 * k, LON + 0.001 * k) for k in range(1, 5)]
    open_calls.clear()  # the fixture's own writes
    results = _run(source, points)
    assert all(len(r.image_ids) == 2 for r in results.values())
    tifs = [c for c in open_calls if c.endswith(".tif")]
    assert sorted(tifs) == sorted({c for c in tifs}) and len(tifs) == 4  # 2 slices × VV, VH


def _scene(href: str, scene_id: str = "S1A_remote") -> S1Scene:
    return S1Scene(scene_id=scene_id, acquired=T0, datatake=scene_id, orbit_pass="ASCENDING",
                   relative_orbit=1, platform="sentinel-1a", convention=GAMMA0_DB, epsg=32633,
                   assets={"VV": href, "VH": href})


class _NoDiscovery:
    def items(self, bbox: Any, year: Any) -> list[Any]:
        return []


def test_read_errors_transient_permanent_and_unexpected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = StacRadarSource(_NoDiscovery())
    remote = _scene("https://assets.example.org/vv.tif", "S1A_remote")
    missing = _scene(str(tmp_path / "gone.tif"), "S1A_gone")
    real_open = read_module.rasterio.open

    def fake_open(fp: Any, *args: Any, **kwargs: Any) -> Any:
        if str(fp).startswith("https://"):
            raise RasterioError("HTTP response code: 503")
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(read_module.rasterio, "open", fake_open)
    p1, p2 = point_request(1, LAT, LON), point_request(2, LAT, LON + 0.01)
    out = {r.point_id: r for r in source.fetch([(p1, [remote]), (p2, [missing])], 5, "nearest")}
    assert isinstance(out[1], PointFailure) and out[1].transient
    assert "503" in out[1].message and "S1A_remote" in out[1].message
    assert isinstance(out[2], PointStack) and out[2].image_ids == []
    assert [(d.scene_id, d.kind) for d in out[2].dropped] == [("S1A_gone", "read_error")]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(source_module, "read_slice", broken)
    p3 = point_request(3, LAT + 0.01, LON)
    out = {r.point_id: r for r in source.fetch([(p1, [missing]), (p3, [])], 5, "nearest")}
    assert isinstance(out[1], PointFailure) and not out[1].transient
    assert "RuntimeError: a bug" in out[1].message
    assert isinstance(out[3], PointStack) and out[3].image_ids == []


def test_the_marker_value_is_exact() -> None:
    assert _db(MARK) == np.float32(10 * math.log10(np.float32(MARK)))


def test_the_registry_builds_this_source(tmp_path: Path) -> None:
    from exports.s1.sources import get_radar_spec

    raster = raster_around(32633, LAT, LON)
    catalog = write_catalog(tmp_path, [write_slice(tmp_path, product_id(T0), raster, T0)])
    options = S1Options(s1="series", s1_catalog=catalog).resolved("stac")
    source = get_radar_spec(options.s1_source or "").build(
        options, SourceContext(bands=(), year=YEAR))
    assert isinstance(source, StacRadarSource) and source.name == "stac"
    assert [s.scene_id for s in source.find_acquisitions(
        [point_request(1, LAT, LON)], YEAR, S1Filter()).scenes[1]] == [product_id(T0)]
