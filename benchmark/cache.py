"""On-disk cache of a country's composites, so several models and legends reuse them.

One file per country and composite kind (``<CC>.monthly.<key>.npz``, ``<CC>.annual.<key>.npz``)
plus the points' attribute table (``<CC>.points.<key>.json``). The key hashes the HDF5
file's content (SHA-256), the masked SCL classes and the composite format version, so the
cache is invalidated when the HDF5 changes or the masking flag does, and never otherwise.
Hashing a multi-GB file takes seconds, so the digest itself is memoised per
(path, size, mtime) in ``digests.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark import composites as comp
from benchmark.h5read import file_bands, read_batches
from lucas.errors import OutputError

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the composite algorithm or the region changes
KINDS = ("monthly", "annual")


@dataclass(frozen=True)
class CountryData:
    """Everything the benchmark needs from one country file."""

    country: str
    path: Path
    sha256: str
    names: np.ndarray  # (N,) dataset names, sorted
    points: pd.DataFrame  # N rows of scalar attributes (lc1, lu1, …), same order
    composites: comp.Composites
    bands: tuple[str, ...]  # bands the file holds
    from_cache: bool = False


def file_sha256(path: Path, memo_dir: Path | None = None) -> str:
    """SHA-256 of a file's content, memoised by (path, size, mtime) in ``memo_dir``."""
    stat = path.stat()
    memo_key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_file = memo_dir / "digests.json" if memo_dir else None
    memo: dict[str, str] = {}
    if memo_file and memo_file.exists():
        try:
            memo = json.loads(memo_file.read_text())
        except (OSError, ValueError):
            memo = {}
        if memo_key in memo:
            return memo[memo_key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()
    if memo_file:
        memo[memo_key] = value
        _atomic_write_bytes(memo_file, json.dumps(memo, indent=1).encode())
    return value


def cache_key(sha256: str, mask_classes: Iterable[int]) -> str:
    """Short key naming one cached composite set."""
    text = f"v{CACHE_VERSION}|{sha256}|{sorted(set(mask_classes))}|{comp.BANDS}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write cache file {target}: {e} (check --cache-dir)") from e


def _save_npz(target: Path, **arrays: np.ndarray) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write cache file {target}: {e} (check --cache-dir)") from e


def _paths(cache_dir: Path, country: str, key: str) -> dict[str, Path]:
    paths = {kind: cache_dir / f"{country}.{kind}.{key}.npz" for kind in KINDS}
    paths["points"] = cache_dir / f"{country}.points.{key}.json"
    return paths


def build_country(
    path: Path, mask_classes: Iterable[int], sha256: str = "", batch_size: int = 64
) -> CountryData:
    """Read a country file and compute its composites (no cache)."""
    mask_classes = tuple(mask_classes)
    names: list[str] = []
    attrs: list[dict[str, Any]] = []
    parts: list[comp.Composites] = []
    for batch in read_batches(path, batch_size=batch_size):
        parts.append(comp.composite_batch(batch.stacks, batch.months, mask_classes))
        names.extend(batch.names)
        attrs.extend(batch.attrs)
    bands = file_bands(path)
    lacking = [b for b in comp.BANDS if b not in bands]
    if names and lacking:
        log.warning("%s lacks bands %s: their model inputs are 0", path, ", ".join(lacking))
    return CountryData(
        country=path.stem.upper(),
        path=path,
        sha256=sha256,
        names=np.asarray(names, dtype=str),
        points=pd.DataFrame.from_records(attrs, index=range(len(attrs))),
        composites=comp.concat(parts),
        bands=bands,
    )


def load_country(
    path: Path, mask_classes: Iterable[int], cache_dir: Path | None, batch_size: int = 64
) -> CountryData:
    """A country's composites, from ``cache_dir`` when valid, else computed and cached."""
    mask_classes = tuple(mask_classes)
    sha = file_sha256(path, cache_dir)
    if cache_dir is None:
        return build_country(path, mask_classes, sha, batch_size)
    country = path.stem.upper()
    key = cache_key(sha, mask_classes)
    paths = _paths(cache_dir, country, key)
    if all(p.exists() for p in paths.values()):
        try:
            return _read_cached(path, country, sha, paths)
        except (OSError, ValueError, KeyError) as e:
            log.warning("cache for %s unreadable (%s): rebuilding", country, e)
    data = build_country(path, mask_classes, sha, batch_size)
    _write_cached(data, paths)
    for stale in cache_dir.glob(f"{country}.*.*"):
        if stale not in paths.values() and stale.suffix in (".npz", ".json"):
            stale.unlink(missing_ok=True)
    return data


def _write_cached(data: CountryData, paths: dict[str, Path]) -> None:
    c = data.composites
    _save_npz(paths["monthly"], names=data.names, values=c.monthly, filled=c.monthly_filled)
    _save_npz(paths["annual"], names=data.names, values=c.annual, filled=c.annual_filled)
    table = {
        "bands": list(data.bands),
        "records": data.points.to_dict(orient="records"),
    }
    _atomic_write_bytes(paths["points"], json.dumps(table, default=str).encode())
    log.info("cached composites of %s (%d points) in %s", data.country, len(data.names),
             paths["monthly"].parent)


def _read_cached(path: Path, country: str, sha: str, paths: dict[str, Path]) -> CountryData:
    with np.load(paths["monthly"]) as monthly, np.load(paths["annual"]) as annual:
        names = monthly["names"]
        if not np.array_equal(names, annual["names"]):
            raise ValueError("monthly and annual caches list different points")
        composites = comp.Composites(
            monthly=monthly["values"],
            monthly_filled=monthly["filled"],
            annual=annual["values"],
            annual_filled=annual["filled"],
        )
    table = json.loads(paths["points"].read_text())
    points = pd.DataFrame.from_records(table["records"], index=range(len(table["records"])))
    if len(points) != len(names):
        raise ValueError("points table and composites differ in length")
    log.info("composites of %s (%d points) read from cache", country, len(names))
    return CountryData(
        country=country, path=path, sha256=sha, names=names, points=points,
        composites=composites, bands=tuple(table["bands"]), from_cache=True,
    )
