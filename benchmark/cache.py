"""On-disk cache of a country's composites, so several models and legends reuse them.

One file per country and composite kind (``<CC>.monthly.<key>.h5``, ``<CC>.annual.<key>.h5``,
each holding ``names``, ``values`` and the ``filled`` mask) plus the points' attribute
table (``<CC>.points.<key>.json``). The key hashes the HDF5 file's content (SHA-256), the
composite rule (``--composite``, masked SCL classes, ``--empty-months``) and the composite
format version, so the cache is invalidated when the HDF5 changes or the rule does, and
never otherwise. Hashing a multi-GB file takes
seconds, so the digest itself is memoised per (path, size, mtime) in ``digests.json``.

Why HDF5 and memory maps: the EU's composites (~150 KB per point, 50 GB for 335,000
points) do not fit in memory. A cache file is written batch by batch while the composites
are computed, its datasets are contiguous and uncompressed, and reading it maps them
(``numpy.memmap`` at the dataset's offset), so a run only pages in the points and pixels
its models ask for.
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

import h5py
import numpy as np
import pandas as pd

from benchmark import composites as comp
from benchmark.h5read import file_bands, point_names, read_batches
from lucas.errors import OutputError
from lucas.safe_files import atomic_write_text, remove_leftovers, replace_together

log = logging.getLogger(__name__)

CACHE_VERSION = 3  # bump when the composite algorithm, the region or the file layout changes
KINDS = ("monthly", "annual")
_HINT = "free space there or choose another --cache-dir"


@dataclass(frozen=True)
class CountryData:
    """Everything the benchmark needs from one country file."""

    country: str
    path: Path
    sha256: str
    names: np.ndarray  # (N,) dataset names, sorted
    points: pd.DataFrame  # N rows of scalar attributes (lc1, lu1, …), same order
    composites: comp.Composites  # arrays are memory maps when read from the cache
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
        atomic_write_text(memo_file, json.dumps(memo, indent=1), hint=_HINT)
    return value


def cache_key(sha256: str, rule: comp.CompositeRule | Iterable[int]) -> str:
    """Short key naming one cached composite set."""
    text = f"v{CACHE_VERSION}|{sha256}|{comp.as_rule(rule).key()}|{comp.BANDS}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tmp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def _remove_dead_temps(cache_dir: Path, country: str) -> None:
    """Temp files of killed builds (GBs for a large country); a live build's are kept,
    since several benchmarks may share one cache folder."""
    remove_leftovers(cache_dir, f".{country}.*.tmp", in_use=_build_alive)


def _build_alive(tmp: Path) -> bool:
    """Whether the build named by the pid in a temp file's name may still be writing it."""
    try:
        pid = int(tmp.name.rsplit(".", 2)[-2])
        os.kill(pid, 0)  # raises when no such process: the build died
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True  # not ours, or another user's live process
    return True


def _paths(cache_dir: Path, country: str, key: str) -> dict[str, Path]:
    paths = {kind: cache_dir / f"{country}.{kind}.{key}.h5" for kind in KINDS}
    paths["points"] = cache_dir / f"{country}.points.{key}.json"
    return paths


def _country_of(path: Path) -> str:
    return path.stem.upper()


def _warn_lacking_bands(path: Path, n_points: int) -> tuple[str, ...]:
    bands = file_bands(path)
    lacking = [b for b in comp.BANDS if b not in bands]
    if n_points and lacking:
        log.warning("%s lacks bands %s: their model inputs are 0", path, ", ".join(lacking))
    return bands


def build_country(
    path: Path, rule: comp.CompositeRule | Iterable[int], sha256: str = "", batch_size: int = 64
) -> CountryData:
    """Read a country file and compute its composites in memory (no cache).

    For small files, tests and benchmarks; ``load_country`` streams to the cache instead.
    """
    rule = comp.as_rule(rule)
    names: list[str] = []
    attrs: list[dict[str, Any]] = []
    parts: list[comp.Composites] = []
    for batch in read_batches(path, batch_size=batch_size):
        parts.append(rule.apply(batch.stacks, batch.months))
        names.extend(batch.names)
        attrs.extend(batch.attrs)
    return CountryData(
        country=_country_of(path),
        path=path,
        sha256=sha256,
        names=np.asarray(names, dtype=str),
        points=pd.DataFrame.from_records(attrs, index=range(len(attrs))),
        composites=comp.concat(parts),
        bands=_warn_lacking_bands(path, len(names)),
    )


def load_country(
    path: Path, rule: comp.CompositeRule | Iterable[int], cache_dir: Path | None,
    batch_size: int = 64,
) -> CountryData:
    """A country's composites, from ``cache_dir`` when valid, else computed and cached."""
    rule = comp.as_rule(rule)
    sha = file_sha256(path, cache_dir)
    if cache_dir is None:
        return build_country(path, rule, sha, batch_size)
    country = _country_of(path)
    key = cache_key(sha, rule)
    paths = _paths(cache_dir, country, key)
    if all(p.exists() for p in paths.values()):
        try:
            return _read_cached(path, country, sha, paths)
        except (OSError, ValueError, KeyError) as e:
            log.warning("cache for %s unreadable (%s): rebuilding", country, e)
    _remove_dead_temps(cache_dir, country)
    _write_cached(path, rule, batch_size, paths)
    for stale in cache_dir.glob(f"{country}.*.*"):
        if stale not in paths.values() and stale.suffix in (".h5", ".npz", ".json"):
            stale.unlink(missing_ok=True)
    return _read_cached(path, country, sha, paths, from_cache=False)


def _create_kind_file(target: Path, n: int, shape: tuple[int, ...], meta: dict[str, Any]) -> (
    h5py.File
):
    f = h5py.File(target, "w")
    f.create_dataset("names", shape=(n,), dtype=h5py.string_dtype())
    f.create_dataset("values", shape=(n, *shape, len(comp.BANDS)), dtype=np.float32)
    f.create_dataset("filled", shape=(n, *shape), dtype=np.bool_)
    f.attrs.update(meta)
    return f


def _write_cached(
    path: Path, rule: comp.CompositeRule, batch_size: int, paths: dict[str, Path]
) -> None:
    """Composite ``path`` batch by batch straight into the cache files (temp, then rename)."""
    names = point_names(path)
    n = len(names)
    side = (comp.REGION_SIZE, comp.REGION_SIZE)
    meta = {"cache_version": CACHE_VERSION, "source": str(path),
            "rule": rule.key(), "bands": list(comp.BANDS)}
    tmps = {kind: _tmp_name(p) for kind, p in paths.items()}
    attrs: list[dict[str, Any]] = []
    try:
        paths["monthly"].parent.mkdir(parents=True, exist_ok=True)
        with _create_kind_file(tmps["monthly"], n, (comp.N_MONTHS, *side), meta) as monthly, \
                _create_kind_file(tmps["annual"], n, side, meta) as annual:
            done = 0
            for batch in read_batches(path, batch_size=batch_size):
                part = rule.apply(batch.stacks, batch.months)
                rows = slice(done, done + len(batch))
                for f, values, filled in ((monthly, part.monthly, part.monthly_filled),
                                          (annual, part.annual, part.annual_filled)):
                    f["names"][rows] = batch.names
                    f["values"][rows] = values
                    f["filled"][rows] = filled
                attrs.extend(batch.attrs)
                done += len(batch)
            if done != n:
                raise OutputError(f"{path} changed while its composites were computed: "
                                  f"{done} points read, {n} listed; run again")
        table = {"bands": list(_warn_lacking_bands(path, n)), "records": attrs}
        tmps["points"].write_text(json.dumps(table, default=str))
        replace_together([(tmps[kind], target) for kind, target in paths.items()])
    except OSError as e:
        raise OutputError(f"cannot write cache file in {paths['monthly'].parent}: {e} "
                          "(free space there or choose another --cache-dir)") from e
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
    log.info("cached composites of %s (%d points) in %s", _country_of(path), n,
             paths["monthly"].parent)


def _mapped(path: Path, ds: h5py.Dataset) -> np.ndarray:
    """The dataset as a read-only memory map (contiguous layout), else read whole."""
    offset = ds.id.get_offset()
    if offset is None or ds.chunks is not None or ds.compression is not None:
        return np.asarray(ds[()])
    return np.memmap(path, mode="r", dtype=ds.dtype, offset=offset, shape=ds.shape)


def _read_kind(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        if f.attrs.get("cache_version") != CACHE_VERSION:
            raise ValueError(f"{path.name}: cache version {f.attrs.get('cache_version')}")
        names = f["names"].asstr()[()]
        return np.asarray(names, dtype=str), _mapped(path, f["values"]), _mapped(path, f["filled"])


def _read_cached(
    path: Path, country: str, sha: str, paths: dict[str, Path], from_cache: bool = True
) -> CountryData:
    names, monthly, monthly_filled = _read_kind(paths["monthly"])
    annual_names, annual, annual_filled = _read_kind(paths["annual"])
    if not np.array_equal(names, annual_names):
        raise ValueError("monthly and annual caches list different points")
    table = json.loads(paths["points"].read_text())
    points = pd.DataFrame.from_records(table["records"], index=range(len(table["records"])))
    if len(points) != len(names):
        raise ValueError("points table and composites differ in length")
    if from_cache:
        log.info("composites of %s (%d points) read from cache", country, len(names))
    return CountryData(
        country=country, path=path, sha256=sha, names=names, points=points,
        composites=comp.Composites(monthly, monthly_filled, annual, annual_filled),
        bands=tuple(table["bands"]), from_cache=from_cache,
    )
