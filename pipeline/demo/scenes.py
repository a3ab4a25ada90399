"""From datatakes to files: render each tile of each pass, set the markers, write COGs + items.

Kept apart from :mod:`pipeline.demo.archive` (which decides *what* the demo holds) because
this is the loop that costs time: one sky per datatake (shared by both tiles), one render per
tile, eleven sparse COGs per item.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import rasterio

from exports.grid import point_utm, utm_epsg
from lucas.errors import ConfigError
from pipeline.demo.geo import Layout, Node, TileSpec
from pipeline.demo.geotiff import write_cog
from pipeline.demo.landcover import LandCover
from pipeline.demo.lucas_harmonised import SurveyedPoint
from pipeline.demo.raster import Rendered, SkyFields, StaticFields, TileRenderer
from pipeline.demo.sky import Datatake, SkyGrid, smooth_field
from pipeline.demo.stac import BANDS, item_id, make_item, scl_properties

log = logging.getLogger(__name__)

MIN_PASSES_PER_WORKER = 8  # below this a worker process costs more than it saves
BOA_OFFSET = 1000  # added to reflectance from processing baseline 04.00 (25 Jan 2022) on
# Year -> L2A processing baseline of the demo archive and its BOA offset. 2015 and 2016: the
# reprocessed archive (ESA Collection 1, baseline 05.00), which carries the offset too.
_BASELINES = {2015: ("05.00", BOA_OFFSET), 2016: ("05.00", BOA_OFFSET), 2017: ("02.05", 0),
              2018: ("02.06", 0), 2019: ("02.12", 0), 2020: ("02.14", 0), 2021: ("03.00", 0)}
FIRST_YEAR, LAST_YEAR = 2015, 2024


@dataclass(frozen=True)
class Marker:
    """A pixel the generator set on purpose: ``band`` of ``item_id`` at (row, col) = ``value``.

    (row, col) is the pixel of the band's own grid (10 m or 20 m) that contains the point's
    theoretical location projected to the item's CRS (``epsg``); ``cross_zone`` when that CRS
    is not the UTM zone of the point's longitude. ``value`` is the raw stored DN.
    """

    point_id: int
    item_id: str
    band: str  # ALL_BANDS name, e.g. "B4", "B8A", "B11"
    value: int
    row: int
    col: int
    epsg: int
    cross_zone: bool


@dataclass(frozen=True)
class MarkerSpec:
    node: Node
    datatake: int
    tile: str
    band: str


def marker_plan(datatakes: list[Datatake], west: Node, east: Node) -> list[MarkerSpec]:
    """Markers on the two clear passes, on the tile the pipeline must use on that pass.

    Pass A: 33TTN is over the no-data limit, so both points come from 32TQT (the east point
    across the zone boundary). Pass B: the reverse. Bands at 10 m and 20 m.
    """
    a, b = (d.index for d in datatakes if d.marker)
    return [
        MarkerSpec(west, a, "32TQT", "B4"),
        MarkerSpec(west, a, "32TQT", "B8"),
        MarkerSpec(east, a, "32TQT", "B4"),
        MarkerSpec(east, a, "32TQT", "B11"),
        MarkerSpec(east, b, "33TTN", "B8A"),
        MarkerSpec(west, b, "33TTN", "B4"),
    ]


def processing_baseline(year: int) -> tuple[str, int]:
    """The L2A processing baseline of a year's archive and its reflectance offset."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ConfigError(
            f"year={year}: the demo covers {FIRST_YEAR} (Sentinel-2A from July) to {LAST_YEAR} "
            "(flag --year)"
        )
    return _BASELINES.get(year, ("04.00", BOA_OFFSET))


class SceneMaker:
    """Renders and writes every item of the demo."""

    def __init__(
        self,
        layout: Layout,
        landcover: LandCover,
        points: list[SurveyedPoint],
        window_m: float | None,
        year: int,
        seed: int,
        offset_applied: bool = False,
    ) -> None:
        self.layout, self.seed = layout, seed
        self.baseline, baseline_offset = processing_baseline(year)
        # What the COGs hold on top of reflectance: none once the catalog removed it.
        self.offset = 0 if offset_applied else baseline_offset
        self.offset_applied = offset_applied and baseline_offset > 0
        self.grid = SkyGrid.around(layout.extent)
        snow = _snow_field(self.grid, seed)
        texture = smooth_field(np.random.default_rng([seed, 404]), self.grid, (800, 300, 120))
        self.statics = StaticFields(self.grid, texture, snow)
        self._snow_sorted = np.sort(self.grid.inside(snow, layout.extent).ravel())
        size = 0 if window_m is None else 2 * round(window_m / 20)
        self.renderers: dict[str, TileRenderer] = {}
        for tile in layout.tiles:
            held = [p.node for p in points if tile.name in layout.coverage[p.node.point_id]]
            origins = None if window_m is None else [_origin(tile, n, size) for n in held]
            self.renderers[tile.name] = TileRenderer(
                tile, origins, size, landcover, self.statics, seed
            )

    def write_all(
        self, root: Path, datatakes: list[Datatake], plan: list[MarkerSpec], workers: int = 1
    ) -> tuple[list[pystac.Item], list[Marker]]:
        """Every item of every pass (passes in parallel with ``workers`` > 1; same bytes)."""
        jobs = [(root, dt, [s for s in plan if s.datatake == dt.index]) for dt in datatakes]
        workers = min(workers, os.cpu_count() or 1, len(jobs) // MIN_PASSES_PER_WORKER)
        if workers > 1 and "fork" in mp.get_all_start_methods():
            global _MAKER
            _MAKER = self  # inherited by the forked workers, never pickled
            try:
                with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                    results = list(pool.map(_write_pass, jobs, chunksize=2))
            finally:
                _MAKER = None
        else:
            results = [self.write_pass(*job) for job in jobs]
        items: list[pystac.Item] = []
        markers: list[Marker] = []
        for dt, (stats, marked) in zip(datatakes, results, strict=True):
            for tile in self.layout.tiles:
                folder = root / item_id(dt, tile)
                items.append(
                    make_item(dt, tile, folder, stats[tile.name], self.baseline, self.offset,
                              self.offset_applied)
                )
            markers += marked
        return items, markers

    def write_pass(
        self, root: Path, dt: Datatake, specs: list[MarkerSpec]
    ) -> tuple[dict[str, dict[str, float]], list[Marker]]:
        """Render and write both tiles of one pass; return their SCL statistics and markers."""
        sky = self.sky(dt)
        stats: dict[str, dict[str, float]] = {}
        markers: list[Marker] = []
        with rasterio.Env():
            for tile in self.layout.tiles:
                renderer = self.renderers[tile.name]
                rendered = renderer.render(dt, sky)
                if self.offset:
                    _add_offset(rendered, self.offset)
                iid = item_id(dt, tile)
                markers += [_mark(rendered, renderer, s, iid) for s in specs if s.tile == tile.name]
                folder = root / iid
                folder.mkdir()
                for band, info in BANDS.items():
                    write_cog(folder / f"{info.esa}.tif", tile, info.gsd, renderer.origins_or_none,
                              rendered.bands[band])  # fmt: skip
                nodata = renderer.wedge_share(dt.wedges.get(tile.name))
                stats[tile.name] = scl_properties(rendered.scl_counts, nodata)
        if dt.index % 20 == 0:
            log.info("demo: pass %d (%s) written", dt.index + 1, f"{dt.sensed:%Y-%m-%d}")
        return stats, markers

    def sky(self, dt: Datatake) -> SkyFields:
        """The datatake's cloud and cirrus fields, thresholds for its shares, shadow shift."""
        rng = np.random.default_rng([self.seed, 202, dt.index])
        extent = self.layout.extent
        cloud, thr8, thr9 = None, math.inf, math.inf
        if dt.cloud > 0:
            scale = float(rng.uniform(0.6, 1.6))
            cloud = smooth_field(
                rng, self.grid, tuple(s * scale for s in (3000, 1500, 750, 375, 190))
            )
            inside = self.grid.inside(cloud, extent)
            thr8 = float(np.quantile(inside, 1 - dt.cloud))
            thr9 = float(np.quantile(inside, 1 - 0.55 * dt.cloud))
        cirrus, thr_c = None, math.inf
        if dt.cirrus > 0:
            cirrus = smooth_field(rng, self.grid, (6000, 3000, 1200, 500))
            thr_c = float(np.quantile(self.grid.inside(cirrus, extent), 1 - dt.cirrus))
        snow_thr = math.inf
        if dt.snow > 0:
            k = min(int((1 - dt.snow) * self._snow_sorted.size), self._snow_sorted.size - 1)
            snow_thr = float(self._snow_sorted[k])
        azimuth, elevation = dt.sun()
        length = min(max(1500.0 / math.tan(math.radians(max(elevation, 5.0))), 400.0), 3500.0)
        shift = (length * math.sin(math.radians(azimuth)), length * math.cos(math.radians(azimuth)))
        return SkyFields(self.grid, cloud, thr8, thr9, cirrus, thr_c, snow_thr, shift)


_MAKER: SceneMaker | None = None  # the SceneMaker of a forked worker


def _write_pass(
    job: tuple[Path, Datatake, list[MarkerSpec]],
) -> tuple[dict[str, dict[str, float]], list[Marker]]:
    if _MAKER is None:
        raise RuntimeError("demo worker started without a SceneMaker")
    return _MAKER.write_pass(*job)


def _snow_field(grid: SkyGrid, seed: int) -> np.ndarray:
    """Static snow-proneness: smooth noise plus a rise to the south (the Kitzbühel Alps)."""
    field = smooth_field(np.random.default_rng([seed, 303]), grid, (5000, 2000, 800, 300))
    y = (np.arange(grid.ny) + 0.5) / grid.ny
    return (field + 1.2 * (0.5 - y)[:, None]).astype(np.float32)


def _origin(tile: TileSpec, node: Node, size: int) -> tuple[int, int]:
    """Top-left 10 m pixel (even, so 20 m aligned) of the window centred on a point."""
    x, y = point_utm(node.lat, node.lon, tile.epsg)
    row, col = tile.pixel(x, y, 10)
    r0, c0 = row - size // 2, col - size // 2
    return r0 - r0 % 2, c0 - c0 % 2


def _add_offset(rendered: Rendered, offset: int) -> None:
    """Baseline >= 04.00: stored DN = reflectance + 1000 (no-data stays 0)."""
    for band, arr in rendered.bands.items():
        if band != "SCL":
            valid = arr > 0
            arr[valid] = np.minimum(arr[valid].astype(np.int64) + offset, 65535).astype(arr.dtype)


def _mark(rendered: Rendered, renderer: TileRenderer, spec: MarkerSpec, iid: str) -> Marker:
    """Set a plausible but distinctive value in the pixel holding the point; return the marker."""
    tile = renderer.tile
    res = BANDS[spec.band].gsd
    x, y = point_utm(spec.node.lat, spec.node.lon, tile.epsg)
    where = renderer.window_pixel(x, y, res)
    if where is None:
        raise RuntimeError(f"marker point {spec.node.point_id} not rendered in {iid}")
    n, r, c = where
    arr = rendered.bands[spec.band]
    v = int(arr[n, r, c])
    around = arr[n, max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
    value = next(
        cand
        for off in (37, 63, 81, 19, 43)
        if (cand := (v // 100) * 100 + off) != v and cand >= 1 and not np.any(around == cand)
    )
    arr[n, r, c] = value
    row, col = tile.pixel(x, y, res)
    cross = utm_epsg(spec.node.lat, spec.node.lon) != tile.epsg
    return Marker(spec.node.point_id, iid, spec.band, value, row, col, tile.epsg, cross)
