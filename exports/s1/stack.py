"""From per-slice patches to a point's radar series (shared by every radar source).

The dataset's rules, not a source's: one step per datatake (where slices overlap, the one
with least no-data in the patch wins), no step whose patch no-data share exceeds the
threshold, ascending acquisition time, the compound dtype VV/VH float32 dB with NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from exports.s1.scene import S1_DTYPE, S1Scene, iso_utc
from exports.source import DroppedScene, PointRequest, PointStack

STEP_ATTRIBUTES: tuple[str, ...] = ("orbit_pass", "relative_orbit", "platform", "acquired")


@dataclass(frozen=True)
class S1Patch:
    """One slice's VV and VH patches for one point: (size, size) float32 dB, NaN no data."""

    scene: S1Scene
    vv: np.ndarray
    vh: np.ndarray


def nodata_mask(patch: S1Patch) -> np.ndarray:
    """No-data pixels: NaN in VV or in VH (a pixel needs both polarisations)."""
    return np.isnan(patch.vv) | np.isnan(patch.vh)


def patch_nodata_percent(patch: S1Patch) -> float:
    """Share of no-data pixels in the patch, in percent."""
    return float(nodata_mask(patch).mean() * 100.0)


def step_attributes(scenes: Sequence[S1Scene | None]) -> dict[str, list[Any]]:
    """The per-step attributes of ``scenes`` (None: a step without acquisition)."""
    return {
        "orbit_pass": [s.orbit_pass if s else "" for s in scenes],
        "relative_orbit": [s.relative_orbit if s else -1 for s in scenes],
        "platform": [s.platform if s else "" for s in scenes],
        "acquired": [iso_utc(s.acquired) if s else "" for s in scenes],
    }


def assemble_series(
    point: PointRequest,
    patches: Sequence[S1Patch],
    max_patch_nodata: float,
    dropped: Sequence[DroppedScene] = (),
) -> PointStack:
    """De-duplicate datatakes, drop no-data steps, order by time: every usable acquisition."""
    size = point.grid.size
    for p in patches:
        for name, arr in (("VV", p.vv), ("VH", p.vh)):
            if arr.shape != (size, size):
                raise ValueError(f"point {point.point_id}: slice {p.scene.scene_id} {name} has "
                                 f"shape {arr.shape}, expected {(size, size)}")
    out_dropped = list(dropped)
    pct = {p.scene.scene_id: patch_nodata_percent(p) for p in patches}
    usable = []
    for p in _one_per_datatake(patches, pct, out_dropped):
        share = pct[p.scene.scene_id]
        if share > max_patch_nodata:
            reason = f"patch no-data {share:.1f} % > {max_patch_nodata:g} %"
            out_dropped.append(DroppedScene(p.scene.scene_id, reason, kind="patch_nodata"))
        else:
            usable.append(p)
    usable.sort(key=lambda p: (p.scene.acquired, p.scene.scene_id))
    data = np.full((len(usable), size, size), np.nan, dtype=S1_DTYPE)
    for t, p in enumerate(usable):
        data["VV"][t] = p.vv
        data["VH"][t] = p.vh
    scenes = [p.scene for p in usable]
    return PointStack(
        point_id=point.point_id,
        data=data,
        image_ids=[s.scene_id for s in scenes],
        acquired=[s.acquired for s in scenes],
        dropped=out_dropped,
        step_attributes=step_attributes(scenes),
        step_scenes=scenes,
    )


def _one_per_datatake(
    patches: Sequence[S1Patch], pct: dict[str, float], dropped: list[DroppedScene]
) -> list[S1Patch]:
    """Per datatake the slice with least no-data in the patch; ties: the earlier slice."""
    groups: dict[str, list[S1Patch]] = {}
    for p in patches:
        groups.setdefault(p.scene.datatake, []).append(p)
    kept = []
    for group in groups.values():
        group.sort(key=lambda p: (pct[p.scene.scene_id], p.scene.acquired, p.scene.scene_id))
        best = group[0]
        kept.append(best)
        for other in group[1:]:
            reason = f"duplicate datatake (slice overlap), kept {best.scene.scene_id}"
            dropped.append(DroppedScene(other.scene.scene_id, reason, kind="duplicate_datatake"))
    return kept
