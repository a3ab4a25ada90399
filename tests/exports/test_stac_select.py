"""Scene selection over STAC items: footprint containment, thresholds, year, bands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import shapely
from pyproj import Transformer

from exports.source import ALL_BANDS, Scene, SceneFilter
from exports.stac.catalog import StaticCatalog, load_items, resolve_catalog_path
from exports.stac.select import (
    CatalogScene,
    containing_pairs,
    describe_items,
    drop_reason,
    filter_reason,
    point_buffers,
    reported_drops,
    select_scenes,
)
from lucas.errors import InputFormatError
from tests.fixtures.synthetic_s2 import (
    TileSpec,
    boundary_tiles,
    make_item,
    point_request,
    tile_around,
    write_catalog,
)

WHEN = datetime(2018, 6, 1, 10, 20, 30, tzinfo=UTC)
TILE32, TILE33 = boundary_tiles(400)


def point_inside(tile: TileSpec, from_right_m: float, pid: int = 1) -> Any:
    """A point ``from_right_m`` metres inside the tile's right edge, mid-height."""
    _, bottom, right, top = tile.extent()
    to_ll = Transformer.from_crs(tile.epsg, 4326, always_xy=True)
    lon, lat = to_ll.transform(right - from_right_m, (bottom + top) / 2)
    return point_request(pid, lat, lon)


def select(items: list[pystac.Item], points: list[Any], **kw: Any) -> Any:
    sf = SceneFilter(**{k: v for k, v in kw.items() if k != "bands"})
    bands = kw.get("bands", ALL_BANDS)
    return select_scenes(points, describe_items(items), 2018, sf, bands)


def test_buffer_must_be_inside_footprint() -> None:
    # a tile in the point's own zone, so distances to the edge are true metres
    tile = tile_around("33UUP", 32633, 48.0, 12.2, 400)
    near, far = point_inside(tile, 500.0, pid=1), point_inside(tile, 800.0, pid=2)
    sel = select([make_item("a", tile, WHEN)], [near, far])
    assert sel.scenes[1] == []  # 650 m buffer crosses the edge
    assert [s.scene_id for s in sel.scenes[2]] == ["a"]
    assert sel.scenes_seen == 1 and sel.dropped == []


def test_buffer_zero_is_the_point_itself() -> None:
    tile = tile_around("33UUP", 32633, 48.0, 12.2, 400)
    sel = select([make_item("a", tile, WHEN)], [point_inside(tile, 100.0)], buffer_m=0.0)
    assert len(sel.scenes[1]) == 1


def test_point_buffer_is_a_650_m_circle() -> None:
    p = point_request(1, 48.0, 12.2)
    (buf,) = point_buffers([p], 650.0)
    to_utm = Transformer.from_crs(4326, 32633, always_xy=True)
    xs, ys = to_utm.transform(*buf.exterior.coords.xy)
    x0, y0 = to_utm.transform(p.lon, p.lat)
    radii = [((x - x0) ** 2 + (y - y0) ** 2) ** 0.5 for x, y in zip(xs, ys, strict=True)]
    assert min(radii) == pytest.approx(650.0, abs=0.01)
    assert max(radii) == pytest.approx(650.0, abs=0.01)


def test_both_zones_serve_a_boundary_point() -> None:
    p = point_request(7, 48.0, 11.99)
    sel = select([make_item("t32", TILE32, WHEN), make_item("t33", TILE33, WHEN)], [p])
    assert sorted(s.scene_id for s in sel.scenes[7]) == ["t32", "t33"]
    assert {s.epsg for s in sel.scenes[7]} == {32632, 32633}


@pytest.mark.parametrize(("cloud", "kept"), [(39.999, True), (40.0, False), (41.0, False)])
def test_cloud_threshold_is_strict(cloud: float, kept: bool) -> None:
    item = make_item("a", TILE32, WHEN, properties={"eo:cloud_cover": cloud})
    sel = select([item], [point_request(1, 48.0, 11.99)])
    assert bool(sel.scenes[1]) is kept
    if not kept:
        (drop,) = sel.dropped
        assert drop.kind == "cloud" and drop.scene_id == "a"
        assert drop.reason == f"cloud cover {cloud:g} % >= 40 %"


@pytest.mark.parametrize(("nodata", "kept"), [(4.99, True), (5.0, False)])
def test_nodata_threshold_is_strict(nodata: float, kept: bool) -> None:
    item = make_item("a", TILE32, WHEN, properties={"s2:nodata_pixel_percentage": nodata})
    sel = select([item], [point_request(1, 48.0, 11.99)])
    assert bool(sel.scenes[1]) is kept
    assert [d.kind for d in sel.dropped] == ([] if kept else ["scene_nodata"])


def test_wrong_year_excluded() -> None:
    items = [make_item("y17", TILE32, WHEN.replace(year=2017)), make_item("y18", TILE32, WHEN)]
    sel = select(items, [point_request(1, 48.0, 11.99)])
    assert [s.scene_id for s in sel.scenes[1]] == ["y18"]
    assert [(d.scene_id, d.kind, d.reason) for d in sel.dropped] == [
        ("y17", "wrong_year", "wrong year 2017 (want 2018)")
    ]


def test_item_missing_a_requested_band_is_dropped_with_reason() -> None:
    bands = [b for b in ALL_BANDS if b != "B8A"]
    item = make_item("a", TILE32, WHEN, bands=bands)
    p = point_request(1, 48.0, 11.99)
    sel = select([item], [p])
    assert sel.scenes[1] == []
    assert [d.reason for d in sel.dropped] == ["missing asset nir08 (band B8A)"]
    assert select([item], [p], bands=("B2", "SCL")).scenes[1]  # not requested: fine


def test_bad_metadata_dropped_not_raised() -> None:
    bad = make_item("bad", TILE32, WHEN, omit=["eo:cloud_cover"])
    nogeom = make_item("nogeom", TILE32, WHEN)
    nogeom.geometry = None
    good = make_item("good", TILE32, WHEN)
    sel = select([bad, nogeom, good], [point_request(1, 48.0, 11.99)])
    assert [s.scene_id for s in sel.scenes[1]] == ["good"]
    kinds = {d.scene_id: d.kind for d in sel.dropped}
    assert kinds == {"bad": "bad_metadata", "nogeom": "bad_metadata"}
    assert "eo:cloud_cover" in next(d.reason for d in sel.dropped if d.scene_id == "bad")


def test_drops_only_reported_for_items_covering_a_point() -> None:
    far_tile = tile_around("33UWP", 32633, 48.0, 14.0, 400)
    cloudy_far = make_item("far", far_tile, WHEN, properties={"eo:cloud_cover": 90.0})
    sel = select([cloudy_far], [point_request(1, 48.0, 11.99), point_request(2, 48.0, 11.5)])
    assert sel.dropped == [] and sel.scenes_seen == 1
    assert sel.scenes == {1: [], 2: []}  # every point present, empty when nothing serves it


def test_candidates_in_time_order() -> None:
    items = [make_item(f"d{d}", TILE32, WHEN.replace(day=d)) for d in (20, 3, 11)]
    sel = select(items, [point_request(1, 48.0, 11.99)])
    assert [s.scene_id for s in sel.scenes[1]] == ["d3", "d11", "d20"]


def test_static_catalog_from_file_or_folder(tmp_path: Path) -> None:
    items = [make_item("b", TILE32, WHEN), make_item("a", TILE33, WHEN)]
    cat = write_catalog(tmp_path, items)
    assert resolve_catalog_path(tmp_path) == cat
    assert [it.id for it in load_items(cat)] == ["a", "b"]
    assert [it.id for it in load_items(tmp_path)] == ["a", "b"]
    static = StaticCatalog(tmp_path)
    assert [it.id for it in static.items((11.98, 47.99, 11.99, 48.0), 2018)] == ["a", "b"]
    assert static.items((20.0, 40.0, 20.1, 40.1), 2018) == []


def test_catalog_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="no catalog.json"):
        resolve_catalog_path(tmp_path)
    (tmp_path / "catalog.json").write_text(json.dumps({"type": "nonsense"}))
    with pytest.raises(InputFormatError, match=str(tmp_path)):
        load_items(tmp_path)


def test_metadata_fallbacks_logged_once_per_batch_of_items(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = ["s2:datatake_id", "s2:product_uri", "s2:granule_id", "s2:datastrip_id"]
    items = [make_item(f"i{k}", TILE32, WHEN.replace(day=k + 1), omit=ids) for k in range(3)]
    with caplog.at_level("WARNING", logger="exports.stac.select"):
        described = describe_items(items)
    assert all(d.scene is not None for d in described)
    fallback = [r.getMessage() for r in caplog.records if "Image_ID datatake" in r.getMessage()]
    assert fallback == ["3 of 3 item(s): Image_ID datatake time from item datetime"]


# --- the pure decisions, from values alone ------------------------------------------------

SCENE = Scene(
    scene_id="a", image_id="i", acquired=WHEN, datatake="d", tile="33UUP", epsg=32633,
    cloud_cover=10.0, nodata_percent=1.0, assets={"B2": "B2.tif", "SCL": "SCL.tif"},
)  # fmt: skip


def test_filter_reason_first_failing_filter_with_figures() -> None:
    sf = SceneFilter(max_cloud_cover=10.0, max_nodata_percent=1.0)
    assert filter_reason(SCENE, 2019, sf, ["B2"]) == ("wrong_year", "wrong year 2018 (want 2019)")
    assert filter_reason(SCENE, 2018, sf, ["B2"]) == ("cloud", "cloud cover 10 % >= 10 %")
    sf = SceneFilter(max_cloud_cover=100.0, max_nodata_percent=1.0)  # 100 %: no cloud filter
    assert filter_reason(SCENE, 2018, sf, ["B2"]) == ("scene_nodata", "scene no-data 1 % >= 1 %")
    sf = SceneFilter(max_cloud_cover=10.5, max_nodata_percent=1.5)
    assert filter_reason(SCENE, 2018, sf, ["B2", "SCL"]) is None
    assert filter_reason(SCENE, 2018, sf, ["B2", "B4"]) == (
        "missing_band", "missing asset red (band B4)"
    )


def test_drop_reason_of_an_item_without_scene_is_its_error() -> None:
    sf = SceneFilter()
    bad = CatalogScene("b", None, None, "bad metadata: item b: no geometry")
    assert drop_reason(bad, 2018, sf, []) == ("bad_metadata", "bad metadata: item b: no geometry")
    assert drop_reason(CatalogScene("c", None, None), 2018, sf, []) == (
        "bad_metadata", "bad metadata"
    )
    assert drop_reason(CatalogScene("a", SCENE, shapely.box(0, 0, 1, 1)), 2018, sf, []) is None


def test_containing_pairs_needs_the_whole_buffer_inside() -> None:
    footprints = [shapely.box(0, 0, 10, 10), None, shapely.box(5, 0, 20, 10)]
    buffers = np.array([shapely.Point(2, 5).buffer(1.0), shapely.Point(6, 5).buffer(0.5),
                        shapely.Point(5, 5).buffer(1.0)], dtype=object)  # fmt: skip
    assert sorted(containing_pairs(footprints, buffers)) == [(0, 0), (0, 1), (0, 2), (2, 1)]
    assert containing_pairs([], buffers) == []


def test_reported_drops_only_for_relevant_items_or_without_footprint() -> None:
    box = shapely.box(0, 0, 1, 1)
    described = [CatalogScene("a", SCENE, box), CatalogScene("b", SCENE, box),
                 CatalogScene("c", None, None, "bad metadata: c")]  # fmt: skip
    reasons = [("cloud", "cloudy"), ("cloud", "cloudy"), ("bad_metadata", "bad metadata: c")]
    drops = reported_drops(described, reasons, relevant={1})
    assert [(d.scene_id, d.kind, d.reason) for d in drops] == [
        ("b", "cloud", "cloudy"), ("c", "bad_metadata", "bad metadata: c")
    ]
    assert reported_drops(described, [None, None, None], relevant={0, 1}) == []
