"""The ledger-backed stores sources keep: batch-export task records (round trip, counts by
state, older ledgers)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from exports.gee.batch import TaskRecord
from exports.gee.task_records import RecordTaskStore
from pipeline.ledger import Ledger
from pipeline.source_stores import LedgerRecords


def LedgerTaskStore(ledger: Ledger, year: int) -> RecordTaskStore:
    return RecordTaskStore(LedgerRecords(ledger), year)


def test_records_round_trip_and_are_counted_by_state(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        store = LedgerTaskStore(ledger, 2018)
        assert store.get(1) is None
        pending = TaskRecord("req-1", "sen4map_00000001_abc")
        store.put(1, pending)
        store.put(2, TaskRecord("req-2", "sen4map_g00000002_5_def", "T2", "RUNNING", 2, "",
                                "m2"))
        assert store.get(1) == pending and store.get(1).state == "SUBMITTING"  # type: ignore[union-attr]
        assert ledger.task_counts() == {"RUNNING": 1, "SUBMITTING": 1}
        assert LedgerTaskStore(ledger, 2022).get(1) is None, "keys are per survey year"
    with Ledger(tmp_path / "ledger.sqlite") as ledger:  # committed: survives a restart
        record = LedgerTaskStore(ledger, 2018).get(2)
        assert record == TaskRecord("req-2", "sen4map_g00000002_5_def", "T2", "RUNNING", 2, "",
                                    "m2"), "the member digest too: re-attaching checks it"


def test_a_ledger_of_the_first_release_gets_the_new_task_columns(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE tasks (key TEXT PRIMARY KEY, task_id TEXT NOT NULL, "
               "updated REAL NOT NULL)")
    db.execute("INSERT INTO tasks VALUES ('2018/AT/1', 'OP123', 0)")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert ledger.get_task_row("2018/AT/1").task_id == "OP123"  # type: ignore[union-attr]
        assert ledger.task_counts() == {"UNKNOWN": 1}
        LedgerTaskStore(ledger, 2018).put(5, TaskRecord("req-5", "d5", "T5", "READY"))
        assert ledger.task_counts() == {"READY": 1, "UNKNOWN": 1}
