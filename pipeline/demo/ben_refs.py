"""The BigEarthNet demo's reference layers: a CORINE-like land cover vector, two countries.

``clc_demo.gpkg`` imitates Copernicus's ``U2018_CLC2018_V2020_20u1.gpkg``: EPSG:3035
polygons with a text ``Code_18`` (CLC Level-3), ``ID`` and ``Area_Ha``. It is the demo's
land-cover map (the one the Sentinel-2 and Sentinel-1 rasters are rendered from) sampled on a
100 m LAEA grid and converted to CLC codes (:data:`CLC_OF_CLASS`), with on top: a road
corridor (122) along the map's roads, an airport (124) over two patches, and an uncovered
strip along the western edge (no polygon: reference maps say 999 there). The per-patch
shares are computed from the same grid, pixel centre by pixel centre, as a reference map
made from the polygons would be.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
from affine import Affine
from rasterio import features
from shapely.geometry import Polygon, shape

from pipeline.demo.ben_s2 import EPSG, PATCH_M, PATCHES, SIDE_M, TILE_UL, laea_extent
from pipeline.demo.geo import LAEA_EPSG, transformer
from pipeline.demo.landcover import CLASSES, LandCover

CLC_LAYER = "U2018_CLC2018_V2020_20u1"
CLC_CELL_M = 100.0
# LUCAS LC1 class of the demo map -> CLC 2018 Level-3 code
CLC_OF_CLASS: dict[str, str] = {
    "A11": "112", "A22": "122", "A30": "121", "B11": "211", "B13": "211", "B16": "211",
    "C10": "311", "C21": "312", "D20": "324", "E10": "321", "E20": "231", "F10": "332",
    "F40": "133", "G11": "512",
}  # fmt: skip
# The codes the demo can write that BigEarthNet's 19-class nomenclature leaves UNLABELED
# (from the CLC -> 19 classes table; 999 = no polygon).
UNLABELED = frozenset({"122", "124", "133", "332", "999"})
ROAD_CODE, AIRPORT_CODE, UNCOVERED = "122", "124", "999"
ROAD_CORRIDOR_M = 50.0  # half-width of the 122 corridor along the map's roads
AIRPORT_PATCHES = ((4, 4), (5, 4))  # (x, y): patches covered by the airport polygon
AIRPORT_MARGIN_M = 75.0  # > half a cell's diagonal: the 100 m LAEA cells are rotated in UTM
UNCOVERED_EAST_M = 900.0  # no polygon from the raster's west edge to this far east
COUNTRY_SPLIT = ((-200.0, 2400.0), (7700.0, 5600.0))  # metres from the tile UL: the border
GERMANY, AUSTRIA = "Germany", "Austria"


def _utm(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = transformer(LAEA_EPSG, EPSG).transform(px.ravel(), py.ravel())
    return np.asarray(x).reshape(px.shape), np.asarray(y).reshape(py.shape)


class ClcGrid:
    """CLC codes (int, 0 = no polygon) on a 100 m LAEA grid over the demo area."""

    def __init__(self, landcover: LandCover) -> None:
        x0, y0, x1, y1 = laea_extent(margin=300.0)
        c = CLC_CELL_M
        self.x0, self.y1 = math.floor(x0 / c) * c, math.ceil(y1 / c) * c
        self.nx = math.ceil((x1 - self.x0) / c)
        self.ny = math.ceil((self.y1 - y0) / c)
        cx = self.x0 + (np.arange(self.nx) + 0.5) * c
        cy = self.y1 - (np.arange(self.ny) + 0.5) * c
        lx, ly = np.meshgrid(cx, cy)
        cls, _ = landcover.classify(lx, ly)
        lut = np.array([int(CLC_OF_CLASS[k.code]) for k in CLASSES], dtype=np.int32)
        codes = lut[cls]
        ux, uy = _utm(lx, ly)
        codes = np.where(_near_roads(landcover, lx, ly), int(ROAD_CODE), codes)
        m = AIRPORT_MARGIN_M  # cells reaching into the patch too: it is airport throughout
        for px, py in AIRPORT_PATCHES:
            x0, y0 = TILE_UL[0] + px * PATCH_M, TILE_UL[1] - py * PATCH_M
            inside = (ux >= x0 - m) & (ux < x0 + PATCH_M + m)
            inside &= (uy <= y0 + m) & (uy > y0 - PATCH_M - m)
            codes = np.where(inside, int(AIRPORT_CODE), codes)
        self.codes = np.where(ux < TILE_UL[0] + UNCOVERED_EAST_M, 0, codes).astype(np.int32)
        self.transform = Affine(c, 0.0, self.x0, 0.0, -c, self.y1)

    def lookup(self, lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
        """The code at LAEA points (the cell holding each; 0 outside the grid)."""
        col = np.floor((lx - self.x0) / CLC_CELL_M).astype(np.int64)
        row = np.floor((self.y1 - ly) / CLC_CELL_M).astype(np.int64)
        ok = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        out = np.zeros(lx.shape, np.int32)
        out[ok] = self.codes[row[ok], col[ok]]
        return out

    def polygons(self) -> gpd.GeoDataFrame:
        """One polygon per 4-connected run of a code (no polygon where the code is 0)."""
        rows = [
            (f"{int(v):03d}", shape(geom))
            for geom, v in features.shapes(self.codes, mask=self.codes > 0,
                                           transform=self.transform, connectivity=4)
        ]  # fmt: skip
        rows.sort(key=lambda r: (r[0], r[1].bounds))
        geoms = [g for _, g in rows]
        return gpd.GeoDataFrame(
            {
                "Code_18": [code for code, _ in rows],
                "ID": [f"EU_{i + 1}" for i in range(len(rows))],
                "Area_Ha": [round(g.area / 10000.0, 6) for g in geoms],
            },
            geometry=geoms,
            crs=f"EPSG:{LAEA_EPSG}",
        )

    def patch_shares(self) -> list[dict[str, object]]:
        """Per complete patch: CLC codes present, % uncovered, % UNLABELED (incl. uncovered),
        sampled at the 10 m pixel centres."""
        n = PATCH_M // 10
        centres = (np.arange(n) + 0.5) * 10.0
        out = []
        for py in range(PATCHES):
            for px in range(PATCHES):
                gx, gy = np.meshgrid(TILE_UL[0] + px * PATCH_M + centres,
                                     TILE_UL[1] - py * PATCH_M - centres)  # fmt: skip
                lx, ly = transformer(EPSG, LAEA_EPSG).transform(gx.ravel(), gy.ravel())
                codes = self.lookup(np.asarray(lx), np.asarray(ly))
                text = np.where(codes == 0, int(UNCOVERED), codes)
                unlabeled = np.isin(text, [int(c) for c in UNLABELED])
                out.append({
                    "x": px,
                    "y": py,
                    "codes": sorted(f"{int(c):03d}" for c in np.unique(text)),
                    "uncovered_percent": round(100.0 * float(np.mean(codes == 0)), 4),
                    "unlabeled_percent": round(100.0 * float(np.mean(unlabeled)), 4),
                })  # fmt: skip
        return out


def _near_roads(landcover: LandCover, lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
    """Within ROAD_CORRIDOR_M of the map's two roads (:meth:`LandCover._road`'s lines)."""
    ax, ay = landcover.road_anchor
    near = np.zeros(lx.shape, dtype=bool)
    for angle in (np.radians(28.0), np.radians(103.0)):
        near |= np.abs((lx - ax) * np.sin(angle) - (ly - ay) * np.cos(angle)) < ROAD_CORRIDOR_M
    return near


@contextmanager
def _fixed_gpkg_date() -> Iterator[None]:
    """GeoPackages record their write time; pin it so the same seed gives the same bytes."""
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2020-01-01T00:00:00Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def write_gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _fixed_gpkg_date():
        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")


def country_of(x: float, y: float) -> str:
    """Which side of the demo border a UTM point lies: Germany north-west, Austria south-east."""
    (ax, ay), (bx, by) = COUNTRY_SPLIT
    ax, bx = TILE_UL[0] + ax, TILE_UL[0] + bx
    ay, by = TILE_UL[1] - ay, TILE_UL[1] - by
    side = (bx - ax) * (y - ay) - (by - ay) * (x - ax)
    return GERMANY if side > 0 else AUSTRIA


def countries() -> gpd.GeoDataFrame:
    """Two polygons (WGS84, field ``name``) split along COUNTRY_SPLIT, 5 km beyond the area."""
    (ax, ay), (bx, by) = COUNTRY_SPLIT
    m = 5000.0
    x0, x1 = TILE_UL[0] - m, TILE_UL[0] + SIDE_M + m
    y0, y1 = TILE_UL[1] - SIDE_M - m, TILE_UL[1] + m
    slope = (by - ay) / (bx - ax)  # metres south per metre east
    yl = TILE_UL[1] - (ay + (x0 - TILE_UL[0] - ax) * slope)
    yr = TILE_UL[1] - (ay + (x1 - TILE_UL[0] - ax) * slope)
    rings = {
        GERMANY: [(x0, yl), (x1, yr), (x1, y1), (x0, y1)],
        AUSTRIA: [(x0, y0), (x1, y0), (x1, yr), (x0, yl)],
    }
    to_ll = transformer(EPSG, 4326)
    geoms = []
    for ring in rings.values():
        dense = _densify(ring, 10)
        lon, lat = to_ll.transform([p[0] for p in dense], [p[1] for p in dense])
        geoms.append(Polygon([(round(a, 7), round(b, 7)) for a, b in zip(lon, lat, strict=True)]))
    return gpd.GeoDataFrame({"name": list(rings)}, geometry=geoms, crs="EPSG:4326")


def _densify(ring: list[tuple[float, float]], k: int) -> list[tuple[float, float]]:
    """``k`` points per edge, so the border stays straight enough in UTM after reprojection."""
    out = []
    for (ax, ay), (bx, by) in zip(ring, ring[1:] + ring[:1], strict=True):
        out += [(ax + (bx - ax) * t / k, ay + (by - ay) * t / k) for t in range(k)]
    return out
