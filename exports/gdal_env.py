"""GDAL settings every rasterio reader of this package shares (COGs on disk, HTTP, /vsigs/).

Sources read many small windows from cloud-optimised GeoTIFFs; these settings keep decoded
blocks cached, avoid sidecar listings and merge HTTP range requests, whichever source reads.
"""

from __future__ import annotations

from collections.abc import Mapping

import rasterio

# GDAL settings for reading many small windows from COGs (local or over HTTP).
GDAL_ENV: Mapping[str, str | int] = {
    # Decoded blocks, reused by the points of a batch. In BYTES: rasterio hands an int to
    # GDALSetCacheMax64, so a bare 256 would mean 256 bytes, i.e. no block cache at all.
    "GDAL_CACHEMAX": 256 * 2**20,
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no sidecar-file listing on each open
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "GDAL_HTTP_MAX_RETRY": 3,
    "GDAL_HTTP_RETRY_DELAY": 1,
    "VSI_CACHE": "TRUE",
}


def gdal_env(**overrides: str | int) -> rasterio.Env:
    """A rasterio.Env with :data:`GDAL_ENV` (plus overrides) for the reads of one batch."""
    return rasterio.Env(**{**GDAL_ENV, **overrides})
