"""The demo's Sentinel-1 archive: a year of RTC slices (linear γ0 VV/VH) over the points.

``S1Maker.write_all`` writes, beside the Sentinel-2 catalog and from the same ground (the
land-cover map of :mod:`pipeline.demo.landcover`), one static STAC catalog of Planetary
Computer ``sentinel-1-rtc`` style items (:mod:`pipeline.demo.s1_stac`) for the passes of
:mod:`pipeline.demo.s1_passes`:

- each track has one raster grid over the whole demo area, on the 10 m UTM grid (pixel
  edges on multiples of 10 m) of its own zone: descending slices in EPSG:32632, ascending
  ones in EPSG:32633, so every point is served by slices of both zones;
- as for Sentinel-2 only *windows* around the points are rendered (the rest of the raster is
  no-data 0 and not stored); a slice holds the windows of the points inside its footprint;
- backscatter in dB by land-cover class and season (water dark, forest steady, crops and
  grassland brighter in summer, built-up bright), a static per-parcel offset, a per-pass
  parcel jitter and speckle (2 × 2 pixel cells, seeded), stored as linear float32;
- a split pass has two slices cut across the area by a straight frame boundary, overlapping
  by 4 km (two rows of grid nodes lie in both), the first slice with a no-data strip of
  varying width along its edge in the overlap, so the slice with less no-data in a point's
  patch is not always the earlier one.

Markers: on two clear passes (one per track, single-slice) the west and east marker points
get a distinctive VV value in exactly the pixel holding their theoretical location on the
slice's own grid (same zone for one, across the zone boundary for the other).
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import rasterio

from exports.grid import patch_grid, point_utm, utm_epsg
from pipeline.demo.geo import (
    EXTENT_MARGIN_M,
    LAEA_EPSG,
    MIN_EDGE_M,
    NODE_SPACING_M,
    Layout,
    Node,
    TileSpec,
    tile_over,
    transformer,
)
from pipeline.demo.geotiff import GTiffOptions, mosaic, write_geotiff
from pipeline.demo.landcover import CLASSES, LandCover, cell_hash, unit
from pipeline.demo.lucas_harmonised import SurveyedPoint
from pipeline.demo.s1_passes import TRACKS, S1Pass, Track
from pipeline.demo.s1_stac import ASSET_FILES, make_s1_item

log = logging.getLogger(__name__)

MIN_PASSES_PER_WORKER = 16  # below this a worker process costs more than it saves
S1_WINDOW_M = 760.0  # 640 m patch rotated up to 4.4° (cross-zone) + resampling margin
OVERLAP_ROWS = 2  # grid-node rows in both slices of a split pass
STRIP_WIDTHS_M = (300.0, 1600.0)  # no-data strip width at one side of the area, the other
# Speckle: per 2 × 2 pixel cell (~ the IW GRD resolution) and pass, a level of -2 … +2 steps
# of SPECKLE_DB (VV, VH) dB with these probabilities (std ≈ 0.85 steps). Few levels keep the
# float32 COGs compressible: DEFLATE pays per distinct run, not per bit of entropy.
SPECKLE_DB = (1.0, 1.2)
SPECKLE_P = (0.055, 0.145, 0.6, 0.145, 0.055)
_SPECKLE_CDF = np.cumsum(SPECKLE_P)[:-1].astype(np.float32)
DB_STEP = 0.1  # the ground's dB (class, season, parcel) is quantised to this step
MANTISSA_BITS = 12  # linear values keep this many mantissa bits (compressible, ±0.001 dB)
S1_GTIFF_OPTIONS: GTiffOptions = {
    "driver": "GTiff",
    "tiled": True,
    "blockxsize": 64,  # small blocks: windows touch fewer pixels than with 128 (faster)
    "blockysize": 64,
    "compress": "DEFLATE",
    "zlevel": 4,  # float32 speckle: level 6 costs a third more time for 5 % smaller files
    "sparse_ok": True,
}

# class code -> (VV winter, VV summer, VH winter, VH summer) dB, day of the summer peak,
# per-parcel spread (±dB, static) and per-pass parcel jitter (±dB)
_BACKSCATTER: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "A11": (-4.0, -4.0, -11.0, -11.0, 200, 1.0, 0.2),
    "A22": (-13.0, -13.0, -20.0, -20.0, 200, 0.5, 0.2),
    "A30": (-6.0, -6.0, -13.0, -13.0, 200, 1.0, 0.2),
    "B11": (-14.0, -9.0, -21.0, -15.0, 165, 0.8, 0.5),
    "B13": (-14.0, -9.5, -21.0, -15.5, 150, 0.8, 0.5),
    "B16": (-14.5, -8.5, -22.0, -14.5, 215, 0.8, 0.5),
    "C10": (-7.3, -6.8, -13.3, -12.7, 200, 0.4, 0.15),
    "C21": (-7.0, -7.0, -13.0, -13.0, 200, 0.4, 0.15),
    "D20": (-10.0, -9.0, -17.0, -15.5, 200, 0.6, 0.3),
    "E10": (-12.5, -10.0, -19.5, -16.0, 190, 0.7, 0.4),
    "E20": (-13.5, -10.0, -20.5, -16.0, 180, 0.7, 0.5),
    "F10": (-9.0, -9.0, -17.0, -17.0, 200, 1.0, 0.2),
    "F40": (-12.0, -12.0, -20.0, -20.0, 200, 0.6, 0.3),
    "G11": (-20.0, -20.0, -27.0, -27.0, 200, 0.3, 0.3),
}
_TABLE = np.array([_BACKSCATTER[c.code] for c in CLASSES], dtype=np.float64)


def backscatter_db(doy: float) -> tuple[np.ndarray, np.ndarray]:
    """(VV, VH) dB of every class (index as :data:`CLASSES`) on day of year ``doy``."""
    season = 0.5 + 0.5 * np.cos(2 * np.pi * (doy - _TABLE[:, 4]) / 365.25)
    vv = _TABLE[:, 0] + (_TABLE[:, 1] - _TABLE[:, 0]) * season
    vh = _TABLE[:, 2] + (_TABLE[:, 3] - _TABLE[:, 2]) * season
    return vv, vh


def to_linear(db: np.ndarray) -> np.ndarray:
    """10^(dB/10) as float32, the mantissa rounded to MANTISSA_BITS (DEFLATE likes zeros)."""
    lin = np.power(np.float32(10.0), (db / 10.0).astype(np.float32)).astype(np.float32)
    drop = 23 - MANTISSA_BITS
    bits = lin.view(np.uint32)
    bits = (bits + np.uint32(1 << (drop - 1))) & np.uint32((0xFFFFFFFF << drop) & 0xFFFFFFFF)
    return bits.view(np.float32)


def float32_db(value: float) -> float:
    """10·log10(v) as a reader computes it on a float32 array."""
    return float((10 * np.log10(np.array([value], dtype=np.float32)))[0])


@dataclass(frozen=True)
class S1Marker:
    """A pixel set on purpose: ``band`` of ``item_id`` at (row, col) holds ``value`` (linear).

    (row, col) is the pixel of the slice's 10 m grid (``epsg``) that contains the point's
    theoretical location; ``db`` = 10·log10(value) in float32; ``cross_zone`` when ``epsg``
    is not the UTM zone of the point's longitude.
    """

    point_id: int
    item_id: str
    band: str  # "VV"
    value: float
    db: float
    row: int
    col: int
    epsg: int
    cross_zone: bool


@dataclass(frozen=True)
class Cut:
    """A frame boundary across a track's raster: the straight line through (left, y_left)
    and (right, y_right) in the raster CRS; a slice keeps the ``side`` north or south of it."""

    y_left: float
    y_right: float
    side: str  # "north" or "south"

    def distance(self, spec: TileSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """How far (m, vertically) (x, y) lies inside the kept side (negative: outside)."""
        left, _, right, _ = spec.bounds
        line = self.y_left + (x - left) * (self.y_right - self.y_left) / (right - left)
        return y - line if self.side == "north" else line - y


@dataclass(frozen=True)
class SliceShape:
    """Where a slice has data on its track's raster: the whole area, or one side of a cut,
    with a no-data strip along the cut (width at the left and right raster edges, m)."""

    cut: Cut | None = None
    strip: tuple[float, float] | None = None

    def valid(self, spec: TileSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the pixels centred at raster-CRS (x, y) hold data."""
        x, y = np.broadcast_arrays(x, y)
        if self.cut is None:
            return np.ones(x.shape, dtype=bool)
        d = self.cut.distance(spec, x, y)
        ok = d >= 0
        if self.strip is not None:
            left, _, right, _ = spec.bounds
            w = self.strip[0] + (x - left) * (self.strip[1] - self.strip[0]) / (right - left)
            ok &= d >= w
        return np.asarray(ok)

    def holds(self, spec: TileSpec, x: float, y: float) -> bool:
        """Whether the footprint holds (x, y) with MIN_EDGE_M margin (as S2 tiles do)."""
        if not spec.contains(x, y, MIN_EDGE_M):
            return False
        return self.cut is None or float(self.cut.distance(spec, np.array(x), np.array(y))) >= (
            MIN_EDGE_M
        )

    def ring(self, spec: TileSpec) -> list[tuple[float, float]]:
        """The footprint in the raster CRS, counter-clockwise from the south-west, closed."""
        left, bottom, right, top = spec.bounds
        if self.cut is None:
            return [(left, bottom), (right, bottom), (right, top), (left, top), (left, bottom)]
        yl, yr = self.cut.y_left, self.cut.y_right
        if self.cut.side == "north":
            yl, yr = max(yl, bottom), max(yr, bottom)
            return [(left, yl), (right, yr), (right, top), (left, top), (left, yl)]
        yl, yr = min(yl, top), min(yr, top)
        return [(left, bottom), (right, bottom), (right, yr), (left, yl), (left, bottom)]

    def ring_lonlat(self, spec: TileSpec) -> list[tuple[float, float]]:
        xs, ys = zip(*self.ring(spec), strict=True)
        lon, lat = transformer(spec.epsg, 4326).transform(list(xs), list(ys))
        return [(float(a), float(b)) for a, b in zip(lon, lat, strict=True)]


class S1Grid:
    """One track's raster grid: the windows around the points and their static ground."""

    def __init__(
        self,
        track: Track,
        spec: TileSpec,
        points: list[SurveyedPoint],
        window_m: float | None,
        landcover: LandCover,
    ) -> None:
        self.track, self.spec, self.salt = track, spec, landcover.salt
        self.nodes = [p.node for p in points]
        if window_m is None:  # the whole raster as one window
            self.origins, (h, w) = [(0, 0)], spec.shape(10)
        else:
            h = w = 2 * round(min(window_m, S1_WINDOW_M) / 20)
            self.origins = [self._origin(n, h) for n in self.nodes]
        self.full = window_m is None
        self.size = (h, w)
        r0 = np.array([o[0] for o in self.origins])[:, None, None]
        c0 = np.array([o[1] for o in self.origins])[:, None, None]
        rows, cols = np.broadcast_arrays(r0 + np.arange(h)[None, :, None],
                                         c0 + np.arange(w)[None, None, :])  # fmt: skip
        self.x = spec.x_min + (cols + 0.5) * 10.0
        self.y = spec.y_max - (rows + 0.5) * 10.0
        lx, ly = transformer(spec.epsg, LAEA_EPSG).transform(self.x.ravel(), self.y.ravel())
        classes, keys = landcover.classify(np.asarray(lx).reshape(self.x.shape),
                                           np.asarray(ly).reshape(self.x.shape))  # fmt: skip
        self.classes = classes
        unique, inverse = np.unique(keys * 16 + classes, return_inverse=True)
        self.parcel = inverse.reshape(keys.shape).astype(np.int32)
        self.parcel_keys = unique // 16
        self.parcel_classes = (unique % 16).astype(np.intp)
        spread = _TABLE[self.parcel_classes, 5]
        h0 = _parcel_hash(self.parcel_keys, self.salt + 1601)
        self.parcel_db = (
            ((unit(h0, 1) * 2 - 1) * spread).astype(np.float32),
            ((unit(h0, 2) * 2 - 1) * spread).astype(np.float32),
        )

    def _origin(self, node: Node, size: int) -> tuple[int, int]:
        x, y = point_utm(node.lat, node.lon, self.spec.epsg)
        row, col = self.spec.pixel(x, y, 10)
        return row - size // 2, col - size // 2

    def render(self, p: S1Pass, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(VV, VH) linear γ0 of every window on pass ``p``, (n, h, w) float32."""
        base = backscatter_db(p.doy)
        jitter = _TABLE[self.parcel_classes, 6]
        h1 = _parcel_hash(self.parcel_keys, self.salt + 1602 + 7919 * p.index)
        rng = np.random.default_rng([seed, 1701, p.index])
        n, (h, w) = len(self.origins), self.size
        out = []
        for b in range(2):
            parcel = self.parcel_db[b] + ((unit(h1, 3 + b) * 2 - 1) * jitter).astype(np.float32)
            u = rng.random((n, (h + 1) // 2, (w + 1) // 2), dtype=np.float32)
            levels = (np.searchsorted(_SPECKLE_CDF, u) - 2).astype(np.float32)
            speckle = np.repeat(np.repeat(levels, 2, 1), 2, 2)[:, :h, :w]
            db = base[b].astype(np.float32)[self.classes] + parcel[self.parcel]
            db = np.round(db / DB_STEP) * DB_STEP + SPECKLE_DB[b] * speckle
            out.append(to_linear(db))
        return out[0], out[1]

    def held(self, shape: SliceShape) -> list[int]:
        """Windows of the points the slice's footprint holds (all: the whole-raster mode)."""
        if self.full:
            return [0]
        out = []
        for i, node in enumerate(self.nodes):
            x, y = point_utm(node.lat, node.lon, self.spec.epsg)
            if shape.holds(self.spec, x, y):
                out.append(i)
        return out

    def window_pixel(self, node: Node) -> tuple[int, int, int, int, int]:
        """(window, row, col) in the window and (row, col) on the raster of the pixel that
        holds the node's theoretical location."""
        x, y = point_utm(node.lat, node.lon, self.spec.epsg)
        row, col = self.spec.pixel(x, y, 10)
        h, w = self.size
        for i, (r0, c0) in enumerate(self.origins):
            if 0 <= row - r0 < h and 0 <= col - c0 < w:
                return i, row - r0, col - c0, row, col
        state = self.track.orbit_state
        raise RuntimeError(f"point {node.point_id} not rendered on the {state} grid")


def _parcel_hash(keys: np.ndarray, salt: int) -> np.ndarray:
    return cell_hash(keys >> 32, keys & 0xFFFFFFFF, salt)


@dataclass(frozen=True)
class MarkerSpec:
    node: Node
    pass_index: int


@dataclass
class S1Result:
    """What :meth:`S1Maker.write_all` wrote."""

    items: list[pystac.Item]
    markers: list[S1Marker]
    overlaps: list[dict[str, object]]
    passes: list[S1Pass]


class S1Maker:
    """Renders and writes every Sentinel-1 slice of the demo year."""

    def __init__(
        self,
        layout: Layout,
        landcover: LandCover,
        points: list[SurveyedPoint],
        window_m: float | None,
        seed: int,
    ) -> None:
        self.layout, self.points, self.seed = layout, points, seed
        self.grids = {
            t.orbit_state: S1Grid(t, tile_over(f"S1-{t.orbit_state}", t.epsg, list(layout.nodes)),
                                  points, window_m, landcover)
            for t in TRACKS
        }  # fmt: skip
        self.cuts = self._cuts()

    def _cuts(self) -> dict[str, tuple[Cut, Cut]]:
        """Per track: the southern edge of the first slice and the northern edge of the
        second (lines of constant LAEA northing midway between grid-node rows)."""
        x0, y0, x1, y1 = self.layout.extent
        rows = round((y1 - y0 - 2 * EXTENT_MARGIN_M) / NODE_SPACING_M) + 1
        j = max(0, (rows - OVERLAP_ROWS) // 2)
        lower = y0 + EXTENT_MARGIN_M + j * NODE_SPACING_M - NODE_SPACING_M / 2
        upper = lower + OVERLAP_ROWS * NODE_SPACING_M
        lower, upper = max(lower, y0), min(upper, y1)
        out = {}
        for state, grid in self.grids.items():
            left, _, right, _ = grid.spec.bounds
            lines = []
            for yy, side in ((lower, "north"), (upper, "south")):
                xs, ys = transformer(LAEA_EPSG, grid.spec.epsg).transform([x0, x1], [yy, yy])
                slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
                lines.append(Cut(float(ys[0] + (left - xs[0]) * slope),
                                 float(ys[0] + (right - xs[0]) * slope), side))  # fmt: skip
            out[state] = (lines[0], lines[1])
        return out

    def shapes(self, p: S1Pass) -> list[SliceShape]:
        """The data area of each slice of pass ``p`` (in time order)."""
        if not p.split:
            return [SliceShape()]
        first, second = self.cuts[p.track.orbit_state]
        strip = STRIP_WIDTHS_M if (p.track_index // 4) % 2 == 0 else STRIP_WIDTHS_M[::-1]
        return [SliceShape(first, strip), SliceShape(second)]

    def write_all(self, root: Path, passes: list[S1Pass], workers: int = 1) -> S1Result:
        """Every slice of every pass as vv/vh COGs + a STAC item; markers and overlaps.

        Passes are written by ``workers`` forked processes (capped by the CPU count); the
        files do not depend on it."""
        plan = self.marker_plan(passes)
        jobs = [(root, p, [s for s in plan if s.pass_index == p.index]) for p in passes]
        log.info("demo: %d Sentinel-1 passes", len(passes))
        workers = min(workers, os.cpu_count() or 1, len(jobs) // MIN_PASSES_PER_WORKER)
        if workers > 1 and "fork" in mp.get_all_start_methods():
            global _MAKER
            _MAKER = self  # inherited by the forked workers, never pickled
            try:
                with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                    results = list(pool.map(_write_pass, jobs, chunksize=4))
            finally:
                _MAKER = None
        else:
            results = [self.write_pass(*job) for job in jobs]
        items: list[pystac.Item] = []
        markers: list[S1Marker] = []
        overlaps: list[dict[str, object]] = []
        for p, (marked, overlap) in zip(passes, results, strict=True):
            grid = self.grids[p.track.orbit_state]
            shapes = self.shapes(p)
            for k, shape in enumerate(shapes):
                ring = shape.ring_lonlat(grid.spec)
                items.append(make_s1_item(p, k, len(shapes), grid.spec, ring, root / p.item_id(k)))
            markers += marked
            if overlap is not None:
                overlaps.append(overlap)
        return S1Result(items, markers, overlaps, passes)

    def write_pass(
        self, root: Path, p: S1Pass, specs: list[MarkerSpec]
    ) -> tuple[list[S1Marker], dict[str, object] | None]:
        """Render pass ``p`` and write its slices' COGs; return its markers and overlap."""
        grid = self.grids[p.track.orbit_state]
        vv, vh = grid.render(p, self.seed)
        shapes = self.shapes(p)
        markers: list[S1Marker] = []
        with rasterio.Env():
            for k, shape in enumerate(shapes):
                iid = p.item_id(k)
                held = grid.held(shape)
                mask = shape.valid(grid.spec, grid.x[held], grid.y[held])
                bands = {"VV": np.where(mask, vv[held], 0), "VH": np.where(mask, vh[held], 0)}
                if k == 0:
                    markers += [_mark(grid, held, bands["VV"], s.node, iid) for s in specs]
                folder = root / iid
                folder.mkdir(parents=True)
                origins = None if grid.full else [grid.origins[i] for i in held]
                for band, name in ASSET_FILES.items():
                    _write(folder / name, grid.spec, origins, bands[band])
        return markers, (self._overlap(p, grid, shapes) if p.split else None)

    def marker_plan(self, passes: list[S1Pass]) -> list[MarkerSpec]:
        """The west and east marker points on one single-slice summer pass of each track."""
        west, east = _marker_nodes(self.layout, self.points)
        out = []
        for track, doy in zip(TRACKS, (190.0, 200.0), strict=True):
            cands = [p for p in passes if p.track == track and not p.split]
            if cands:
                best = min(cands, key=lambda p: (abs(p.doy - doy), p.index))
                out += [MarkerSpec(west, best.index), MarkerSpec(east, best.index)]
        return out

    def _overlap(self, p: S1Pass, grid: S1Grid, shapes: list[SliceShape]) -> dict[str, object]:
        """The points in both slices of a split pass: each slice's patch no-data share
        (nearest: the slice pixel holding each patch pixel centre) and the one to keep."""
        ids = [p.item_id(k) for k in range(len(shapes))]
        both = set(grid.held(shapes[0])) & set(grid.held(shapes[1]))
        points = []
        for i in sorted(both, key=lambda i: grid.nodes[i].point_id):
            node = grid.nodes[i]
            pct = {iid: _patch_nodata(node, grid.spec, shape)
                   for iid, shape in zip(ids, shapes, strict=True)}  # fmt: skip
            kept = min(ids, key=lambda iid: (pct[iid], ids.index(iid)))
            points.append({"point_id": node.point_id, "nodata_percent": pct, "kept": kept})
        return {
            "datatake_id": f"{p.datatake_id:06X}",
            "items": ids,
            "strip_item": ids[0],
            "points": points,
        }


_MAKER: S1Maker | None = None  # the S1Maker of a forked worker


def _write_pass(
    job: tuple[Path, S1Pass, list[MarkerSpec]],
) -> tuple[list[S1Marker], dict[str, object] | None]:
    if _MAKER is None:
        raise RuntimeError("demo worker started without an S1Maker")
    return _MAKER.write_pass(*job)


def _patch_nodata(node: Node, spec: TileSpec, shape: SliceShape) -> float:
    """Percent of the point's 64 × 64 patch whose nearest slice pixel has no data."""
    g = patch_grid(node.lat, node.lon)
    centres = (np.arange(g.size) + 0.5) * g.pixel
    px, py = np.meshgrid(g.x_min + centres, g.y_max - centres)
    sx, sy = transformer(g.epsg, spec.epsg).transform(px.ravel(), py.ravel())
    cx = spec.x_min + (np.floor((np.asarray(sx) - spec.x_min) / 10.0) + 0.5) * 10.0
    cy = spec.y_max - (np.floor((spec.y_max - np.asarray(sy)) / 10.0) + 0.5) * 10.0
    return round(100.0 * float(np.mean(~shape.valid(spec, cx, cy))), 4)


def _marker_nodes(layout: Layout, points: list[SurveyedPoint]) -> tuple[Node, Node]:
    """The surveyed points nearest the centre west and east of 12°E."""
    cx = sum(n.x for n in layout.nodes) / len(layout.nodes)
    cy = sum(n.y for n in layout.nodes) / len(layout.nodes)
    out = []
    for side in (-1, 1):
        cands = [p.node for p in points if (p.node.lon - 12.0) * side > 0] or [
            p.node for p in points
        ]
        out.append(min(cands, key=lambda n: ((n.x - cx) ** 2 + (n.y - cy) ** 2, n.point_id)))
    return out[0], out[1]


def _mark(grid: S1Grid, held: list[int], vv: np.ndarray, node: Node, iid: str) -> S1Marker:
    """Set a distinctive VV value in the pixel holding the point; return the marker."""
    i, r, c, row, col = grid.window_pixel(node)
    if i not in held:
        raise RuntimeError(f"marker point {node.point_id} not in {iid}")
    arr = vv[held.index(i)]
    old = float(arr[r, c])
    around = arr[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
    base = math.floor(10 * math.log10(old))
    value = next((v for v in _marker_values(base) if not np.any(around == np.float32(v))), None)
    if value is None:  # pragma: no cover - hundreds of candidates never all fail
        raise RuntimeError(f"no marker value for point {node.point_id}")
    db = float32_db(value)
    arr[r, c] = value
    cross = utm_epsg(node.lat, node.lon) != grid.spec.epsg
    return S1Marker(node.point_id, iid, "VV", value, db, row, col, grid.spec.epsg, cross)


def _marker_values(base: int) -> Iterator[float]:
    """Linear values near ``base`` + 0.37, 0.63, … dB whose dB is the same float32 whether
    computed in float32 or in float64 (so any reader finds exactly the recorded dB)."""
    for off in (0.37, 0.63, 0.81, 0.19, 0.43):
        v = np.float32(10 ** ((base + off) / 10))
        for _ in range(64):
            if float32_db(float(v)) == float(np.float32(10 * math.log10(float(v)))):
                yield float(v)
            v = np.nextafter(v, np.float32(1.0))


def _write(path: Path, spec: TileSpec, origins: list[tuple[int, int]] | None,
           windows: np.ndarray) -> None:  # fmt: skip
    full = windows[0] if origins is None else mosaic(spec.shape(10), origins, windows, 1)
    write_geotiff(path, full.astype(np.float32), spec.transform(10), spec.epsg, S1_GTIFF_OPTIONS)
