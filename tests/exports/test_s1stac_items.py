"""Item -> S1Scene: conventions, platform, orbit, datatake, CRS, no-data, polarisations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from exports.s1.scene import GAMMA0_DB, SIGMA0_DB
from exports.s1stac.items import (
    ItemMetadataError,
    describe_item,
    expected_convention,
    item_convention,
    scene_from_item,
)
from exports.s1stac.select import check_one_convention
from exports.stac.hrefs import HrefPolicy
from lucas.errors import InputFormatError
from tests.fixtures.synthetic_s1 import make_item, product_id, raster_around

T0 = datetime(2021, 7, 8, 5, 30, 0, tzinfo=UTC)
RASTER = raster_around(32633, 48.1, 12.5)
HREFS = {"VV": "/data/vv.tif", "VH": "/data/vh.tif"}


def test_the_scene_of_a_planetary_computer_style_item() -> None:
    item = make_item(product_id(T0, orbit=38734, datatake="049206"), RASTER, T0, HREFS,
                     properties={"platform": "sentinel-1a", "proj:epsg": None,
                                 "proj:code": "EPSG:32633", "sat:orbit_state": "ascending"},
                     nodata=-32768.0)
    scene = scene_from_item(item)
    assert scene.scene_id == item.id
    assert scene.acquired == T0
    assert scene.datatake == "S1A_049206"
    assert scene.orbit_pass == "ASCENDING"
    assert scene.relative_orbit == 117
    assert scene.platform == "sentinel-1a"
    assert scene.convention == GAMMA0_DB
    assert scene.epsg == 32633
    assert dict(scene.assets) == HREFS
    assert scene.nodata == -32768.0


def test_fallbacks_platform_from_id_relative_orbit_from_absolute_datatake_from_pass() -> None:
    item = make_item("S1B_my_own_slice", RASTER, T0, HREFS,
                     omit=["sat:relative_orbit", "platform"],
                     properties={"sat:absolute_orbit": 38734})
    scene = scene_from_item(item)
    assert scene.platform == "sentinel-1b"
    assert scene.relative_orbit == (38734 - 27) % 175 + 1
    assert scene.datatake == f"sentinel-1b_R{scene.relative_orbit:03d}_20210708"
    no_orbit = make_item("x_rtc", RASTER, T0, HREFS, omit=["sat:relative_orbit"])
    with pytest.raises(ItemMetadataError, match="sat:relative_orbit"):
        scene_from_item(no_orbit)


@pytest.mark.parametrize(("product", "collection", "item_id", "expected"), [
    ("RTC", None, "x", GAMMA0_DB),
    ("rtc", "anything", "x", GAMMA0_DB),
    ("GRD", "sentinel-1-rtc", "x_rtc", SIGMA0_DB),
    (None, "sentinel-1-rtc", "x", GAMMA0_DB),
    (None, None, "S1A_..._rtc", GAMMA0_DB),
])
def test_conventions(product: str | None, collection: str | None, item_id: str,
                     expected: str) -> None:
    props = {} if product is None else {"sar:product_type": product}
    assert item_convention(item_id, props, collection) == expected


def test_unknown_conventions_are_refused_with_the_fix() -> None:
    with pytest.raises(ItemMetadataError) as info:
        item_convention("x", {}, "my-s1")
    assert info.value.kind == "unknown_convention"
    assert str(info.value) == "unknown backscatter convention (set sar:product_type RTC or GRD)"
    with pytest.raises(ItemMetadataError, match="SLC"):
        item_convention("x", {"sar:product_type": "SLC"}, "sentinel-1-rtc")
    assert expected_convention("sentinel-1-rtc") == GAMMA0_DB
    assert expected_convention(None) == GAMMA0_DB
    assert expected_convention("my-sentinel-1-grd-sigma0") == SIGMA0_DB


def test_drops_of_describe_item() -> None:
    vv_only = make_item("a_rtc", RASTER, T0, {"VV": "/data/vv.tif"})
    assert describe_item(vv_only, 2021, "both").drop == (
        "missing_polarisation", "missing polarisation VH: no asset vh (both VV and VH are "
        "needed)")
    wrong_year = make_item("b_rtc", RASTER, T0, HREFS)
    assert describe_item(wrong_year, 2020, "both").drop == (
        "wrong_year", "wrong year 2021 (want 2020)")
    no_pass = make_item("c_rtc", RASTER, T0, HREFS, omit=["sat:orbit_state"])
    drop = describe_item(no_pass, 2021, "both").drop
    assert drop is not None and drop[0] == "bad_metadata" and "sat:orbit_state" in drop[1]
    refused = describe_item(make_item("d_rtc", RASTER, T0, HREFS), 2021, "both",
                            HrefPolicy.build([Path("/elsewhere")]))
    assert refused.drop is not None and refused.drop[0] == "refused_href"
    good = describe_item(make_item("e_rtc", RASTER, T0, HREFS), 2021, "both")
    assert good.drop is None and good.scene is not None and good.footprint is not None


def test_one_convention_check() -> None:
    a = scene_from_item(make_item("a_rtc", RASTER, T0, HREFS))
    b = scene_from_item(make_item("b", RASTER, T0, HREFS,
                                  properties={"sar:product_type": "GRD"}))
    assert check_one_convention([a]) == GAMMA0_DB
    assert check_one_convention([]) is None
    with pytest.raises(InputFormatError, match="a_rtc is gamma0_db; b is sigma0_db"):
        check_one_convention([b, a])
    with pytest.raises(InputFormatError, match="never mixed in one file"):
        check_one_convention([b], {GAMMA0_DB: "a_rtc"})
