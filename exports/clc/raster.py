"""CLC 2018 from a GeoTIFF: the Copernicus 100 m raster, or any raster of CLC codes.

Two kinds of values are read, told apart by the values of each area (the two sets share no
value, so no flag is needed):

* CLC codes (111…523, 999; 990/995 "unclassified" read as 999): Earth Engine's
  ``COPERNICUS/CORINE/V20/100m/2018`` exported, or a raster rasterised from the vector.
* The index of the Copernicus raster (``U2018_CLC2018_V2020_20u1.tif``, its legend's
  ``GRID_CODE``): 1…44 are the 44 codes in code order (1 → 111, 2 → 112, 3 → 121, …,
  44 → 523, :data:`RASTER_INDEX`); 48 (NODATA), 49 and 50 (unclassified land, water) and 128
  (outside the mapped area, the file's nodata) read as 999.

The raster's declared nodata reads as 999 too. ``for_area`` reads the window of the raster
covering the area (its bounds transformed to the raster CRS, plus two pixels) once;
``reference_map`` resamples it onto the patch grid with ``rasterio.warp.reproject``,
``Resampling.nearest`` and an exact transformer (``tolerance=0``): each pixel takes the value
of the source pixel under its centre, 999 outside the raster. The labels come from a coarse
raster (``coarse = True``): a 100 m pixel spans 10×10 patch pixels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from affine import Affine

from exports.clc.area import CanvasArea
from exports.clc.codes import UNCOVERED, clc_table
from exports.clc.vector import UNCLASSIFIED_CODES
from lucas.errors import InputFormatError

_NO_CLASS_INDEX = (48, 49, 50, 128)  # NODATA, unclassified land, unclassified water, outside


def _raster_index() -> Mapping[int, int]:
    codes = [c for c in clc_table() if c != UNCOVERED]  # the 44 codes, code order
    index = {i: code for i, code in enumerate(codes, start=1)}
    index.update(dict.fromkeys(_NO_CLASS_INDEX, UNCOVERED))
    return MappingProxyType(index)


RASTER_INDEX: Mapping[int, int] = _raster_index()
"""The Copernicus CLC raster's value → CLC code (1 → 111 … 44 → 523; 48, 49, 50, 128 → 999)."""

_FIX = "pass a CLC 2018 GeoTIFF (the Copernicus 100 m raster or a raster of CLC codes)"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class RasterClc:
    """The CLC 2018 of a GeoTIFF (see the module docstring).

    Args:
        path: the GeoTIFF.
        band: the band holding the values (1-based).

    Raises:
        InputFormatError: the file is missing, unreadable, lacks the band or a CRS.
    """

    name = "raster"
    coarse = True

    def __init__(self, path: str | Path, *, band: int = 1) -> None:
        import rasterio

        self.path = Path(path)
        self.band = int(band)
        if not self.path.is_file():
            raise InputFormatError(f"{self.path}: file not found; {_FIX} as --clc")
        try:
            with rasterio.open(self.path) as ds:
                count, crs = ds.count, ds.crs
        except Exception as error:  # RasterioIOError and friends
            raise InputFormatError(
                f"{self.path}: cannot read as a raster ({_first_line(error)}); {_FIX}"
            ) from error
        if not 1 <= self.band <= count:
            raise InputFormatError(f"{self.path}: no band {self.band} (it has {count}); {_FIX}")
        if crs is None:
            raise InputFormatError(f"{self.path}: the raster has no CRS; {_FIX} (EPSG:3035)")
        self.description = str(self.path)

    def for_area(self, epsg: int, bounds: tuple[float, float, float, float]) -> CanvasArea:
        """The raster's window over ``bounds`` (in ``EPSG:epsg``), as CLC codes."""
        import rasterio
        from rasterio.warp import transform_bounds
        from rasterio.windows import Window

        with rasterio.open(self.path) as ds:
            left, bottom, right, top = transform_bounds(
                f"EPSG:{epsg}", ds.crs, *bounds, densify_pts=21)
            inverse = ~ds.transform
            corners = [inverse @ (x, y) for x in (left, right) for y in (bottom, top)]
            col0 = max(math.floor(min(c for c, _ in corners)) - 2, 0)
            row0 = max(math.floor(min(r for _, r in corners)) - 2, 0)
            col1 = min(math.ceil(max(c for c, _ in corners)) + 2, ds.width)
            row1 = min(math.ceil(max(r for _, r in corners)) + 2, ds.height)
            src_crs = ds.crs
            if col1 <= col0 or row1 <= row0:  # the area is outside the raster
                source = None
                src_transform = ds.transform
            else:
                window = Window(col0, row0, col1 - col0, row1 - row0)
                data = ds.read(self.band, window=window)
                source = self._codes(data, ds.nodata)
                src_transform = ds.transform @ Affine.translation(col0, row0)
        render = _Resampler(source, src_transform, src_crs, f"EPSG:{epsg}")
        return CanvasArea(epsg, bounds, render)

    def _codes(self, data: np.ndarray, nodata: float | None) -> np.ndarray:
        """The window's values as CLC codes (uint16), 999 where nodata or no class."""
        missing = np.zeros(data.shape, dtype=bool)
        if data.dtype.kind == "f":
            missing |= np.isnan(data)
        if nodata is not None and not math.isnan(nodata):
            missing |= data == nodata
        valid = data[~missing]
        values = np.unique(valid)
        table = clc_table()
        as_codes = [self._as_code(v, table) for v in values.tolist()]
        as_index = [RASTER_INDEX.get(int(v)) if float(v).is_integer() else None
                    for v in values.tolist()]
        if all(c is not None for c in as_codes):
            lookup = as_codes
        elif all(c is not None for c in as_index):
            lookup = as_index
        else:
            bad = [v for v, c, i in zip(values.tolist(), as_codes, as_index, strict=True)
                   if c is None and i is None]
            kinds = "CLC 2018 codes (111…523, 999) {} the Copernicus raster's index " \
                "(1…44, 48…50, 128)"
            what = (f"values {', '.join(f'{v:g}' for v in bad[:5])} are neither "
                    f"{kinds.format('nor')}" if bad else f"the values mix {kinds.format('and')}")
            raise InputFormatError(f"{self.path}: {what}; {_FIX}, or set its nodata")
        out = np.full(data.shape, UNCOVERED, dtype=np.uint16)
        if len(values):
            mapped = np.array(lookup, dtype=np.uint16)
            out[~missing] = mapped[np.searchsorted(values, valid)]
        return out

    @staticmethod
    def _as_code(value: Any, table: Mapping[int, Any]) -> int | None:
        if not float(value).is_integer():
            return None
        code = int(value)
        if code in UNCLASSIFIED_CODES:
            return UNCOVERED
        return code if code in table else None


class _Resampler:
    """Resamples the area's window of codes onto any grid, nearest by pixel centre."""

    def __init__(self, source: np.ndarray | None, transform: Affine, crs: Any,
                 dst_crs: str) -> None:
        self.source = source
        self.transform = transform
        self.crs = crs
        self.dst_crs = dst_crs

    def __call__(self, transform: Affine, width: int, height: int) -> np.ndarray:
        from rasterio.enums import Resampling
        from rasterio.warp import reproject

        out = np.full((height, width), UNCOVERED, dtype=np.uint16)
        if self.source is None:
            return out
        reproject(
            self.source, out,
            src_transform=self.transform, src_crs=self.crs, src_nodata=UNCOVERED,
            dst_transform=transform, dst_crs=self.dst_crs, dst_nodata=UNCOVERED,
            resampling=Resampling.nearest, tolerance=0.0,
        )
        return out
