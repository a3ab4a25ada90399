"""Sentinel-1 for the patches of one scene: the nearest IW VV+VH acquisition that covers
the patch without no-data, within ``--s1-max-days`` of the Sentinel-2 scene, on the patch's
own 120×120 grid at 10 m (the radar sources of ``etl run --s1``, many points per call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from pyproj import Transformer

from exports.s1.pairing import S2Step, nearest, pairing_candidates
from exports.s1.scene import S1Scene
from exports.s1.source import RadarSource, S1Filter
from exports.source import PointFailure, PointRequest, PointStack
from exports.tiles.grid import PATCH_M, TileGrid

# The select stage's footprint test uses a circle a little inside the patch (a footprint
# ending at the patch's edge must still pass); that the slice really covers every pixel is
# the fetch's no-data test (max_patch_nodata 0).
SELECT_RADIUS_M = PATCH_M / 2 - 10.0
CHUNK = 256  # patches per fetch: bounded memory (every slice is read once per chunk)


@dataclass(frozen=True)
class S1Pair:
    """The acquisition a patch is paired with, and its VV/VH (dB) on the patch grid."""

    scene: S1Scene
    delta_hours: float  # S1 minus S2
    vv: np.ndarray
    vh: np.ndarray


def pair_patches(
    radar: RadarSource,
    grid: TileGrid,
    patches: Sequence[tuple[int, int]],
    s2_time: datetime,
    max_days: float,
    orbit: str,
    resampling: str,
) -> tuple[dict[tuple[int, int], S1Pair], list[str]]:
    """The pair of each patch that has one, and the errors of patches whose radar failed."""
    to_wgs84 = Transformer.from_crs(f"EPSG:{grid.epsg}", "EPSG:4326", always_xy=True)
    points = []
    for i, (x, y) in enumerate(patches):
        lon, lat = to_wgs84.transform(*grid.centroid(x, y))
        points.append(PointRequest(i, lat, lon, grid.patch_grid(x, y, 10)))
    window = timedelta(days=max_days)
    years = sorted({(s2_time - window).year, (s2_time + window).year})
    scenes: dict[int, list[S1Scene]] = {p.point_id: [] for p in points}
    s1_filter = S1Filter(orbit, SELECT_RADIUS_M)
    for year in years:
        selection = radar.find_acquisitions(points, year, s1_filter)
        for pid, found in selection.scenes.items():
            scenes[pid].extend(found)
    step = [S2Step("", s2_time)]
    pairs: dict[tuple[int, int], S1Pair] = {}
    errors: list[str] = []
    for start in range(0, len(points), CHUNK):
        chunk = points[start:start + CHUNK]
        batch = [(p, pairing_candidates(scenes[p.point_id], step, max_days)) for p in chunk]
        for result in radar.fetch([b for b in batch if b[1]], 0.0, resampling):
            if isinstance(result, PointFailure):
                errors.append(result.message)
                continue
            pair = _nearest(result, s2_time, max_days)
            if pair is not None:
                pairs[patches[result.point_id]] = pair
    return pairs, errors


def _nearest(series: PointStack, s2_time: datetime, max_days: float) -> S1Pair | None:
    i = nearest(series.acquired, s2_time, max_days)
    if i is None:
        return None
    scene = series.step_scenes[i]
    delta = (series.acquired[i] - s2_time).total_seconds() / 3600.0
    return S1Pair(scene, delta, series.data["VV"][i].copy(), series.data["VH"][i].copy())



