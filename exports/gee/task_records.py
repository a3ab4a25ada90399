"""The batch path's task records, kept in the run's durable record store (its ledger).

Why a store: a restarted run must re-attach to the tasks it started instead of starting them
again. :mod:`exports.gee.batch` only knows a :class:`~exports.gee.batch.TaskStore`; this
adapts the pipeline's generic :class:`~exports.registry.RecordStore` to it. Records are keyed
``<year>/<POINT_ID>`` (a point id is unique across countries within a survey year), so
``etl status`` can count them by state and a restarted run finds them; the points of one
group export share its request id, description and task id. Every ``put`` is its
own committed transaction: the batch path writes the request id *before* starting a task
and relies on it being on disk.
"""

from __future__ import annotations

from dataclasses import asdict

from exports.gee.batch import SUBMITTING, TaskRecord
from exports.registry import RecordStore

_PAYLOAD_FIELDS = ("request_id", "description", "submissions", "error", "member")


class RecordTaskStore:
    """:class:`~exports.gee.batch.TaskStore` over a :class:`~exports.registry.RecordStore`."""

    def __init__(self, records: RecordStore, year: int) -> None:
        self.records = records
        self.year = year

    def key(self, point_id: int) -> str:
        """The record key of a point's task."""
        return f"{self.year}/{point_id:08d}"

    def get(self, point_id: int) -> TaskRecord | None:
        """The point's task as last recorded, or None."""
        row = self.records.get_record(self.key(point_id))
        if row is None:
            return None
        task_id, state, payload = row
        payload = payload if isinstance(payload, dict) else {}
        return TaskRecord(
            request_id=str(payload.get("request_id", "")),
            description=str(payload.get("description", "")),
            task_id=task_id,
            state=state or SUBMITTING,
            submissions=int(payload.get("submissions", 1)),
            error=str(payload.get("error", "")),
            member=str(payload.get("member", "")),
        )

    def put(self, point_id: int, record: TaskRecord) -> None:
        """Record the point's task (committed before this returns)."""
        values = asdict(record)
        payload = {k: values[k] for k in _PAYLOAD_FIELDS}
        self.records.put_record(self.key(point_id), record.task_id, record.state, payload)
