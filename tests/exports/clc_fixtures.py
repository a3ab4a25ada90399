"""Tiny synthetic CORINE inputs for the exports.clc tests, written in the test's tmp folder.

``write_gpkg``: a GeoPackage in EPSG:3035 with the code as text in ``Code_18``, as
Copernicus distributes CLC 2018; ``write_tif``: a small GeoTIFF. Nothing real is copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine

LAEA = 3035
# A spot in EPSG:3035 (Germany) on a 10 m lattice, far from any edge of the projection.
X0, Y1 = 4_200_000.0, 3_000_000.0


def write_gpkg(
    path: Path, polygons: Sequence[tuple[Any, Any]], *, field: str = "Code_18",
    layer: str = "U2018_CLC2018_V2020_20u1", crs: int = LAEA, driver: str | None = None,
) -> Path:
    """A vector layer of (geometry, code) rows, the code as given (text like "211")."""
    frame = gpd.GeoDataFrame(
        {field: [code for _, code in polygons]},
        geometry=[geom for geom, _ in polygons], crs=f"EPSG:{crs}",
    )
    kwargs: dict[str, Any] = {"engine": "pyogrio"}
    if driver is None or driver == "GPKG":
        kwargs["layer"] = layer
    frame.to_file(path, driver=driver or "GPKG", **kwargs)
    return path


def write_tif(
    path: Path, values: np.ndarray, *, transform: Affine, crs: int = LAEA,
    nodata: float | None = None,
) -> Path:
    """A one-band GeoTIFF of ``values`` (its dtype kept)."""
    profile = {
        "driver": "GTiff", "width": values.shape[1], "height": values.shape[0], "count": 1,
        "dtype": values.dtype.name, "crs": f"EPSG:{crs}", "transform": transform,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path
