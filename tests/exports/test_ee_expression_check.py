"""The stricter fake: each of the four mistakes the old fakes let through is rejected with
a clear message, through the hook every fake decodes its requests with (``invocations``);
the product's own expressions pass."""

from __future__ import annotations

from typing import Any

import ee
import pytest

from exports.gee.patch_table import group_table
from exports.gee.pixels import point_images, stack_image
from exports.gee.select import COLLECTION, scene_query
from exports.gee.tiles import band_image, grids_query, tile_query
from exports.s1.source import S1Filter
from exports.s1gee.pixels import stack_image as s1_stack_image
from exports.s1gee.select import acquisition_query
from exports.source import ALL_BANDS, SceneFilter
from tests.exports.ee_expression_check import (
    S2_SR_HARMONIZED_BANDS,
    ExpressionError,
    algorithms,
    check_expression,
)
from tests.exports.gee_fakes import invocations, point, s1_scene, scene


def _pixels_collection(bands: list[str]) -> ee.ImageCollection:
    p = point(1)
    scenes = [scene(5), scene(9)]
    return point_images(COLLECTION, p, [s.image_id for s in scenes],
                        [s.acquired for s in scenes], bands)


def test_the_products_expressions_pass(ee_offline: Any) -> None:
    pts = [point(1), point(2, 48.3, 16.5)]
    check_expression(scene_query(pts, 2018, SceneFilter(40.0, 5.0, 650.0)))
    check_expression(stack_image(point(1), [scene(5), scene(9)], list(ALL_BANDS)))
    group = [(point(1), [scene(5), scene(9)]), (point(2, 48.3, 16.5), [scene(9)])]
    check_expression(group_table(group, list(ALL_BANDS)))
    check_expression(acquisition_query(pts, 2018, S1Filter(orbit="descending")))
    check_expression(s1_stack_image(point(1), [s1_scene(5), s1_scene(9)], "bilinear"))
    check_expression(tile_query("33UUP", 2017, (14.0, 47.0, 15.0, 48.0)))
    asset = f"{COLLECTION}/{scene(5).image_id}"
    check_expression(band_image(asset, "B8A"))
    check_expression(grids_query(asset))


def test_select_after_to_bands_is_rejected(ee_offline: Any) -> None:
    bands = ["B2", "SCL"]
    images = (ee.ImageCollection(COLLECTION)
              .filterBounds(ee.Geometry.Point([16.37, 48.2]))
              .filter(ee.Filter.inList("system:index", [scene(5).image_id])))
    wrong = images.toBands().select(bands).unmask(0, False).toUint16()
    with pytest.raises(ExpressionError, match=(
            r"Image.select\(\['B2', 'SCL'\]\) after ImageCollection.toBands: toBands "
            r"renamed the bands '<system:index>_<band>'")):
        invocations(wrong, "Image.select")  # what every fake decodes a request with
    check_expression(images.select(bands).toBands())  # the right order passes


def test_a_wrong_band_name_is_rejected(ee_offline: Any) -> None:
    with pytest.raises(ExpressionError, match=(
            r"Image.select: no band\(s\) \['B8a'\] in COPERNICUS/S2_SR_HARMONIZED; its bands "
            r"are B1, B2, .*B8A.*\(names are case-sensitive\)")):
        invocations(stack_image(point(1), [scene(5)], ["B2", "B8a", "SCL"]), "Image.select")
    with pytest.raises(ExpressionError, match="no band"):
        check_expression(band_image(f"{COLLECTION}/{scene(5).image_id}", "B13"))


def test_is_contained_instead_of_contains_is_rejected(
    ee_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ee.Filter, "contains", ee.Filter.isContained)
    query = scene_query([point(1)], 2018, SceneFilter())
    with pytest.raises(ExpressionError, match=(
            r"Filter.isContained\(leftField='.geo', rightField=None\) tests the footprint "
            r"the wrong way: an image's footprint must contain the point's buffer")):
        invocations(query, "Feature")


def test_a_missing_filter_bounds_is_rejected(
    ee_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ee.ImageCollection, "filterBounds", lambda self, geometry: self)
    query = scene_query([point(1)], 2018, SceneFilter())
    with pytest.raises(ExpressionError, match=(
            r"footprint test on '.geo' of COPERNICUS/S2_SR_HARMONIZED without a filterBounds "
            r"before it")):
        invocations(query, "Feature")


def test_the_fake_server_rejects_a_mistake_in_a_request(
    ee_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end-to-end fake decodes selection requests the same way, so it refuses too."""
    from tests.pipeline.fake_earth_engine import _query_points

    monkeypatch.setattr(ee.ImageCollection, "filterBounds", lambda self, geometry: self)
    with pytest.raises(ExpressionError, match="without a filterBounds"):
        _query_points(scene_query([point(1)], 2018, SceneFilter()))


def _encoded(function: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"result": "0", "values": {"0": {"functionInvocationValue": {
        "functionName": function, "arguments": arguments}}}}


def test_signatures_come_from_the_wheels_algorithm_list() -> None:
    image = {"functionInvocationValue": {"functionName": "Image.load",
                                         "arguments": {"id": {"constantValue": COLLECTION + "/x"}}}}
    with pytest.raises(ExpressionError, match=r"Image.selekt: no such Earth Engine algorithm"):
        check_expression(_encoded("Image.selekt", {"input": image}))
    with pytest.raises(ExpressionError, match=r"Image.select: no argument\(s\) \['bands'\]"):
        check_expression(_encoded("Image.select", {"input": image,
                                                   "bands": {"constantValue": ["B2"]}}))
    with pytest.raises(ExpressionError, match=r"required argument\(s\) \['input'\] missing"):
        check_expression(_encoded("Image.select", {"bandSelectors": {"constantValue": ["B2"]}}))
    assert "Filter.contains" in algorithms() and len(algorithms()) > 900


def test_the_dataset_bands_hold_every_band_the_product_reads() -> None:
    assert set(ALL_BANDS) <= set(S2_SR_HARMONIZED_BANDS)
    assert "B8a" not in S2_SR_HARMONIZED_BANDS and "B10" not in S2_SR_HARMONIZED_BANDS
