"""The patch grid every module shares (ARCHITECTURE.md "Patch grid").

A point's patch is 64×64 pixels of 10 m in the UTM zone of the point's longitude, with pixel
edges on multiples of 10 m (the native Sentinel-2 10 m grid) and the theoretical point inside
pixel [32, 32] (row, col; 0-based).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from affine import Affine
from pyproj import Transformer

PATCH_SIZE = 64
PIXEL_SIZE = 10.0
CENTER_PIXEL = PATCH_SIZE // 2  # the point lies in pixel [32, 32]
DEFAULT_BUFFER_M = 650.0


@dataclass(frozen=True)
class GridFacts:
    """What a reader of a patch file must know of its grid, written as file attributes.

    Writers record them (``patch_size``, ``center_pixel``, ``pixel_size_m``) so readers such
    as the benchmark take the point's pixel from the file instead of assuming [32, 32].
    """

    patch_size: int = PATCH_SIZE
    center_pixel: tuple[int, int] = (CENTER_PIXEL, CENTER_PIXEL)  # (row, col), 0-based
    pixel_size_m: float = PIXEL_SIZE

    def as_attributes(self) -> dict[str, Any]:
        """The file attributes that record these facts."""
        return {
            "patch_size": int(self.patch_size),
            "center_pixel": [int(self.center_pixel[0]), int(self.center_pixel[1])],
            "pixel_size_m": float(self.pixel_size_m),
        }

    @classmethod
    def from_attributes(cls, attrs: Mapping[str, Any]) -> GridFacts:
        """The facts a file records; files without them (the original Sen4Map release, this
        tool before format 1.1) are on the Sen4Map grid."""
        default = cls()
        center = attrs.get("center_pixel")
        return cls(
            patch_size=int(attrs.get("patch_size", default.patch_size)),
            center_pixel=default.center_pixel if center is None
            else (int(center[0]), int(center[1])),
            pixel_size_m=float(attrs.get("pixel_size_m", default.pixel_size_m)),
        )


SEN4MAP_GRID = GridFacts()


def utm_epsg(lat: float, lon: float) -> int:
    """EPSG code of the WGS84 UTM zone of a longitude (north: 326xx, south: 327xx)."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"coordinates out of range: lat={lat}, lon={lon}")
    zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


@lru_cache(maxsize=128)
def _to_utm(epsg: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


@dataclass(frozen=True)
class PatchGrid:
    """Where one point's 64×64 patch lies: CRS and the affine transform of its top-left."""

    epsg: int
    x_min: float  # left edge of column 0
    y_max: float  # top edge of row 0
    size: int = PATCH_SIZE
    pixel: float = PIXEL_SIZE

    @property
    def crs(self) -> str:
        """The grid's CRS as rasterio and pyproj take it."""
        return f"EPSG:{self.epsg}"

    @property
    def transform(self) -> Affine:
        """North-up, square pixels: what the HDF5 ``transform`` attribute records."""
        return Affine(self.pixel, 0.0, self.x_min, 0.0, -self.pixel, self.y_max)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid's CRS."""
        span = self.size * self.pixel
        return (self.x_min, self.y_max - span, self.x_min + span, self.y_max)

    def transform_tuple(self) -> tuple[float, float, float, float, float, float]:
        """The six affine coefficients a, b, c, d, e, f (the HDF5 ``transform`` attribute)."""
        t = self.transform
        return (t.a, t.b, t.c, t.d, t.e, t.f)


def patch_grid(lat: float, lon: float, size: int = PATCH_SIZE) -> PatchGrid:
    """The grid of the patch of a point given in WGS84 degrees."""
    epsg = utm_epsg(lat, lon)
    x, y = _to_utm(epsg).transform(lon, lat)
    col_edge = math.floor(x / PIXEL_SIZE) * PIXEL_SIZE
    row_top = math.floor(y / PIXEL_SIZE) * PIXEL_SIZE + PIXEL_SIZE
    center = size // 2
    return PatchGrid(
        epsg=epsg,
        x_min=col_edge - center * PIXEL_SIZE,
        y_max=row_top + center * PIXEL_SIZE,
        size=size,
    )


def point_utm(lat: float, lon: float, epsg: int) -> tuple[float, float]:
    """A WGS84 point projected to a UTM zone (x, y in metres)."""
    x, y = _to_utm(epsg).transform(lon, lat)
    return float(x), float(y)
