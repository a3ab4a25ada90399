"""The work ledger: one SQLite file per output folder recording every unit of work.

A unit is (stage, key), e.g. ("export", "2018/AT/47201234"). It is marked ``done`` only after
its output is safely on disk, so a run killed at any moment resumes from the ledger alone.
Only the coordinating process writes the ledger; workers return results to it.
"""

from __future__ import annotations

import functools
import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from lucas.errors import EtlError, LedgerError, OutputError
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


_P = ParamSpec("_P")
_R = TypeVar("_R")
_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_LOW_SPACE = 1 << 20  # an I/O error with less than this free is a full disk


def ledger_error(e: sqlite3.Error, path: Path) -> EtlError:
    """SQLite's error as one line naming the ledger and what to do.

    The advice to move the file away (losing the record of finished work) is given only
    when the file itself may be damaged, not when it merely cannot be written.
    """
    name = getattr(e, "sqlite_errorname", "") or ""
    text = str(e).lower()
    if name == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and _low_space(path)):
        return OutputError(f"disk full while writing the ledger {path}: free space in "
                           f"{path.parent} and run the same command again (work recorded so "
                           "far is kept)")
    if name.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text:
        return LedgerError(
            f"the ledger {path} is read-only ({e}): make it and its folder writable "
            f"(chmod u+w {path} {path.parent}), or choose another --out")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return LedgerError(
            f"cannot open the ledger {path} ({e}): {path.parent} must be a folder you can "
            "write to (check its permissions and that the disk is not read-only), or choose "
            "another --out")
    if name in _DAMAGED or name == "SQLITE_IOERR_SHORT_READ" or "malformed" in text \
            or "not a database" in text:
        return LedgerError(f"the ledger {path} is damaged ({e}): move it away and run again "
                           "with --force (every unit will be redone)")
    return LedgerError(f"cannot use the ledger {path}: {e}")


def _low_space(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < _LOW_SPACE
    except OSError:
        return False


def _translated(
    method: Callable[Concatenate[Ledger, _P], _R],
) -> Callable[Concatenate[Ledger, _P], _R]:
    """SQLite errors of a ledger call become :func:`ledger_error` (one line, exit code 2)."""

    @functools.wraps(method)
    def wrapper(self: Ledger, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise ledger_error(e, self.path) from e

    return wrapper


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
            self._check()
            self._db.executescript(_SCHEMA)
            self._add_task_columns()
        except sqlite3.Error as e:
            raise ledger_error(e, path) from e

    def _check(self) -> None:
        """Refuse a damaged ledger before trusting (or writing) it: ``quick_check`` reads
        every page once (about a second per few hundred MB)."""
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise LedgerError(f"the ledger {self.path} is damaged ({'; '.join(problems)}): "
                              "move it away and run again with --force (every unit will be "
                              "redone)")

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
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")  # a full disk may fail here: rolled back below
        except BaseException:
            if self._db.in_transaction:  # SQLite may have rolled back already
                with suppress(sqlite3.Error):  # the error that got us here is the one to tell
                    self._db.execute("ROLLBACK")
            raise

    @_translated
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

    @_translated
    def states(self, stage: str, prefix: str = "") -> dict[str, str]:
        """Key → state of every unit of a stage whose key starts with ``prefix``."""
        cur = self._db.execute(
            "SELECT key, state FROM units WHERE stage = ? AND key >= ? AND key < ?",
            (stage, prefix, prefix + "\uffff"),
        )
        return dict(cur.fetchall())

    @_translated
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

    @_translated
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

    @_translated
    def counts(self) -> dict[str, dict[str, int]]:
        """Stage → state → number of units."""
        out: dict[str, dict[str, int]] = {}
        for stage, state, n in self._db.execute(
            "SELECT stage, state, COUNT(*) FROM units GROUP BY stage, state ORDER BY stage"
        ):
            out.setdefault(stage, {})[state] = n
        return out

    @_translated
    def count_failed(self, prefix: str, before: float | None = None) -> int:
        """Failed units of every stage under ``prefix``, recorded before ``before`` if given
        (the failures of earlier runs that a run did not retry)."""
        sql = "SELECT COUNT(*) FROM units WHERE state = ? AND key >= ? AND key < ?"
        args: list[Any] = [str(FAILED), prefix, prefix + "\uffff"]
        if before is not None:
            sql += " AND updated < ?"
            args.append(before)
        return int(self._db.execute(sql, args).fetchone()[0])

    @_translated
    def forget(self, stage: str, prefix: str = "") -> None:
        """Drop every unit of a stage under ``prefix`` (``--force``)."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM units WHERE stage = ? AND key >= ? AND key < ?",
                (stage, prefix, prefix + "\uffff"),
            )

    @_translated
    def forget_keys(self, stage: str, keys: Sequence[str]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM units WHERE stage = ? AND key = ?",
                           [(stage, k) for k in keys])

    @_translated
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @_translated
    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # Batch-export task records (e.g. Earth Engine), so a restarted run re-attaches.
    @_translated
    def get_task_row(self, key: str) -> TaskRow | None:
        """A task with its last seen state and the caller's payload (e.g. the request id)."""
        row = self._db.execute(
            "SELECT key, task_id, state, payload FROM tasks WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        k, task_id, state, payload = row
        return TaskRow(k, str(task_id), state, None if payload is None else json.loads(payload))

    @_translated
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

    @_translated
    def task_counts(self, prefix: str = "") -> dict[str, int]:
        """Last seen state → number of tasks (``etl status``)."""
        cur = self._db.execute(
            "SELECT COALESCE(state, 'UNKNOWN'), COUNT(*) FROM tasks "
            "WHERE key >= ? AND key < ? GROUP BY 1 ORDER BY 1",
            (prefix, prefix + "\uffff"),
        )
        return {str(state): int(n) for state, n in cur.fetchall()}

