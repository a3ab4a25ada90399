"""The run's durable stores lent to sources, kept in the ledger (coordinating process only).

Sources keep what must outlive the process here without knowing the ledger: the STAC API
caches its searches as text (keys start with ``stac-search/<year>/`` and name the API,
collection, region, year and thresholds, so a run with other settings never reads them;
``--force`` searches again), the Earth Engine batch path records its tasks (``tasks``
table, counted by state in ``etl status``).
"""

from __future__ import annotations

from typing import Any

from exports.registry import DurableStores
from pipeline.ledger import Ledger


class LedgerText:
    """:class:`exports.registry.TextStore` over the ledger's ``meta`` table."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get(self, key: str) -> str | None:
        return self.ledger.get_meta(key)

    def put(self, key: str, value: str) -> None:
        self.ledger.set_meta(key, value)


class LedgerRecords:
    """:class:`exports.registry.RecordStore` over the ledger's ``tasks`` table."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get_record(self, key: str) -> tuple[str, str | None, Any] | None:
        row = self.ledger.get_task_row(key)
        return None if row is None else (row.task_id, row.state, row.payload)

    def put_record(self, key: str, task_id: str, state: str, payload: Any) -> None:
        self.ledger.put_task_row(key, task_id, state, payload)


def ledger_stores(ledger: Ledger) -> DurableStores:
    """The stores of a run, backed by its ledger."""
    return DurableStores(text=LedgerText(ledger), records=LedgerRecords(ledger))
