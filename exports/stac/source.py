"""The ``stac`` imagery source: STAC items (discovery) + windowed COG reads (reading).

Discovery is pluggable (:class:`~exports.stac.catalog.ItemDiscovery`): a static catalog on
disk, or a STAC API searched region by region (:mod:`exports.stac.api`); selection and
reading do not care where items came from.

``fetch`` works scene-major: every scene of the batch is read once for all the points that
need it (each asset opened once, GDAL's block cache shared by neighbouring points), then each
point's stack is assembled as soon as its last scene has been read, so a spatially grouped
batch does not hold every patch in memory until the end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pystac

from exports.gdal_env import gdal_env
from exports.scene_batch import SceneBatch, points_bbox
from exports.source import (
    ALL_BANDS,
    EARTH_SEARCH_KEYS,
    DroppedScene,
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    SceneFilter,
    SceneSelection,
    band_dtype,
)
from exports.stac.catalog import BBox, ItemDiscovery, PointDiscovery, StaticCatalog
from exports.stac.hrefs import HrefPolicy
from exports.stac.select import CatalogScene, describe_items, filter_reason, select_scenes
from exports.stac.window_read import read_scene
from exports.stack import ScenePatch, assemble_stack

log = logging.getLogger(__name__)

_Batch = SceneBatch[Scene, ScenePatch]


class StacSource:
    """Sentinel-2 L2A COGs described by STAC items (implements ``ImagerySource``)."""

    name = "stac"

    def __init__(
        self,
        discovery: ItemDiscovery,
        bands: Sequence[str] | None = None,
        gdal_options: Mapping[str, str | int] | None = None,
    ) -> None:
        """``bands``: the run's bands; items lacking one are dropped at select ("missing
        asset"). ``None``: no check at select; fetch drops a scene lacking a requested band."""
        self.discovery = discovery
        self.bands: tuple[str, ...] = ()
        if bands is not None:
            band_dtype(bands)  # reject unknown band names early
            self.bands = tuple(b for b in ALL_BANDS if b in bands)
        self.gdal_options = dict(gdal_options or {})
        # Where hrefs may point (exports.stac.hrefs); a discovery without one checks none.
        self.hrefs: HrefPolicy | None = getattr(discovery, "hrefs", None)
        self._described: dict[str, CatalogScene] = {}

    @classmethod
    def from_catalog(
        cls,
        path: str | Path,
        bands: Sequence[str] | None = None,
        gdal_options: Mapping[str, str | int] | None = None,
        *,
        asset_roots: Sequence[Path] = (),
        allow_hosts: Sequence[str] = (),
    ) -> StacSource:
        """A source over a static catalog: ``path`` is its catalog.json or the folder; its
        hrefs must lie in that folder or ``asset_roots``, or on hosts the policy allows."""
        discovery = StaticCatalog(path, asset_roots=asset_roots, allow_hosts=allow_hosts)
        return cls(discovery, bands=bands, gdal_options=gdal_options)

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        """Candidate scenes per point (each with an asset for every band of ``self.bands``)."""
        if not points:
            return SceneSelection(scenes={})
        items = self._candidates(points, year, scene_filter)
        new = [it for it in items if it.id not in self._described]
        for described in describe_items(new, self.hrefs):
            self._described[described.item_id] = described
        catalog = [self._described[it.id] for it in items]
        selection = select_scenes(points, catalog, year, scene_filter, self.bands)
        # Item files the discovery could not read (a damaged JSON): reported, not fatal.
        selection.dropped.extend(getattr(self.discovery, "unreadable", ()))
        log.info(
            "stac select: %d point(s), %d item(s) seen, %d dropped, %d point(s) without scene",
            len(points),
            selection.scenes_seen,
            len(selection.dropped),
            sum(1 for s in selection.scenes.values() if not s),
        )
        return selection

    def find_tile_scenes(
        self, tile: str, year: int, scene_filter: SceneFilter, bbox: BBox | None
    ) -> SceneSelection:
        """The scenes of one MGRS tile in ``year`` (the BigEarthNet unit), key 0 of
        ``scenes``, every filter passed; ``bbox`` (WGS84) narrows an API search, a static
        catalog lists every item. Items of other tiles are not news: never reported."""
        if bbox is None and not isinstance(self.discovery, StaticCatalog):
            raise ValueError("a STAC API search needs the tile's area")
        items = self.discovery.items(bbox, year)
        new = [it for it in items if it.id not in self._described]
        for described in describe_items(new, self.hrefs):
            self._described[described.item_id] = described
        selection = SceneSelection(scenes={0: []})
        for it in items:
            d = self._described[it.id]
            if d.scene is None or d.scene.tile != tile:
                continue
            selection.scenes_seen += 1
            why = filter_reason(d.scene, year, scene_filter, self.bands)
            if why is None:
                selection.scenes[0].append(d.scene)
            else:
                selection.dropped.append(DroppedScene(d.item_id, why[1], kind=why[0]))
        selection.scenes[0].sort(key=lambda s: (s.acquired, s.scene_id))
        return selection

    def _candidates(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> Sequence[pystac.Item]:
        """Items that may serve ``points``: searched around them where discovery can."""
        if isinstance(self.discovery, PointDiscovery):
            return self.discovery.items_for_points(points, year, scene_filter)
        return self.discovery.items(points_bbox(points), year)

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        """Stacks of the batch's points (in completion order, not batch order)."""
        band_dtype(bands)
        wanted = tuple(b for b in ALL_BANDS if b in bands)
        state: _Batch = SceneBatch(batch, lambda s: (s.tile, s.acquired, s.scene_id))
        for pid in state.ready():
            yield self._finish(state, pid, wanted, max_patch_nodata)
        for scene, pids in state.scene_major():
            self._read(state, scene, pids, wanted)
            for pid in state.done_with(pids):
                yield self._finish(state, pid, wanted, max_patch_nodata)

    def _read(
        self, state: _Batch, scene: Scene, pids: list[int], bands: tuple[str, ...]
    ) -> None:
        live = [pid for pid in pids if pid not in state.failures]
        if not live:
            return
        missing = [b for b in bands if b not in scene.assets]
        if missing:  # the select stage checks its own bands; fetch may be asked for others
            reason = f"missing asset {EARTH_SEARCH_KEYS[missing[0]]} (band {missing[0]})"
            for pid in live:
                state.dropped[pid].append(DroppedScene(scene.scene_id, reason, kind="missing_band"))
            return
        grids = {pid: state.points[pid].grid for pid in live}
        try:
            with gdal_env(**self.gdal_options):
                read = read_scene(scene, bands, grids, self.hrefs)
        except Exception as e:  # a bug or an unforeseen library error: fail these points only
            log.exception("unexpected error reading scene %s", scene.scene_id)
            for pid in live:
                state.failures[pid] = (f"scene {scene.scene_id}: {type(e).__name__}: {e}", False)
            return
        for pid, band_patches in read.patches.items():
            state.patches[pid].append(ScenePatch(scene, band_patches))
        for pid, err in read.errors.items():
            if err.transient:
                state.failures[pid] = (str(err), True)
            else:
                kind = getattr(err, "kind", "read_error")  # e.g. crs_mismatch, unexpected_dtype
                state.dropped[pid].append(DroppedScene(scene.scene_id, str(err), kind=kind))
        for message in sorted({str(e) for e in read.errors.values()}):
            log.warning("%s; scene %s skipped for the points it hit", message, scene.scene_id)

    def _finish(
        self, state: _Batch, pid: int, bands: tuple[str, ...], max_patch_nodata: float
    ) -> PointStack | PointFailure:
        patches = state.patches.pop(pid, [])
        dropped = state.dropped.pop(pid, [])
        if pid in state.failures:
            message, transient = state.failures.pop(pid)
            return PointFailure(pid, message, transient=transient)
        try:
            return assemble_stack(state.points[pid], patches, bands, max_patch_nodata, dropped)
        except Exception as e:
            log.exception("point %d: cannot assemble its stack", pid)
            return PointFailure(pid, f"point {pid}: {type(e).__name__}: {e}")
