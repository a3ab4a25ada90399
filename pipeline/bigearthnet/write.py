"""GeoTIFFs of one patch: a file per band at native resolution, S1 VV/VH, the reference map.

Every file is georeferenced on its own patch grid (the tile's CRS, the patch's corner, the
band's pixel size), tiled as the patch is small: one strip-free block, DEFLATE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from exports.grid import PatchGrid

_PROFILE = {"driver": "GTiff", "compress": "deflate", "count": 1}


def write_band(path: Path, data: np.ndarray, grid: PatchGrid, nodata: float | None) -> None:
    """One single-band GeoTIFF of ``data`` on ``grid``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {**_PROFILE, "height": grid.size, "width": grid.size, "dtype": data.dtype.name,
               "crs": grid.crs, "transform": grid.transform}
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
