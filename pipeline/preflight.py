"""Before a run writes anything: every input checked; after an input error, no debris.

Why: a run that fails on a bad input (a missing catalog, a typo in the table's header, a
country the table does not hold) after it created the output folder, its lock and its
ledger leaves the user a folder that looks like a started run. So the cheap checks (the
output folder can be written, the LUCAS table and key file are readable files, the source's
own inputs: :meth:`exports.registry.SourceOptions.check_inputs`) come first, and what an
input error found later (while reading the table) still leaves behind in a folder the run
created is removed again: the lock, an empty ledger and empty folders, nothing else.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lucas.errors import EtlError, InputFormatError
from lucas.gee_table import is_gee_table
from lucas.safe_files import LOCK_NAME, check_output_folder
from pipeline.config import RunConfig
from pipeline.dataset.layout import LEDGER_NAME

_OURS = {LOCK_NAME, LEDGER_NAME, f"{LEDGER_NAME}-wal", f"{LEDGER_NAME}-shm",
         f"{LEDGER_NAME}-journal"}


def check_inputs(cfg: RunConfig) -> None:
    """Raise the input's own error (one line, exit code 2) before anything is written."""
    check_output_folder(cfg.out)
    if cfg.lucas is not None and not is_gee_table(cfg.lucas):
        check_readable_file(cfg.lucas, "--lucas", "the LUCAS table (CSV)")
    if cfg.gee_key_file is not None:
        check_readable_file(cfg.gee_key_file, "--gee-key-file", "a service-account key file")
    cfg.source_spec.check_inputs(cfg.source_options)
    cfg.s1_options.check_inputs()


def check_readable_file(path: Path, flag: str, what: str) -> None:
    """``path`` is a file this process can read; the error names the flag and the fix."""
    if not path.exists():
        raise InputFormatError(f"{flag} {path}: no such file; give the path of {what}")
    if path.is_dir():
        raise InputFormatError(f"{flag} {path}: is a folder; give the path of {what} in it")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as e:
        raise InputFormatError(
            f"{flag} {path}: cannot read it ({e.strerror or e}); check its permissions"
        ) from e


@contextmanager
def no_debris_on_input_error(out: Path) -> Iterator[None]:
    """On an :class:`EtlError`, remove ``out`` again if this run created it and it holds
    nothing but the lock, a ledger without units and empty folders."""
    created = _first_missing(out)
    try:
        yield
    except EtlError:
        if created is not None and discard_if_untouched(out):
            _remove_empty_parents(out, created)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost folder a ``mkdir -p path`` would create, or None when ``path`` exists."""
    if os.path.lexists(path):
        return None
    here = path.absolute()
    while not os.path.lexists(here.parent) and here.parent != here:
        here = here.parent
    return here


def _remove_empty_parents(out: Path, top: Path) -> None:
    """The folders between ``out`` and ``top`` (which this run created), if empty."""
    here = out.absolute().parent
    while len(here.parts) >= len(top.parts):
        try:
            here.rmdir()
        except OSError:
            return
        here = here.parent


def discard_if_untouched(out: Path) -> bool:
    """Remove ``out`` when it holds only our bookkeeping and no recorded work."""
    if (out / LEDGER_NAME).exists() and _ledger_holds_work(out / LEDGER_NAME):
        return False
    files = [p for p in out.rglob("*") if not p.is_dir()]  # after: reading adds -wal/-shm
    if any(p.name not in _OURS or p.parent != out for p in files):
        return False
    try:
        for path in files:
            path.unlink(missing_ok=True)
        for folder in sorted((p for p in out.rglob("*") if p.is_dir()), reverse=True):
            folder.rmdir()
        out.rmdir()
    except OSError:  # something appeared meanwhile: leave the rest, the error is the news
        return False
    return True


def _ledger_holds_work(path: Path) -> bool:
    """Any unit or task recorded (settings alone are no work: the run set them itself)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return any(db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                       for table in ("units", "tasks"))
        finally:
            db.close()
    except sqlite3.Error:
        return True  # cannot tell: keep it
