"""The bookkeeping of a scene-major fetch, shared by the sources that read files themselves.

A batch of points is read scene by scene (each scene once, for every point that needs it);
a point is finished as soon as its last scene is read, so a spatially grouped batch never
holds every patch in memory. The Sentinel-2 and the Sentinel-1 STAC sources differ only in
what a scene and a patch are and in the order scenes are read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from exports.source import DroppedScene, PointRequest

BBox = tuple[float, float, float, float]  # WGS84 (west, south, east, north)


class HasSceneId(Protocol):
    """A scene of any kind: it has an id."""

    @property
    def scene_id(self) -> str:
        """The source's id of the scene."""
        ...


S = TypeVar("S", bound=HasSceneId)
P = TypeVar("P")


class SceneBatch(Generic[S, P]):
    """Which scenes each point still waits for, what it has got, what went wrong."""

    def __init__(
        self, batch: Sequence[tuple[PointRequest, Sequence[S]]], order: Callable[[S], Any]
    ) -> None:
        """``order``: the reading order of the scenes (a sort key)."""
        self.order = order
        self.points: dict[int, PointRequest] = {}
        self.scenes: dict[str, tuple[S, list[int]]] = {}
        self.pending: dict[int, int] = {}
        for point, scenes in batch:
            pid = point.point_id
            self.points[pid] = point
            unique = {s.scene_id: s for s in scenes}
            self.pending[pid] = len(unique)
            for scene in unique.values():
                self.scenes.setdefault(scene.scene_id, (scene, []))[1].append(pid)
        self.patches: dict[int, list[P]] = {pid: [] for pid in self.points}
        self.dropped: dict[int, list[DroppedScene]] = {pid: [] for pid in self.points}
        self.failures: dict[int, tuple[str, bool]] = {}  # pid -> (message, transient)

    def ready(self) -> list[int]:
        """Points that need no scene at all (empty stacks)."""
        return [pid for pid, n in self.pending.items() if n == 0]

    def scene_major(self) -> list[tuple[S, list[int]]]:
        """Scenes in reading order, each with the points that need it."""
        return sorted(self.scenes.values(), key=lambda sp: self.order(sp[0]))

    def done_with(self, pids: list[int]) -> list[int]:
        """Count one more scene as read for ``pids``; return the points now complete."""
        complete = []
        for pid in pids:
            self.pending[pid] -= 1
            if self.pending[pid] == 0:
                complete.append(pid)
        return complete


def points_bbox(points: Sequence[PointRequest]) -> BBox:
    """WGS84 bounds of the points: every footprint containing a point's buffer intersects it."""
    lons = [p.lon for p in points]
    lats = [p.lat for p in points]
    return (min(lons), min(lats), max(lons), max(lats))
