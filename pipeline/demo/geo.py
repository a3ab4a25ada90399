"""Geography of the demo archive: the LUCAS 2 km grid nodes, the two S2 tiles, their rasters.

The demo sits on the UTM 32/33 zone boundary (12°E) near Wörgl, Tyrol (AT335 Tiroler
Unterland), so every cross-zone case of the pipeline is exercised. The real Sentinel-2 tiles
there are **32TQT** (EPSG:32632, tile origin 699960 E / 5300040 N) and **33TTN** (EPSG:32633,
199980 E / 5300040 N); both really cover the whole area. The demo crops each tile's raster to
a part of the area so that some points lie in one tile only (as at a swath or tile edge).

Points are nodes of the real LUCAS grid: multiples of 2 km in LAEA Europe (EPSG:3035).
Rasters are on the native S2 grid: origins on multiples of 60 m, so 10 m and 20 m pixel
edges fall on multiples of 10 m and 20 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from affine import Affine
from pyproj import Transformer

from lucas.errors import ConfigError

LAEA_EPSG = 3035
NODE_SPACING_M = 2000  # the LUCAS theoretical grid
EXTENT_MARGIN_M = 1000.0  # from the outermost nodes to the demo extent edge
MIN_EDGE_M = 700.0  # a point "is in" a tile when it is this far inside the raster
S2_ORIGIN_STEP_M = 60.0  # S2 tile origins are multiples of 60 m

CENTER_LON = 12.0  # the UTM 32/33 boundary
CENTER_LAT = 47.47  # Wörgl / Kirchbichl, Kufstein district, Tyrol
TILE_ZONES: tuple[tuple[str, int], ...] = (("32TQT", 32632), ("33TTN", 32633))


@lru_cache(maxsize=16)
def transformer(src: int, dst: int) -> Transformer:
    """A cached always-xy transformer between two EPSG codes."""
    return Transformer.from_crs(f"EPSG:{src}", f"EPSG:{dst}", always_xy=True)


@dataclass(frozen=True)
class Node:
    """A LUCAS grid node: LAEA metres (multiples of 2000) and its WGS84 position."""

    x: int
    y: int
    lon: float
    lat: float

    @property
    def point_id(self) -> int:
        """POINT_ID = XXXXYYYY, X and Y the LAEA coordinates in km."""
        return (self.x // 1000) * 10000 + self.y // 1000


@dataclass(frozen=True)
class TileSpec:
    """One tile's demo raster: a crop of the real tile on its native 10 m / 20 m grid."""

    name: str
    epsg: int
    x_min: float
    y_max: float
    width: int  # 10 m pixels (even)
    height: int

    def transform(self, res: int) -> Affine:
        return Affine(float(res), 0.0, self.x_min, 0.0, -float(res), self.y_max)

    def shape(self, res: int) -> tuple[int, int]:
        """(rows, cols) of the raster at 10 m or 20 m."""
        k = res // 10
        return self.height // k, self.width // k

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x_min, self.y_max - 10 * self.height, self.x_min + 10 * self.width, self.y_max)

    def pixel(self, x: float, y: float, res: int) -> tuple[int, int]:
        """(row, col) of the ``res`` m pixel that contains (x, y) in the tile's CRS."""
        return math.floor((self.y_max - y) / res), math.floor((x - self.x_min) / res)

    def contains(self, x: float, y: float, margin: float) -> bool:
        left, bottom, right, top = self.bounds
        return left + margin <= x <= right - margin and bottom + margin <= y <= top - margin

    def footprint_lonlat(self) -> list[tuple[float, float]]:
        """The raster corners in WGS84, counter-clockwise from the south-west, ring closed."""
        left, bottom, right, top = self.bounds
        xs = [left, right, right, left, left]
        ys = [bottom, bottom, top, top, bottom]
        lon, lat = transformer(self.epsg, 4326).transform(xs, ys)
        return [(float(a), float(b)) for a, b in zip(lon, lat, strict=True)]


@dataclass(frozen=True)
class Layout:
    """Where everything is: candidate nodes, the LAEA extent, the two tiles."""

    nodes: tuple[Node, ...]
    extent: tuple[float, float, float, float]  # LAEA (x0, y0, x1, y1)
    tiles: tuple[TileSpec, ...]
    coverage: dict[int, tuple[str, ...]]  # point id -> tiles holding it with MIN_EDGE_M margin


def grid_size(n_points: int, extent_km: float | tuple[float, float] | None) -> tuple[int, int]:
    """(columns, rows) of grid nodes: from the extent, or just enough for ``n_points``."""
    if extent_km is not None:
        w, h = (extent_km, extent_km) if isinstance(extent_km, int | float) else extent_km
        cols, rows = int(w * 1000 // NODE_SPACING_M), int(h * 1000 // NODE_SPACING_M)
    else:
        cols = max(4, math.ceil(math.sqrt(n_points * 1.3)))
        rows = max(2, math.ceil(n_points * 1.1 / cols))
    if cols < 4 or rows < 1:
        raise ConfigError(f"demo extent {extent_km} km holds {cols}×{rows} grid nodes; need ≥ 4×1")
    if cols * rows < n_points:
        raise ConfigError(
            f"demo extent {extent_km} km holds {cols * rows} LUCAS grid nodes (2 km), fewer than "
            f"n_points={n_points}; enlarge --extent-km or lower --points"
        )
    return cols, rows


def plan_layout(n_points: int, extent_km: float | tuple[float, float] | None) -> Layout:
    """Nodes around the zone boundary, and two tile rasters overlapping in the middle.

    The 12°E meridian falls between the two middle node columns. Tile 32TQT holds all but the
    ``k`` easternmost columns, 33TTN all but the ``k`` westernmost: most nodes are in both.
    """
    cols, rows = grid_size(n_points, extent_km)
    cx, cy = transformer(4326, LAEA_EPSG).transform(CENTER_LON, CENTER_LAT)
    x0 = int(cx // NODE_SPACING_M) * NODE_SPACING_M - NODE_SPACING_M * (cols // 2 - 1)
    y0 = int(cy // NODE_SPACING_M) * NODE_SPACING_M - NODE_SPACING_M * ((rows - 1) // 2)
    xs = [x0 + NODE_SPACING_M * i for i in range(cols)]
    ys = [y0 + NODE_SPACING_M * j for j in range(rows)]
    nodes = _nodes(xs, ys)
    k = max(1, round(cols / 6))
    tiles = (
        tile_over("32TQT", 32632, [n for n in nodes if n.x <= xs[cols - 1 - k]]),
        tile_over("33TTN", 32633, [n for n in nodes if n.x >= xs[k]]),
    )
    coverage = {n.point_id: _covering(n, tiles) for n in nodes}
    m = EXTENT_MARGIN_M
    extent = (xs[0] - m, ys[0] - m, xs[-1] + m, ys[-1] + m)
    return Layout(nodes=tuple(nodes), extent=extent, tiles=tiles, coverage=coverage)


def _nodes(xs: list[int], ys: list[int]) -> list[Node]:
    """Grid nodes north to south, west to east, with lon/lat by pyproj (the th_ rule)."""
    gx, gy = np.meshgrid(np.array(xs, dtype=float), np.array(ys[::-1], dtype=float))
    lon, lat = transformer(LAEA_EPSG, 4326).transform(gx.ravel(), gy.ravel())
    return [
        Node(int(x), int(y), float(lo), float(la))
        for x, y, lo, la in zip(gx.ravel(), gy.ravel(), lon, lat, strict=True)
    ]


def tile_over(name: str, epsg: int, nodes: list[Node]) -> TileSpec:
    """The raster covering ``nodes`` with EXTENT_MARGIN_M, snapped outward to the S2 60 m grid."""
    to_utm = transformer(4326, epsg)
    x, y = to_utm.transform([n.lon for n in nodes], [n.lat for n in nodes])
    m, step = EXTENT_MARGIN_M, S2_ORIGIN_STEP_M
    left = math.floor((min(x) - m) / step) * step
    right = math.ceil((max(x) + m) / step) * step
    bottom = math.floor((min(y) - m) / step) * step
    top = math.ceil((max(y) + m) / step) * step
    return TileSpec(name, epsg, left, top, round((right - left) / 10), round((top - bottom) / 10))


def _covering(node: Node, tiles: tuple[TileSpec, ...]) -> tuple[str, ...]:
    out = []
    for t in tiles:
        x, y = transformer(4326, t.epsg).transform(node.lon, node.lat)
        if t.contains(x, y, MIN_EDGE_M):
            out.append(t.name)
    return tuple(out)


def pixel_centers(
    tile: TileSpec, res: int, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """LAEA coordinates of the centres of pixels (rows, cols) of a tile raster at ``res`` m."""
    x = tile.x_min + (cols + 0.5) * res
    y = tile.y_max - (rows + 0.5) * res
    lx, ly = transformer(tile.epsg, LAEA_EPSG).transform(x.ravel(), y.ravel())
    return np.asarray(lx).reshape(x.shape), np.asarray(ly).reshape(y.shape)
