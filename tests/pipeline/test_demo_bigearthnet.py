"""The BigEarthNet demo (``etl demo --bigearthnet``): tile grid, bands, markers, seasons, sky,
CORINE-like polygons, Sentinel-1 slices, countries, determinism and the CLI."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
from click.testing import CliRunner
from shapely.geometry import Point

from lucas.errors import ConfigError
from pipeline.cli import main
from pipeline.demo.bigearthnet import BenDemo, build_bigearthnet_demo
from pipeline.demo.geo import transformer

UL = (300000.0, 5400000.0)
ASSETS = {  # asset key -> (file, metres)
    "coastal": ("B01", 60), "blue": ("B02", 10), "green": ("B03", 10), "red": ("B04", 10),
    "rededge1": ("B05", 20), "rededge2": ("B06", 20), "rededge3": ("B07", 20),
    "nir": ("B08", 10), "nir08": ("B8A", 20), "nir09": ("B09", 60), "swir16": ("B11", 20),
    "swir22": ("B12", 20), "scl": ("SCL", 20),
}  # fmt: skip
KEY_OF_BAND = {"B" + f[1:].lstrip("0") if f != "SCL" else f: k for k, (f, _) in ASSETS.items()}
N = 6  # complete patches per side


@pytest.fixture(scope="module")
def ben(tmp_path_factory: pytest.TempPathFactory) -> BenDemo:
    return build_bigearthnet_demo(tmp_path_factory.mktemp("ben") / "demo")


@pytest.fixture(scope="module")
def manifest(ben: BenDemo) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(ben.manifest_path.read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def items(ben: BenDemo) -> dict[str, pystac.Item]:
    catalog = pystac.Catalog.from_file(str(ben.catalog_path))
    return {it.id: it for it in catalog.get_items(recursive=True)}


@pytest.fixture(scope="module")
def s1_items(ben: BenDemo) -> dict[str, pystac.Item]:
    catalog = pystac.Catalog.from_file(str(ben.s1_catalog_path))
    return {it.id: it for it in catalog.get_items(recursive=True)}


def _read(item: pystac.Item, key: str) -> np.ndarray:
    with rasterio.open(item.assets[key].get_absolute_href()) as ds:
        return ds.read(1)


def _blocks(arr: np.ndarray, res: int) -> np.ndarray:
    """[y, x, row, col] of the complete patches."""
    n = 1200 // res
    return arr[: N * n, : N * n].reshape(N, n, N, n).transpose(0, 2, 1, 3)


def _cells(mask: Any) -> list[list[int]]:
    return [[int(x), int(y)] for y, x in zip(*np.nonzero(np.asarray(mask)), strict=True)]


def _scene(manifest: dict[str, Any], sky: str) -> dict[str, Any]:
    (scene,) = [s for s in manifest["scenes"] if s["sky"] == sky]
    return dict(scene)


def test_every_asset_starts_at_the_tile_corner(items: dict[str, pystac.Item]) -> None:
    assert len(items) == 8
    for item in items.values():
        assert list(item.assets) == list(ASSETS)
        for key, (name, res) in ASSETS.items():
            href = item.assets[key].get_absolute_href()
            assert href is not None and href.endswith(f"/{name}.tif")
            with rasterio.open(href) as ds:
                assert (ds.transform.c, ds.transform.f) == UL
                assert (ds.transform.a, ds.transform.e) == (res, -res)
                side = (7200 + 300) // res  # 720 / 360 / 120 + the incomplete 7th patch
                assert (ds.height, ds.width) == (side, side)
                assert ds.dtypes[0] == ("uint8" if key == "scl" else "uint16")
                assert ds.nodata == 0
                assert ds.crs.to_epsg() == 32633


def test_items_carry_what_the_reader_needs(items: dict[str, pystac.Item],
                                           manifest: dict[str, Any]) -> None:  # fmt: skip
    uri = re.compile(r"^S2[AB]_MSIL2A_\d{8}T\d{6}_N0\d{3}_R022_T33UUP_\d{8}T\d{6}\.SAFE$")
    for scene in manifest["scenes"]:
        p = items[scene["id"]].properties
        epsg = p["proj:epsg"] if "proj:epsg" in p else int(p["proj:code"][5:])  # pystac migrates
        assert p["s2:mgrs_tile"] == "33UUP" and epsg == 32633
        assert (p["mgrs:utm_zone"], p["mgrs:latitude_band"], p["mgrs:grid_square"]) == (
            33, "U", "UP")  # fmt: skip
        assert uri.match(p["s2:product_uri"])
        assert scene["product_id"] == p["s2:product_uri"].rsplit("_", 1)[0]
        assert p["s2:datatake_id"] and p["s2:granule_id"]
        assert p["earthsearch:boa_offset_applied"] is False
        major = int(p["s2:processing_baseline"].split(".")[0])
        assert scene["boa_offset"] == (1000 if major >= 4 else 0)
        baseline = "N" + p["s2:processing_baseline"].replace(".", "")
        assert p["s2:product_uri"].split("_")[3] == baseline
    assert manifest["scenes"][0]["product_id"] == "S2A_MSIL2A_20170613T101031_N0205_R022_T33UUP"
    assert {s["boa_offset"] for s in manifest["scenes"]} == {0, 1000}


def test_two_scenes_per_season_and_one_over_one_percent_cloud(
    items: dict[str, pystac.Item], manifest: dict[str, Any]
) -> None:
    scenes = manifest["scenes"]
    assert Counter(s["season"] for s in scenes) == {"summer": 2, "autumn": 2, "winter": 2,
                                                    "spring": 2}  # fmt: skip
    seasons = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
               6: "summer", 7: "summer", 8: "summer"}  # fmt: skip
    for s in scenes:
        when = items[s["id"]].datetime
        assert when is not None and date(2017, 6, 1) <= when.date() <= date(2018, 5, 31)
        assert s["season"] == seasons.get(when.month, "autumn")
        assert items[s["id"]].properties["eo:cloud_cover"] == s["cloud_cover"]
    cloudy = [s for s in scenes if s["cloud_cover"] >= 1]
    assert [s["sky"] for s in cloudy] == ["cloud"]
    # eo:cloud_cover is the share of SCL 8, 9, 10 among valid pixels
    scl = _read(items[cloudy[0]["id"]], "scl")
    share = 100 * np.isin(scl, (8, 9, 10)).sum() / (scl > 0).sum()
    assert cloudy[0]["cloud_cover"] == pytest.approx(share, abs=1e-4)


def test_markers_sit_where_recorded(items: dict[str, pystac.Item], manifest: dict[str, Any],
                                    ben: BenDemo) -> None:  # fmt: skip
    markers = manifest["markers"]
    assert {m["resolution"] for m in markers} == {10, 20, 60}
    assert len(ben.markers) == len(markers) == 3
    for m in markers:
        scene = next(s for s in manifest["scenes"] if s["id"] == m["scene_id"])
        assert scene["sky"] == "clear" and scene["patches"]["nodata"] == []
        n = 1200 // m["resolution"]
        assert (m["raster_row"], m["raster_col"]) == (m["patch_y"] * n + m["row"],
                                                      m["patch_x"] * n + m["col"])  # fmt: skip
        data = _read(items[m["scene_id"]], KEY_OF_BAND[m["band"]])
        r, c = m["raster_row"], m["raster_col"]
        assert int(data[r, c]) == m["stored"]
        around = data[r - 1 : r + 2, c - 1 : c + 2].ravel().tolist()
        assert around.count(m["stored"]) == 1
        assert m["value"] == m["stored"] - scene["boa_offset"] > 0
        assert m["boa_offset"] == scene["boa_offset"]
    assert {m["boa_offset"] for m in markers} == {1000}  # the offset removal matters


def test_snow_and_cloud_patches_are_as_recorded(items: dict[str, pystac.Item],
                                                manifest: dict[str, Any]) -> None:  # fmt: skip
    for sky, classes, key in (("snow", (11,), "snow"), ("cloud", (3, 8, 9, 10), "cloud")):
        scene = _scene(manifest, sky)
        blocks = np.isin(_blocks(_read(items[scene["id"]], "scl"), 20), classes)
        assert scene["patches"][key] == _cells(blocks.all(axis=(2, 3)))
        assert scene["patches"][key + "_any"] == _cells(blocks.any(axis=(2, 3)))
        assert 1 <= len(scene["patches"][key]) < N * N
    assert _scene(manifest, "snow")["season"] == "winter"
    for scene in manifest["scenes"]:
        if scene["sky"] not in ("snow", "cloud"):
            assert scene["patches"]["snow_any"] == scene["patches"]["cloud_any"] == []


def test_wedge_touches_the_recorded_patches_in_every_band(
    items: dict[str, pystac.Item], manifest: dict[str, Any]
) -> None:
    for scene in manifest["scenes"]:
        item = items[scene["id"]]
        touched = np.zeros((N, N), bool)
        for key, (_, res) in ASSETS.items():
            touched |= (_blocks(_read(item, key), res) == 0).any(axis=(2, 3))
        assert scene["patches"]["nodata"] == _cells(touched)
        pct = item.properties["s2:nodata_pixel_percentage"]
        assert (pct > 0) == (scene["sky"] == "wedge") == bool(scene["patches"]["nodata"])
    assert 0 < len(_scene(manifest, "wedge")["patches"]["nodata"]) < N * N


def test_the_seventh_column_and_row_hold_data_but_are_incomplete(
    items: dict[str, pystac.Item], manifest: dict[str, Any]
) -> None:
    item = items[next(s["id"] for s in manifest["scenes"] if s["sky"] == "clear")]
    red = _read(item, "red")
    assert red.shape == (750, 750) and (red[720:, :] > 0).all() and (red[:, 720:] > 0).all()
    assert manifest["grid"]["complete_patches"] == [6, 6]
    assert manifest["grid"]["raster_px"] == {"10": 750, "20": 375, "60": 125}


def test_clc_gpkg_looks_like_corine(ben: BenDemo, manifest: dict[str, Any]) -> None:
    clc = gpd.read_file(ben.clc_path)
    assert clc.crs.to_epsg() == 3035
    assert {"Code_18", "ID", "Area_Ha"} <= set(clc.columns)
    assert all(isinstance(c, str) and re.fullmatch(r"\d{3}", c) for c in clc["Code_18"])
    codes = set(clc["Code_18"])
    assert {"122", "124", "211", "231", "311", "312", "512"} <= codes
    assert sorted(codes) == manifest["clc"]["codes"]
    assert np.allclose(clc["Area_Ha"], clc.area / 10000)
    to_laea = transformer(32633, 3035)

    def code_at(x: float, y: float) -> list[str]:
        p = Point(*to_laea.transform(UL[0] + x, UL[1] - y))
        return list(clc.loc[clc.contains(p), "Code_18"])

    for py in range(N):  # the uncovered strip: no polygon in the west of the first column
        assert code_at(300, py * 1200 + 600) == []
        assert len(code_at(3 * 1200 + 600, py * 1200 + 610)) == 1
    assert code_at(4 * 1200 + 600, 4 * 1200 + 600) == ["124"]  # the airport
    uncovered = manifest["clc"]["uncovered_patches"]
    assert uncovered == [[0, y] for y in range(N)]
    heavy = manifest["clc"]["unlabeled_over_25_percent"]
    assert [4, 4] in heavy and [5, 4] in heavy and len(heavy) < N * N
    shares = {(s["x"], s["y"]): s for s in manifest["clc"]["patches"]}
    assert shares[(0, 0)]["uncovered_percent"] == pytest.approx(75.0, abs=1)
    assert shares[(4, 4)]["unlabeled_percent"] == 100.0 and "124" in shares[(4, 4)]["codes"]


def test_clc_codes_and_unlabeled_agree_with_the_shared_table(
    shared_dir: Path, manifest: dict[str, Any]
) -> None:
    table = shared_dir / "bigearthnet" / "clc2018_codes.csv"
    if not table.is_file():
        pytest.skip("clc2018_codes.csv not in the shared folder")
    with table.open(newline="", encoding="utf-8") as f:
        classes = {r["clc_code"]: r["ben19_class"] for r in csv.DictReader(f)}
    for code in manifest["clc"]["codes"]:
        assert code in classes
    unlabeled = {c for c, name in classes.items() if name == "UNLABELED"}
    used = set(manifest["clc"]["unlabeled_codes"])
    assert used <= unlabeled
    assert {c for c in manifest["clc"]["codes"] if c in unlabeled} <= used


def test_s1_slices_both_orbits_near_the_s2_scenes(
    s1_items: dict[str, pystac.Item], items: dict[str, pystac.Item], manifest: dict[str, Any]
) -> None:
    s1 = manifest["s1"]
    by_time = sorted(s1_items, key=lambda i: str(s1_items[i].datetime))
    assert [i["id"] for i in s1["items"]] == by_time
    assert {it.properties["sat:orbit_state"] for it in s1_items.values()} == {"ascending",
                                                                              "descending"}
    starts = {iid: datetime.fromisoformat(it.properties["start_datetime"].replace("Z", "+00:00"))
              for iid, it in s1_items.items()}  # fmt: skip
    for scene in manifest["scenes"]:
        when = items[scene["id"]].datetime
        assert when is not None
        near = sorted(i for i, t in starts.items() if abs(t - when) <= timedelta(days=3))
        assert sorted(scene["s1_within_3_days"]) == near
    assert len(s1["scenes_without_s1"]) == 1
    assert sum(bool(s["s1_within_3_days"]) for s in manifest["scenes"]) == 7
    for it in s1_items.values():
        assert it.collection_id == "sentinel-1-rtc"
        for key in ("vv", "vh"):
            with rasterio.open(it.assets[key].get_absolute_href()) as ds:
                assert ds.crs.to_epsg() == 32633 and ds.dtypes[0] == "float32"
                assert ds.nodata == 0 and ds.transform.a == 10 and ds.transform.e == -10
                assert ds.transform.c % 10 == 0 and ds.transform.f % 10 == 0
                assert ds.transform.c < UL[0] and ds.transform.f > UL[1]
                assert ds.bounds.right > UL[0] + 7500 and ds.bounds.bottom < UL[1] - 7500


def test_one_s1_slice_has_a_nodata_strip_over_the_first_patch_row(
    s1_items: dict[str, pystac.Item], manifest: dict[str, Any]
) -> None:
    strips = [i for i in manifest["s1"]["items"] if i["nodata_patches"]]
    assert len(strips) == 1
    for entry in manifest["s1"]["items"]:
        item = s1_items[entry["id"]]
        with rasterio.open(item.assets["vv"].get_absolute_href()) as ds:
            vv, t = ds.read(1), ds.transform
        r0, c0 = round((t.f - UL[1]) / 10), round((UL[0] - t.c) / 10)
        patches = vv[r0 : r0 + 720, c0 : c0 + 720]
        zero = (_blocks(patches, 10) == 0).any(axis=(2, 3))
        assert _cells(zero) == entry["nodata_patches"]
        assert (vv[entry["nodata_strip_rows"] :] > 0).all()


def test_countries_split_the_patches(ben: BenDemo, manifest: dict[str, Any]) -> None:
    nations = gpd.read_file(ben.countries_path)
    assert sorted(nations["name"]) == ["Austria", "Germany"]
    by = manifest["countries"]["patches"]
    assert set(by) == {"Austria", "Germany"}
    assert sorted(map(tuple, by["Austria"] + by["Germany"])) == [
        (x, y) for x in range(N) for y in range(N)]  # fmt: skip


def test_cli_builds_the_same_bytes(ben: BenDemo, tmp_path: Path) -> None:
    out = tmp_path / "again"
    result = CliRunner().invoke(main, ["demo", "--bigearthnet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "etl bigearthnet --tiles 33UUP" in result.output
    assert str(out / "stac" / "catalog.json") in result.output.replace("\n", "")
    names = ["ben_demo.json", "stac/catalog.json", "s1/catalog.json", "countries.gpkg",
             "clc/clc_demo.gpkg"]  # fmt: skip
    first = ben.scene_ids[1]
    names += [f"stac/{first}/{first}.json", f"stac/{first}/B01.tif", f"stac/{first}/B04.tif",
              f"stac/{first}/SCL.tif", f"s1/{ben.s1_item_ids[0]}/vv.tif"]  # fmt: skip
    for name in names:
        assert (out / name).read_bytes() == (ben.root / name).read_bytes(), name


def test_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds no BigEarthNet demo"):
        build_bigearthnet_demo(tmp_path)
    assert (tmp_path / "x.txt").read_text() == "mine"
