"""A tile's patch grid: 1,200 m squares from the upper-left corner, at native resolution.

The tile is 109,800 m a side (10,980 px at 10 m); 1,200 m patches fit 91 times, so x and y
run 0–90 (x: column from the left edge, y: row from the top). A patch is 120 px at 10 m,
60 px at 20 m and 20 px at 60 m: no resampling, the pixels are the tile's own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from exports.grid import PatchGrid

TILE_SIDE_M = 109_800.0
PATCH_M = 1_200.0
PATCHES_PER_SIDE = int(TILE_SIDE_M // PATCH_M)  # 91
# The 12 L2A bands of BigEarthNet, in reBEN's order, with their native resolution (m).
BEN_BANDS: tuple[str, ...] = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A",
                              "B09", "B11", "B12")
BAND_RESOLUTION: dict[str, int] = {
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20, "B08": 10,
    "B8A": 20, "B09": 60, "B11": 20, "B12": 20, "SCL": 20,
}
_PATCH_ID = re.compile(r"^(?P<product>.+)_(?P<x>\d{1,2})_(?P<y>\d{1,2})$")


def scene_band(ben_band: str) -> str:
    """The Scene asset key of a BigEarthNet band name (``B01`` → ``B1``, ``B8A`` stays)."""
    return re.sub(r"^B0(\d)$", r"B\1", ben_band)


def pixels(resolution_m: int) -> int:
    """Pixels per patch side at a resolution: 120, 60, 20."""
    return int(PATCH_M // resolution_m)


@dataclass(frozen=True)
class TileGrid:
    """A tile's CRS and upper-left corner (the origin of its 10 m assets)."""

    tile: str
    epsg: int
    x_min: float
    y_max: float

    def patch_grid(self, x: int, y: int, resolution_m: int = 10) -> PatchGrid:
        """The pixel grid of patch (x, y) at ``resolution_m``."""
        return PatchGrid(epsg=self.epsg, x_min=self.x_min + x * PATCH_M,
                         y_max=self.y_max - y * PATCH_M, size=pixels(resolution_m),
                         pixel=float(resolution_m))

    def complete_patches(self, width_m: float, height_m: float) -> Iterator[tuple[int, int]]:
        """(x, y) of every patch wholly inside a raster of that extent from the corner (and
        inside the tile): the incomplete last row and column are not patches."""
        nx = min(PATCHES_PER_SIDE, math.floor(width_m / PATCH_M + 1e-9))
        ny = min(PATCHES_PER_SIDE, math.floor(height_m / PATCH_M + 1e-9))
        for y in range(ny):
            for x in range(nx):
                yield x, y

    def centroid(self, x: int, y: int) -> tuple[float, float]:
        """The patch centre in the tile's CRS."""
        return (self.x_min + (x + 0.5) * PATCH_M, self.y_max - (y + 0.5) * PATCH_M)


def border_distance(x: int, y: int) -> float:
    """Distance (m) from patch (x, y)'s centroid to the nearest tile border."""
    cx, cy = (x + 0.5) * PATCH_M, (y + 0.5) * PATCH_M
    return min(cx, cy, TILE_SIDE_M - cx, TILE_SIDE_M - cy)


def patch_id(product_id: str, x: int, y: int) -> str:
    """reBEN's patch id: ``S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57``."""
    return f"{product_id}_{x}_{y}"


def parse_patch_id(text: str) -> tuple[str, int, int]:
    """(product id, x, y) of a patch id; ValueError when it is not one."""
    match = _PATCH_ID.match(text)
    if match is None:
        raise ValueError(f"not a BigEarthNet patch id: {text!r}")
    return match.group("product"), int(match.group("x")), int(match.group("y"))


def s1_name(platform: str, sensing_start: datetime, tile: str, x: int, y: int) -> str:
    """reBEN's Sentinel-1 patch name: ``S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57``."""
    mission = "S1" + platform.strip()[-1].upper()
    return f"{mission}_IW_GRDH_1SDV_{sensing_start:%Y%m%dT%H%M%S}_{tile}_{x}_{y}"
