"""``--countries PATH``: each patch's country, the polygon covering most of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from lucas.errors import InputFormatError


class Countries:
    """Country polygons (any CRS, a name field), reprojected once per tile CRS."""

    def __init__(self, path: Path, field: str = "name") -> None:
        import geopandas as gpd

        try:
            frame = gpd.read_file(path)
        except Exception as e:  # pyogrio / fiona errors
            raise InputFormatError(f"--countries {path}: not a readable vector file ({e})") from e
        if field not in frame.columns:
            raise InputFormatError(f"--countries {path}: no field '{field}' (found: "
                                   f"{', '.join(c for c in frame.columns if c != 'geometry')}); "
                                   "choose it with --country-field")
        if frame.crs is None:
            raise InputFormatError(f"--countries {path}: no CRS; write the file with one")
        self.frame = frame
        self.field = field
        self._by_epsg: dict[int, tuple[shapely.STRtree, np.ndarray, list[str]]] = {}

    def name(self, epsg: int, box: tuple[float, float, float, float]) -> str:
        """The name of the polygon covering most of ``box`` (in EPSG ``epsg``), or ""."""
        if epsg not in self._by_epsg:
            local = self.frame.to_crs(epsg)
            geoms = np.array(local.geometry.values, dtype=object)
            self._by_epsg[epsg] = (shapely.STRtree(geoms), geoms,
                                   [str(v) for v in local[self.field]])
        tree, geoms, names = self._by_epsg[epsg]
        square = shapely.box(*box)
        best, area = "", 0.0
        for i in tree.query(square):
            covered = shapely.intersection(geoms[i], square).area
            if covered > area:
                best, area = names[i], covered
        return best
