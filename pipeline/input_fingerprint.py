"""Fingerprints of a run's input files, so that a changed input is never reported "up to date".

The settings hash names the inputs by path; this records what they held: for each file the
LUCAS table and the source's local inputs (a static catalog's JSON files, see
``SourceOptions.input_files``), its size, modification time and SHA-256. Cheap on a re-run:
a file whose size and mtime are unchanged is trusted without reading it; one that was only
touched (same content) is re-stamped silently. A real change is refused, naming what changed,
until ``--force`` redoes the year with the new inputs (the documented choice: redoing only
the affected points would need every stage to know which points a catalog item serves).

What is not fingerprinted: the pixels behind the hrefs (COGs are immutable in practice and
reading them all would cost a whole export) and remote archives (a STAC API, Earth Engine),
whose searches are cached in the ledger instead and renewed by ``--force``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lucas.errors import ConfigError, InputFormatError
from lucas.gee_table import is_gee_table

META_KEY = "inputs/{year}"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileStamp:
    """What a file held when the work was made."""

    size: int
    mtime_ns: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}


def stamp(path: Path, previous: FileStamp | None = None) -> FileStamp:
    """The file's stamp; its content is hashed only when size or mtime changed."""
    try:
        st = path.stat()
    except OSError as e:
        raise InputFormatError(f"{path}: cannot read this input ({e.strerror})") from e
    if previous is not None and (st.st_size, st.st_mtime_ns) == (previous.size,
                                                                  previous.mtime_ns):
        return previous
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return FileStamp(st.st_size, st.st_mtime_ns, digest.hexdigest())


def input_files(lucas: Path | None, source_files: Iterable[Path]) -> list[Path]:
    """The local files a run reads (a ``gee:`` table is no file)."""
    files = [] if lucas is None or is_gee_table(lucas) else [lucas]
    return [*files, *source_files]


def fingerprint(files: Iterable[Path], previous: Mapping[str, FileStamp]) -> dict[str, FileStamp]:
    """Absolute path → stamp of every file, reusing unchanged previous stamps."""
    out = {}
    for path in files:
        key = str(path.resolve())
        out[key] = stamp(path, previous.get(key))
    return out


def decode(text: str | None) -> dict[str, FileStamp]:
    """The stamps stored in the ledger (none for a folder made before they existed)."""
    if not text:
        return {}
    return {k: FileStamp(int(v["size"]), int(v["mtime_ns"]), str(v["sha256"]))
            for k, v in json.loads(text).items()}


def encode(stamps: Mapping[str, FileStamp]) -> str:
    return json.dumps({k: v.as_json() for k, v in sorted(stamps.items())}, sort_keys=True)


def changes(old: Mapping[str, FileStamp], new: Mapping[str, FileStamp]) -> list[str]:
    """What changed between two fingerprints, one phrase per file (content, not mtime)."""
    found = [f"{p} changed" for p in sorted(old.keys() & new.keys())
             if old[p].sha256 != new[p].sha256]
    found += [f"{p} is new" for p in sorted(new.keys() - old.keys())]
    found += [f"{p} is gone" for p in sorted(old.keys() - new.keys())]
    return found


def refusal(out: Path, year: int, changed: list[str]) -> ConfigError:
    """The one-line refusal naming what changed (at most five files, then a count)."""
    listed = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5
                                       else "")
    return ConfigError(
        f"{out} holds {year} work made from other input content ({listed}); use --force "
        "to redo the year with the inputs as they are now, or choose another --out"
    )
