"""STAC item -> Scene: Image_ID, datatake key, BOA offset, assets, CRS."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pystac
import pytest

from exports.stac.scene_meta import (
    SceneMetadataError,
    band_key_aliases,
    boa_offset,
    processing_baseline,
    scene_from_item,
)

WHEN = datetime(2018, 1, 5, 10, 14, 3, 400000, tzinfo=UTC)
PROPS: dict[str, Any] = {
    "platform": "sentinel-2b",
    "eo:cloud_cover": 12.5,
    "s2:nodata_pixel_percentage": 0.0,
    "s2:mgrs_tile": "32UQU",
    "proj:epsg": 32632,
    "s2:datatake_id": "GS2B_20180105T101401_004398_N02.06",
    "s2:product_uri": "S2B_MSIL2A_20180105T101401_N0206_R022_T32UQU_20180105T120455.SAFE",
    "s2:granule_id": "S2B_OPER_MSI_L2A_TL_MTI__20180105T120455_S20180105T101403_N02.06",
    "s2:datastrip_id": "S2B_OPER_MSI_L2A_DS_MTI__20180105T120455_S20180105T101402_N02.06",
    "s2:processing_baseline": "02.06",
}


def make_item(props: dict[str, Any], assets: dict[str, str] | None = None) -> pystac.Item:
    item = pystac.Item("it", {"type": "Point", "coordinates": [11.9, 48.0]}, None, WHEN, props)
    for key, href in (assets or {"red": "/data/B04.tif"}).items():
        item.add_asset(key, pystac.Asset(href))
    return item


def without(*keys: str, **extra: Any) -> dict[str, Any]:
    props = {k: v for k, v in PROPS.items() if k not in keys}
    props.update(extra)
    return props


def test_image_id_from_datatake_and_granule_ids() -> None:
    scene = scene_from_item(make_item(dict(PROPS)))
    assert scene.image_id == "20180105T101401_20180105T101403_T32UQU"
    assert scene.datatake == "GS2B_20180105T101401_004398"  # the baseline left out
    assert (scene.tile, scene.epsg, scene.cloud_cover) == ("32UQU", 32632, 12.5)
    assert scene.acquired == WHEN


def test_image_id_from_product_uri_and_datastrip() -> None:
    notes: Counter[str] = Counter()
    scene = scene_from_item(make_item(without("s2:datatake_id", "s2:granule_id")), notes)
    assert scene.image_id == "20180105T101401_20180105T101402_T32UQU"
    assert scene.datatake == "S2B_20180105T101401"  # platform + datatake start of the URI
    assert not notes


def test_image_id_falls_back_to_item_datetime_and_notes_it() -> None:
    notes: Counter[str] = Counter()
    props = without("s2:datatake_id", "s2:product_uri", "s2:granule_id", "s2:datastrip_id")
    scene = scene_from_item(make_item(props), notes)
    assert scene.image_id == "20180105T101403_20180105T101403_T32UQU"
    assert scene.datatake == "S2B_20180105T101403"  # platform + datetime rounded to the second
    assert notes["Image_ID datatake time from item datetime"] == 1
    assert notes["Image_ID granule time from item datetime"] == 1


def test_datatake_key_rounds_to_the_second() -> None:
    props = without("s2:datatake_id", "s2:product_uri", "platform")
    item = make_item(props)
    item.datetime = datetime(2018, 1, 5, 10, 14, 3, 600000, tzinfo=UTC)
    assert scene_from_item(item).datatake == "S2_20180105T101404"


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"s2:processing_baseline": "04.00"}, 1000),
        ({"s2:processing_baseline": "05.09"}, 1000),
        ({"s2:processing_baseline": "03.01"}, 0),
        ({"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True}, 0),
        ({"s2:processing_baseline": "04.00", "earthsearch:boa_offset_applied": False}, 1000),
        ({"s2:product_uri": "S2A_MSIL2A_20220130T101301_N0400_R022_T32UQU_20220130T1.SAFE"}, 1000),
        ({"s2:datatake_id": "GS2A_20220130T101301_034567_N04.00"}, 1000),
        ({}, 0),
    ],
)
def test_boa_offset(props: dict[str, Any], expected: int) -> None:
    notes: Counter[str] = Counter()
    assert boa_offset(props, notes) == expected
    assert bool(notes) == (props == {})  # an unknown baseline is noted


def test_processing_baseline_sources() -> None:
    assert processing_baseline({"s2:processing_baseline": "4.00"}) == (4, 0)
    assert processing_baseline(PROPS) == (2, 6)


def test_assets_by_earth_search_key_or_band_name() -> None:
    item = make_item(
        dict(PROPS),
        {"blue": "/d/b2.tif", "B03": "/d/b3.tif", "B4": "/d/b4.tif", "B8A": "/d/b8a.tif",
         "SCL": "/d/scl.tif", "visual": "/d/tci.tif"},
    )  # fmt: skip
    assets = scene_from_item(item).assets
    assert assets == {
        "B2": "/d/b2.tif",
        "B3": "/d/b3.tif",
        "B4": "/d/b4.tif",
        "B8A": "/d/b8a.tif",
        "SCL": "/d/scl.tif",
    }
    assert "B08A" in band_key_aliases("B8A")
    assert "B04" in band_key_aliases("B4")


def test_relative_asset_href_made_absolute(tmp_path: Any) -> None:
    item = make_item(dict(PROPS), {"red": "./B04.tif"})
    item.set_self_href(str(tmp_path / "it" / "it.json"))
    assert scene_from_item(item).assets["B4"] == str(tmp_path / "it" / "B04.tif")


def test_projection_v1_item_migrated_to_proj_code() -> None:
    props = without("proj:epsg")
    item = make_item(props)
    d = item.to_dict()
    d["properties"]["proj:epsg"] = 32633
    d["stac_extensions"] = ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"]
    migrated = pystac.Item.from_dict(d, migrate=True)
    assert "proj:epsg" not in migrated.properties  # pystac moved it to proj:code
    assert scene_from_item(migrated).epsg == 32633


def test_epsg_from_tile_when_no_projection() -> None:
    assert scene_from_item(make_item(without("proj:epsg"))).epsg == 32632


@pytest.mark.parametrize(
    "props",
    [
        {"grid:code": "MGRS-33UVP"},
        {"mgrs:utm_zone": 33, "mgrs:latitude_band": "U", "mgrs:grid_square": "VP"},
        {"s2:mgrs_tile": "T33UVP"},
    ],
)
def test_tile_spellings(props: dict[str, Any]) -> None:
    scene = scene_from_item(make_item(without("s2:mgrs_tile", "s2:product_uri", **props)))
    assert scene.tile == "33UVP"
    assert scene.image_id.endswith("_T33UVP")


@pytest.mark.parametrize("key", ["eo:cloud_cover", "s2:nodata_pixel_percentage"])
def test_missing_threshold_property_is_bad_metadata(key: str) -> None:
    with pytest.raises(SceneMetadataError, match=key):
        scene_from_item(make_item(without(key)))


def test_missing_tile_is_bad_metadata() -> None:
    with pytest.raises(SceneMetadataError, match="MGRS tile"):
        scene_from_item(make_item(without("s2:mgrs_tile", "s2:product_uri")))
