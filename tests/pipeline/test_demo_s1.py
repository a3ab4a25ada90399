"""The demo's Sentinel-1 catalog: schedule, item layout, rasters, markers, overlaps, bytes."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
from shapely.geometry import shape

from exports.grid import point_utm
from pipeline.demo import DemoArchive, build_demo

SMALL = {"n_points": 8, "step_days": 30.0, "seed": 0}
ID_PARTS = 9  # S1A IW GRDH 1SDV start stop orbit datatake rtc


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoArchive:
    return build_demo(tmp_path_factory.mktemp("s1_demo") / "out", **SMALL)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def manifest(demo: DemoArchive) -> dict[str, Any]:
    return json.loads((demo.root / "demo.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def items(demo: DemoArchive) -> dict[str, pystac.Item]:
    assert demo.s1_catalog_path is not None
    catalog = pystac.Catalog.from_file(str(demo.s1_catalog_path))
    return {it.id: it for it in catalog.get_items(recursive=True)}


def _epsg(item: pystac.Item) -> int:
    props = item.properties
    return int(props["proj:epsg"]) if "proj:epsg" in props else int(props["proj:code"][5:])


def _start(item: pystac.Item) -> datetime:
    return datetime.fromisoformat(item.properties["start_datetime"].replace("Z", "+00:00"))


def _read(item: pystac.Item, band: str = "vv") -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(item.assets[band].get_absolute_href()) as ds:
        return ds.read(1), ds.transform


def _node(manifest: dict[str, Any], point_id: int) -> tuple[float, float]:
    """lat, lon of a LUCAS grid node (the POINT_ID's LAEA km)."""
    from pipeline.demo.geo import LAEA_EPSG, transformer

    x, y = (point_id // 10000) * 1000, (point_id % 10000) * 1000
    lon, lat = transformer(LAEA_EPSG, 4326).transform(x, y)
    return float(lat), float(lon)


def _point_db(item: pystac.Item, lat: float, lon: float, band: str = "vv") -> float:
    """Mean dB of the 3 × 3 pixels around the point on the item's own grid."""
    data, t = _read(item, band)
    x, y = point_utm(lat, lon, _epsg(item))
    col, row = math.floor((x - t.c) / t.a), math.floor((y - t.f) / t.e)
    win = data[row - 1 : row + 2, col - 1 : col + 2]
    assert (win > 0).all()
    return float(np.mean(10 * np.log10(win)))


def test_manifest_and_archive_agree(demo: DemoArchive, manifest: dict[str, Any],
                                    items: dict[str, pystac.Item]) -> None:  # fmt: skip
    s1 = manifest["s1"]
    assert demo.s1_catalog_path == demo.root / s1["catalog"]
    assert len(items) == demo.s1_scenes == s1["items"] == len(demo.s1_item_ids)
    assert sorted(items) == sorted(demo.s1_item_ids)
    assert s1["collection"] == "sentinel-1-rtc"
    assert manifest["args"]["s1"] is True


def test_both_directions_and_platforms_through_the_year(items: dict[str, pystac.Item]) -> None:
    first = {}  # (orbit state, platform) -> start times of the first slices
    for it in items.values():
        p = it.properties
        if p["s1:slice_number"] == "1":
            first.setdefault((p["sat:orbit_state"], p["platform"]), []).append(_start(it))
    assert set(first) == {(o, s) for o in ("ascending", "descending")
                          for s in ("SENTINEL-1A", "SENTINEL-1B")}  # fmt: skip
    for times in first.values():
        times.sort()
        assert 29 <= len(times) <= 31  # every 12 days through 2018
        assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(days=12)}
    days = sorted({t.date() for times in first.values() for t in times})
    assert len(days) == 122 and {(b - a).days for a, b in itertools.pairwise(days)} == {3}
    a = min(first[("ascending", "SENTINEL-1A")])
    b = min(first[("ascending", "SENTINEL-1B")])
    assert (b - a) % timedelta(days=12) == timedelta(days=6)


def test_s1b_stops_in_december_2021(tmp_path: Path) -> None:
    from pipeline.demo.s1_passes import plan_s1_passes

    assert {p.platform for p in plan_s1_passes(2022)} == {"sentinel-1a"}
    late = [p for p in plan_s1_passes(2021) if p.platform == "sentinel-1b"]
    assert late and max(p.start for p in late).date() < datetime(2021, 12, 23).date()
    early = [p for p in plan_s1_passes(2016) if p.platform == "sentinel-1b"]
    assert min(p.start for p in early).month == 5  # first S1B pass after 28 April 2016


def test_items_look_like_planetary_computer_rtc(items: dict[str, pystac.Item]) -> None:
    for iid, it in items.items():
        p = it.properties
        parts = iid.split("_")
        assert len(parts) == ID_PARTS and parts[1:4] == ["IW", "GRDH", "1SDV"]
        assert parts[-1] == "rtc"
        assert parts[0] == "S1" + p["platform"][-1]
        assert it.collection_id == "sentinel-1-rtc"
        start, stop = _start(it), datetime.fromisoformat(p["end_datetime"].replace("Z", "+00:00"))
        assert parts[4] == f"{start:%Y%m%dT%H%M%S}" and parts[5] == f"{stop:%Y%m%dT%H%M%S}"
        assert stop - start == timedelta(seconds=25) and start < it.datetime < stop  # type: ignore[operator]
        assert int(parts[6]) == p["sat:absolute_orbit"]
        assert int(parts[7], 16) == int(p["s1:datatake_id"])
        assert p["constellation"] == "Sentinel-1"
        assert p["platform"] in ("SENTINEL-1A", "SENTINEL-1B")
        assert p["sar:instrument_mode"] == "IW" and p["sar:polarizations"] == ["VV", "VH"]
        assert p["sar:product_type"] == "RTC"
        state, epsg = p["sat:orbit_state"], _epsg(it)
        assert (state, epsg, p["sat:relative_orbit"]) in (("descending", 32632, 66),
                                                          ("ascending", 32633, 117))  # fmt: skip
        offset = 73 if p["platform"] == "SENTINEL-1A" else 27
        assert (p["sat:absolute_orbit"] - offset) % 175 + 1 == p["sat:relative_orbit"]
        assert set(it.assets) == {"vv", "vh"}
        for asset in it.assets.values():
            assert asset.extra_fields["raster:bands"] == [{"nodata": 0, "data_type": "float32"}]
            assert shape(it.geometry).is_valid


def test_assets_are_float32_cogs_on_the_10m_grid(items: dict[str, pystac.Item]) -> None:
    for it in list(items.values())[::9]:
        for key in ("vv", "vh"):
            with rasterio.open(it.assets[key].get_absolute_href()) as ds:
                assert ds.dtypes == ("float32",) and ds.nodata == 0
                assert ds.crs.to_epsg() == _epsg(it)
                assert ds.profile["tiled"] and ds.compression.name == "deflate"
                t = ds.transform
                assert (t.a, t.e) == (10.0, -10.0) and t.c % 10 == 0 and t.f % 10 == 0
                data = ds.read(1)
                valid = data[data > 0]
                assert valid.size and np.all(np.isfinite(valid))
                db = 10 * np.log10(valid)
                assert db.min() > -35 and db.max() < 5  # linear γ0, not dB


def test_markers_sit_in_the_pixel_of_the_point(
    manifest: dict[str, Any], items: dict[str, pystac.Item]
) -> None:
    markers = manifest["s1"]["markers"]
    assert len(markers) == 4 and {m["cross_zone"] for m in markers} == {True, False}
    assert {items[m["item_id"]].properties["sat:orbit_state"] for m in markers} == {
        "ascending",
        "descending",
    }
    for m in markers:
        it = items[m["item_id"]]
        assert m["epsg"] == _epsg(it) and m["band"] == "VV"
        data, t = _read(it, "vv")
        lat, lon = _node(manifest, m["point_id"])
        x, y = point_utm(lat, lon, m["epsg"])
        assert (m["row"], m["col"]) == (math.floor((y - t.f) / t.e), math.floor((x - t.c) / t.a))
        assert data[m["row"], m["col"]] == np.float32(m["value"])
        around = data[m["row"] - 1 : m["row"] + 2, m["col"] - 1 : m["col"] + 2]
        assert np.count_nonzero(around == np.float32(m["value"])) == 1
        db32 = (10 * np.log10(np.array([m["value"]], dtype=np.float32)))[0]
        assert float(db32) == m["db"] == float(np.float32(10 * math.log10(m["value"])))


def _by_class(manifest: dict[str, Any], codes: set[str]) -> list[tuple[float, float]]:
    return [_node(manifest, p["point_id"]) for p in manifest["points"] if p["lc1"] in codes]


def _single_slices(items: dict[str, pystac.Item], months: set[int]) -> list[pystac.Item]:
    return [it for it in items.values() if _start(it).month in months
            and it.properties["s1:total_slices"] == "1"]  # fmt: skip


def test_water_is_darker_than_forest(
    manifest: dict[str, Any], items: dict[str, pystac.Item]
) -> None:
    water = _by_class(manifest, {"G11"})
    forest = _by_class(manifest, {"C10", "C21"})
    assert water and forest
    for it in _single_slices(items, {6, 7})[:4]:
        w = max(_point_db(it, *p) for p in water)
        f = min(_point_db(it, *p) for p in forest)
        assert w < -16 and f > -10 and w < f - 6
        assert max(_point_db(it, *p, band="vh") for p in water) < min(
            _point_db(it, *p, band="vh") for p in forest
        )


def test_crops_change_with_the_season_forest_stays(
    manifest: dict[str, Any], items: dict[str, pystac.Item]
) -> None:
    winter, summer = _single_slices(items, {1, 2}), _single_slices(items, {6, 7})
    for codes, low, high in (({"B11", "B13", "B16", "E20", "E10"}, 2.5, 8.0),
                             ({"C10", "C21"}, -1.0, 1.0)):  # fmt: skip
        points = _by_class(manifest, codes)
        assert points, codes
        w = np.mean([_point_db(it, *p) for it in winter for p in points])
        s = np.mean([_point_db(it, *p) for it in summer for p in points])
        assert low < s - w < high, (codes, w, s)


def test_split_passes_share_the_datatake_and_overlap(
    manifest: dict[str, Any], items: dict[str, pystac.Item]
) -> None:
    takes: dict[str, list[pystac.Item]] = defaultdict(list)
    for it in items.values():
        takes[it.id.split("_")[7]].append(it)
    pairs = [sorted(g, key=_start) for g in takes.values() if len(g) == 2]
    overlaps = {o["datatake_id"]: o for o in manifest["s1"]["overlaps"]}
    assert len(pairs) == len(overlaps) > 10 and not [g for g in takes.values() if len(g) > 2]
    for a, b in pairs:
        take = a.id.split("_")[7]
        assert overlaps[take]["items"] == [a.id, b.id] and overlaps[take]["strip_item"] == a.id
        assert a.properties["s1:datatake_id"] == b.properties["s1:datatake_id"]
        assert a.properties["sat:absolute_orbit"] == b.properties["sat:absolute_orbit"]
        assert _start(b) - _start(a) == timedelta(seconds=25)
        assert shape(a.geometry).intersects(shape(b.geometry))
        assert overlaps[take]["points"]  # some points lie in both slices


def test_strip_item_has_nodata_where_the_manifest_says(
    manifest: dict[str, Any], items: dict[str, pystac.Item]
) -> None:
    seen_strip = seen_tie = False
    for o in manifest["s1"]["overlaps"][:6]:
        first, second = (items[i] for i in o["items"])
        for p in o["points"]:
            pct = p["nodata_percent"]
            assert pct[second.id] == 0.0
            lat, lon = _node(manifest, p["point_id"])
            data, t = _read(first)
            x, y = point_utm(lat, lon, _epsg(first))
            row, col = math.floor((y - t.f) / t.e), math.floor((x - t.c) / t.a)
            patch = data[row - 32 : row + 32, col - 32 : col + 32]
            if pct[first.id] == 0.0:
                assert p["kept"] == first.id and (patch > 0).all()
                seen_tie = True
            else:
                assert p["kept"] == second.id and (patch == 0).any()
                seen_strip = True
    assert seen_strip and seen_tie


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(folder)).encode() + f.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_and_s2_untouched(demo: DemoArchive, tmp_path: Path) -> None:
    again = build_demo(tmp_path / "again", **SMALL, workers=1)  # type: ignore[arg-type]
    assert again.s1_catalog_path is not None and demo.s1_catalog_path is not None
    assert _digest(again.s1_catalog_path.parent) == _digest(demo.s1_catalog_path.parent)
    assert (again.root / "demo.json").read_bytes() == (demo.root / "demo.json").read_bytes()
    without = build_demo(tmp_path / "without", **SMALL, s1=False)  # type: ignore[arg-type]
    assert without.s1_catalog_path is None and not (without.root / "s1").exists()
    assert _digest(without.root / "stac") == _digest(demo.root / "stac")
    assert without.lucas_path.read_bytes() == demo.lucas_path.read_bytes()
    doc = json.loads((without.root / "demo.json").read_text(encoding="utf-8"))
    assert "s1" not in doc
