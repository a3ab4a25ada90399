"""The work ledger: one SQLite file per output folder recording every unit of work.

A unit is (stage, key), e.g. ("export", "2018/AT/47201234"). It is marked ``done`` only after
its output is safely on disk, so a run killed at any moment resumes from the ledger alone.
Only the coordinating process writes the ledger; workers return results to it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from lucas.errors import LedgerError
from pipeline.dataset.layout import LEDGER_NAME, OutputLayout

__all__ = ["DONE", "FAILED", "LEDGER_NAME", "PENDING", "SKIPPED", "Ledger", "Unit",
           "UnitState", "UnitUpdate"]


class UnitState(StrEnum):
    """The state of a unit of work (stored as its value: 'done', 'failed', …)."""

    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"  # finished without output (e.g. no usable scene); not an error
    FAILED = "failed"


PENDING = UnitState.PENDING
DONE = UnitState.DONE
SKIPPED = UnitState.SKIPPED
FAILED = UnitState.FAILED

_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    stage      TEXT NOT NULL,
    key        TEXT NOT NULL,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    payload    TEXT,
    updated    REAL NOT NULL,
    PRIMARY KEY (stage, key)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    key     TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    updated REAL NOT NULL,
    state   TEXT,
    payload TEXT
);
"""
# Columns added to ``tasks`` after the first release: a ledger of then gets them on open.
_TASK_COLUMNS = {"state": "TEXT", "payload": "TEXT"}


def _kind(error: sqlite3.Error) -> str:
    text = str(error).lower()
    if "readonly" in text or "read-only" in text:
        return "readonly"
    if "unable to open" in text:
        return "cannot_open"
    return "damaged"


def ledger_error(path: Path, error: sqlite3.Error) -> LedgerError:
    """One line that says what is wrong with the ledger and what to do.

    The advice to move the file away (losing the record of finished work) is given only
    when the file itself may be damaged, not when it merely cannot be written.
    """
    kind = _kind(error)
    if kind == "readonly":
        return LedgerError(
            f"the ledger {path} is read-only ({error}): make it and its folder writable "
            f"(chmod u+w {path} {path.parent}), or choose another --out")
    if kind == "cannot_open":
        return LedgerError(
            f"cannot open the ledger {path} ({error}): {path.parent} must be a folder you can "
            "write to (check its permissions and that the disk is not read-only), or choose "
            "another --out")
    return LedgerError(
        f"cannot open the ledger {path}: {error}. If the file is damaged, move it away "
        "and run again with --force (every unit will be redone).")


@dataclass(frozen=True)
class Unit:
    """One row of the ledger."""

    stage: str
    key: str
    state: UnitState
    attempts: int
    last_error: str | None
    payload: Any


@dataclass(frozen=True)
class TaskRow:
    """One batch-export task of the ledger."""

    key: str
    task_id: str  # empty until the server answered the start call
    state: str | None
    payload: Any


@dataclass(frozen=True)
class UnitUpdate:
    """A state change to record; applied in batches inside one transaction."""

    key: str
    state: UnitState
    error: str | None = None
    payload: Any = None


class Ledger:
    """SQLite-backed record of what is done, skipped and failed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._add_task_columns()
        except sqlite3.DatabaseError as e:
            raise ledger_error(path, e) from e

    def _add_task_columns(self) -> None:
        have = {row[1] for row in self._db.execute("PRAGMA table_info(tasks)")}
        for name, kind in _TASK_COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE tasks ADD COLUMN {name} {kind}")

    @classmethod
    def in_folder(cls, out_dir: Path) -> Ledger:
        out_dir.mkdir(parents=True, exist_ok=True)
        return cls(OutputLayout(out_dir).ledger)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if _kind(e) == "damaged":  # e.g. "database is locked": as it came
                raise
            raise ledger_error(self.path, e) from e

    def record(self, stage: str, updates: Sequence[UnitUpdate]) -> None:
        """Record state changes atomically (all of them or none)."""
        now = time.time()
        rows = [
            (
                stage,
                u.key,
                str(u.state),
                u.error,
                None if u.payload is None else json.dumps(u.payload, sort_keys=True),
                now,
            )
            for u in updates
        ]
        with self._transaction() as db:
            db.executemany(
                """
                INSERT INTO units (stage, key, state, attempts, last_error, payload, updated)
                VALUES (?, ?, ?, 1, ?, ?, ?)
                ON CONFLICT (stage, key) DO UPDATE SET
                    state = excluded.state,
                    attempts = units.attempts + 1,
                    last_error = excluded.last_error,
                    payload = COALESCE(excluded.payload, units.payload),
                    updated = excluded.updated
                """,
                rows,
            )

    def mark(self, stage: str, key: str, state: UnitState, error: str | None = None,
             payload: Any = None) -> None:
        self.record(stage, [UnitUpdate(key, state, error, payload)])

    def states(self, stage: str, prefix: str = "") -> dict[str, str]:
        """Key → state of every unit of a stage whose key starts with ``prefix``."""
        cur = self._db.execute(
            "SELECT key, state FROM units WHERE stage = ? AND key >= ? AND key < ?",
            (stage, prefix, prefix + "\uffff"),
        )
        return dict(cur.fetchall())

    def units(self, stage: str, prefix: str = "", state: UnitState | None = None) -> list[Unit]:
        sql = "SELECT stage, key, state, attempts, last_error, payload FROM units " \
              "WHERE stage = ? AND key >= ? AND key < ?"
        args: list[Any] = [stage, prefix, prefix + "\uffff"]
        if state is not None:
            sql += " AND state = ?"
            args.append(str(state))
        sql += " ORDER BY key"
        return [
            Unit(s, k, UnitState(st), a, e, None if p is None else json.loads(p))
            for s, k, st, a, e, p in self._db.execute(sql, args).fetchall()
        ]

    def get(self, stage: str, key: str) -> Unit | None:
        row = self._db.execute(
            "SELECT stage, key, state, attempts, last_error, payload FROM units "
            "WHERE stage = ? AND key = ?",
            (stage, key),
        ).fetchone()
        if row is None:
            return None
        s, k, st, a, e, p = row
        return Unit(s, k, UnitState(st), a, e, None if p is None else json.loads(p))

    def counts(self) -> dict[str, dict[str, int]]:
        """Stage → state → number of units."""
        out: dict[str, dict[str, int]] = {}
        for stage, state, n in self._db.execute(
            "SELECT stage, state, COUNT(*) FROM units GROUP BY stage, state ORDER BY stage"
        ):
            out.setdefault(stage, {})[state] = n
        return out

    def forget(self, stage: str, prefix: str = "") -> None:
        """Drop every unit of a stage under ``prefix`` (``--force``)."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM units WHERE stage = ? AND key >= ? AND key < ?",
                (stage, prefix, prefix + "\uffff"),
            )

    def forget_keys(self, stage: str, keys: Sequence[str]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM units WHERE stage = ? AND key = ?",
                           [(stage, k) for k in keys])

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # Batch-export task records (e.g. Earth Engine), so a restarted run re-attaches.
    def get_task_row(self, key: str) -> TaskRow | None:
        """A task with its last seen state and the caller's payload (e.g. the request id)."""
        row = self._db.execute(
            "SELECT key, task_id, state, payload FROM tasks WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        k, task_id, state, payload = row
        return TaskRow(k, str(task_id), state, None if payload is None else json.loads(payload))

    def put_task_row(self, key: str, task_id: str, state: str, payload: Any = None) -> None:
        """Record a task (committed before this returns: callers rely on it before a start)."""
        blob = None if payload is None else json.dumps(payload, sort_keys=True)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO tasks (key, task_id, updated, state, payload) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET task_id = excluded.task_id, "
                "updated = excluded.updated, state = excluded.state, payload = excluded.payload",
                (key, task_id, time.time(), state, blob),
            )

    def task_counts(self, prefix: str = "") -> dict[str, int]:
        """Last seen state → number of tasks (``etl status``)."""
        cur = self._db.execute(
            "SELECT COALESCE(state, 'UNKNOWN'), COUNT(*) FROM tasks "
            "WHERE key >= ? AND key < ? GROUP BY 1 ORDER BY 1",
            (prefix, prefix + "\uffff"),
        )
        return {str(state): int(n) for state, n in cur.fetchall()}

