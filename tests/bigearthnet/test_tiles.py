"""Tile ids, the patch grid, patch names, splits and seasons of the BigEarthNet path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exports.source import Scene
from exports.tiles.grid import (
    PATCHES_PER_SIDE,
    TileGrid,
    parse_patch_id,
    patch_id,
    s1_name,
    scene_band,
)
from exports.tiles.mgrs import parse_tile, parse_tiles, tile_epsg
from exports.tiles.seasons import per_season, season
from exports.tiles.split import (
    TRAIN_EDGE,
    VALIDATION_EDGE,
    assign,
    random_split,
    read_split_file,
    ring_split,
)
from lucas.errors import ConfigError, InputFormatError

GRID = TileGrid("33UUP", 32633, 399960.0, 5400000.0)


def test_tile_ids_checked_and_placed() -> None:
    assert parse_tile("T33uup") == "33UUP"
    assert parse_tiles("33UUP, 29SND,33UUP") == ("33UUP", "29SND")
    assert tile_epsg("33UUP") == 32633 and tile_epsg("21HUB") == 32721
    for bad in ("33UIP", "61UUP", "33UU", "Austria", "33OUP"):
        with pytest.raises(ConfigError, match="is not an MGRS tile id"):
            parse_tile(bad)


def test_patch_grid_from_the_upper_left_corner() -> None:
    assert PATCHES_PER_SIDE == 91
    g10, g20, g60 = (GRID.patch_grid(26, 57, r) for r in (10, 20, 60))
    assert (g10.size, g20.size, g60.size) == (120, 60, 20)
    assert g10.x_min == g20.x_min == g60.x_min == 399960.0 + 26 * 1200
    assert g10.y_max == 5400000.0 - 57 * 1200 and g60.pixel == 60.0
    assert g10.bounds[2] - g10.bounds[0] == 1200.0
    # A raster of 6 patches + 300 m: the 7th column and row are incomplete.
    patches = list(GRID.complete_patches(7500.0, 7500.0))
    assert len(patches) == 36 and max(patches) == (5, 5)
    assert len(list(GRID.complete_patches(109800.0, 109800.0))) == 91 * 91


def test_names() -> None:
    pid = patch_id("S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP", 26, 57)
    assert pid == "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57"
    assert parse_patch_id(pid) == ("S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP", 26, 57)
    when = datetime(2017, 6, 12, 16, 58, 9, tzinfo=UTC)
    assert s1_name("sentinel-1b", when, "33UUP", 26, 57) == \
        "S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57"
    assert [scene_band(b) for b in ("B01", "B8A", "B12")] == ["B1", "B8A", "B12"]


def test_ring_split_at_the_ring_edges() -> None:
    # Patch centres lie at (k + 0.5) * 1200 m from the border: the rings' edges at
    # 16,080 m and 27,450 m fall between patches 12/13 and 22/23.
    assert pytest.approx(16079.8, abs=0.1) == TRAIN_EDGE
    assert pytest.approx(27450.0, abs=0.1) == VALIDATION_EDGE
    assert ring_split(12, 45) == "train" and ring_split(13, 45) == "validation"
    assert ring_split(22, 45) == "validation" and ring_split(23, 45) == "test"
    assert ring_split(90 - 12, 45) == "train" and ring_split(45, 90 - 13) == "validation"
    counts = pd.Series([ring_split(x, y) for x in range(91) for y in range(91)]).value_counts()
    assert counts["train"] / counts.sum() == pytest.approx(0.5, abs=0.03)


def test_random_split_is_stable_and_70_15_15() -> None:
    ids = [f"P_{i}_{j}" for i in range(91) for j in range(91)]
    first = [random_split(p, 7) for p in ids]
    assert first == [random_split(p, 7) for p in ids]
    shares = pd.Series(first).value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.70, abs=0.02)
    assert shares["test"] == pytest.approx(0.15, abs=0.02)
    assert first != [random_split(p, 8) for p in ids]


def test_split_file(tmp_path: Path) -> None:
    f = tmp_path / "splits.csv"
    pd.DataFrame({"patch_id": ["a_1_2", "b_3_4"], "split": ["train", "val"]}).to_csv(f)
    table = read_split_file(f)
    assert table == {"a_1_2": "train", "b_3_4": "validation"}
    assert assign([("a_1_2", 1, 2), ("c_0_0", 0, 0)], "file", table=table) == {
        "a_1_2": "train", "c_0_0": ""}
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"id": ["x"]}).to_csv(bad)
    with pytest.raises(InputFormatError, match="no column patch_id, split"):
        read_split_file(bad)


def _scene(day: datetime, cloud: float, sid: str) -> Scene:
    return Scene(sid, sid, day, sid, "33UUP", 32633, cloud, 0.0)


def test_per_season_keeps_the_least_cloudy() -> None:
    assert [season(datetime(2017, m, 1).date()) for m in (12, 1, 3, 6, 9)] == [
        "winter", "winter", "spring", "summer", "autumn"]
    scenes = [_scene(datetime(2017, 6, 5, tzinfo=UTC), 0.5, "a"),
              _scene(datetime(2017, 7, 5, tzinfo=UTC), 0.1, "b"),
              _scene(datetime(2017, 8, 5, tzinfo=UTC), 0.1, "c"),
              _scene(datetime(2017, 12, 5, tzinfo=UTC), 0.9, "d"),
              _scene(datetime(2018, 1, 5, tzinfo=UTC), 0.2, "e")]
    assert [s.scene_id for s in per_season(scenes, 1)] == ["b", "e"]
    assert [s.scene_id for s in per_season(scenes, None)] == ["a", "b", "c", "d", "e"]


@pytest.mark.realdata
def test_ring_split_reproduces_the_real_reben_metadata(shared_dir: Path) -> None:
    meta = pd.read_parquet(shared_dir / "bigearthnet" / "metadata_two_tiles.parquet",
                           columns=["patch_id", "split"])
    ours = np.array([ring_split(*parse_patch_id(p)[1:]) for p in meta["patch_id"]])
    assert len(meta) == 26_329
    assert int((ours == meta["split"].to_numpy()).sum()) == 26_329


def test_mgrs_square_matches_real_sentinel2_tile_origins() -> None:
    from exports.tiles.mgrs import square_origin, tile_bbox

    # Real tile origins (upper-left) of the demo's tiles: 32TQT 699960 E / 5300040 N,
    # 33TTN 199980 E / 5300040 N: the square's west edge and north edge, within 40 m.
    for tile, (ul_x, ul_y) in {"32TQT": (699960, 5300040), "33TTN": (199980, 5300040)}.items():
        west, south = square_origin(tile)
        assert abs(west - ul_x) <= 40 and abs(south + 100_000 - ul_y) <= 40
    west, south, east, north = tile_bbox("33UUP")
    assert 12.0 < west < 12.3 and 13.6 < east < 14.0 and 47.6 < south < 47.9 < 48.7 < north
