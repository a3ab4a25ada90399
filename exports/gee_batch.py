"""The batch path: one ``Export.image.toCloudStorage`` task per point, read back from GCS.

For runs too large or too heavy for the interactive quota. Each point's stack (the same
fields as the fast path, ``<system:index>_<band>``, u16, no-data 0) is exported as a
64×64 GeoTIFF on the point's grid to ``gs://<bucket>/<prefix>/<POINT_ID>.tif``. Task ids
go to an injected :class:`TaskStore` (the run's ledger) as soon as a task starts, so a
restarted run re-attaches to its tasks by id instead of exporting again; a task started
just before a crash (id not yet stored) is found again by its description. At most
``max_queued`` (3000, Earth Engine's per-project limit) tasks wait at once; the rest are
deferred to a later :meth:`BatchExporter.submit`.

Every server call (start, list) and the GCS read are injected, so tests use fakes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import ee
import numpy as np

from exports.gee_pixels import time_ordered
from exports.gee_select import COLLECTION
from exports.gee_throttle import ErrorKind, Throttle, classify
from exports.source import PointFailure, PointRequest, PointStack, Scene, band_dtype
from exports.stack import ScenePatch, assemble_stack

log = logging.getLogger(__name__)

MAX_QUEUED = 3000
ACTIVE_STATES = frozenset({"UNSUBMITTED", "READY", "RUNNING", "CANCEL_REQUESTED"})
DEAD_STATES = frozenset({"FAILED", "CANCELLED", "UNKNOWN"})  # UNKNOWN: id not found


class TaskStore(Protocol):
    """Where task ids survive a restart (the lead's SQLite ledger implements it)."""

    def get(self, point_id: int) -> str | None: ...
    def put(self, point_id: int, task_id: str) -> None: ...


@dataclass(frozen=True)
class TaskInfo:
    id: str
    state: str
    description: str = ""
    error: str = ""


@dataclass(frozen=True)
class BatchTarget:
    """The Cloud Storage destination (``--gcs-bucket``, ``--gcs-prefix``)."""

    bucket: str
    prefix: str = "sen4map"

    def object_prefix(self, point_id: int) -> str:
        folder = self.prefix.strip("/")
        return f"{folder}/{point_id:08d}" if folder else f"{point_id:08d}"

    def vsigs_path(self, point_id: int) -> str:
        return f"/vsigs/{self.bucket}/{self.object_prefix(point_id)}.tif"


@dataclass
class SubmitReport:
    started: list[int] = field(default_factory=list)
    attached: list[int] = field(default_factory=list)  # a live or finished task already exists
    deferred: list[int] = field(default_factory=list)  # queue full: submit again later


StartTask = Callable[[Any], str]  # starts an ee.batch.Task, returns its id
ListTasks = Callable[[], list[dict[str, Any]]]  # legacy task dicts: id, state, description
TaskStatus = Callable[[list[str]], list[dict[str, Any]]]  # by id; UNKNOWN when not found
ReadRaster = Callable[[str], tuple[np.ndarray, Sequence[str | None]]]


def task_description(
    point_id: int, scenes: Sequence[Scene], bands: Sequence[str], target: BatchTarget
) -> str:
    """``sen4map_<POINT_ID>_<digest>``: the digest of what is exported and where, so a task
    found by description is this very export, not one of another run or config."""
    what = [target.bucket, target.prefix, *bands, *(s.image_id for s in time_ordered(scenes))]
    digest = hashlib.sha256("\n".join(what).encode()).hexdigest()[:10]
    return f"sen4map_{point_id:08d}_{digest}"


def band_names(scenes: Sequence[Scene], bands: Sequence[str]) -> list[str]:
    """The exported bands, in file order: scenes in time order, then the requested bands."""
    return [f"{s.image_id}_{b}" for s in time_ordered(scenes) for b in bands]


def export_image(scenes: Sequence[Scene], bands: Sequence[str]) -> ee.Image:
    """Explicit ``Image.cat`` (not ``toBands``) so the file's band order is known up front."""
    parts = [
        ee.Image(f"{COLLECTION}/{s.image_id}").select(
            list(bands), [f"{s.image_id}_{b}" for b in bands]
        )
        for s in time_ordered(scenes)
    ]
    return ee.Image.cat(parts).unmask(0, False).toUint16()


def export_task(
    point: PointRequest, scenes: Sequence[Scene], bands: Sequence[str], target: BatchTarget
) -> Any:
    """The (unstarted) task exporting one point's stack on its patch grid."""
    grid = point.grid
    return ee.batch.Export.image.toCloudStorage(
        image=export_image(scenes, bands),
        description=task_description(point.point_id, scenes, bands, target),
        bucket=target.bucket,
        fileNamePrefix=target.object_prefix(point.point_id),
        dimensions=f"{grid.size}x{grid.size}",
        crs=grid.crs,
        crsTransform=list(grid.transform_tuple()),
        fileFormat="GeoTIFF",
    )


def read_geotiff(path: str) -> tuple[np.ndarray, Sequence[str | None]]:
    """(bands, rows, cols) and the band descriptions of a GeoTIFF (``/vsigs/`` or local)."""
    import rasterio

    with rasterio.open(path) as src:
        return src.read(), src.descriptions


def _start(task: Any) -> str:
    task.start()
    return str(task.id)


def _list_tasks() -> list[dict[str, Any]]:
    return list(ee.data.getTaskList())


def _task_status(ids: list[str]) -> list[dict[str, Any]]:
    return list(ee.data.getTaskStatus(ids))


def _info(raw: dict[str, Any]) -> TaskInfo:
    return TaskInfo(
        str(raw.get("id", "")),
        str(raw.get("state", "UNKNOWN")),
        str(raw.get("description", "")),
        str(raw.get("error_message", "")),
    )


class BatchExporter:
    """Start, re-attach to and collect per-point export tasks."""

    def __init__(
        self,
        store: TaskStore,
        target: BatchTarget,
        *,
        throttle: Throttle,
        start_task: StartTask | None = None,
        list_tasks: ListTasks | None = None,
        task_status: TaskStatus | None = None,
        read_raster: ReadRaster | None = None,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.store = store
        self.target = target
        self.throttle = throttle
        self.max_queued = max_queued
        self._start = start_task or _start
        self._list = list_tasks or _list_tasks
        self._status = task_status or _task_status
        self._read = read_raster or read_geotiff

    def tasks(self, stored: Sequence[str] = ()) -> dict[str, TaskInfo]:
        """The project's tasks by id: one paged listing, plus a by-id status query for the
        ``stored`` ids the listing no longer (or not yet) shows."""
        raw = self.throttle.call(self._list, what="gee list tasks")
        known = {t.id: t for t in map(_info, raw)}
        unlisted = sorted({t for t in stored if t not in known})
        if unlisted:
            raw = self.throttle.call(partial(self._status, unlisted), what="gee task status")
            known.update((t.id, t) for t in map(_info, raw))
        return known

    def submit(
        self, batch: Sequence[tuple[PointRequest, Sequence[Scene]]], bands: Sequence[str]
    ) -> SubmitReport:
        """Start a task for each point without a live or finished one, within the queue cap."""
        ids = {p.point_id: self.store.get(p.point_id) for p, _ in batch}
        known = self.tasks([t for t in ids.values() if t])
        by_description = {t.description: t for t in known.values() if t.state not in DEAD_STATES}
        queued = sum(1 for t in known.values() if t.state in ACTIVE_STATES)
        report = SubmitReport()
        for point, scenes in batch:
            pid = point.point_id
            stored = known.get(ids[pid] or "")
            orphan = by_description.get(task_description(pid, scenes, bands, self.target))
            if stored is not None and stored.state not in DEAD_STATES:
                report.attached.append(pid)
            elif orphan is not None:
                self.store.put(pid, orphan.id)  # started before a crash, id never stored
                report.attached.append(pid)
            elif queued >= self.max_queued:
                report.deferred.append(pid)
            else:
                task = export_task(point, scenes, bands, self.target)
                task_id = self.throttle.call(partial(self._start, task), what=f"gee export {pid}")
                self.store.put(pid, task_id)
                report.started.append(pid)
                queued += 1
        log.info(
            "gee batch: %d started, %d re-attached, %d deferred (queue %d/%d)",
            len(report.started),
            len(report.attached),
            len(report.deferred),
            queued,
            self.max_queued,
        )
        return report

    def collect(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        """Results of the points whose task ended; points still running are not yielded."""
        stored = {p.point_id: self.store.get(p.point_id) for p, _ in batch}
        known = self.tasks([t for t in stored.values() if t])
        for point, scenes in batch:
            task_id = stored[point.point_id]
            info = known.get(task_id or "")
            if task_id is None or info is None or info.state in ACTIVE_STATES:
                continue  # not started yet, or still running
            if info.state == "UNKNOWN":
                message = f"export task {task_id} is unknown to Earth Engine; export again"
                yield PointFailure(point.point_id, message, transient=True)
                continue
            if info.state in ("FAILED", "CANCELLED"):
                message = f"export task {task_id} {info.state.lower()}: {info.error}"
                transient = info.state == "CANCELLED" or (
                    classify(RuntimeError(info.error)) is not ErrorKind.DETERMINISTIC
                )
                yield PointFailure(point.point_id, message, transient=transient)
            elif info.state == "COMPLETED":
                yield self._read_point(point, scenes, bands, max_patch_nodata)

    def drain(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
        *,
        poll_s: float = 60.0,
        timeout_s: float = 6 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[PointStack | PointFailure]:
        """Submit (as the queue allows), poll and collect until every point has a result.

        Bounded: points whose task is still queued or running after ``timeout_s`` come back
        as transient failures; the next run re-attaches to their tasks by the stored id.
        """
        pending = list(batch)
        deadline = clock() + timeout_s
        while pending:
            self.submit(pending, bands)
            finished: set[int] = set()
            for result in self.collect(pending, bands, max_patch_nodata):
                finished.add(result.point_id)
                yield result
            pending = [(p, s) for p, s in pending if p.point_id not in finished]
            if pending and clock() + poll_s > deadline:
                for p, _ in pending:
                    message = (
                        f"export task unfinished after {timeout_s:g} s; run again to re-attach"
                    )
                    yield PointFailure(p.point_id, message, transient=True)
                return
            if pending:
                sleep(poll_s)

    def _read_point(
        self,
        point: PointRequest,
        scenes: Sequence[Scene],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> PointStack | PointFailure:
        path = self.target.vsigs_path(point.point_id)
        try:
            array, descriptions = self._read(path)
        except Exception as e:  # rasterio/GDAL errors: missing object, no GCS credentials
            return PointFailure(point.point_id, f"cannot read {path}: {e}", transient=True)
        names = band_names(scenes, bands)
        if array.shape[0] != len(names):
            message = f"{path}: {array.shape[0]} bands, expected {len(names)}"
            return PointFailure(point.point_id, message)
        if all(descriptions) and set(descriptions) == set(names):
            names = [str(d) for d in descriptions]  # the file says which band is which
        dtype = band_dtype(bands)
        by_id = {s.image_id: s for s in scenes}
        fields: dict[str, dict[str, np.ndarray]] = {}
        for i, name in enumerate(names):
            image_id, band = name.rsplit("_", 1)
            fields.setdefault(image_id, {})[band] = array[i].astype(dtype[band])
        patches = [ScenePatch(by_id[i], f) for i, f in fields.items()]
        try:
            return assemble_stack(point, patches, bands, max_patch_nodata)
        except ValueError as e:  # wrong patch shape
            return PointFailure(point.point_id, f"{path}: {e}")
