"""The demo's ground truth: a land-cover map that is a pure function of LAEA coordinates.

Because the map is evaluated at pixel centres transformed to LAEA (EPSG:3035), both tiles
render the same ground where they overlap although their pixel grids differ (EPSG:32632 vs
32633), and the class of a LUCAS point is the map's value at its grid node.

The map: landscape zones (a jittered-grid Voronoi of ~1.6 km cells: conifer or broadleaf
forest, farmland, meadows, village, mountain), parcels inside them (~180 m cells), each
parcel given a class by its zone; a lake and two roads on top. Around every 2 km grid node a
25 m disc takes the node's class, so the pixel holding a LUCAS point and its 3×3 neighbours
(the benchmark's evaluation window) agree with the surveyed label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.demo.geo import NODE_SPACING_M

ZONE_CELL_M = 1600.0
PARCEL_CELL_M = 250.0
NODE_GUARD_M = 25.0
ROAD_HALF_WIDTH_M = 6.0


@dataclass(frozen=True)
class LandClass:
    """A LUCAS LC1 class of the demo and how it is rendered and surveyed."""

    code: str
    label: str
    lu1: str
    lu1_label: str
    family: str  # phenology / spectrum family (pipeline.demo.spectra)
    texture: float  # relative amplitude of smooth within-parcel variation
    roughness: float = 0.0  # relative amplitude of 40 m speckle (canopy, roofs, stones)


_AGRI = "Agriculture (excluding fallow land and kitchen gardens)"
_NATURAL = "Semi-natural and natural areas not in use"
CLASSES: tuple[LandClass, ...] = (
    LandClass(
        "A11", "Buildings with one to three floors", "U370", "Residential", "built", 0.08, 0.08
    ),
    LandClass("A22", "Non built-up linear features", "U312", "Road transport", "paved", 0.03),
    LandClass("A30", "Other artificial areas", "U341", "Commerce", "paved", 0.05, 0.03),
    LandClass("B11", "Common wheat", "U111", _AGRI, "winter_wheat", 0.015),
    LandClass("B13", "Barley", "U111", _AGRI, "winter_barley", 0.015),
    LandClass("B16", "Maize", "U111", _AGRI, "maize", 0.02),
    LandClass("C10", "Broadleaved woodland", "U120", "Forestry", "broadleaf", 0.04, 0.05),
    LandClass(
        "C21", "Spruce dominated coniferous woodland", "U120", "Forestry", "conifer", 0.05, 0.06
    ),
    LandClass("D20", "Shrubland without tree cover", "U420", _NATURAL, "shrub", 0.04, 0.03),
    LandClass(
        "E10",
        "Grassland with sparse tree/shrub cover",
        "U420",
        _NATURAL,
        "seminatural",
        0.03,
        0.015,
    ),
    LandClass("E20", "Grassland without tree/shrub cover", "U111", _AGRI, "meadow", 0.02),
    LandClass("F10", "Rocks and stones", "U420", _NATURAL, "rock", 0.05, 0.06),
    LandClass("F40", "Other bare soil", "U330", "Construction", "soil", 0.03),
    LandClass("G11", "Inland fresh water bodies", "U420", _NATURAL, "water", 0.005),
)
CLASS_INDEX: dict[str, int] = {c.code: i for i, c in enumerate(CLASSES)}
WATER = CLASS_INDEX["G11"]
ROAD = CLASS_INDEX["A22"]

# zone type -> (weight, {class code: share of its parcels})
ZONES: tuple[tuple[float, dict[str, float]], ...] = (
    (0.24, {"C21": 0.80, "C10": 0.12, "E10": 0.05, "D20": 0.03}),  # conifer forest
    (0.12, {"C10": 0.75, "C21": 0.15, "E10": 0.05, "D20": 0.05}),  # broadleaf forest
    (0.22, {"B16": 0.32, "B11": 0.22, "B13": 0.16, "E20": 0.30}),  # farmland
    (0.22, {"E20": 0.72, "E10": 0.10, "C10": 0.08, "B16": 0.06, "D20": 0.04}),  # meadows
    (0.12, {"A11": 0.50, "A30": 0.15, "E20": 0.25, "F40": 0.05, "C10": 0.05}),  # village
    (0.08, {"F10": 0.45, "D20": 0.25, "E10": 0.25, "C21": 0.05}),  # mountain
)

_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_GOLDEN_INT = 0x9E3779B97F4A7C15


def mix64(a: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a well-mixed uint64 from any uint64 (vectorised, wraps)."""
    a = a.astype(np.uint64, copy=True)
    a ^= a >> np.uint64(30)
    a *= _C1
    a ^= a >> np.uint64(27)
    a *= _C2
    return a ^ (a >> np.uint64(31))


def cell_hash(i: np.ndarray, j: np.ndarray, salt: int) -> np.ndarray:
    """A hash of integer cell indices and a salt (independent of array layout and extent)."""
    key = (np.asarray(i, dtype=np.int64) * 73856093) ^ (np.asarray(j, dtype=np.int64) * 19349663)
    return mix64((key ^ salt).view(np.uint64))


def unit(h: np.ndarray, k: int) -> np.ndarray:
    """The k-th uniform [0, 1) draw from hash ``h``."""
    v = mix64(h + np.uint64((_GOLDEN_INT * k) % 2**64))
    return (v >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def voronoi(x: np.ndarray, y: np.ndarray, cell: float, salt: int) -> np.ndarray:
    """Key (int64) of the nearest seed of a jittered grid: the Voronoi cell holding (x, y)."""
    ci = np.floor(x / cell).astype(np.int64)
    cj = np.floor(y / cell).astype(np.int64)
    best = np.full(x.shape, np.inf)
    key = np.zeros(x.shape, dtype=np.int64)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            i, j = ci + di, cj + dj
            h = cell_hash(i, j, salt)
            sx = (i + 0.1 + 0.8 * unit(h, 1)) * cell
            sy = (j + 0.1 + 0.8 * unit(h, 2)) * cell
            d = (x - sx) ** 2 + (y - sy) ** 2
            closer = d < best
            best = np.where(closer, d, best)
            key = np.where(closer, (i << 32) + j, key)
    return key


def _class_table() -> np.ndarray:
    """(zone types, 1000) class indices: a vectorised categorical draw per zone type."""
    table = np.zeros((len(ZONES), 1000), dtype=np.uint8)
    for z, (_, shares) in enumerate(ZONES):
        edges = np.cumsum(list(shares.values()))
        idx = np.searchsorted(edges / edges[-1], (np.arange(1000) + 0.5) / 1000)
        table[z] = [CLASS_INDEX[list(shares)[k]] for k in idx]
    return table


class LandCover:
    """The land-cover map of one demo (seeded); ``classify`` works on any LAEA coordinates."""

    def __init__(
        self, seed: int, lake_center: tuple[float, float], road_anchor: tuple[float, float]
    ):
        self.salt = int(seed) * 7919 + 17
        self.lake_center = lake_center
        self.road_anchor = road_anchor
        self._classes = _class_table()
        w = np.cumsum([z[0] for z in ZONES])
        self._zone_edges = w / w[-1]
        rng = np.random.default_rng([seed, 4242])
        self._lake_phase = rng.uniform(0, 2 * np.pi, 2)

    def classify(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class index (uint8) and parcel key (int64, < 0 for lake and road) at LAEA (x, y)."""
        x, y = _snap_to_nodes(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        zone_key = voronoi(x, y, ZONE_CELL_M, self.salt)
        zone = np.searchsorted(self._zone_edges, unit(_key_hash(zone_key, self.salt), 3))
        parcel = voronoi(x, y, PARCEL_CELL_M, self.salt + 1)
        u = unit(_key_hash(parcel, self.salt + 1), 4)
        cls = self._classes[np.minimum(zone, len(ZONES) - 1), (u * 1000).astype(np.int64)]
        road = self._road(x, y)
        cls = np.where(road, ROAD, cls).astype(np.uint8)
        parcel = np.where(road, -2, parcel)
        lake = self._lake(x, y)
        return np.where(lake, WATER, cls).astype(np.uint8), np.where(lake, -1, parcel)

    def _lake(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """An irregular ellipse (~1 km × 0.7 km) around the lake centre."""
        dx, dy = x - self.lake_center[0], y - self.lake_center[1]
        c, s = np.cos(0.45), np.sin(0.45)
        u, v = (c * dx + s * dy) / 520.0, (-s * dx + c * dy) / 360.0
        theta = np.arctan2(v, u)
        edge = (
            1.0
            + 0.12 * np.sin(3 * theta + self._lake_phase[0])
            + 0.07 * np.sin(5 * theta + self._lake_phase[1])
        )
        return np.hypot(u, v) < edge

    def _road(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Two straight roads through the road anchor (ENE and NNW)."""
        ax, ay = self.road_anchor
        on_road = np.zeros(x.shape, dtype=bool)
        for angle in (np.radians(28.0), np.radians(103.0)):
            dist = np.abs((x - ax) * np.sin(angle) - (y - ay) * np.cos(angle))
            on_road |= dist < ROAD_HALF_WIDTH_M
        return on_road


def _key_hash(key: np.ndarray, salt: int) -> np.ndarray:
    return cell_hash(key >> 32, key & 0xFFFFFFFF, salt)


def _snap_to_nodes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Within NODE_GUARD_M of a 2 km grid node, evaluate the map at the node itself."""
    nx = np.round(x / NODE_SPACING_M) * NODE_SPACING_M
    ny = np.round(y / NODE_SPACING_M) * NODE_SPACING_M
    near = (x - nx) ** 2 + (y - ny) ** 2 < NODE_GUARD_M**2
    return np.where(near, nx, x), np.where(near, ny, y)
