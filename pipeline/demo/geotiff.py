"""GeoTIFF writing for every synthetic archive: the demo's sparse COGs and the test rasters.

One writer so that the demo and the test fixtures produce files the same way (single band,
no-data 0, the CRS given as an EPSG code); the layout is the caller's choice of creation
options. The demo's default (:data:`GTIFF_OPTIONS`) is a COG layout written in one pass:
GDAL's GTiff driver in create mode already puts the IFD and the tile index at the start of
the file, so the COG driver would only add a second pass over the raster for the same layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from pipeline.demo.geo import TileSpec

GTiffOptions = Mapping[str, str | int | bool]
GTIFF_OPTIONS: GTiffOptions = {
    "driver": "GTiff",
    "tiled": True,
    "blockxsize": 128,
    "blockysize": 128,
    "compress": "DEFLATE",  # no predictor: the data are runs (2×2 pixels, parcels); LZ does best
    "zlevel": 6,
    "sparse_ok": True,
}


def write_geotiff(
    path: Path,
    data: np.ndarray,
    transform: Affine,
    epsg: int,
    options: GTiffOptions = GTIFF_OPTIONS,
) -> None:
    """Write ``data`` (rows, cols) as a single-band GeoTIFF, no-data 0.

    ``options`` holds the driver and its creation options (tiling, compression, sparse
    blocks); with ``sparse_ok``, blocks that are all 0 are not stored: they cost no bytes
    and read as 0.
    """
    h, w = data.shape
    with rasterio.open(
        path, "w", width=w, height=h, count=1, dtype=data.dtype, crs=f"EPSG:{epsg}",
        transform=transform, nodata=0, **options,
    ) as dst:  # fmt: skip
        dst.write(data, 1)


def mosaic(
    shape: tuple[int, int], origins: Sequence[tuple[int, int]], windows: np.ndarray, k: int
) -> np.ndarray:
    """The full raster of ``shape``: each window at its 10 m origin divided by ``k``, else 0."""
    full = np.zeros(shape, dtype=windows.dtype)
    wh, ww = windows.shape[1:]
    for (r0, c0), win in zip(origins, windows, strict=True):
        full[r0 // k : r0 // k + wh, c0 // k : c0 // k + ww] = win
    return full


def write_cog(path: Path, tile: TileSpec, res: int, origins: list[tuple[int, int]] | None,
              windows: np.ndarray) -> None:  # fmt: skip
    """Write a demo band: rendered windows (or, with ``origins`` None, the whole raster) as a
    sparse tiled GeoTIFF in COG layout on the tile's ``res`` m grid."""
    full = windows[0] if origins is None else mosaic(tile.shape(res), origins, windows, res // 10)
    write_geotiff(path, full, tile.transform(res), tile.epsg)
