"""The radar select stage for STAC items: which slices may serve which point.

A slice serves a point when its footprint (item geometry, WGS84) contains the point's buffer
(the Sentinel-2 rule, :func:`exports.stac.select.containing_pairs`) and it passes every
radar filter (:func:`exports.s1.filters.drop_reason`). Drops are reported once per item,
and only for items covering some point's buffer or without a footprint.

The slices selected must be of one backscatter convention: σ0 and γ0 differ by the local
incidence angle, so one file never mixes them (:func:`check_one_convention`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from exports.s1.scene import S1Scene
from exports.s1.source import S1Filter, S1Selection
from exports.s1stac.items import S1CatalogItem
from exports.source import DroppedScene, PointRequest
from exports.stac.select import containing_pairs, point_buffers
from lucas.errors import InputFormatError


def select_slices(
    points: Sequence[PointRequest], described: Sequence[S1CatalogItem], s1_filter: S1Filter
) -> S1Selection:
    """Candidate slices per point (every point id present), in time order."""
    buffers = point_buffers(points, s1_filter.buffer_m)
    pairs = containing_pairs([d.footprint for d in described], buffers)
    selection = S1Selection(scenes={p.point_id: [] for p in points},
                            scenes_seen=len(described))
    for i, j in pairs:
        d = described[i]
        if d.scene is not None and d.drop is None:
            selection.scenes[points[j].point_id].append(d.scene)
    relevant = {i for i, _ in pairs}
    for i, d in enumerate(described):
        if d.drop is not None and (i in relevant or d.footprint is None):
            selection.dropped.append(DroppedScene(d.item_id, d.drop[1], kind=d.drop[0]))
    for found in selection.scenes.values():
        found.sort(key=lambda s: (s.acquired, s.scene_id))
    return selection


def check_one_convention(
    scenes: Sequence[S1Scene], seen: Mapping[str, str] | None = None
) -> str | None:
    """The one convention of ``scenes`` (and of the slices ``seen`` before: convention ->
    an item id), or None when there are none; InputFormatError when they mix σ0 and γ0."""
    first: dict[str, str] = dict(seen or {})
    for s in sorted(scenes, key=lambda s: s.scene_id):
        first.setdefault(s.convention, s.scene_id)
    if len(first) > 1:
        named = "; ".join(f"{item} is {conv}" for conv, item in sorted(first.items()))
        raise InputFormatError(
            f"Sentinel-1 slices mix backscatter conventions ({named}): σ0 and γ0 are "
            "never mixed in one file: use a catalog of one kind")
    return next(iter(first), None)
