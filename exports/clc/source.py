"""What every CORINE source offers the pipeline: an area per tile, a reference map per patch.

``for_area`` is called once per tile scene, with the tile's UTM CRS and the bounds in it of
the area its patches cover (up to a whole 109.8 km tile); ``reference_map`` then once per
patch grid inside it (up to 8,281 grids of 120×120 pixels of 10 m), so a source does its
expensive work (reading, reprojecting, rasterising) in the first and slices in the second.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from exports.grid import PatchGrid


class ClcArea(Protocol):
    """The CLC of one area in one CRS, ready to be cut into patch reference maps."""

    def reference_map(self, grid: PatchGrid) -> np.ndarray:
        """The CLC code of every pixel of ``grid`` by pixel centre, 999 where none covers.

        A ``uint16`` array of shape ``(grid.size, grid.size)``; ``grid.epsg`` must be the
        area's.
        """
        ...


class ClcSource(Protocol):
    """A CORINE Land Cover 2018 source (a vector file, a raster, an Earth Engine asset)."""

    name: str  # "vector", "raster", "gee"
    coarse: bool  # True for the 100 m raster sources (labels from a coarse raster)
    description: str  # for the metadata/README: the path or asset id

    def for_area(self, epsg: int, bounds: tuple[float, float, float, float]) -> ClcArea:
        """The CLC of ``bounds`` (left, bottom, right, top) in ``EPSG:epsg``."""
        ...
