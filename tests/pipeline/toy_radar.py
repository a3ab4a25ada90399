"""A toy radar source for pipeline tests: deterministic slices, values that name their slice.

Every point is served by one slice every 2 days 7 hours from 1 January 06:00 UTC (index k), passes
alternating ASCENDING/DESCENDING, platforms alternating S1A/S1B. Pixel [32, 32] of VV holds
-k - 1 (dB) and of VH -k - 100, so a test can tell which slice a step holds; every other
pixel is -12 dB (VV) and -19 dB (VH). Slices with k % 10 == 9 are all no-data (dropped).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from exports.registry import SourceContext
from exports.s1.options import S1Options
from exports.s1.scene import GAMMA0_DB, S1Scene
from exports.s1.source import S1Filter, S1Selection
from exports.s1.stack import S1Patch, assemble_series
from exports.source import PointFailure, PointRequest, PointStack

STEP = timedelta(days=2, hours=7)
FIRST = timedelta(hours=6)


def slice_time(year: int, k: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC) + FIRST + k * STEP


def toy_scene(year: int, k: int) -> S1Scene:
    when = slice_time(year, k)
    mission = "S1A" if k % 2 == 0 else "S1B"
    pid = (f"{mission}_IW_GRDH_1SDV_{when:%Y%m%dT%H%M%S}_{when:%Y%m%dT%H%M%S}_"
           f"{10000 + k:06d}_{k:06X}_TOY{k % 10}")
    return S1Scene(pid, when, f"{mission}_{k:06X}", "ASCENDING" if k % 2 == 0 else "DESCENDING",
                   15 if k % 2 == 0 else 117, f"sentinel-1{mission[-1].lower()}", GAMMA0_DB,
                   assets={"VV": f"toy:{k}", "VH": f"toy:{k}"})


class ToyRadar:
    name = "toy"
    convention = GAMMA0_DB

    def __init__(self, year: int) -> None:
        self.year = year
        self.fetched: list[int] = []  # slices read (k), in order

    def find_acquisitions(
        self, points: Sequence[PointRequest], year: int, s1_filter: S1Filter
    ) -> S1Selection:
        n = (datetime(year + 1, 1, 1, tzinfo=UTC) - slice_time(year, 0)) // STEP + 1
        scenes = [toy_scene(year, k) for k in range(n) if slice_time(year, k).year == year]
        scenes = [s for s in scenes
                  if s1_filter.orbit == "both" or s.orbit_pass == s1_filter.orbit.upper()]
        return S1Selection({p.point_id: list(scenes) for p in points}, scenes_seen=len(scenes))

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[S1Scene]]],
        max_patch_nodata: float,
        resampling: str,
    ) -> Iterator[PointStack | PointFailure]:
        for point, scenes in batch:
            patches = []
            for s in scenes:
                k = int(s.assets["VV"].split(":")[1])
                self.fetched.append(k)
                vv = np.full((64, 64), -12.0, np.float32)
                vh = np.full((64, 64), -19.0, np.float32)
                vv[32, 32], vh[32, 32] = -k - 1, -k - 100
                if k % 10 == 9:
                    vv[:], vh[:] = np.nan, np.nan
                patches.append(S1Patch(s, vv, vh))
            yield assemble_series(point, patches, max_patch_nodata)


def build(options: S1Options, context: SourceContext) -> ToyRadar:
    return ToyRadar(context.year)


class MixedToyRadar(ToyRadar):
    """A broken radar source whose odd slices claim σ0: the pipeline must refuse the file."""

    def find_acquisitions(
        self, points: Sequence[PointRequest], year: int, s1_filter: S1Filter
    ) -> S1Selection:
        from dataclasses import replace

        selection = super().find_acquisitions(points, year, s1_filter)
        selection.scenes = {pid: [replace(s, convention="sigma0_db") if i % 2 else s
                                  for i, s in enumerate(scenes)]
                            for pid, scenes in selection.scenes.items()}
        return selection


def build_mixed(options: S1Options, context: SourceContext) -> MixedToyRadar:
    return MixedToyRadar(context.year)
