"""The select stage for STAC items: which scenes may serve which point.

A scene serves a point when its footprint (the item geometry, WGS84) contains the point's
buffer (``buffer_m`` metres around the theoretical point, a circle built in the point's UTM
zone), its scene cloud cover and no-data share are below the thresholds (strict ``<``), it
is of the requested year and it has an asset for every requested band. Points and footprints
are matched with one STRtree query, so many points × many items stay cheap.

Scene-level drops are reported once per item, and only for items whose footprint contains at
least one point's buffer: an item that serves no point is not news.

Only :func:`describe_items` touches pystac items (and logs); every decision after it
(:func:`drop_reason`, :func:`point_buffers`, :func:`containing_pairs`,
:func:`reported_drops`) is a pure function of values, testable without a catalog.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pystac
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from exports.grid import point_utm
from exports.source import (
    DroppedScene,
    PointRequest,
    Scene,
    SceneFilter,
    SceneSelection,
    filter_reason,
)
from exports.stac.hrefs import HrefPolicy
from exports.stac.scene_meta import (
    MetaNotes,
    RefusedHrefError,
    SceneMetadataError,
    scene_from_item,
)

log = logging.getLogger(__name__)

Drop = tuple[str, str]  # (DroppedScene.kind, reason)


@dataclass(frozen=True)
class CatalogScene:
    """An item as the select stage sees it: its Scene and footprint, or why it has none."""

    item_id: str
    scene: Scene | None
    footprint: shapely.Geometry | None  # WGS84
    error: str | None = None  # why scene or footprint is missing ("bad metadata: ...")
    error_kind: str = "bad_metadata"  # the DroppedScene kind of ``error``


def describe_items(
    items: Iterable[pystac.Item], hrefs: HrefPolicy | None = None
) -> list[CatalogScene]:
    """Parse items once (sources cache the result); metadata fallbacks are logged here, and
    each item whose asset href ``hrefs`` refuses (it is dropped as "refused_href")."""
    notes: MetaNotes = Counter()
    out = [_describe(item, notes, hrefs) for item in items]
    for what, n in sorted(notes.items()):
        log.warning("%d of %d item(s): %s", n, len(out), what)
    for d in out:
        if d.error_kind == "refused_href":
            log.warning("%s; the scene is left out", d.error)
    return out


def select_scenes(
    points: Sequence[PointRequest],
    described: Sequence[CatalogScene],
    year: int,
    scene_filter: SceneFilter,
    bands: Sequence[str],
) -> SceneSelection:
    """Candidate scenes per point (every point id present, possibly with an empty list)."""
    reasons = [drop_reason(d, year, scene_filter, bands) for d in described]
    buffers = point_buffers(points, scene_filter.buffer_m)
    pairs = containing_pairs([d.footprint for d in described], buffers)
    selection = SceneSelection(scenes={p.point_id: [] for p in points}, scenes_seen=len(described))
    for i, j in pairs:
        scene = described[i].scene
        if scene is not None and reasons[i] is None:
            selection.scenes[points[j].point_id].append(scene)
    selection.dropped.extend(reported_drops(described, reasons, {i for i, _ in pairs}))
    for found in selection.scenes.values():
        found.sort(key=lambda s: (s.acquired, s.scene_id))
    return selection


def containing_pairs(
    footprints: Sequence[shapely.Geometry | None], buffers: np.ndarray
) -> list[tuple[int, int]]:
    """(item, point) index pairs whose footprint contains the point's buffer.

    One STRtree query over the buffers, so many points × many items stay cheap; a missing
    footprint contains nothing.
    """
    geoms = np.array(footprints, dtype=object)
    item_idx, point_idx = shapely.STRtree(buffers).query(geoms, predicate="contains")
    return list(zip(item_idx.tolist(), point_idx.tolist(), strict=True))


def reported_drops(
    described: Sequence[CatalogScene], reasons: Sequence[Drop | None], relevant: set[int]
) -> list[DroppedScene]:
    """Scene-level drops worth reporting: items covering a point, or without a footprint.

    Why: a catalog holds many items that serve no point of the batch; their drops are noise.
    An item without a footprint cannot be placed at all, so it is always reported.
    """
    out = []
    for i, d in enumerate(described):
        drop = reasons[i]
        if drop is not None and (i in relevant or d.footprint is None):
            out.append(DroppedScene(d.item_id, drop[1], kind=drop[0]))
    return out


def drop_reason(
    described: CatalogScene, year: int, scene_filter: SceneFilter, bands: Sequence[str]
) -> Drop | None:
    """Why an item may serve no point at all (bad metadata, a scene filter), or None."""
    if described.scene is None:
        return described.error_kind, described.error or "bad metadata"
    return filter_reason(described.scene, year, scene_filter, bands)


def point_buffers(points: Sequence[PointRequest], buffer_m: float) -> np.ndarray:
    """Each point's buffer as a WGS84 polygon (a point when ``buffer_m`` is 0)."""
    out = np.empty(len(points), dtype=object)
    by_zone: dict[int, list[int]] = {}
    for k, p in enumerate(points):
        by_zone.setdefault(p.grid.epsg, []).append(k)
    for epsg, idx in by_zone.items():
        xy = np.array([point_utm(points[k].lat, points[k].lon, epsg) for k in idx])
        geoms = shapely.points(xy)
        if buffer_m > 0:
            geoms = shapely.buffer(geoms, buffer_m, quad_segs=16)  # type: ignore[assignment]
        to_wgs84 = _to_wgs84(epsg)
        out[idx] = shapely.transform(
            geoms, lambda c, t=to_wgs84: np.column_stack(t.transform(c[:, 0], c[:, 1]))
        )
    return out


def _describe(item: pystac.Item, notes: MetaNotes, hrefs: HrefPolicy | None) -> CatalogScene:
    try:
        footprint = shape(item.geometry) if item.geometry else None
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        return CatalogScene(item.id, None, None, f"bad metadata: item {item.id}: geometry ({e})")
    if footprint is None or footprint.is_empty:
        return CatalogScene(item.id, None, None, f"bad metadata: item {item.id}: no geometry")
    try:
        scene = scene_from_item(item, notes, hrefs)
    except RefusedHrefError as e:
        return CatalogScene(item.id, None, footprint, str(e), error_kind="refused_href")
    except SceneMetadataError as e:
        return CatalogScene(item.id, None, footprint, f"bad metadata: {e}")
    return CatalogScene(item.id, scene, footprint)


@lru_cache(maxsize=64)
def _to_wgs84(epsg: int) -> Transformer:
    return Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
