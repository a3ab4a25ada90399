"""A nearest-neighbour warp as an index map: GDAL's choice of pixels, computed once per geometry.

Why: a point in one UTM zone read from a tile of the neighbouring zone needs a warp, and
``rasterio.warp.reproject`` costs about a millisecond per window. Its result with nearest
resampling depends only on the geometry (the window's shape and transform, the two CRSs,
the patch grid), never on the values: every scene of a tile and every band of one
resolution share it. So GDAL warps, once, a raster whose values are the source pixels'
own indices (1 … n); the patch of any window of that geometry is then one ``take``. The
pixels are GDAL's own choice (its approximate transformer included), hence identical to
warping the values themselves; 0 (no-data) stays 0 either way.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import Resampling, reproject

from exports.grid import PatchGrid

_Transform = tuple[float, float, float, float, float, float]


def warp_patch(
    raw: np.ndarray, transform: Affine, crs: CRS, epsg: int | None, grid: PatchGrid
) -> np.ndarray:
    """``raw`` (georeferenced by ``transform``/``crs``) on ``grid`` by GDAL's nearest warp."""
    crs_key = f"EPSG:{epsg}" if epsg is not None else crs.to_wkt()
    t = transform
    index = warp_index((raw.shape[0], raw.shape[1]), (t.a, t.b, t.c, t.d, t.e, t.f), crs_key, grid)
    flat = np.concatenate((np.zeros(1, dtype=raw.dtype), raw.ravel()))
    return flat[index]


@lru_cache(maxsize=4096)  # 16 kB each: two per point and foreign tile (10 m, 20 m)
def warp_index(
    shape: tuple[int, int], transform: _Transform, crs: str, grid: PatchGrid
) -> np.ndarray:
    """For each patch pixel, 1 + the flat index of the source pixel GDAL picks, 0 for none."""
    h, w = shape
    if h * w >= 2**32 - 1:
        raise ValueError(f"window of {h}×{w} pixels too large for an index map")
    source = np.arange(1, h * w + 1, dtype=np.uint32).reshape(h, w)
    out = np.zeros((grid.size, grid.size), dtype=np.uint32)
    reproject(
        source,
        out,
        src_transform=Affine(*transform),
        src_crs=CRS.from_user_input(crs),
        src_nodata=0,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=0,
        resampling=Resampling.nearest,
    )
    index = out.astype(np.intp)
    index.flags.writeable = False  # shared by every caller: never modified
    return index
