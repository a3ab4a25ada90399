"""From per-scene patches to a point's finished time series (shared by every source).

The rules here are the dataset's, not a source's: one time step per datatake (where tiles
overlap, the scene with least no-data in the patch wins), no time step whose patch no-data
share exceeds the threshold, ascending acquisition time, the HDF5 compound dtype.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from exports.source import DroppedScene, PointRequest, PointStack, Scene, band_dtype


@dataclass(frozen=True)
class ScenePatch:
    """One scene's patches for one point: band name -> (size, size) array on the point's grid."""

    scene: Scene
    bands: Mapping[str, np.ndarray]

    @classmethod
    def from_structured(cls, scene: Scene, patch: np.ndarray) -> ScenePatch:
        """From one (size, size) structured array with a field per band (e.g. gee's pixels)."""
        return cls(scene, {name: patch[name] for name in patch.dtype.names or ()})


def nodata_mask(bands: Mapping[str, np.ndarray]) -> np.ndarray:
    """No-data pixels: SCL == 0 when SCL is present, else every band == 0."""
    if "SCL" in bands:
        return np.asarray(bands["SCL"] == 0)
    return np.logical_and.reduce([np.asarray(a == 0) for a in bands.values()])


def nodata_percent(patch: ScenePatch) -> float:
    """Share of no-data pixels in the patch, in percent."""
    return float(nodata_mask(patch.bands).mean() * 100.0)


def assemble_stack(
    point: PointRequest,
    patches: Sequence[ScenePatch],
    bands: Sequence[str],
    max_patch_nodata: float,
    dropped: Sequence[DroppedScene] = (),
) -> PointStack:
    """De-duplicate datatakes, drop no-data time steps, order by time, build the array.

    ``dropped`` (e.g. scenes that failed to read) is carried into the stack's drop list.
    """
    dtype = band_dtype(bands)
    names = dtype.names or ()
    missing = [(p.scene.scene_id, b) for p in patches for b in names if b not in p.bands]
    if missing:
        raise ValueError(f"point {point.point_id}: patch without band(s) {missing}")
    out_dropped = list(dropped)
    pct = {p.scene.scene_id: nodata_percent(p) for p in patches}
    kept = _one_per_datatake(point, patches, pct, out_dropped)
    usable = []
    for p in kept:
        share = pct[p.scene.scene_id]
        if share > max_patch_nodata:
            reason = f"patch no-data {share:.1f} % > {max_patch_nodata:g} %"
            out_dropped.append(DroppedScene(p.scene.scene_id, reason, kind="patch_nodata"))
        else:
            usable.append(p)
    usable.sort(key=lambda p: (p.scene.acquired, p.scene.scene_id))
    size = point.grid.size
    data = np.zeros((len(usable), size, size), dtype=dtype)
    for t, p in enumerate(usable):
        for b in names:
            arr = p.bands[b]
            if arr.shape != (size, size):
                raise ValueError(
                    f"point {point.point_id}: scene {p.scene.scene_id} band {b} has shape "
                    f"{arr.shape}, expected {(size, size)}"
                )
            data[b][t] = arr
    return PointStack(
        point_id=point.point_id,
        data=data,
        image_ids=[p.scene.image_id for p in usable],
        acquired=[p.scene.acquired for p in usable],
        dropped=out_dropped,
    )


def _one_per_datatake(
    point: PointRequest,
    patches: Sequence[ScenePatch],
    pct: Mapping[str, float],
    dropped: list[DroppedScene],
) -> list[ScenePatch]:
    """Keep per datatake the patch with least no-data; ties: the point's UTM zone, then id."""
    groups: dict[str, list[ScenePatch]] = {}
    for p in patches:
        groups.setdefault(p.scene.datatake, []).append(p)
    kept = []
    for group in groups.values():
        group.sort(
            key=lambda p: (
                pct[p.scene.scene_id],
                p.scene.epsg != point.grid.epsg,
                p.scene.scene_id,
            )
        )
        best = group[0]
        kept.append(best)
        for other in group[1:]:
            reason = f"duplicate datatake, kept {best.scene.scene_id}"
            dropped.append(DroppedScene(other.scene.scene_id, reason, kind="duplicate_datatake"))
    return kept
