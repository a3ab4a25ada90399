"""``--clc``: which CORINE source a spec names (a vector file, a GeoTIFF, an Earth Engine asset).

* ``.gpkg``, ``.shp``, ``.geojson``, ``.fgb``: :class:`~exports.clc.vector.VectorClc`;
* ``.tif``, ``.tiff``: :class:`~exports.clc.raster.RasterClc`;
* ``gee:<asset id>`` (``gee:COPERNICUS/CORINE/V20/100m/2018``): ``exports.clc.gee.GeeClc``,
  imported only then (it needs Earth Engine), called as
  ``GeeClc.connect(asset_id, project=project, key_file=key_file)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from exports.clc.source import ClcSource
from lucas.errors import ConfigError

VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".fgb")
RASTER_SUFFIXES = (".tif", ".tiff")
GEE_PREFIX = "gee:"
GEE_MODULE = "exports.clc.gee"
GEE_CLASS = "GeeClc"

ACCEPTED = (
    "a CLC 2018 vector (.gpkg, .shp, .geojson, .fgb), a CLC GeoTIFF (.tif, .tiff) or "
    "gee:<asset id> (gee:COPERNICUS/CORINE/V20/100m/2018)"
)


def open_clc(
    spec: str | Path, *, project: str | None = None, key_file: Path | None = None
) -> ClcSource:
    """The CORINE source ``spec`` names (``project`` and ``key_file`` serve ``gee:`` only).

    Raises:
        ConfigError: the spec is none of the accepted forms, or names Earth Engine where the
            Earth Engine source is not available.
        InputFormatError: the file is missing or not a CLC file (from the source).
    """
    text = str(spec).strip()
    if text.lower().startswith(GEE_PREFIX):
        asset = text[len(GEE_PREFIX):].strip()
        if not asset:
            raise ConfigError(f"--clc {text}: no asset id after gee:; pass {ACCEPTED}")
        return _gee(asset, project=project, key_file=key_file)
    suffix = Path(text).suffix.lower()
    if suffix in VECTOR_SUFFIXES:
        from exports.clc.vector import VectorClc

        return VectorClc(text)
    if suffix in RASTER_SUFFIXES:
        from exports.clc.raster import RasterClc

        return RasterClc(text)
    raise ConfigError(f"--clc {text or repr(text)}: not a CORINE source; pass {ACCEPTED}")


def _gee(asset: str, *, project: str | None, key_file: Path | None) -> ClcSource:
    try:
        module = importlib.import_module(GEE_MODULE)
    except ModuleNotFoundError as error:
        if error.name == GEE_MODULE:
            raise ConfigError(
                f"--clc gee:{asset}: Earth Engine CORINE source not available "
                f"({GEE_MODULE} is not installed); pass a CLC GeoPackage or GeoTIFF") from error
        raise ConfigError(
            f"--clc gee:{asset}: Earth Engine CORINE source not available (needs the "
            f"missing module {error.name}); pass a CLC GeoPackage or GeoTIFF") from error
    source: ClcSource = getattr(module, GEE_CLASS).connect(asset, project=project,
                                                           key_file=key_file)
    return source
