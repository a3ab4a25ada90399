"""CLC 2018 from the vector Copernicus distributes (``U2018_CLC2018_V2020_20u1.gpkg``).

The GeoPackage (or a shapefile, GeoJSON, FlatGeobuf of the same polygons) is in EPSG:3035
with the code as text in the field ``Code_18`` (``"211"``; matched case-insensitively, so a
shapefile's ``CODE_18`` serves too). ``for_area`` reads only the polygons whose envelope meets
the area (its bounds transformed to the file's CRS), reprojects them to the tile CRS and
rasterises them there by pixel centre (``rasterio.features.rasterize``, ``all_touched=False``):
a pixel takes a polygon's code when its centre lies inside the polygon. For a centre exactly
on an edge GDAL decides: on a vertical edge the pixel goes to the polygon on its left (a lone
polygon's left edge excludes the centre, its right edge includes it); on a horizontal edge
both polygons claim it and the later one in the file wins. CLC polygons tile the land, so this
only matters for hand-made test data.

Values: the 44 codes and 999 (CLC's NODATA); 990 and 995 (CLC's "unclassified land/water",
in the Copernicus legend though not in reBEN's table) are written as 999. Any other value,
text or not, is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from exports.clc.area import CanvasArea
from exports.clc.codes import UNCOVERED, clc_table
from lucas.errors import InputFormatError

CODE_FIELD = "Code_18"
UNCLASSIFIED_CODES = (990, 995)
"""CLC legend codes with no class (unclassified land surface, water bodies): read as 999."""

_FIX = "pass the CLC 2018 vector (U2018_CLC2018_V2020_20u1.gpkg) as --clc"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class VectorClc:
    """The CLC 2018 polygons of a vector file (see the module docstring).

    Args:
        path: the GeoPackage, shapefile, GeoJSON or FlatGeobuf.
        layer: the layer to read; by default the first layer with a ``Code_18`` field.

    Raises:
        InputFormatError: the file is missing or unreadable, has no layer with ``Code_18``
            (the fields found are named), or lacks a CRS.
    """

    name = "vector"
    coarse = False

    def __init__(self, path: str | Path, *, layer: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputFormatError(f"{self.path}: file not found; {_FIX}")
        self.layer, self.field, self.file_crs = self._pick_layer(layer)
        self.description = f"{self.path} (layer {self.layer})"

    def _pick_layer(self, wanted: str | None) -> tuple[str, str, Any]:
        import pyogrio

        try:
            layers = [str(row[0]) for row in pyogrio.list_layers(self.path)]
            infos = {name: pyogrio.read_info(self.path, layer=name) for name in layers
                     if wanted is None or name == wanted}
        except Exception as error:  # pyogrio's DataSourceError and friends, or a bad file
            raise InputFormatError(
                f"{self.path}: cannot read as a vector file ({_first_line(error)}); "
                f"{_FIX}") from error
        if wanted is not None and wanted not in infos:
            raise InputFormatError(
                f"{self.path}: no layer {wanted!r} (layers: {', '.join(layers) or 'none'}); "
                f"pick one of them")
        found: list[str] = []
        for name, info in infos.items():
            fields = [str(f) for f in info.get("fields", [])]
            match = [f for f in fields if f.lower() == CODE_FIELD.lower()]
            if match:
                if info.get("crs") is None:
                    raise InputFormatError(
                        f"{self.path}: layer {name} has no CRS; {_FIX} (EPSG:3035)")
                return name, match[0], info["crs"]
            found.append(f"{name}: {', '.join(fields) or 'no fields'}")
        raise InputFormatError(
            f"{self.path}: no layer has the field {CODE_FIELD} (fields found: "
            f"{'; '.join(found) or 'no layers'}); {_FIX}")

    def for_area(self, epsg: int, bounds: tuple[float, float, float, float]) -> CanvasArea:
        """The polygons meeting ``bounds`` (in ``EPSG:epsg``), reprojected to that CRS."""
        import pyogrio
        from rasterio.warp import transform_bounds

        bbox = transform_bounds(f"EPSG:{epsg}", self.file_crs, *bounds, densify_pts=21)
        try:
            frame = pyogrio.read_dataframe(
                self.path, layer=self.layer, columns=[self.field], bbox=tuple(bbox))
        except Exception as error:
            raise InputFormatError(
                f"{self.path}: cannot read layer {self.layer} ({_first_line(error)}); "
                f"{_FIX}") from error
        frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
        codes = self._codes(frame[self.field].tolist())
        geometries = np.asarray(frame.geometry.to_crs(epsg=epsg).values, dtype=object)
        return CanvasArea(epsg, bounds, _PolygonRenderer(geometries, codes))

    def _codes(self, values: list[Any]) -> np.ndarray:
        table = clc_table()
        parsed: dict[Any, int] = {}
        out = np.empty(len(values), dtype=np.uint16)
        for i, value in enumerate(values):
            key = value if isinstance(value, str | int) else repr(value)
            code = parsed.get(key)
            if code is None:
                code = parsed[key] = self._code(value, table)
            out[i] = code
        return out

    def _code(self, value: Any, table: Any) -> int:
        text = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if text.isdigit():
            code = int(text)
            if code in UNCLASSIFIED_CODES:
                return UNCOVERED
            if code in table:
                return code
        raise InputFormatError(
            f"{self.path}: layer {self.layer}: {self.field} value {value!r} is not a CLC 2018 "
            f"code (111…523 or 999); {_FIX}")


class _PolygonRenderer:
    """Rasterises the area's polygons (tile CRS) onto any grid by pixel centre."""

    def __init__(self, geometries: np.ndarray, codes: np.ndarray) -> None:
        self.geometries = geometries
        self.codes = codes
        self._tree: Any = None

    def __call__(self, transform: Affine, width: int, height: int) -> np.ndarray:
        from rasterio.features import rasterize
        from shapely import STRtree, box

        out = np.full((height, width), UNCOVERED, dtype=np.uint16)
        if len(self.geometries) == 0:
            return out
        if self._tree is None:
            self._tree = STRtree(self.geometries)
        x0, y1 = transform.c, transform.f
        x1, y0 = x0 + transform.a * width, y1 + transform.e * height
        hits = np.sort(self._tree.query(box(min(x0, x1), min(y0, y1), max(x0, x1),
                                            max(y0, y1))))  # file order: GDAL's tie rule
        if len(hits) == 0:
            return out
        shapes = zip(self.geometries[hits], self.codes[hits].tolist(), strict=True)
        return rasterize(shapes, out=out, transform=transform, all_touched=False)
