"""``--s1 closest``: each Sentinel-2 step paired with the nearest radar acquisition.

Pure functions over times: which slices can pair at all (so the export reads only those),
and the paired stack, one step per Sentinel-2 step (step *i* pairs with S2 step *i*).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from exports.s1.scene import S1_DTYPE, S1Scene
from exports.s1.stack import step_attributes
from exports.source import PointStack

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class S2Step:
    """One time step of a point's Sentinel-2 stack (its ``Image_ID`` and sensing time)."""

    image_id: str
    acquired: datetime


def within(s1: datetime, s2: datetime, max_days: float) -> bool:
    """Whether an acquisition is close enough to pair (``|Δt| <= max_days``, inclusive)."""
    return abs((s1 - s2).total_seconds()) <= max_days * SECONDS_PER_DAY


def pairing_candidates(
    scenes: Sequence[S1Scene], steps: Sequence[S2Step], max_days: float
) -> list[S1Scene]:
    """The slices within ``max_days`` of some step: only they can be paired, so only they
    are read (the nearest may be dropped later for no-data, so all in range are kept)."""
    return [s for s in scenes if any(within(s.acquired, st.acquired, max_days) for st in steps)]


def nearest(acquired: Sequence[datetime], when: datetime, max_days: float) -> int | None:
    """Index of the acquisition nearest ``when`` within ``max_days``; ties: the earlier."""
    best: tuple[float, datetime] | None = None
    index = None
    for i, t in enumerate(acquired):
        gap = abs((t - when).total_seconds())
        if gap > max_days * SECONDS_PER_DAY:
            continue
        if best is None or (gap, t) < best:
            best, index = (gap, t), i
    return index


def pair_closest(series: PointStack, steps: Sequence[S2Step], max_days: float) -> PointStack:
    """The series re-cut to the Sentinel-2 steps; a step without acquisition in range is
    all-NaN with an empty id. ``delta_hours`` is S1 minus S2."""
    size = series.data.shape[1] if series.data.ndim == 3 else 64
    data = np.full((len(steps), size, size), np.nan, dtype=S1_DTYPE)
    chosen: list[S1Scene | None] = []
    deltas: list[float] = []
    scenes = list(series.step_scenes)
    for t, step in enumerate(steps):
        i = nearest(series.acquired, step.acquired, max_days)
        if i is None:
            chosen.append(None)
            deltas.append(float("nan"))
            continue
        data[t] = series.data[i]
        chosen.append(scenes[i])
        deltas.append((series.acquired[i] - step.acquired).total_seconds() / 3600.0)
    attrs = step_attributes(chosen)
    attrs["paired_Image_ID"] = [s.image_id for s in steps]
    attrs["delta_hours"] = deltas
    return PointStack(
        point_id=series.point_id,
        data=data,
        image_ids=[s.scene_id if s else "" for s in chosen],
        acquired=[s.acquired for s in steps],
        dropped=list(series.dropped),
        step_attributes=attrs,
        step_scenes=chosen,
    )
