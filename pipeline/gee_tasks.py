"""The Earth Engine batch path's task records, kept in the run's ledger.

Why here: :mod:`exports.gee.batch` only knows a :class:`~exports.gee.batch.TaskStore`; the
ledger is the pipeline's. Records are keyed ``<year>/<POINT_ID>`` (a point id is unique
across countries within a survey year), so ``etl status`` can count them by state and a
restarted run finds them. Every ``put`` is its own committed transaction: the batch path
writes the request id *before* starting a task and relies on it being on disk.
"""

from __future__ import annotations

from dataclasses import asdict

from exports.gee.batch import SUBMITTING, TaskRecord
from pipeline.ledger import Ledger

_PAYLOAD_FIELDS = ("request_id", "description", "submissions", "error")


class LedgerTaskStore:
    """:class:`~exports.gee.batch.TaskStore` over the ledger's ``tasks`` table."""

    def __init__(self, ledger: Ledger, year: int) -> None:
        self.ledger = ledger
        self.year = year

    def key(self, point_id: int) -> str:
        return f"{self.year}/{point_id:08d}"

    def get(self, point_id: int) -> TaskRecord | None:
        row = self.ledger.get_task_row(self.key(point_id))
        if row is None:
            return None
        payload = row.payload if isinstance(row.payload, dict) else {}
        return TaskRecord(
            request_id=str(payload.get("request_id", "")),
            description=str(payload.get("description", "")),
            task_id=row.task_id,
            state=row.state or SUBMITTING,
            submissions=int(payload.get("submissions", 1)),
            error=str(payload.get("error", "")),
        )

    def put(self, point_id: int, record: TaskRecord) -> None:
        values = asdict(record)
        payload = {k: values[k] for k in _PAYLOAD_FIELDS}
        self.ledger.put_task_row(self.key(point_id), record.task_id, record.state, payload)
