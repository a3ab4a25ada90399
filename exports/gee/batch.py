"""The batch path: one ``Export.table.toCloudStorage`` task per group of neighbouring points.

Why groups: a project runs about 2 batch tasks at once (Earth Engine's default quota), so
the fixed cost of a task must be shared by many points (:mod:`exports.gee.groups` forms the
groups, :mod:`exports.gee.patch_table` is what a task exports and how it is read back).

Restart safety, in the order of the calls: every member's record in the :class:`TaskStore`
(the run's ledger) gets the group's request id (``ee.data.newTaskId``) and description
*before* the start call, which sends the id as the export's ``requestId``; the server starts
at most one task per request id, so a start retried after a lost answer or a crash cannot
run the export twice. The task id the server returns is stored next. A restarted run
re-forms the stored groups from the records (the points sharing a description) and
re-attaches by the stored id; a group whose id was never stored is started again with the
same request id when its members are exactly those of the stored description, and, when the
server answers that the request id exists, found once by its description in the project's
listing (the only listing: polls never list the project).

Polling touches only this run's tasks still in flight (``getTaskStatus`` of their ids: one
``operations.get`` each), at most ``max_in_flight`` of them: the server runs two at a time,
so a few queued behind them keep it busy without a long queue of ours to poll.

Within one :meth:`BatchExporter.drain` a point is started at most once; a failed task's
points are exported again only by a later drain (the export stage's ``--retries`` or a
later run), in groups of their own, half the size per earlier submission (a group too heavy
for the server's memory is split), so resubmission is bounded. Every server call and the
GCS read are injected, so tests use fakes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, BinaryIO, Protocol

import ee

from exports.gee.gcs import OpenObject, gcs_opener
from exports.gee.groups import DEFAULT_GROUP_SIZE, group_points
from exports.gee.patch_table import (
    GroupReader,
    Member,
    TableTarget,
    export_task,
    group_description,
    member_digest,
)
from exports.gee.tfrecord import read_examples
from exports.gee.throttle import ErrorKind, Throttle, classify
from exports.source import PointFailure, PointStack, Scene

__all__ = ["BatchExporter", "TableTarget", "TaskRecord", "TaskStore"]

log = logging.getLogger(__name__)

DEFAULT_IN_FLIGHT = 8  # our tasks started and unfinished at once (the server runs ~2)
DEFAULT_POLL_S = 60.0
DEFAULT_TIMEOUT_S = 6 * 3600.0
SUBMITTING = "SUBMITTING"  # ours: request id stored, the start call not answered (yet)
ACTIVE_STATES = frozenset({"UNSUBMITTED", "READY", "RUNNING", "CANCEL_REQUESTED"})
DEAD_STATES = frozenset({"FAILED", "CANCELLED", "UNKNOWN"})  # UNKNOWN: id not found

Batch = Sequence[tuple[Any, Sequence[Scene]]]


@dataclass(frozen=True)
class TaskRecord:
    """What survives a restart for one point: its group's task, to re-attach to it."""

    request_id: str  # the group's; sent as the export's requestId, stored before the start
    description: str  # the group's: sen4map_g<first POINT_ID>_<n>_<digest of every member>
    task_id: str = ""  # the server's id, once the start call answered
    state: str = SUBMITTING  # last state seen (``etl status`` counts them)
    submissions: int = 1  # exports started for this point (one per failure resubmitted)
    error: str = ""
    member: str = ""  # digest of this point's part (scenes, bands, grid, destination)


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
class Group:
    """One export task's points, as this drain knows it."""

    description: str
    members: list[Member]
    request_id: str = ""
    task_id: str = ""
    state: str = SUBMITTING
    lost: bool = False  # the start said the request id exists: find the task by description


NewRequestId = Callable[[], str]
StartExport = Callable[[str, Any], str]  # (request id, unstarted ee.batch.Task) -> task id
ListTasks = Callable[[], list[dict[str, Any]]]  # legacy task dicts: id, state, description
TaskStatus = Callable[[list[str]], list[dict[str, Any]]]  # by id; UNKNOWN when not found


def _new_request_id() -> str:
    return str(ee.data.newTaskId()[0])


def _start_export(request_id: str, task: Any) -> str:
    """Start with our request id (ee.batch.Task.start would draw its own) → the task id."""
    operation = ee.data.exportTable(request_id, dict(task.config))
    return str(operation["name"]).rsplit("/", 1)[-1]  # projects/<p>/operations/<task id>


def _task_status(ids: list[str]) -> list[dict[str, Any]]:
    """One ``operations.get`` per id (earthengine-api's getTaskStatus; 404 → UNKNOWN)."""
    return list(ee.data.getTaskStatus(ids))


def _list_tasks() -> list[dict[str, Any]]:
    """The project's operations (paged), only to find a task whose start answer was lost."""
    from ee import _cloud_api_utils

    return [_cloud_api_utils.convert_operation_to_task(o) for o in ee.data.listOperations()]


def _info(raw: Mapping[str, Any]) -> TaskInfo:
    return TaskInfo(
        str(raw.get("id", "")),
        str(raw.get("state", "UNKNOWN")),
        str(raw.get("description", "")),
        str(raw.get("error_message", "")),
    )


@dataclass
class _Plan:
    """A drain's groups: those known from the ledger and those to start."""

    attached: list[Group] = field(default_factory=list)  # a task id is stored
    resend: list[Group] = field(default_factory=list)  # request id stored, no task id
    fresh: list[Group] = field(default_factory=list)  # to start with a new request id


class BatchExporter:
    """Start, re-attach to and collect group export tasks."""

    def __init__(
        self,
        store: TaskStore,
        target: TableTarget,
        *,
        throttle: Throttle,
        group_size: int = DEFAULT_GROUP_SIZE,
        max_in_flight: int = DEFAULT_IN_FLIGHT,
        new_request_id: NewRequestId | None = None,
        start_export: StartExport | None = None,
        task_status: TaskStatus | None = None,
        list_tasks: ListTasks | None = None,
        open_object: OpenObject | None = None,
    ) -> None:
        """Every Earth Engine call is passed in (defaults: ``ee``), so tests run offline."""
        self.store = store
        self.target = target
        self.throttle = throttle
        self.group_size = max(1, group_size)
        self.max_in_flight = max(1, max_in_flight)
        self._new_id = new_request_id or _new_request_id
        self._start = start_export or _start_export
        self._status = task_status or _task_status
        self._list = list_tasks or _list_tasks
        self._open = open_object or gcs_opener()

    # --- planning: which groups exist, which are to start ---------------------------------

    def plan(self, batch: Batch, bands: Sequence[str]) -> _Plan:
        """The stored groups of ``batch`` (re-attached or re-sent) and new groups for the
        rest; points of failed tasks in groups of their own, halved per submission."""
        stored: dict[str, list[Member]] = {}
        records: dict[str, TaskRecord] = {}
        new: list[Member] = []
        failed: dict[int, list[Member]] = {}
        for point, scenes in batch:
            record = self.store.get(point.point_id)
            digest = member_digest(point, scenes, bands, self.target)
            if record is None or record.member != digest:
                new.append((point, scenes))  # never exported, or another export (--force)
            elif record.state in DEAD_STATES:
                failed.setdefault(record.submissions, []).append((point, scenes))
            else:
                stored.setdefault(record.description, []).append((point, scenes))
                records.setdefault(record.description, record)
        plan = _Plan()
        for description, members in stored.items():
            record = records[description]
            group = Group(description, members, record.request_id, record.task_id,
                          record.state)
            if record.task_id:
                plan.attached.append(group)
            elif group_description(members, bands, self.target) == description:
                plan.resend.append(group)  # the very export: the same request id is safe
            else:  # only some members were recorded before a crash: nothing was started
                new.extend(members)
        for members in group_points(new, self.group_size):
            plan.fresh.append(Group(group_description(members, bands, self.target), members))
        for submissions, items in sorted(failed.items()):
            size = max(1, self.group_size >> min(submissions, 16))
            for members in group_points(items, size):
                plan.fresh.append(Group(group_description(members, bands, self.target),
                                        members))
        return plan

    # --- starting one group ---------------------------------------------------------------

    def start(self, group: Group, bands: Sequence[str]) -> list[PointFailure]:
        """Store the request id for every member, then start; failures when it would not."""
        if not group.request_id:
            group.request_id = self._new_id()
        for point, scenes in group.members:
            old = self.store.get(point.point_id)
            if old is None:
                count = 1
            elif old.request_id == group.request_id:  # the same start, sent again
                count = old.submissions
            else:
                count = old.submissions + 1
            self.store.put(point.point_id, TaskRecord(
                group.request_id, group.description, submissions=count,
                member=member_digest(point, scenes, bands, self.target)))
        task = export_task(group.members, bands, self.target)
        start = partial(self._start, group.request_id, task)
        try:
            group.task_id = self.throttle.call(start, what=f"gee export {group.description}")
        except Exception as e:
            if "already exist" in str(e).lower():  # that request id started a task already
                log.info("gee export %s was started before; finding it", group.description)
                group.lost = True
                return []
            kind = classify(e)
            self._note(group, "FAILED", str(e))
            message = f"cannot start the export task {group.description}: {e}"
            transient = kind is not ErrorKind.DETERMINISTIC or len(group.members) > 1
            return [PointFailure(p.point_id, message, transient=transient)
                    for p, _ in group.members]
        self._note(group, "READY")
        return []

    def _note(self, group: Group, state: str, error: str = "") -> None:
        """Keep every member's record in step with the server (id found, state changed)."""
        group.state = state
        for point, _ in group.members:
            record = self.store.get(point.point_id)
            if record is None:
                continue
            new = replace(record, task_id=group.task_id, state=state, error=error)
            if new != record:
                self.store.put(point.point_id, new)

    # --- polling -----------------------------------------------------------------------

    def poll(self, groups: Sequence[Group]) -> dict[str, TaskInfo]:
        """The state of the groups' tasks, by id: only those ids are asked for; a group whose
        start answer was lost is looked up once in the listing by its description."""
        ids = sorted({g.task_id for g in groups if g.task_id})
        known: dict[str, TaskInfo] = {}
        if ids:
            raw = self.throttle.call(partial(self._status, ids), what="gee task status")
            known.update((t.id, t) for t in map(_info, raw))
        lost = [g for g in groups if g.lost and not g.task_id]
        if lost:
            listing = self.throttle.call(self._list, what="gee list tasks")
            by_description = {t.description: t for t in map(_info, listing)
                              if t.state not in DEAD_STATES}
            for group in lost:  # looked up once: not found, it waits for the next run
                group.lost = False
                info = by_description.get(group.description)
                if info is not None:
                    group.task_id = info.id
                    known[info.id] = info
        return known

    # --- the whole life cycle ----------------------------------------------------------

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
        """Start groups (at most ``max_in_flight`` unfinished at once), poll every
        ``poll_s`` and yield each point's result once its group's file is read.

        Bounded: points still queued or running at ``deadline`` (default: ``timeout_s``
        from now) come back as transient failures; the next run re-attaches to their tasks.
        When ``stop()`` (Ctrl-C) turns true, it returns before the next poll without a result
        for the points left: nothing is started any more, and their tasks carry on.
        """
        end = deadline if deadline is not None else clock() + timeout_s
        plan = self.plan(batch, bands)
        in_flight: list[Group] = list(plan.attached)
        waiting: list[Group] = [*plan.resend, *plan.fresh]
        log.info("gee batch: %d points, %d tasks re-attached, %d to start",
                 len(batch), len(plan.attached), len(waiting))
        while (in_flight or waiting) and not stop():
            while waiting and len(in_flight) < self.max_in_flight:
                group = waiting.pop(0)
                failures = self.start(group, bands)
                if failures:
                    yield from failures
                else:
                    in_flight.append(group)
            try:
                known = self.poll(in_flight)
            except Exception as e:  # the status query failed even after retries: next run
                yield from self._unpolled([*in_flight, *waiting], e)
                return
            still: list[Group] = []
            for group in in_flight:
                if not group.task_id and not group.lost:  # looked for, not listed (yet)
                    yield from self._not_found(group)
                    continue
                info = known.get(group.task_id) if group.task_id else None
                if info is None or info.state in ACTIVE_STATES:
                    if info is not None and info.state != group.state:
                        self._note(group, info.state)
                    still.append(group)
                    continue
                yield from self._finish(group, info, bands, max_patch_nodata)
            in_flight = still
            if (in_flight or waiting) and clock() + poll_s > end:
                yield from self._unfinished(in_flight, waiting)
                return
            if in_flight or waiting:
                sleep(poll_s)

    def _finish(
        self, group: Group, info: TaskInfo, bands: Sequence[str], max_patch_nodata: float
    ) -> Iterator[PointStack | PointFailure]:
        """The results of a group whose task ended."""
        self._note(group, info.state, info.error)
        if info.state == "COMPLETED":
            yield from self.read(group, bands, max_patch_nodata)
            return
        if info.state == "UNKNOWN":
            message = (f"export task {group.task_id} is unknown to Earth Engine; it is "
                       "exported again")
            transient = True
        else:
            error = info.error or "no reason given"
            message = (f"export task {group.task_id} ({group.description}) "
                       f"{info.state.lower()}: {error}")
            deterministic = classify(RuntimeError(error)) is ErrorKind.DETERMINISTIC
            # A group too heavy for the server is split on resubmission; one point is final.
            transient = info.state == "CANCELLED" or not deterministic or len(group.members) > 1
        for point, _ in group.members:
            yield PointFailure(point.point_id, message, transient=transient)

    def read(
        self, group: Group, bands: Sequence[str], max_patch_nodata: float
    ) -> list[PointStack | PointFailure]:
        """Every member's stack from the group's finished table."""
        name = self.target.object_path(group.description)
        where = f"gs://{self.target.bucket}/{name}"
        reader = GroupReader(group.members, bands, where)
        try:
            stream: BinaryIO = self._open(self.target.bucket, name)
            with stream:
                reader.add_all(read_examples(stream, where))
        except Exception as e:  # missing object, no credentials, a damaged file
            message = f"cannot read {where}: {e}"
            return [PointFailure(p.point_id, message, transient=True) for p, _ in group.members]
        return reader.results(max_patch_nodata)

    def _not_found(self, group: Group) -> Iterator[PointFailure]:
        message = (f"export {group.description} was started before (request id "
                   f"{group.request_id}) but the project's task list does not show it yet; "
                   "run again to re-attach")
        for point, _ in group.members:
            yield PointFailure(point.point_id, message, transient=True)

    def _unpolled(self, groups: Sequence[Group], error: Exception) -> Iterator[PointFailure]:
        transient = classify(error) is not ErrorKind.DETERMINISTIC
        for group in groups:
            for point, _ in group.members:
                message = f"cannot look at the export tasks: {error}"
                yield PointFailure(point.point_id, message, transient=transient)

    def _unfinished(
        self, in_flight: Sequence[Group], waiting: Sequence[Group]
    ) -> Iterator[PointFailure]:
        for group in in_flight:
            for point, _ in group.members:
                message = "export task unfinished at the batch timeout; run again to re-attach"
                yield PointFailure(point.point_id, message, transient=True)
        for group in waiting:
            for point, _ in group.members:
                message = (f"export not started before the batch timeout (at most "
                           f"{self.max_in_flight} tasks in flight); run again")
                yield PointFailure(point.point_id, message, transient=True)
