"""StacSource end to end: a static catalog of synthetic COGs, and the real Antwerp extract."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

import exports.stac.source as stac_source_module
import exports.stac.window as window_module
from exports.grid import point_utm
from exports.source import (
    ALL_BANDS,
    ImagerySource,
    PointFailure,
    PointRequest,
    PointStack,
    SceneFilter,
)
from exports.stac.source import StacSource
from tests.fixtures.synthetic_s2 import (
    boundary_tiles,
    default_values,
    marker_values,
    point_request,
    write_catalog,
    write_scene,
)

D1 = datetime(2018, 5, 2, 10, 20, 30, tzinfo=UTC)
D2 = datetime(2018, 5, 7, 10, 20, 30, tzinfo=UTC)
TILE32, TILE33 = boundary_tiles(400)
PA = point_request(1, 48.0, 11.99)  # zone 32
PB = point_request(2, 48.0, 12.01)  # zone 33
PC = point_request(3, 48.0, 13.5)  # no tile there
SAME_DATATAKE = {"s2:datatake_id": "GS2A_20180502T102030_012345_N02.06"}


def run(source: StacSource, points: list[PointRequest], **kw: Any) -> dict[int, Any]:
    bands = kw.pop("bands", ALL_BANDS)
    sel = source.find_scenes(points, 2018, SceneFilter(**kw))
    out = source.fetch([(p, sel.scenes[p.point_id]) for p in points], bands, 5.0)
    return {r.point_id: r for r in out}


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """D1 on both tiles (one datatake), D2 on tile 33 only, a cloudy D2 on tile 32."""
    mark = point_utm(PA.lat, PA.lon, 32632)
    items = [
        write_scene(tmp_path, "t32_d1", TILE32, D1, properties=SAME_DATATAKE,
                    values=marker_values({"B4": (*mark, 9999)})),
        write_scene(tmp_path, "t33_d1", TILE33, D1, properties=SAME_DATATAKE),
        write_scene(tmp_path, "t33_d2", TILE33, D2),
        write_scene(tmp_path, "t32_d2", TILE32, D2, properties={"eo:cloud_cover": 80.0}),
    ]  # fmt: skip
    return write_catalog(tmp_path, items)


def test_find_and_fetch_across_the_zone_boundary(archive: Path) -> None:
    source: ImagerySource = StacSource.from_catalog(archive.parent)
    assert source.name == "stac"
    sel = source.find_scenes([PA, PB, PC], 2018, SceneFilter())
    assert sorted(s.scene_id for s in sel.scenes[1]) == ["t32_d1", "t33_d1", "t33_d2"]
    assert sel.scenes[3] == []
    assert [(d.scene_id, d.kind) for d in sel.dropped] == [("t32_d2", "cloud")]
    out = {r.point_id: r for r in source.fetch(
        [(p, sel.scenes[p.point_id]) for p in (PA, PB, PC)], ALL_BANDS, 5.0)}  # fmt: skip
    a, b, c = out[1], out[2], out[3]
    assert isinstance(a, PointStack) and isinstance(b, PointStack) and isinstance(c, PointStack)
    assert a.image_ids == ["20180502T102030_20180502T102032_T32UQU",
                           "20180507T102030_20180507T102032_T33UUP"]  # fmt: skip
    assert int(a.data["B4"][0, 32, 32]) == 9999  # the marker of the own-zone tile
    assert [(d.scene_id, d.reason) for d in a.dropped] == [
        ("t33_d1", "duplicate datatake, kept t32_d1")
    ]
    assert [i[-6:] for i in b.image_ids] == ["T33UUP", "T33UUP"]  # tie: own zone (33)
    assert c.data.shape == (0, 64, 64)  # no usable scene: an empty stack, not a failure
    assert a.data.dtype.names == ALL_BANDS


def test_duplicate_keeps_least_nodata_even_from_other_zone(tmp_path: Path) -> None:
    def empty_scl(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        v = default_values(band, x, y)
        return np.zeros_like(v) if band == "SCL" else v

    items = [
        write_scene(tmp_path, "t32", TILE32, D1, properties=SAME_DATATAKE, values=empty_scl),
        write_scene(tmp_path, "t33", TILE33, D1, properties=SAME_DATATAKE),
    ]
    source = StacSource.from_catalog(write_catalog(tmp_path, items))
    stack = run(source, [PA])[1]
    assert stack.image_ids[0].endswith("T33UUP")
    assert stack.dropped[0].reason == "duplicate datatake, kept t33"


def test_two_baselines_of_one_datatake_are_one_time_step(tmp_path: Path) -> None:
    reprocessed = {"s2:datatake_id": "GS2A_20180502T102030_012345_N05.00"}
    items = [
        write_scene(tmp_path, "t33_n0206", TILE33, D1, properties=SAME_DATATAKE),
        write_scene(tmp_path, "t33_n0500", TILE33, D1, properties=reprocessed),
    ]
    source = StacSource.from_catalog(write_catalog(tmp_path, items))
    stack = run(source, [PB])[2]
    assert stack.data.shape[0] == 1
    assert [(d.scene_id, d.reason) for d in stack.dropped] == [
        ("t33_n0500", "duplicate datatake, kept t33_n0206")]  # equal no-data: smaller id


def test_each_asset_opened_once_per_batch(archive: Path, open_calls: list[str]) -> None:
    source = StacSource.from_catalog(archive)
    points = [PA, PB, point_request(4, 48.002, 11.995), point_request(5, 47.998, 12.004)]
    sel = source.find_scenes(points, 2018, SceneFilter())
    open_calls.clear()
    results = list(source.fetch([(p, sel.scenes[p.point_id]) for p in points], ALL_BANDS, 5.0))
    assert len(results) == 4
    n_scenes = len({s.scene_id for p in points for s in sel.scenes[p.point_id]})
    assert n_scenes == 3
    assert len(open_calls) == n_scenes * len(ALL_BANDS)
    assert len(set(open_calls)) == len(open_calls)


def test_corrupt_cog_drops_that_scene_only(archive: Path) -> None:
    bad = archive.parent / "t33_d2" / "B11.tif"
    bad.write_bytes(bad.read_bytes()[:300])
    stack = run(StacSource.from_catalog(archive), [PA])[1]
    assert isinstance(stack, PointStack)
    assert [i[:8] for i in stack.image_ids] == ["20180502"]  # D1 kept, D2 dropped
    read_errors = [d for d in stack.dropped if d.kind == "read_error"]
    assert [d.scene_id for d in read_errors] == ["t33_d2"]
    assert read_errors[0].reason.startswith(f"read error {bad}: ")
    assert "item t33_d2" in read_errors[0].reason


def test_unexpected_error_is_a_point_failure(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(stac_source_module, "read_scene", boom)
    results = run(StacSource.from_catalog(archive), [PA, PC])
    assert isinstance(results[1], PointFailure) and "kaboom" in results[1].message
    assert not results[1].transient
    assert isinstance(results[3], PointStack)  # a point without scenes is unaffected


def test_transient_read_error_fails_the_point_for_retry(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (archive.parent / "t33_d2" / "B2.tif").unlink()
    monkeypatch.setattr(window_module, "is_transient", lambda href, msg: True)
    result = run(StacSource.from_catalog(archive), [PB])[2]
    assert isinstance(result, PointFailure) and result.transient
    assert "B2.tif" in result.message


def test_fetch_only_requested_bands(archive: Path, open_calls: list[str]) -> None:
    stack = run(StacSource.from_catalog(archive), [PB], bands=["B8", "SCL"])[2]
    assert stack.data.dtype.names == ("SCL", "B8")
    assert {Path(c).name for c in open_calls} == {"B8.tif", "SCL.tif"}


@pytest.mark.realdata
def test_real_antwerp_catalog_patch_equals_source_cog(shared_dir: Path) -> None:
    root = shared_dir / "s2" / "belgium_antwerp_l2a"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    bands = ("B2", "B3", "B4", "B8", "SCL")
    probe = root / "S2_31UES_20231022_0_L2A" / "B04.tif"
    with rasterio.open(probe) as src:
        x, y = src.xy(26, 23)  # a pixel centre inside the 52×46 extract
        epsg = src.crs.to_epsg()
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(x, y)
    point = point_request(40303100, lat, lon)
    assert point.grid.epsg == epsg == 32631
    source = StacSource.from_catalog(root, bands=bands)
    sf = SceneFilter(max_cloud_cover=101.0, max_nodata_percent=101.0, buffer_m=0.0)
    sel = source.find_scenes([point], 2023, sf)
    assert len(sel.scenes[point.point_id]) == 19
    (stack,) = source.fetch([(point, sel.scenes[point.point_id])], bands, 100.0)
    assert isinstance(stack, PointStack) and stack.data.shape == (19, 64, 64)
    assert stack.acquired == sorted(stack.acquired)
    g = point.grid
    files = {"B2": "B02", "B3": "B03", "B4": "B04", "B8": "B08", "SCL": "SCL"}
    for t, when in enumerate(stack.acquired):
        folder = root / f"S2_31UES_{when:%Y%m%d}_0_L2A"
        for band, name in files.items():
            with rasterio.open(folder / f"{name}.tif") as src:
                full = src.read(1)
                row0, col0 = src.index(g.x_min + 5, g.y_max - 5)
            patch = stack.data[band][t]
            assert patch[32, 32] == full[26, 23], (when, band)
            # the whole overlap is an exact copy, the rest is no-data
            r0, c0 = max(0, -row0), max(0, -col0)
            r1, c1 = min(64, full.shape[0] - row0), min(64, full.shape[1] - col0)
            np.testing.assert_array_equal(
                patch[r0:r1, c0:c1], full[row0 + r0 : row0 + r1, col0 + c0 : col0 + c1]
            )
            outside = np.ones((64, 64), bool)
            outside[r0:r1, c0:c1] = False
            assert not patch[outside].any()
    assert stack.image_ids[0] == "20231002T105000_20231002T105000_T31UES"  # datetime fallback


def test_fetch_of_a_band_the_scene_lacks_drops_it(tmp_path: Path) -> None:
    item = write_scene(tmp_path, "s", TILE33, D1, bands=["B2", "SCL"])
    source = StacSource.from_catalog(write_catalog(tmp_path, [item]), bands=["B2", "SCL"])
    sel = source.find_scenes([PB], 2018, SceneFilter())
    (stack,) = source.fetch([(PB, sel.scenes[2])], ["B2", "B12", "SCL"], 5.0)
    assert isinstance(stack, PointStack) and stack.data.shape[0] == 0
    assert [(d.kind, d.reason) for d in stack.dropped] == [
        ("missing_band", "missing asset swir22 (band B12)")
    ]


def test_run_bands_make_select_drop_items_lacking_one(tmp_path: Path) -> None:
    item = write_scene(tmp_path, "s", TILE33, D1, bands=["B2", "SCL"])
    catalog = write_catalog(tmp_path, [item])
    strict = StacSource.from_catalog(catalog, bands=ALL_BANDS).find_scenes(
        [PB], 2018, SceneFilter()
    )
    assert strict.scenes[2] == []
    assert [d.reason for d in strict.dropped] == ["missing asset green (band B3)"]  # the first
    lenient = StacSource.from_catalog(catalog).find_scenes([PB], 2018, SceneFilter())
    assert [s.scene_id for s in lenient.scenes[2]] == ["s"] and lenient.dropped == []
