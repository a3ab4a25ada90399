"""``<CC>.index.parquet``: one row per point of ``<CC>.h5``, so readers never scan keys.

A fact of the files both sides share, like :class:`exports.grid.GridFacts`: the pack stage
(``pipeline``) writes it, readers (``benchmark``'s datasets, ``etl inspect``) read it.

The public Sen4Map reader needs minutes just to list a country file's datasets (it opens
each); a table beside the file answers "which points, which classes, how many steps" at
once. One row per point: ``dataset``, ``point_id``, ``nuts0``, ``lc1``, ``lu1``, ``steps``,
``first_acquired`` / ``last_acquired`` (UTC, from ``Image_ID``), ``s1_steps`` (the point's
steps in ``<CC>_S1.h5``, null without that file or that point) and ``digest`` (SHA-256 of
the dataset's shape, dtype, ``Image_ID`` and raw, still-compressed chunks: no pixel is
decompressed to compute it, and any change of the stored pixels changes it).

The index is written after each pack (temp + rename) and records, in its schema metadata,
the size and modification time of the files it describes. :func:`read_index` trusts it
while those match; when they do not (a crash between the file's rename and the index's, a
point added or removed by hand), it compares the datasets' names with the file and raises
:class:`IndexMismatch` naming the difference, or, with ``repair=True``, writes it again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lucas.errors import OutputError
from lucas.safe_files import replace_atomically

INDEX_VERSION = "1"
INDEX_SUFFIX = ".index.parquet"
S1_SUFFIX = "_S1"
_META_KEY = b"sen4map_index"
DATASET_PREFIX = "Lucas_Point_"

SCHEMA = pa.schema([
    ("dataset", pa.string()),
    ("point_id", pa.int64()),
    ("nuts0", pa.string()),
    ("lc1", pa.string()),
    ("lu1", pa.string()),
    ("steps", pa.int32()),
    ("first_acquired", pa.timestamp("s", tz="UTC")),
    ("last_acquired", pa.timestamp("s", tz="UTC")),
    ("s1_steps", pa.int32()),
    ("digest", pa.string()),
])


class IndexMismatch(OutputError):
    """The index describes other points than its file holds."""


def index_path(country_file: Path) -> Path:
    """``<CC>.index.parquet`` beside ``<CC>.h5``."""
    return country_file.with_name(country_file.stem + INDEX_SUFFIX)


def s1_twin(country_file: Path) -> Path:
    """``<CC>_S1.h5`` beside ``<CC>.h5``."""
    return country_file.with_name(country_file.stem + S1_SUFFIX + country_file.suffix)


@dataclass(frozen=True)
class FileStamp:
    """What the index remembers of a file, to know it is unchanged without opening it."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp | None:
        """The stamp of ``path``, or None when it does not exist."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return cls(st.st_size, st.st_mtime_ns)


def _stamps(country_file: Path) -> dict[str, Any]:
    main = FileStamp.of(country_file)
    twin = FileStamp.of(s1_twin(country_file))
    return {
        "version": INDEX_VERSION,
        "file": None if main is None else [main.size, main.mtime_ns],
        "s1_file": None if twin is None else [twin.size, twin.mtime_ns],
    }


def dataset_digest(ds: h5py.Dataset) -> str:
    """SHA-256 of shape, dtype, ``Image_ID`` and the raw stored chunks (not decompressed)."""
    h = hashlib.sha256()
    h.update(repr((ds.shape, ds.dtype.descr)).encode())
    for value in attribute_texts(ds.attrs.get("Image_ID", [])):
        h.update(value.encode() + b"\0")
    if ds.chunks is None:
        h.update(np.ascontiguousarray(ds[()]).tobytes())
        return h.hexdigest()
    for offset in _chunk_offsets(ds.shape, ds.chunks):
        try:
            _, raw = ds.id.read_direct_chunk(offset)
        except (OSError, ValueError, KeyError):  # a chunk never written (all fill value)
            raw = b""
        h.update(raw)
    return h.hexdigest()


def _chunk_offsets(shape: tuple[int, ...], chunks: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(0, n, c) for n, c in zip(shape, chunks, strict=True)))


def attribute_texts(values: Any) -> list[str]:
    """An HDF5 text-array attribute (``Image_ID``, ``acquired``) as Python strings."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]


def plain_attribute(value: Any) -> Any:
    """An HDF5 attribute as plain (JSON-ready) Python: bytes, numpy scalars and arrays."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [plain_attribute(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _text(attrs: h5py.AttributeManager, key: str) -> str:
    value = attrs.get(key, "")
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, float | np.floating) and np.isnan(value):
        return ""
    return str(value)


def image_id_time(image_id: str) -> datetime | None:
    """The acquisition time (UTC) an ``Image_ID`` ``YYYYMMDDTHHMMSS_…`` starts with."""
    try:
        return datetime.strptime(image_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def point_id_of(name: str) -> int:
    """The LUCAS point id of a dataset name ``Lucas_Point_<id>``."""
    return int(name.removeprefix(DATASET_PREFIX))


def build_index(country_file: Path) -> pa.Table:
    """Read every dataset's attributes and chunks once (at pack, or to repair)."""
    twin = s1_twin(country_file)
    s1_steps: dict[str, int] = {}
    if twin.is_file():
        with h5py.File(twin, "r") as f:
            s1_steps = {n: int(f[n].shape[0]) for n in f if n.startswith(DATASET_PREFIX)}
    rows: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    with h5py.File(country_file, "r") as f:
        for name in sorted(n for n in f if n.startswith(DATASET_PREFIX)):
            ds = f[name]
            ids = attribute_texts(ds.attrs.get("Image_ID", []))
            times = [t for t in map(image_id_time, ids) if t is not None]
            rows["dataset"].append(name)
            rows["point_id"].append(point_id_of(name))
            for key in ("nuts0", "lc1", "lu1"):
                rows[key].append(_text(ds.attrs, key))
            rows["steps"].append(int(ds.shape[0]))
            rows["first_acquired"].append(min(times) if times else None)
            rows["last_acquired"].append(max(times) if times else None)
            rows["s1_steps"].append(s1_steps.get(name))
            rows["digest"].append(dataset_digest(ds))
    return pa.table(rows, schema=SCHEMA)


def write_index(country_file: Path) -> Path:
    """Build and write the index beside ``country_file`` (temp + rename)."""
    target = index_path(country_file)
    # The stamps describe the files as they are once the index is visible.
    table = build_index(country_file).replace_schema_metadata(
        {_META_KEY: json.dumps(_stamps(country_file))})
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        replace_atomically(target, lambda p: pq.write_table(table, p), tmp, sync_folder=True)
    except OSError as e:
        raise OutputError(f"cannot write {target}: {e}; run the same command again") from e
    return target


def index_is_current(country_file: Path) -> bool:
    """Whether the index exists and its stamps match the files (no HDF5 is opened)."""
    path = index_path(country_file)
    if not path.is_file():
        return False
    return _stored_stamps(path) == _stamps(country_file)


def _stored_stamps(path: Path) -> dict[str, Any] | None:
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(_META_KEY)
    return None if raw is None else json.loads(raw)


def read_index(country_file: Path, *, repair: bool = False) -> pa.Table:
    """The index of ``country_file``, checked against it.

    Unchanged files (same size and modification time as when indexed) are trusted without
    opening the HDF5 file. Otherwise the datasets' names are compared: a difference raises
    :class:`IndexMismatch` naming it (or, with ``repair``, the index is written again).
    """
    path = index_path(country_file)
    if not country_file.is_file():
        raise OutputError(f"{country_file}: no such country file")
    if not path.is_file():
        if repair:
            write_index(country_file)
            return pq.read_table(path)
        raise IndexMismatch(f"{country_file}: no index {path.name} beside it; write it with "
                            f"`etl index {country_file}`")
    table = pq.read_table(path)
    if _stored_stamps(path) == _stamps(country_file):
        return table
    problem = index_problem(country_file, table)
    if problem is None and not repair:
        return table
    if repair:
        write_index(country_file)
        return pq.read_table(path)
    raise IndexMismatch(f"{path} disagrees with {country_file.name}: {problem}; rebuild it "
                        f"with `etl index {country_file}`")


def index_problem(country_file: Path, table: pa.Table) -> str | None:
    """Which points the index and the file disagree on (names and step counts), or None."""
    indexed = dict(zip(table.column("dataset").to_pylist(), table.column("steps").to_pylist(),
                       strict=True))
    with h5py.File(country_file, "r") as f:
        held = {n: int(f[n].shape[0]) for n in f if n.startswith(DATASET_PREFIX)}
    added = sorted(set(held) - set(indexed))
    removed = sorted(set(indexed) - set(held))
    changed = sorted(n for n in set(held) & set(indexed) if held[n] != indexed[n])
    parts = []
    for what, names in (("not in the index", added), ("gone from the file", removed),
                        ("with other step counts", changed)):
        if names:
            shown = ", ".join(str(point_id_of(n)) for n in names[:5])
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            parts.append(f"{len(names)} point(s) {what} ({shown}{more})")
    return "; ".join(parts) or None
