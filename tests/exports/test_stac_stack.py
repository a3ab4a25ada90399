"""assemble_stack: datatake de-duplication, patch no-data filter, time order, dtype."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from exports.source import Scene
from exports.stack import ScenePatch, assemble_stack, nodata_percent
from tests.fixtures.synthetic_s2 import point_request

T0 = datetime(2018, 6, 1, 10, 20, 30, tzinfo=UTC)
POINT = point_request(1, 48.0, 11.99)  # zone 32
BANDS = ("B4", "SCL", "B2")  # deliberately not in ALL_BANDS order


def scene(sid: str, day: int = 0, datatake: str | None = None, epsg: int = 32632) -> Scene:
    when = T0 + timedelta(days=day)
    return Scene(
        scene_id=sid,
        image_id=f"{when:%Y%m%dT%H%M%S}_{when:%Y%m%dT%H%M%S}_T32UQU",
        acquired=when,
        datatake=datatake or f"dt-{sid}",
        tile="32UQU",
        epsg=epsg,
        cloud_cover=0.0,
        nodata_percent=0.0,
    )


def patch(
    s: Scene, value: int = 100, nodata_px: int = 0, bands: tuple[str, ...] = BANDS
) -> ScenePatch:
    arrays = {}
    for b in bands:
        a = np.full(
            (64, 64), 4 if b == "SCL" else value, dtype=np.uint8 if b == "SCL" else np.uint16
        )
        a.reshape(-1)[:nodata_px] = 0
        arrays[b] = a
    return ScenePatch(s, arrays)


def test_structured_array_in_all_bands_order() -> None:
    stack = assemble_stack(POINT, [patch(scene("a"), 123)], BANDS, 5.0)
    assert stack.data.shape == (1, 64, 64)
    assert stack.data.dtype.names == ("SCL", "B2", "B4")
    assert stack.data.dtype["SCL"] == np.uint8 and stack.data.dtype["B2"] == np.dtype("<u2")
    assert int(stack.data["B4"][0, 32, 32]) == 123
    assert stack.image_ids == [scene("a").image_id] and stack.point_id == 1


def test_time_order() -> None:
    patches = [patch(scene(s, d)) for s, d in (("c", 30), ("a", 2), ("b", 11))]
    stack = assemble_stack(POINT, patches, BANDS, 5.0)
    assert stack.acquired == [T0 + timedelta(days=d) for d in (2, 11, 30)]
    assert stack.image_ids == [scene(s, d).image_id for s, d in (("a", 2), ("b", 11), ("c", 30))]


def test_duplicate_datatake_keeps_least_nodata() -> None:
    a, b = scene("a", datatake="dt"), scene("b", datatake="dt", epsg=32633)
    stack = assemble_stack(
        POINT, [patch(a, 1, nodata_px=50), patch(b, 2, nodata_px=10)], BANDS, 5.0
    )
    assert int(stack.data["B4"][0, 32, 32]) == 2  # b: less no-data, even in the other zone
    assert [(d.scene_id, d.reason, d.kind) for d in stack.dropped] == [
        ("a", "duplicate datatake, kept b", "duplicate_datatake")
    ]


def test_duplicate_datatake_tie_prefers_own_zone_then_id() -> None:
    other, own = scene("a", datatake="dt", epsg=32633), scene("z", datatake="dt", epsg=32632)
    stack = assemble_stack(POINT, [patch(other, 1), patch(own, 2)], BANDS, 5.0)
    assert int(stack.data["B4"][0, 0, 0]) == 2
    x, y = scene("y", datatake="dt"), scene("x", datatake="dt")
    stack = assemble_stack(POINT, [patch(x, 1), patch(y, 2)], BANDS, 5.0)
    assert stack.dropped[0].reason == "duplicate datatake, kept x"


def test_patch_nodata_filter_is_strictly_greater() -> None:
    at_limit = patch(scene("a", 1), nodata_px=1024)  # 25.0 % -> kept at 25
    over = patch(scene("b", 2), nodata_px=1025)  # 25.02 % -> dropped
    stack = assemble_stack(POINT, [at_limit, over], BANDS, 25.0)
    assert stack.image_ids == [scene("a", 1).image_id]
    assert [(d.scene_id, d.kind) for d in stack.dropped] == [("b", "patch_nodata")]
    stack = assemble_stack(POINT, [patch(scene("c"), nodata_px=504)], BANDS, 5.0)
    assert stack.dropped[0].reason == "patch no-data 12.3 % > 5 %"


def test_nodata_is_scl_zero_when_scl_requested() -> None:
    p = patch(scene("a"), bands=("B2", "SCL"))
    p.bands["SCL"][:32] = 0  # half the patch unclassified -> 50 %
    assert nodata_percent(p) == pytest.approx(50.0)


def test_nodata_without_scl_needs_every_band_zero() -> None:
    p = patch(scene("a"), bands=("B2", "B4"))
    p.bands["B2"][:32] = 0
    assert nodata_percent(p) == 0.0
    p.bands["B4"][:16] = 0
    assert nodata_percent(p) == pytest.approx(25.0)


def test_carried_drops_and_empty_stack() -> None:
    from exports.source import DroppedScene

    carried = [DroppedScene("x", "read error /a.tif: boom", kind="read_error")]
    stack = assemble_stack(POINT, [], BANDS, 5.0, carried)
    assert stack.data.shape == (0, 64, 64) and stack.data.dtype.names == ("SCL", "B2", "B4")
    assert stack.image_ids == [] and stack.dropped == carried


def test_patch_missing_a_band_is_an_error() -> None:
    with pytest.raises(ValueError, match="without band"):
        assemble_stack(POINT, [patch(scene("a"), bands=("B2",))], BANDS, 5.0)
