"""The batch path: one ``Export.image.toCloudStorage`` task per point, read back from GCS.

For runs too large or too heavy for the interactive quota. What a task exports and how its
file becomes a stack is :mod:`exports.gee.export`; this module runs the tasks' life cycle.

Restart safety, in the order of the calls: a request id (``ee.data.newTaskId``) is written to
the :class:`TaskStore` (the run's ledger) *before* the start call, which sends it as the
export's ``requestId``; the server starts at most one task per request id, so a start
retried after a lost answer or a crash cannot run the export twice. The task id the server
returns is stored next. A restarted run re-attaches by the stored id, or (when the answer
was lost) by the task's description, a digest of what is exported and where.

Within one :meth:`BatchExporter.drain` a point is started at most once; a failed task is
exported again only by a later drain (the export stage's ``--retries`` or a later run), so
resubmission is bounded; a deterministic failure ("User memory limit exceeded") is not
retried in the run at all. At most ``max_queued`` (2,500 of Earth Engine's 3,000 per
project, leaving room for the project's other work) tasks wait at once; the others are
deferred to a later poll. Every server call and the GCS read are injected, so tests use
fakes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol

import ee

from exports.gee.export import (
    BatchTarget,
    Raster,
    ReadRaster,
    band_names,
    export_task,
    read_geotiff,
    stack_from_raster,
    task_description,
)
from exports.gee.throttle import ErrorKind, Throttle, classify
from exports.source import PointFailure, PointRequest, PointStack, Scene

__all__ = [
    "BatchExporter",
    "BatchTarget",
    "Raster",
    "TaskRecord",
    "TaskStore",
    "band_names",
    "read_geotiff",
    "task_description",
]

log = logging.getLogger(__name__)

MAX_QUEUED = 2500  # Earth Engine queues at most 3,000 tasks per project
DEFAULT_POLL_S = 60.0
DEFAULT_TIMEOUT_S = 6 * 3600.0
SUBMITTING = "SUBMITTING"  # ours: request id stored, the start call not answered (yet)
ACTIVE_STATES = frozenset({"UNSUBMITTED", "READY", "RUNNING", "CANCEL_REQUESTED"})
DEAD_STATES = frozenset({"FAILED", "CANCELLED", "UNKNOWN"})  # UNKNOWN: id not found

Batch = Sequence[tuple[PointRequest, Sequence[Scene]]]


@dataclass(frozen=True)
class TaskRecord:
    """What survives a restart for one point: enough to re-attach instead of exporting again."""

    request_id: str  # sent as the export's requestId; stored before the start call
    description: str  # sen4map_<POINT_ID>_<digest>: which export (scenes, bands, target)
    task_id: str = ""  # the server's id, once the start call answered
    state: str = SUBMITTING  # last state seen (``etl status`` counts them)
    submissions: int = 1  # exports started for this point (one per failure resubmitted)
    error: str = ""


class TaskStore(Protocol):
    """Where task records survive a restart (the pipeline's SQLite ledger implements it)."""

    def get(self, point_id: int) -> TaskRecord | None:
        """The point's task record, so a restarted run re-attaches instead of exporting again."""

    def put(self, point_id: int, record: TaskRecord) -> None:
        """Record the task before waiting on it: a kill after the start call loses no task."""


@dataclass(frozen=True)
class TaskInfo:
    id: str
    state: str
    description: str = ""
    error: str = ""


@dataclass
class SubmitReport:
    started: list[int] = field(default_factory=list)
    attached: list[int] = field(default_factory=list)  # a live or finished task already exists
    deferred: list[int] = field(default_factory=list)  # queue full: submit again later
    failed: list[PointFailure] = field(default_factory=list)  # the start call failed


NewRequestId = Callable[[], str]
StartExport = Callable[[str, Any], str]  # (request id, unstarted ee.batch.Task) -> task id
ListTasks = Callable[[], list[dict[str, Any]]]  # legacy task dicts: id, state, description
TaskStatus = Callable[[list[str]], list[dict[str, Any]]]  # by id; UNKNOWN when not found


def _new_request_id() -> str:
    return str(ee.data.newTaskId()[0])


def _start_export(request_id: str, task: Any) -> str:
    """Start with our request id (ee.batch.Task.start would draw its own) → the task id."""
    operation = ee.data.exportImage(request_id, dict(task.config))
    return str(operation["name"]).rsplit("/", 1)[-1]  # projects/<p>/operations/<task id>


def _list_tasks() -> list[dict[str, Any]]:
    return list(ee.data.getTaskList())


def _task_status(ids: list[str]) -> list[dict[str, Any]]:
    return list(ee.data.getTaskStatus(ids))


def _active(known: Mapping[str, TaskInfo]) -> int:
    return sum(1 for t in known.values() if t.state in ACTIVE_STATES)


def _live_by_description(known: Mapping[str, TaskInfo]) -> dict[str, TaskInfo]:
    return {t.description: t for t in known.values() if t.state not in DEAD_STATES}


def _info(raw: Mapping[str, Any]) -> TaskInfo:
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
        new_request_id: NewRequestId | None = None,
        start_export: StartExport | None = None,
        list_tasks: ListTasks | None = None,
        task_status: TaskStatus | None = None,
        read_raster: ReadRaster | None = None,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        """Every Earth Engine call is passed in (defaults: ``ee``), so tests run offline."""
        self.store = store
        self.target = target
        self.throttle = throttle
        self.max_queued = max_queued
        self._new_id = new_request_id or _new_request_id
        self._start = start_export or _start_export
        self._list = list_tasks or _list_tasks
        self._status = task_status or _task_status
        self._read = read_raster or read_geotiff

    def tasks(self, stored: Sequence[str] = ()) -> dict[str, TaskInfo]:
        """The project's tasks by id: one paged listing, plus a by-id status query for the
        ``stored`` ids the listing no longer (or not yet) shows."""
        raw = self.throttle.call(self._list, what="gee list tasks")
        known = {t.id: t for t in map(_info, raw)}
        unlisted = sorted({t for t in stored if t and t not in known})
        if unlisted:
            raw = self.throttle.call(partial(self._status, unlisted), what="gee task status")
            known.update((t.id, t) for t in map(_info, raw))
        return known

    def survey(self, batch: Batch) -> dict[str, TaskInfo]:
        """One look at the server for the tasks of ``batch`` (and the project's queue)."""
        records = (self.store.get(p.point_id) for p, _ in batch)
        return self.tasks([r.task_id for r in records if r is not None])

    def submit(
        self, batch: Batch, bands: Sequence[str], known: Mapping[str, TaskInfo] | None = None
    ) -> SubmitReport:
        """Start a task for each point without a live or finished one, within the queue cap."""
        known = self.survey(batch) if known is None else known
        by_description = _live_by_description(known)
        queued = _active(known)
        report = SubmitReport()
        for point, scenes in batch:
            pid = point.point_id
            description = task_description(pid, scenes, bands, self.target)
            record = self.store.get(pid)
            if record is not None and record.description != description:
                record = None  # an export of other scenes/bands/target (e.g. after --force)
            live = known.get(record.task_id) if record is not None and record.task_id else None
            orphan = by_description.get(description)
            if live is not None and live.state not in DEAD_STATES:
                self._note(pid, record, live)
                report.attached.append(pid)
            elif orphan is not None:  # started before a crash, its id never stored
                self._note(pid, record or TaskRecord("", description), orphan)
                report.attached.append(pid)
            elif queued >= self.max_queued:
                report.deferred.append(pid)
            else:
                outcome = self._start_one(point, scenes, bands, description, record)
                if isinstance(outcome, PointFailure):
                    report.failed.append(outcome)
                    continue
                (report.started if outcome else report.attached).append(pid)
                queued += 1
        log.info(
            "gee batch: %d started, %d re-attached, %d deferred, %d failed (queue %d/%d)",
            len(report.started), len(report.attached), len(report.deferred),
            len(report.failed), queued, self.max_queued,
        )  # fmt: skip
        return report

    def _note(self, pid: int, record: TaskRecord | None, info: TaskInfo) -> None:
        """Keep the stored record in step with the server (id found, state changed)."""
        if record is None:
            return
        new = replace(record, task_id=info.id, state=info.state, error=info.error)
        if new != record:
            self.store.put(pid, new)

    def _start_one(
        self,
        point: PointRequest,
        scenes: Sequence[Scene],
        bands: Sequence[str],
        description: str,
        record: TaskRecord | None,
    ) -> bool | PointFailure:
        """Store the request id, then start; True when a task was started."""
        pid = point.point_id
        if record is not None and not record.task_id and record.request_id:
            pending = record  # a start whose answer was lost: same request id, same task
        else:
            count = record.submissions + 1 if record is not None else 1
            pending = TaskRecord(self._new_id(), description, submissions=count)
        self.store.put(pid, pending)  # before the start call: a crash cannot lose the task
        task = export_task(point, scenes, bands, self.target)
        start = partial(self._start, pending.request_id, task)
        try:
            task_id = self.throttle.call(start, what=f"gee export {pid:08d}")
        except Exception as e:
            if "already exist" in str(e).lower():  # that request id started a task already
                log.info("gee export %08d was started before; found on the next poll", pid)
                return False
            kind = classify(e)
            self.store.put(pid, replace(pending, state="FAILED", error=str(e)))
            message = f"cannot start the export task of point {pid:08d}: {e}"
            return PointFailure(pid, message, transient=kind is not ErrorKind.DETERMINISTIC)
        self.store.put(pid, replace(pending, task_id=task_id, state="READY"))
        return True

    def collect(
        self,
        batch: Batch,
        bands: Sequence[str],
        max_patch_nodata: float,
        known: Mapping[str, TaskInfo] | None = None,
    ) -> Iterator[PointStack | PointFailure]:
        """Results of the points whose task ended; points still running are not yielded."""
        known = self.survey(batch) if known is None else known
        by_description = _live_by_description(known)
        for point, scenes in batch:
            pid = point.point_id
            record = self.store.get(pid)
            if record is None:
                continue  # not started
            if record.task_id:
                info = known.get(record.task_id)
            else:  # the start's answer was lost: the task is known by its description
                info = by_description.get(record.description)
            if info is None:
                continue  # start unanswered, or too new for this listing
            self._note(pid, record, info)
            record = replace(record, task_id=info.id)
            if info.state in ACTIVE_STATES:
                continue
            if info.state == "COMPLETED":
                yield self._read_point(point, scenes, bands, max_patch_nodata, record)
                continue
            if info.state == "UNKNOWN":
                message = f"export task {record.task_id} is unknown to Earth Engine"
                yield PointFailure(pid, f"{message}; it is exported again", transient=True)
                continue
            error = info.error or "no reason given"
            message = f"export task {record.task_id} {info.state.lower()}: {error}"
            transient = info.state == "CANCELLED" or (
                classify(RuntimeError(error)) is not ErrorKind.DETERMINISTIC
            )
            yield PointFailure(pid, message, transient=transient)

    def drain(
        self,
        batch: Batch,
        bands: Sequence[str],
        max_patch_nodata: float,
        *,
        poll_s: float = DEFAULT_POLL_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[PointStack | PointFailure]:
        """Submit (as the queue allows), poll every ``poll_s`` and collect until every point
        has a result, each point started at most once.

        Bounded: points still queued or running at ``deadline`` (default: ``timeout_s``
        from now) come back as transient failures; the next run re-attaches to their tasks.
        When ``stop()`` (Ctrl-C) turns true, it returns before the next poll without a result
        for the points left: nothing is started any more, and their tasks carry on.
        """
        end = deadline if deadline is not None else clock() + timeout_s
        pending = {p.point_id: (p, s) for p, s in batch}
        admitted: set[int] = set()  # started or re-attached by this drain
        first = True
        while pending and not stop():
            fresh = [item for pid, item in pending.items() if pid not in admitted]
            running = [item for pid, item in pending.items() if pid in admitted]
            # The first look covers every point (re-attaching is decided there); later ones
            # only the tasks in flight and as many deferred points as the queue has room for.
            try:
                known = self.survey(fresh + running if first else running)
            except Exception as e:  # the listing failed even after retries: try next run
                yield from self._unpolled(pending, e)
                return
            if not first:
                fresh = fresh[: max(self.max_queued - _active(known), 0)]
            first = False
            if fresh:
                report = self.submit(fresh, bands, known)
                admitted.update(report.started, report.attached)
                for failure in report.failed:
                    pending.pop(failure.point_id)
                    yield failure
            running = [item for pid, item in pending.items() if pid in admitted]
            for result in self.collect(running, bands, max_patch_nodata, known):
                pending.pop(result.point_id)
                yield result
            if pending and clock() + poll_s > end:
                yield from self._unfinished(pending, admitted)
                return
            if pending:
                sleep(poll_s)

    def _unpolled(self, pending: Mapping[int, Any], error: Exception) -> Iterator[PointFailure]:
        transient = classify(error) is not ErrorKind.DETERMINISTIC
        for pid in pending:
            message = f"cannot look at the export tasks: {error}"
            yield PointFailure(pid, message, transient=transient)

    def _unfinished(
        self, pending: Mapping[int, Any], admitted: set[int]
    ) -> Iterator[PointFailure]:
        for pid in pending:
            if pid in admitted:
                message = "export task unfinished at the batch timeout; run again to re-attach"
            else:
                message = "export not started: the project's task queue stayed full"
            yield PointFailure(pid, message, transient=True)

    def _read_point(
        self,
        point: PointRequest,
        scenes: Sequence[Scene],
        bands: Sequence[str],
        max_patch_nodata: float,
        record: TaskRecord,
    ) -> PointStack | PointFailure:
        path = self.target.vsigs_path(record.description)
        try:
            raster = self._read(path)
        except Exception as e:  # rasterio/GDAL errors: missing object, no GCS credentials
            return PointFailure(point.point_id, f"cannot read {path}: {e}", transient=True)
        return stack_from_raster(raster, path, point, scenes, bands, max_patch_nodata)
