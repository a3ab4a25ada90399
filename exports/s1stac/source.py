"""The ``stac`` radar source: find the slices serving each point, fetch their patches.

Discovery is the Sentinel-2 source's (a static catalog, or a STAC API searched region by
region, :mod:`exports.s1stac.api`). ``fetch`` is scene-major as for Sentinel-2: each slice
is read once for all the points of the batch that need it, and a point's series is
assembled (:func:`exports.s1.stack.assemble_series`) as soon as its last slice is read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

import pystac

from exports.gdal_env import gdal_env
from exports.s1.scene import S1Scene
from exports.s1.source import S1Filter, S1Selection
from exports.s1.stack import S1Patch, assemble_series
from exports.s1stac.items import S1CatalogItem, describe_items, expected_convention
from exports.s1stac.read import RESAMPLINGS, Signer, read_slice
from exports.s1stac.select import check_one_convention, select_slices
from exports.scene_batch import SceneBatch, points_bbox
from exports.source import DroppedScene, PointFailure, PointRequest, PointStack
from exports.stac.catalog import ItemDiscovery
from exports.stac.hrefs import HrefPolicy

log = logging.getLogger(__name__)

_Batch = SceneBatch[S1Scene, S1Patch]


class StacRadarSource:
    """Sentinel-1 COGs of linear backscatter described by STAC items (a ``RadarSource``)."""

    name = "stac"

    def __init__(
        self,
        discovery: ItemDiscovery,
        *,
        collection: str | None = None,
        signer: Signer | None = None,
        gdal_options: Mapping[str, str | int] | None = None,
    ) -> None:
        """``collection``: what the items are expected to be (sets :attr:`convention` until
        a selection says); ``signer``: applied to each href when it is opened."""
        self.discovery = discovery
        self.signer = signer
        self.gdal_options = dict(gdal_options or {})
        self.hrefs: HrefPolicy | None = getattr(discovery, "hrefs", None)
        self.convention = expected_convention(collection)
        self._first_seen: dict[str, str] = {}  # convention -> first selected item id
        self._described: dict[tuple[str, int, str], S1CatalogItem] = {}

    def find_acquisitions(
        self, points: Sequence[PointRequest], year: int, s1_filter: S1Filter
    ) -> S1Selection:
        """Candidate slices per point; InputFormatError when they mix σ0 and γ0 (within this
        call or with the slices of earlier calls)."""
        if not points:
            return S1Selection(scenes={})
        items = self._candidates(points, year)
        described = [self._describe(item, year, s1_filter.orbit) for item in items]
        selection = select_slices(points, described, s1_filter)
        selection.dropped.extend(getattr(self.discovery, "unreadable", ()))
        chosen = {s.scene_id: s for found in selection.scenes.values() for s in found}
        convention = check_one_convention(list(chosen.values()), self._first_seen)
        for s in sorted(chosen.values(), key=lambda s: s.scene_id):
            self._first_seen.setdefault(s.convention, s.scene_id)
        if convention is not None:
            self.convention = convention
        log.info("s1 stac select: %d point(s), %d item(s) seen, %d dropped, %d point(s) "
                 "without slice", len(points), selection.scenes_seen, len(selection.dropped),
                 sum(1 for s in selection.scenes.values() if not s))
        return selection

    def _describe(self, item: pystac.Item, year: int, orbit: str) -> S1CatalogItem:
        key = (item.id, year, orbit)
        if key not in self._described:
            self._described[key] = describe_items([item], year, orbit, self.hrefs)[0]
        return self._described[key]

    def _candidates(self, points: Sequence[PointRequest], year: int) -> Sequence[pystac.Item]:
        near = getattr(self.discovery, "items_near", None)
        if callable(near):  # a STAC API: searched region by region around the points
            found: Sequence[pystac.Item] = near(points, year)
            return found
        return self.discovery.items(points_bbox(points), year)

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[S1Scene]]],
        max_patch_nodata: float,
        resampling: str,
    ) -> Iterator[PointStack | PointFailure]:
        """Series of the batch's points (in completion order, not batch order)."""
        if resampling not in RESAMPLINGS:
            raise ValueError(f"unknown resampling {resampling!r}; choose one of "
                             f"{', '.join(RESAMPLINGS)}")
        state: _Batch = SceneBatch(batch, lambda s: (s.epsg or 0, s.acquired, s.scene_id))
        for pid in state.ready():
            yield self._finish(state, pid, max_patch_nodata)
        for scene, pids in state.scene_major():
            self._read(state, scene, pids, resampling)
            for pid in state.done_with(pids):
                yield self._finish(state, pid, max_patch_nodata)

    def _read(self, state: _Batch, scene: S1Scene, pids: list[int], resampling: str) -> None:
        live = [pid for pid in pids if pid not in state.failures]
        if not live:
            return
        grids = {pid: state.points[pid].grid for pid in live}
        try:
            with gdal_env(**self.gdal_options):
                read = read_slice(scene, grids, resampling, self.hrefs, self.signer)
        except Exception as e:  # a bug or an unforeseen library error: fail these points only
            log.exception("unexpected error reading slice %s", scene.scene_id)
            for pid in live:
                state.failures[pid] = (f"slice {scene.scene_id}: {type(e).__name__}: {e}", False)
            return
        for pid, patch in read.patches.items():
            state.patches[pid].append(patch)
        for pid, err in read.errors.items():
            if err.transient:
                state.failures[pid] = (str(err), True)
            else:
                kind = getattr(err, "kind", "read_error")
                state.dropped[pid].append(DroppedScene(scene.scene_id, str(err), kind=kind))
        for message in sorted({str(e) for e in read.errors.values()}):
            log.warning("%s; slice %s skipped for the points it hit", message, scene.scene_id)

    def _finish(
        self, state: _Batch, pid: int, max_patch_nodata: float
    ) -> PointStack | PointFailure:
        patches = state.patches.pop(pid, [])
        dropped = state.dropped.pop(pid, [])
        if pid in state.failures:
            message, transient = state.failures.pop(pid)
            return PointFailure(pid, message, transient=transient)
        try:
            return assemble_series(state.points[pid], patches, max_patch_nodata, dropped)
        except Exception as e:
            log.exception("point %d: cannot assemble its radar series", pid)
            return PointFailure(pid, f"point {pid}: {type(e).__name__}: {e}")
