"""A Sentinel-2 scene read whole: the 12 BigEarthNet bands and SCL, harmonised, on the tile.

One read per asset (the unit of work is the scene, so nothing is read twice). Reflectance
loses the +1000 BOA offset of processing baseline 04.00 on (``v > 0 → max(v − 1000, 1)``,
the Sen4Map rule), the asset's own no-data becomes 0, and every band must lie on the tile's
grid: the same upper-left corner, its native pixel size, the scene's CRS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import rasterio
from affine import Affine

from exports.source import EARTH_SEARCH_KEYS, Scene
from exports.stac.window import finish_patch, zero_nodata
from exports.tiles.grid import BAND_RESOLUTION, BEN_BANDS, TileGrid, scene_band
from lucas.errors import SceneReadError

READ_BANDS: tuple[str, ...] = (*BEN_BANDS, "SCL")


@dataclass
class SceneRaster:
    """A scene's bands at native resolution and the tile grid they lie on."""

    grid: TileGrid
    width_m: float
    height_m: float
    bands: dict[str, np.ndarray]  # BigEarthNet band name (and SCL) -> 2-D array


@dataclass(frozen=True)
class WholeBand:
    """One band of a scene as a source hands it over: the array and where it lies."""

    data: np.ndarray
    transform: Affine
    epsg: int | None
    nodata: float | None


BandReader = Callable[[Scene, str], WholeBand]  # (scene, Scene asset key) -> the whole band


def read_cog(scene: Scene, key: str) -> WholeBand:
    """The default reader: the asset's COG, read whole with rasterio."""
    href = scene.assets[key]
    with rasterio.open(href) as src:
        return WholeBand(src.read(1), src.transform, src.crs.to_epsg() if src.crs else None,
                         src.nodata)


def read_scene(scene: Scene, reader: BandReader | None = None) -> SceneRaster:
    """Every band of ``scene`` whole; a SceneReadError names the asset and what is wrong.

    ``reader``: how the source hands over a whole band (a source without files, such as
    Earth Engine, brings its own: ``read_band_whole``); default: the asset's COG."""
    read = reader or read_cog
    bands: dict[str, np.ndarray] = {}
    grid: TileGrid | None = None
    extent = (0.0, 0.0)
    for band in READ_BANDS:
        key = scene_band(band)
        where = scene.assets.get(key)
        if where is None:
            raise SceneReadError(f"scene {scene.scene_id}: missing asset "
                                 f"{EARTH_SEARCH_KEYS.get(key, key)} (band {band})")
        res = BAND_RESOLUTION[band]
        try:
            whole = read(scene, key)
        except rasterio.RasterioIOError as e:
            raise SceneReadError(f"scene {scene.scene_id}: cannot read {where} (band {band}): "
                                 f"{e}") from e
        t, epsg = whole.transform, whole.epsg
        if epsg != scene.epsg or abs(t.a - res) > 1e-6 or abs(t.e + res) > 1e-6:
            raise SceneReadError(
                f"scene {scene.scene_id}: {where} (band {band}) is EPSG:{epsg} at "
                f"{t.a:g} m, expected EPSG:{scene.epsg} at {res} m")
        height, width = whole.data.shape
        if grid is None:
            grid = TileGrid(scene.tile, scene.epsg, t.c, t.f)
            extent = (width * t.a, height * -t.e)
        elif abs(t.c - grid.x_min) > 1e-6 or abs(t.f - grid.y_max) > 1e-6:
            raise SceneReadError(
                f"scene {scene.scene_id}: {where} (band {band}) starts at "
                f"({t.c:g}, {t.f:g}), not at the tile corner "
                f"({grid.x_min:g}, {grid.y_max:g})")
        extent = (min(extent[0], width * t.a), min(extent[1], height * -t.e))
        data = zero_nodata(whole.data, whole.nodata)
        if band == "SCL":
            bands[band] = data.astype(np.uint8)
        else:
            bands[band] = finish_patch(data, np.dtype(np.uint16), scene.boa_offset)
    assert grid is not None
    return SceneRaster(grid, extent[0], extent[1], bands)
