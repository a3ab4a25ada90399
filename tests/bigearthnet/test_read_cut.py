"""A scene read whole and cut into patches at native resolution (pixel-exact)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lucas.errors import SceneReadError
from pipeline.bigearthnet.patches import cut, scl_fractions, touches_nodata
from pipeline.bigearthnet.read import read_scene
from tests.fixtures.synthetic_tile import ORIGIN, band_value, write_scene


def test_markers_land_in_the_right_patch_at_every_resolution(tmp_path: Path) -> None:
    # Patch (2, 1) starts at 10 m pixel (120, 240), 20 m (60, 120), 60 m (20, 40).
    markers = {("B02", 130, 250): 4321, ("B05", 65, 125): 5432, ("B01", 25, 45): 6543}
    scene = write_scene(tmp_path, markers=markers, boa_offset=1000)
    raster = read_scene(scene)
    assert (raster.grid.x_min, raster.grid.y_max) == ORIGIN
    patches = {(p.x, p.y): p for p in cut(raster)}
    assert len(patches) == 9  # 3,900 m: 3 complete patches a side, the 4th is cut off
    p = patches[(2, 1)]
    assert p.bands["B02"].shape == (120, 120) and p.bands["B05"].shape == (60, 60)
    assert p.bands["B01"].shape == (20, 20) and p.bands["SCL"].shape == (60, 60)
    # The BOA offset is removed: stored 4321 -> 3321.
    assert p.bands["B02"][10, 10] == 3321 and p.bands["B05"][5, 5] == 4432
    assert p.bands["B01"][5, 5] == 5543
    assert p.bands["B02"][0, 0] == band_value("B02") + (120 + 240) % 7
    assert not touches_nodata(p)


def test_no_data_and_scl_flags(tmp_path: Path) -> None:
    scene = write_scene(tmp_path, nodata=(0, 0, 1, 1), scl_rect=(120, 120, 240, 240, 11))
    patches = {(p.x, p.y): p for p in cut(read_scene(scene))}
    assert touches_nodata(patches[(0, 0)]) and not touches_nodata(patches[(1, 0)])
    assert scl_fractions(patches[(1, 1)].bands["SCL"]) == (1.0, 0.0)
    assert scl_fractions(patches[(0, 1)].bands["SCL"]) == (0.0, 0.0)


def test_a_band_off_the_tile_grid_is_refused(tmp_path: Path) -> None:
    import rasterio
    from affine import Affine

    scene = write_scene(tmp_path)
    with rasterio.open(scene.assets["B5"], "r+") as dst:
        dst.transform = Affine(20, 0, ORIGIN[0] + 20, 0, -20, ORIGIN[1])
    with pytest.raises(SceneReadError, match="not at the tile corner"):
        read_scene(scene)
    assets = dict(write_scene(tmp_path / "b").assets)
    assets.pop("B9")
    from dataclasses import replace

    with pytest.raises(SceneReadError, match=r"missing asset nir09 \(band B09\)"):
        read_scene(replace(scene, assets=assets))
    assert np.uint16  # numpy imported for the fixture's dtypes


def test_flags_at_the_threshold() -> None:
    from pipeline.bigearthnet.patches import flags

    scl = np.full((60, 60), 4, np.uint8)
    scl[:30] = 11  # exactly half snow
    scl[30:, :6] = 9  # a tenth cloud
    snow, cloud = scl_fractions(scl)
    assert (snow, cloud) == (0.5, 0.05)
    assert flags(snow, cloud, 0.5) == (True, False)
    assert flags(snow, cloud, 0.5000001) == (False, False)
    assert flags(1.0, 1.0, 1.0) == (True, True) and flags(0.999, 0.0, 1.0) == (False, False)
