"""The BigEarthNet demo's Sentinel-1 RTC slices: the same corner of 33UUP, both orbits.

Built with the LUCAS demo's radar machinery (:class:`~pipeline.demo.s1.S1Grid` renders the
backscatter of the land-cover map, :func:`~pipeline.demo.s1_stac.make_s1_item` shapes the
Planetary Computer ``sentinel-1-rtc`` items), on whole rasters in EPSG:32633 with pixel edges
on multiples of 10 m. Each Sentinel-2 scene but one gets an ascending slice the evening
before and, for every other scene, a descending one two mornings after; the scene left out
(:data:`NO_S1_SCENE`) has no slice within 3 days. One slice has a no-data strip along its
northern edge over the first row of patches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pystac
import rasterio

from pipeline.demo.geo import TileSpec
from pipeline.demo.geotiff import write_geotiff
from pipeline.demo.landcover import LandCover
from pipeline.demo.s1 import S1_GTIFF_OPTIONS, S1Grid, SliceShape
from pipeline.demo.s1_passes import S1Pass, Track, absolute_orbit, datatake_id
from pipeline.demo.s1_stac import ASSET_FILES, make_s1_item
from pipeline.demo.stac import save_catalog

S1_EPSG = 32633
ASCENDING = Track("ascending", 117, timedelta(hours=16, minutes=58, seconds=9), 0, S1_EPSG)
DESCENDING = Track("descending", 95, timedelta(hours=5, minutes=16, seconds=21), 0, S1_EPSG)
NO_S1_SCENE = 2  # index of the Sentinel-2 scene with no Sentinel-1 slice within 3 days
STRIP_SLICE = 0  # index of the slice with the no-data strip
STRIP_M = 700.0  # width of the strip south of the raster's northern patch edge
MARGIN_M = (60.0, 40.0)  # the slices' rasters extend this far beyond the S2 corner (x, y)


@dataclass(frozen=True)
class S1Facts:
    """One written slice, for the manifest."""

    item_id: str
    orbit_state: str
    platform: str
    start: datetime
    strip_rows: int  # rows of no-data at the top of the raster (0: none)


def s1_plan(scene_days: list[datetime]) -> list[tuple[datetime, str, Track]]:
    """(sensing start, platform, track) of every slice, in time order."""
    out = []
    for i, day in enumerate(scene_days):
        if i == NO_S1_SCENE:
            continue
        date = day.replace(hour=0, minute=0, second=0, microsecond=0)
        out.append((date - timedelta(days=1) + ASCENDING.time_of_day,
                    "sentinel-1b" if i % 2 else "sentinel-1a", ASCENDING))  # fmt: skip
        if i % 2 == 0:
            out.append((date + timedelta(days=2) + DESCENDING.time_of_day,
                        "sentinel-1a", DESCENDING))  # fmt: skip
    return sorted(out, key=lambda s: s[0])


def s1_spec(state: str, x0: float, y0: float, side_m: float) -> TileSpec:
    """The slice raster of a track: the S2 corner + MARGIN_M, on 10 m pixel edges."""
    mx, my = MARGIN_M if state == "ascending" else MARGIN_M[::-1]
    width = round((side_m + 2 * mx) / 10)
    height = round((side_m + 2 * my) / 10)
    return TileSpec(f"S1-{state}", S1_EPSG, x0 - mx, y0 + my, width, height)


def write_s1(
    root: Path,
    landcover: LandCover,
    scene_days: list[datetime],
    corner: tuple[float, float],
    side_m: float,
    seed: int,
) -> tuple[list[pystac.Item], list[S1Facts], Path]:
    """Every slice as vv/vh COGs + items, and the catalog root/catalog.json."""
    grids = {
        t.orbit_state: S1Grid(t, s1_spec(t.orbit_state, *corner, side_m), [], None, landcover)
        for t in (ASCENDING, DESCENDING)
    }
    items: list[pystac.Item] = []
    facts: list[S1Facts] = []
    per_track: dict[str, int] = {}
    for index, (start, platform, track) in enumerate(s1_plan(scene_days)):
        n = per_track.get(track.orbit_state, 0)
        per_track[track.orbit_state] = n + 1
        orbit = absolute_orbit(platform, track.relative_orbit, start)
        p = S1Pass(index, platform, track, orbit, datatake_id(platform, orbit), start, False, n)
        grid = grids[track.orbit_state]
        vv, vh = grid.render(p, seed)
        strip = 0
        if index == STRIP_SLICE:
            strip = round((grid.spec.y_max - corner[1] + STRIP_M) / 10)
            vv[:, :strip], vh[:, :strip] = 0, 0
        iid = p.item_id(0)
        folder = root / iid
        folder.mkdir(parents=True)
        with rasterio.Env():
            for band, arr in (("VV", vv), ("VH", vh)):
                write_geotiff(folder / ASSET_FILES[band], arr[0].astype(np.float32),
                              grid.spec.transform(10), S1_EPSG, S1_GTIFF_OPTIONS)  # fmt: skip
        ring = SliceShape().ring_lonlat(grid.spec)
        items.append(make_s1_item(p, 0, 1, grid.spec, ring, folder))
        facts.append(S1Facts(iid, track.orbit_state, platform, start, strip))
    catalog = save_catalog(
        root,
        items,
        catalog_id="sen4map-bigearthnet-demo-s1",
        description=(
            "Synthetic Sentinel-1 RTC slices (sen4map-etl BigEarthNet demo): linear gamma0 "
            "VV/VH over a corner of MGRS tile 33UUP, ascending and descending, EPSG:32633. "
            "Not real data."
        ),
        title="sen4map-etl BigEarthNet demo Sentinel-1 archive",
    )
    return items, facts, catalog
