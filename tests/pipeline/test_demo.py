"""The demo archive generator: geometry, STAC, rasters, LUCAS table, markers, determinism."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from exports.grid import point_utm, utm_epsg
from lucas.errors import ConfigError
from pipeline.demo import DemoArchive, build_demo, plan_demo
from pipeline.demo.landcover import CLASSES
from pipeline.demo.lucas_harmonised import HARMO_2018_COLUMNS

SMALL = {"n_points": 6, "step_days": 30.0, "seed": 0}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoArchive:
    return build_demo(tmp_path_factory.mktemp("small_demo") / "out", **SMALL)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def items(small: DemoArchive) -> dict[str, pystac.Item]:
    catalog = pystac.Catalog.from_file(str(small.catalog_path))
    return {it.id: it for it in catalog.get_items(recursive=True)}


@pytest.fixture(scope="module")
def rows(small: DemoArchive) -> list[dict[str, str]]:
    with small.lucas_path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _epsg(item: pystac.Item) -> int:
    """proj:epsg as written, or proj:code after pystac's migration to projection v2."""
    props = item.properties
    return int(props["proj:epsg"]) if "proj:epsg" in props else int(props["proj:code"][5:])


def _read(item: pystac.Item, band: str) -> tuple[np.ndarray, rasterio.Affine]:
    key = {"B4": "red", "B8": "nir", "B8A": "nir08", "B11": "swir16", "SCL": "scl"}[band]
    with rasterio.open(item.assets[key].get_absolute_href()) as ds:
        return ds.read(1), ds.transform


def _up2(a: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(a, 2, axis=0), 2, axis=1)


def test_catalog_has_two_items_per_pass(small: DemoArchive, items: dict[str, pystac.Item]) -> None:
    assert len(items) == small.scenes == 2 * small.datatakes == 26
    assert sorted(items) == sorted(small.item_ids)
    by_take = Counter(it.properties["s2:datatake_id"] for it in items.values())
    assert set(by_take.values()) == {2}
    for take in by_take:
        pair = [it for it in items.values() if it.properties["s2:datatake_id"] == take]
        assert pair[0].datetime == pair[1].datetime
        assert {it.properties["s2:mgrs_tile"] for it in pair} == {"32TQT", "33TTN"}


def test_item_ids_and_identifiers_look_like_earth_search(items: dict[str, pystac.Item]) -> None:
    item = items["S2B_32TQT_20180701_0_L2A"]
    p = item.properties
    assert p["platform"] == "sentinel-2b" and p["s2:processing_baseline"] == "02.06"
    assert p["earthsearch:boa_offset_applied"] is False
    assert p["s2:datatake_id"].startswith("GS2B_20180701T10") and p["s2:datatake_id"].endswith(
        "_N02.06"
    )
    assert p["s2:product_uri"].startswith("S2B_MSIL2A_20180701T10")
    assert "_T32TQT_" in p["s2:product_uri"] and "_T32TQT_" in p["s2:granule_id"]
    assert p["sat:relative_orbit"] in (22, 65)
    assert item.datetime is not None and 10 <= item.datetime.hour < 11


def test_tiles_are_in_two_utm_zones_on_the_s2_grid(items: dict[str, pystac.Item]) -> None:
    epsg = {it.properties["s2:mgrs_tile"]: _epsg(it) for it in items.values()}
    assert epsg == {"32TQT": 32632, "33TTN": 32633}
    for item in items.values():
        red, swir = item.assets["red"].extra_fields, item.assets["swir16"].extra_fields
        assert red["proj:transform"][2] % 60 == 0 and red["proj:transform"][5] % 60 == 0
        assert red["proj:transform"][2:6:3] == swir["proj:transform"][2:6:3]
        assert [s // 2 for s in red["proj:shape"]] == swir["proj:shape"]


def test_twenty_metre_rasters_have_half_the_pixels(items: dict[str, pystac.Item]) -> None:
    item = next(iter(items.values()))
    with (
        rasterio.open(item.assets["red"].get_absolute_href()) as r10,
        rasterio.open(item.assets["scl"].get_absolute_href()) as r20,
    ):
        assert (r10.height, r10.width) == (2 * r20.height, 2 * r20.width)
        assert r10.res == (10.0, 10.0) and r20.res == (20.0, 20.0)
        assert r10.bounds == r20.bounds
        assert r10.dtypes[0] == "uint16" and r20.dtypes[0] == "uint8"
        assert r10.nodata == 0 and r20.nodata == 0
        assert r10.profile["tiled"] and r10.compression.name == "deflate"
        assert list(item.assets["red"].extra_fields["proj:shape"]) == [r10.height, r10.width]


def test_markers_sit_in_the_pixel_of_the_point(
    small: DemoArchive, items: dict[str, pystac.Item], rows: list[dict[str, str]]
) -> None:
    where = {int(r["point_id"]): (float(r["th_lat"]), float(r["th_long"])) for r in rows}
    assert len(small.markers) >= 4
    assert any(m.cross_zone and m.epsg == 32632 for m in small.markers)
    for m in small.markers:
        lat, lon = where[m.point_id]
        item = items[m.item_id]
        assert m.cross_zone == (utm_epsg(lat, lon) != _epsg(item))
        x, y = point_utm(lat, lon, _epsg(item))
        with rasterio.open(item.assets[_key(m.band)].get_absolute_href()) as ds:
            row, col = ds.index(x, y)
            data = ds.read(1)
        assert (row, col) == (m.row, m.col)
        assert data[row, col] == m.value
        around = data[row - 1 : row + 2, col - 1 : col + 2].ravel()
        assert (around == m.value).sum() == 1  # distinctive among its neighbours
        scl, _ = _read(item, "SCL")
        k = 2 if m.band in ("B2", "B3", "B4", "B8") else 1
        assert scl[row // k, col // k] in (4, 5, 6)  # clear ground
        assert item.properties["eo:cloud_cover"] == 0.0


def _key(band: str) -> str:
    return {"B4": "red", "B8": "nir", "B8A": "nir08", "B11": "swir16", "B12": "swir22"}[band]


def test_marker_passes_leave_the_pipeline_one_tile(
    small: DemoArchive, items: dict[str, pystac.Item]
) -> None:
    """On a marker's pass the other tile's item is over the 5 % no-data limit."""
    for m in small.markers:
        mine = items[m.item_id]
        other = next(
            it
            for it in items.values()
            if it.properties["s2:datatake_id"] == mine.properties["s2:datatake_id"]
            and it.id != mine.id
        )
        assert mine.properties["s2:nodata_pixel_percentage"] < 5.0
        assert other.properties["s2:nodata_pixel_percentage"] >= 5.0


def test_cloud_cover_is_the_share_of_cloud_classes(items: dict[str, pystac.Item]) -> None:
    cloudy = 0
    for item in items.values():
        scl, _ = _read(item, "SCL")
        valid = scl[scl > 0]
        share = 100.0 * np.isin(valid, (8, 9, 10)).mean()
        assert item.properties["eo:cloud_cover"] == pytest.approx(share, abs=1e-4)
        assert item.properties["s2:cloud_shadow_percentage"] == pytest.approx(
            100.0 * (valid == 3).mean(), abs=1e-4
        )
        cloudy += share >= 40.0
    assert cloudy >= 2  # some scenes fail the 40 % filter


def test_nodata_is_zero_in_every_band_and_scl(items: dict[str, pystac.Item]) -> None:
    wedged = [it for it in items.values() if it.properties["s2:nodata_pixel_percentage"] > 0]
    assert wedged
    for item in wedged[:4]:
        scl, _ = _read(item, "SCL")
        for band in ("B4", "B8", "B8A", "B11"):
            data, _ = _read(item, band)
            expect = _up2(scl == 0) if data.shape != scl.shape else scl == 0
            np.testing.assert_array_equal(data == 0, expect)


def test_reflectance_is_plausible(items: dict[str, pystac.Item]) -> None:
    item = items["S2B_32TQT_20180701_0_L2A"]  # a clear mid-summer pass
    scl, _ = _read(item, "SCL")
    red, _ = _read(item, "B4")
    nir, _ = _read(item, "B8")
    veg = _up2(scl == 4)
    assert np.median(nir[veg]) > 2500 and np.median(red[veg]) < 700
    water = _up2(scl == 6)
    if water.any():
        assert np.median(nir[water]) < 300


def test_points_are_lucas_grid_nodes(rows: list[dict[str, str]]) -> None:
    to_wgs84 = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)
    assert rows and list(rows[0]) == list(HARMO_2018_COLUMNS)
    for r in rows:
        pid = int(r["point_id"])
        x_km, y_km = divmod(pid, 10000)
        assert len(r["point_id"]) == 8 and x_km % 2 == 0 and y_km % 2 == 0
        lon, lat = to_wgs84.transform(x_km * 1000.0, y_km * 1000.0)
        assert (float(r["th_lat"]), float(r["th_long"])) == (lat, lon)
        assert (r["year"], r["nuts0"], r["nuts2"]) == ("2018", "AT", "AT33")
        _, month, year = r["survey_date"].split("/")
        assert year == "18" and month in ("06", "07", "08")
        assert r["letter_group"] == r["lc1"][0]


def test_lc1_is_the_generated_class(rows: list[dict[str, str]]) -> None:
    plan = plan_demo(SMALL["n_points"], SMALL["seed"])  # type: ignore[arg-type]
    by_id = {p.node.point_id: p for p in plan.points}
    assert sorted(by_id) == sorted(int(r["point_id"]) for r in rows)
    for r in rows:
        node = by_id[int(r["point_id"])].node
        cls, _ = plan.landcover.classify(np.array([node.x], float), np.array([node.y], float))
        land = CLASSES[int(cls[0])]
        assert (r["lc1"], r["lc1_label"], r["lu1"]) == (land.code, land.label, land.lu1)
    lake = next(r for r in rows if int(r["point_id"]) == plan.lake.point_id)
    assert lake["lc1"] == "G11"


def test_point_buffers_lie_in_one_or_both_footprints(
    items: dict[str, pystac.Item], rows: list[dict[str, str]]
) -> None:
    footprints = {it.properties["s2:mgrs_tile"]: shape(it.geometry or {}) for it in items.values()}
    counts: Counter[int] = Counter()
    for r in rows:
        lat, lon = float(r["th_lat"]), float(r["th_long"])
        epsg = utm_epsg(lat, lon)
        x, y = point_utm(lat, lon, epsg)
        to_wgs84 = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
        ring = np.asarray(shapely.Point(x, y).buffer(650.0).exterior.coords)
        lon_lat = np.column_stack(to_wgs84.transform(ring[:, 0], ring[:, 1]))
        buf = shapely.Polygon(lon_lat)
        counts[sum(fp.contains(buf) for fp in footprints.values())] += 1
    assert counts[0] == 0 and counts[2] > 0 and counts[1] > 0


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    args = {"n_points": 4, "step_days": 20.0, "seed": 3}
    a = build_demo(tmp_path / "a", workers=1, **args)  # type: ignore[arg-type]
    b = build_demo(tmp_path / "b", workers=2, **args)  # type: ignore[arg-type]
    assert a.item_ids == b.item_ids and a.markers == b.markers
    for iid in a.item_ids[::7]:
        rel = Path("stac") / iid / f"{iid}.json"
        assert (a.root / rel).read_bytes() == (b.root / rel).read_bytes()
        with (
            rasterio.open(a.root / "stac" / iid / "B04.tif") as ra,
            rasterio.open(b.root / "stac" / iid / "B04.tif") as rb,
        ):
            np.testing.assert_array_equal(ra.read(1), rb.read(1))
    assert a.lucas_path.read_bytes() == b.lucas_path.read_bytes()
    assert (a.root / "demo.json").read_bytes() == (b.root / "demo.json").read_bytes()


def test_baseline_04_adds_the_boa_offset(tmp_path: Path) -> None:
    archive = build_demo(tmp_path / "d", n_points=4, step_days=120.0, year=2022)
    first = archive.item_ids[0]
    item = pystac.Item.from_file(str(archive.root / "stac" / first / f"{first}.json"))
    assert item.properties["s2:processing_baseline"] == "04.00"
    assert item.properties["earthsearch:boa_offset_applied"] is False
    red, _ = _read(item, "B4")
    assert red[red > 0].min() > 1000


def test_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(ConfigError, match="not empty"):
        build_demo(tmp_path, n_points=4, step_days=120.0)
    assert (tmp_path / "keep.txt").read_text() == "user data"


def test_too_many_points_for_the_extent_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n_points"):
        build_demo(tmp_path / "x", n_points=50, extent_km=8.0)


@pytest.mark.realdata
def test_columns_match_the_shared_schema(shared_dir: Path) -> None:
    path = shared_dir / "lucas" / "schemas" / "lucas_harmo_uf_2018_columns.txt"
    names = path.read_text().split()
    assert tuple(names) == HARMO_2018_COLUMNS
