"""The theoretical location of a LUCAS point, and the checks on it.

Why: every later stage centres a patch on the theoretical point, so its coordinates must be
right. LUCAS point ids encode them: ``POINT_ID = XXXXYYYY`` is the node (XXXX·1000 m,
YYYY·1000 m) of the LUCAS grid in EPSG:3035 (ETRS89-LAEA Europe). We transform those nodes
to WGS84 with pyproj (vectorised) and compare them with the table's ``th_lat``/``th_long``.
On the real rows in ``shared/lucas`` the two agree to < 0.3 m (the table rounds coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from pyproj import Geod, Transformer

LAEA_EPSG = 3035
GRID_UNIT_M = 1000.0
MISMATCH_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class BBox:
    """A lon/lat box (degrees, WGS84)."""

    lon_min: float
    lat_min: float
    lon_max: float
    lat_max: float

    def contains(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (
                (lon >= self.lon_min)
                & (lon <= self.lon_max)
                & (lat >= self.lat_min)
                & (lat <= self.lat_max)
            )


EUROPE_BBOX = BBox(lon_min=-11.0, lat_min=34.0, lon_max=35.0, lat_max=71.5)
"""Where LUCAS points can be: the EU-28 without the outermost regions.

West edge -11° (Ireland's west coast is at -10.7°), east edge 35° (Cyprus reaches 34.6°,
Finland 31.6°), south edge 34° (Crete/Gavdos 34.8°, Cyprus 34.6°, Malta 35.8°), north edge
71.5° (Finland 70.1°). LUCAS does not survey the outermost regions, and this box excludes
them: Canary Islands (lat < 29.5°), Madeira (lat 32.6°), Azores (lon < -25°), French overseas
departments. A point outside the box is rejected as ``outside_europe``.
"""


@lru_cache(maxsize=1)
def _laea_to_wgs84() -> Transformer:
    return Transformer.from_crs(f"EPSG:{LAEA_EPSG}", "EPSG:4326", always_xy=True)


@lru_cache(maxsize=1)
def _geod() -> Geod:
    return Geod(ellps="WGS84")


def grid_xy(point_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3035 x, y (m) of LUCAS point ids (``XXXXYYYY``)."""
    ids = np.asarray(point_ids, dtype=np.int64)
    return (ids // 10000) * GRID_UNIT_M, (ids % 10000) * GRID_UNIT_M


def grid_latlon(point_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 (lat, lon) of the grid node each point id names."""
    x, y = grid_xy(point_ids)
    if x.size == 0:
        return np.empty(0), np.empty(0)
    lon, lat = _laea_to_wgs84().transform(x, y)
    return np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)


def distance_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Geodesic distance (m, WGS84 ellipsoid), element-wise."""
    if np.size(lat1) == 0:
        return np.empty(0)
    _, _, dist = _geod().inv(
        np.asarray(lon1, float), np.asarray(lat1, float),
        np.asarray(lon2, float), np.asarray(lat2, float),
    )  # fmt: skip
    return np.asarray(dist, dtype=float)


def location_mismatches(
    points: pd.DataFrame, tolerance_m: float = MISMATCH_TOLERANCE_M
) -> pd.DataFrame:
    """Points whose ``th_lat``/``th_long`` are farther than ``tolerance_m`` from their id's node.

    Columns: row, point_id, th_lat, th_long, grid_lat, grid_long, distance_m. These are
    warnings: the table's coordinates stay the point's geometry (they are what LUCAS
    published); a large distance usually means a mistyped id or swapped coordinates.
    """
    ids = points["point_id"].to_numpy(dtype=np.int64)
    lat = points["th_lat"].to_numpy(dtype=float)
    lon = points["th_long"].to_numpy(dtype=float)
    glat, glon = grid_latlon(ids)
    dist = distance_m(lat, lon, glat, glon)
    bad = dist > tolerance_m
    return pd.DataFrame(
        {
            "row": points["row"].to_numpy()[bad] if "row" in points else np.arange(len(ids))[bad],
            "point_id": ids[bad],
            "th_lat": lat[bad],
            "th_long": lon[bad],
            "grid_lat": glat[bad],
            "grid_long": glon[bad],
            "distance_m": np.round(dist[bad], 3),
        }
    )


_GEO_COORDS = r'"coordinates"\s*:\s*\[\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)'


def parse_geojson_points(geo: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(lat, lon) from Earth Engine's ``.geo`` column (GeoJSON Point), NaN where unparsable."""
    parts = geo.astype("str").str.extract(_GEO_COORDS)
    lon = pd.to_numeric(parts[0], errors="coerce").astype(float)
    lat = pd.to_numeric(parts[1], errors="coerce").astype(float)
    return lat, lon
