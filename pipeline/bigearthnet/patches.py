"""Cutting a scene into patches and what each patch's SCL says (pure array code)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from exports.tiles.grid import BAND_RESOLUTION, pixels
from pipeline.bigearthnet.read import SceneRaster

SNOW = (11,)
CLOUD_SHADOW = (3, 8, 9, 10)  # cloud shadow, cloud medium / high probability, cirrus


@dataclass
class Patch:
    """One 1,200 m patch of a scene: (x, y) and a view of each band at native resolution."""

    x: int
    y: int
    bands: Mapping[str, np.ndarray]


def cut(raster: SceneRaster) -> Iterator[Patch]:
    """Every complete patch of the raster, row by row (views, not copies)."""
    for x, y in raster.grid.complete_patches(raster.width_m, raster.height_m):
        views = {}
        for band, data in raster.bands.items():
            n = pixels(BAND_RESOLUTION[band])
            views[band] = data[y * n:(y + 1) * n, x * n:(x + 1) * n]
        yield Patch(x, y, views)


def touches_nodata(patch: Patch) -> bool:
    """Any pixel of any band is no-data (0; SCL 0 is "no data" too)."""
    return any(not np.all(view) for view in patch.bands.values())


def scl_fractions(scl: np.ndarray) -> tuple[float, float]:
    """(snow, cloud and shadow) shares of the patch's SCL pixels."""
    return float(np.isin(scl, SNOW).mean()), float(np.isin(scl, CLOUD_SHADOW).mean())


def flags(snow: float, cloud_shadow: float, threshold: float) -> tuple[bool, bool]:
    """(contains_seasonal_snow, contains_cloud_or_shadow): the share reaches the threshold
    (BigEarthNet's rule at 1.0: only a fully covered patch is flagged)."""
    return snow >= threshold, cloud_shadow >= threshold
