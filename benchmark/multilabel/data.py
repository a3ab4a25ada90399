"""A BigEarthNet v2 (reBEN) tree as model inputs: splits, targets, cached patch arrays, stats.

Reads the tree ``etl bigearthnet`` writes, which is reBEN's own layout::

    ROOT/BigEarthNet-S2/<product>/<patch_id>/<patch_id>_B01.tif … _B12.tif
    ROOT/BigEarthNet-S1/<s1_name less its last 3 '_' fields>/<s1_name>/<s1_name>_VV.tif, _VH.tif
    ROOT/metadata.parquet

(``<product>`` is ``patch_id`` less its last two ``_`` fields, as torchgeo reads it.)

Patches. The rows of ``metadata.parquet``; ``metadata_snow_cloud.parquet`` is never read
for patches (its rows, the flagged ones, are left out; only its row count is reported).
Rows are then left out, each counted once under the first reason that applies
(:attr:`BenTree.exclusions`): ``contains_seasonal_snow`` true, ``contains_cloud_or_shadow``
true (where those columns exist), no label among the 19 classes, and for ``s1``/``s1s2`` an
empty ``s1_name``. Splits come from the ``split`` column (``train``, ``validation`` or its
alias ``val``, ``test``); targets are multi-hot over
:data:`exports.clc.codes.BEN19_CLASSES`, in that order.

Inputs, as Sumbul et al. 2021 (BigEarthNet-MM): S2 is the 10 m bands B02 B03 B04 B08 and the
20 m bands B05 B06 B07 B8A B11 B12 (no 60 m band), the 20 m bands upsampled from 60×60 to
120×120 by cubic interpolation: exactly PyTorch's ``torch.nn.functional.interpolate(x,
size=(120, 120), mode="bicubic", align_corners=False)`` (Keys' cubic convolution, a = -0.75,
half-pixel alignment, border pixels replicated; :func:`upsample_cubic` computes it with
numpy as two weight matrices, equal to torch's result to float32 precision, so the cache
build needs no torch), then rounded half to even and clipped to [0, 65535], so the cache
stores S2 as uint16 (the error, at most 0.5 of a
reflectance unit, is far below the data's noise). Channel order (:data:`S2_BANDS`): by
wavelength, B02 B03 B04 B05 B06 B07 B08 B8A B11 B12, i.e. torchgeo's S2 order without B01
and B09. S1 is VV then VH, float32 dB as stored (torchgeo's order is VH, VV: it sorts
file names). ``s1s2`` is S1 then S2, 12 channels. Everything leaves :meth:`BenTree.images`
as float32.

Cache. Reading 12 GeoTIFFs a patch is slow (reBEN: 550,000 patches), so each sensor's
patches are read once into an ``.npy`` file per sensor under ``cache_dir`` (S2: uint16
(n, 10, 120, 120), ~160 GB for reBEN; S1: float32 (n, 2, 120, 120), ~63 GB), memory-mapped
by every later load, so training epochs index a numpy memmap. ``s1s2`` reads the S1 and S2
files (no third copy); the S2 file holds every patch that passes the flag and label rules,
for ``s2`` and ``s1s2`` alike. Files are named ``ben.<root tag>.<sensor>.<key>.npy`` beside a
``.json`` listing their patch ids; the key hashes the cache version, the sensor, its bands,
the interpolation and the SHA-256 of ``metadata.parquet``, so a changed table rebuilds the
cache and nothing else does (band files edited in place are not noticed: delete the cache).
A build writes temp files (``.<name>.<pid>.tmp``) and renames both into place together;
older keys of the same tree and sensor, and temp files of killed builds, are removed.
``cache_dir=None`` reads the patches into memory (small trees, tests).

Normalisation. Per-channel mean and (population) standard deviation over the TRAIN split's
pixels only, streamed batch by batch with float64 accumulators (Chan et al.'s pairwise
update); non-finite values (S1 no-data) are left out of the sums and map to 0 after
:func:`normalise`. A zero std is replaced by 1.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import rasterio
from rasterio.errors import RasterioError

from benchmark.cache import file_sha256
from benchmark.deps import require
from exports.clc.codes import BEN19_CLASSES
from lucas.errors import InputFormatError, OutputError
from lucas.safe_files import atomic_write_text, remove_leftovers, replace_together

log = logging.getLogger(__name__)

MODALITIES = ("s1", "s2", "s1s2")
SIZE = 120  # pixels of a patch side at 10 m
S2_10M = ("B02", "B03", "B04", "B08")
S2_20M = ("B05", "B06", "B07", "B8A", "B11", "B12")
S2_BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
S1_BANDS = ("VV", "VH")
SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"train": "train", "validation": "validation", "val": "validation",
                 "test": "test"}
INTERPOLATION = ("bicubic as torch.nn.functional.interpolate(size=(120, 120), "
                 "mode='bicubic', align_corners=False), round half to even, clip [0, 65535]")
CACHE_VERSION = 1  # bump when the band set, the interpolation or the file layout changes
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "sen4map-etl" / "bigearthnet"

METADATA = "metadata.parquet"
METADATA_FLAGGED = "metadata_snow_cloud.parquet"
S2_DIR = "BigEarthNet-S2"
S1_DIR = "BigEarthNet-S1"

REASON_FLAGGED_TABLE = f"flagged: in {METADATA_FLAGGED} (not read)"
REASON_SNOW = "flagged: contains_seasonal_snow"
REASON_CLOUD = "flagged: contains_cloud_or_shadow"
REASON_NO_LABEL = "no 19-class label"
REASON_NO_S1 = "no Sentinel-1 patch (empty s1_name)"

_HINT = "free space there or choose another --cache-dir"
_CLASS_INDEX = {name: i for i, name in enumerate(BEN19_CLASSES)}
_SENSOR_BANDS = {"s1": S1_BANDS, "s2": S2_BANDS}
_SENSOR_DTYPE: dict[str, np.dtype[Any]] = {"s1": np.dtype(np.float32), "s2": np.dtype(np.uint16)}


def channels(modality: str) -> tuple[str, ...]:
    """The input channels of a modality, in order: S1 (VV, VH) then S2."""
    _check_modality(modality)
    return {"s1": S1_BANDS, "s2": S2_BANDS, "s1s2": S1_BANDS + S2_BANDS}[modality]


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise InputFormatError(f"unknown modality {modality!r}: one of {', '.join(MODALITIES)}")


def s2_band_path(root: Path, patch_id: str, band: str) -> Path:
    """``ROOT/BigEarthNet-S2/<patch_id less 2 fields>/<patch_id>/<patch_id>_<band>.tif``."""
    return root / S2_DIR / patch_id.rsplit("_", 2)[0] / patch_id / f"{patch_id}_{band}.tif"


def s1_band_path(root: Path, s1_name: str, band: str) -> Path:
    """``ROOT/BigEarthNet-S1/<s1_name less 3 fields>/<s1_name>/<s1_name>_<band>.tif``."""
    return root / S1_DIR / s1_name.rsplit("_", 3)[0] / s1_name / f"{s1_name}_{band}.tif"


# --- the metadata table ------------------------------------------------------------------


@dataclass(frozen=True)
class BenSplit:
    """One split of a tree: its rows (indices into the tree's arrays) and patch ids."""

    name: str
    rows: np.ndarray  # int64 indices into BenTree.patch_ids / targets / images
    patch_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class _Table:
    patch_ids: np.ndarray  # every row that passes the flag and label rules (S2 store rows)
    s1_names: np.ndarray
    splits: np.ndarray
    targets: np.ndarray  # (n, 19) uint8
    exclusions: dict[str, int]


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray([v is not None and v is not pd.NA and v == v and bool(v)
                       for v in frame[column]], dtype=bool)


def _empty(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value) or (
        str(value).strip() == "")


def _target(path: Path, patch_id: str, labels: Any) -> np.ndarray:
    out = np.zeros(len(BEN19_CLASSES), dtype=np.uint8)
    if labels is None or (isinstance(labels, float) and labels != labels):
        return out
    if isinstance(labels, str):
        raise InputFormatError(f"{path}: patch {patch_id}: 'labels' must be a list of class "
                               f"names, not the string {labels!r}")
    for name in labels:
        if name not in _CLASS_INDEX:
            raise InputFormatError(
                f"{path}: patch {patch_id}: unknown class {name!r} (not one of the 19 "
                "BigEarthNet classes, exports.clc.codes.BEN19_CLASSES)")
        out[_CLASS_INDEX[name]] = 1
    return out


def read_table(root: Path) -> _Table:
    """The rows of ``metadata.parquet`` that pass the flag and label rules, with counts."""
    path = root / METADATA
    if not path.is_file():
        raise InputFormatError(
            f"{root}: no {METADATA}: not a BigEarthNet v2 tree (point at the folder that "
            f"holds {METADATA} and {S2_DIR}/, e.g. OUT/bigearthnet of etl bigearthnet)")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise InputFormatError(f"{path}: cannot read as Parquet ({e})") from e
    missing = [c for c in ("patch_id", "labels", "split") if c not in frame.columns]
    if missing:
        raise InputFormatError(f"{path}: lacks the column(s) {', '.join(missing)}")
    ids = frame["patch_id"].astype(str)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputFormatError(f"{path}: patch {dup.iloc[0]} has more than one row")
    raw_splits = frame["split"].astype(str).str.strip().str.lower()
    bad = sorted(set(raw_splits) - set(SPLIT_ALIASES))
    if bad:
        raise InputFormatError(f"{path}: unknown split value(s) {bad}: the 'split' column "
                               "must hold train, validation (or val), test")
    flagged_rows = 0
    flagged = root / METADATA_FLAGGED
    if flagged.is_file():
        try:
            flagged_rows = pq.ParquetFile(flagged).metadata.num_rows
        except (OSError, ValueError) as e:
            log.warning("%s unreadable (%s): its rows are not counted", flagged, e)
    targets = np.stack([_target(path, pid, labels) for pid, labels in
                        zip(ids, frame["labels"], strict=True)]) if len(frame) else np.zeros(
        (0, len(BEN19_CLASSES)), dtype=np.uint8)
    s1 = (frame["s1_name"] if "s1_name" in frame.columns else pd.Series([""] * len(frame)))
    reasons = {
        REASON_SNOW: _flag(frame, "contains_seasonal_snow"),
        REASON_CLOUD: _flag(frame, "contains_cloud_or_shadow"),
        REASON_NO_LABEL: targets.sum(axis=1) == 0,
    }
    exclusions = {REASON_FLAGGED_TABLE: flagged_rows}
    keep = np.ones(len(frame), dtype=bool)
    for reason, hit in reasons.items():
        exclusions[reason] = int((hit & keep).sum())
        keep &= ~hit
    return _Table(
        patch_ids=ids.to_numpy(dtype=str)[keep],
        s1_names=np.asarray(["" if _empty(v) else str(v).strip() for v in s1], dtype=str)[keep],
        splits=raw_splits.map(SPLIT_ALIASES).to_numpy(dtype=str)[keep],
        targets=targets[keep],
        exclusions=exclusions,
    )


# --- reading patches ------------------------------------------------------------------


def _read_band(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise InputFormatError(f"{path}: band file missing ({what}); the tree is incomplete")
    try:
        with rasterio.open(path) as src:
            return np.asarray(src.read(1))
    except RasterioError as e:
        raise InputFormatError(f"{path}: unreadable band file ({what}): {e}") from e


@functools.lru_cache(maxsize=8)
def cubic_taps(n_in: int, n_out: int = SIZE, a: float = -0.75) -> tuple[np.ndarray, np.ndarray]:
    """1-D bicubic resampling as PyTorch's ``interpolate``: (4, n_out) input indices, weights.

    ``mode="bicubic", align_corners=False``: output pixel ``i`` samples the input at
    ``(i + 0.5) * n_in / n_out - 0.5`` with Keys' cubic convolution kernel (``a = -0.75``)
    over the 4 nearest input pixels, indices beyond the border clamped to it (the edge
    pixel replicated)."""
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    i0 = np.floor(src).astype(np.int64)
    offsets = np.arange(-1, 3)[:, None]
    x = np.abs(src - i0 - offsets)
    weights = np.where(x <= 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                       np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0))
    return np.clip(i0 + offsets, 0, n_in - 1), weights


def upsample_cubic(bands: np.ndarray) -> np.ndarray:
    """Bands (k, h, w) to (k, 120, 120) float32 by bicubic interpolation (no rounding).

    Equal, to float32 precision, to ``torch.nn.functional.interpolate(torch.from_numpy(
    bands)[None], size=(120, 120), mode="bicubic", align_corners=False)[0]`` (the tests
    compare the two): the 4 taps of :func:`cubic_taps` along columns, then rows, in
    float64, so building the cache needs no torch (and no BLAS threads)."""
    x = np.asarray(bands, dtype=np.float64)
    idx, w = cubic_taps(x.shape[-1])
    x = sum(w[j] * x[..., idx[j]] for j in range(4))
    idx, w = cubic_taps(x.shape[-2])
    x = sum(w[j][:, None] * x[..., idx[j], :] for j in range(4))
    return np.asarray(x, dtype=np.float32)


def _to_uint16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, np.iinfo(np.uint16).max).astype(np.uint16)


def read_s2_patch(root: Path, patch_id: str) -> np.ndarray:
    """A patch's S2 input (10, 120, 120) uint16 in :data:`S2_BANDS` order (20 m upsampled)."""
    out = np.empty((len(S2_BANDS), SIZE, SIZE), dtype=np.uint16)
    low: dict[tuple[int, ...], list[tuple[int, np.ndarray]]] = {}
    for c, band in enumerate(S2_BANDS):
        path = s2_band_path(root, patch_id, band)
        array = _read_band(path, f"S2 {band} of patch {patch_id}")
        if array.ndim != 2:
            raise InputFormatError(f"{path}: expected one 2-D band, got shape {array.shape}")
        if band in S2_10M:
            if array.shape != (SIZE, SIZE):
                raise InputFormatError(f"{path}: a 10 m band must be {SIZE}×{SIZE} pixels, "
                                       f"not {array.shape[0]}×{array.shape[1]}")
            out[c] = array
        else:
            low.setdefault(array.shape, []).append((c, array))
    for group in low.values():
        up = _to_uint16(upsample_cubic(np.stack([a for _, a in group])))
        for (c, _), plane in zip(group, up, strict=True):
            out[c] = plane
    return out


def read_s1_patch(root: Path, s1_name: str) -> np.ndarray:
    """A patch's S1 input (2, 120, 120) float32 dB, VV then VH."""
    out = np.empty((len(S1_BANDS), SIZE, SIZE), dtype=np.float32)
    for c, band in enumerate(S1_BANDS):
        path = s1_band_path(root, s1_name, band)
        array = _read_band(path, f"S1 {band} of {s1_name}")
        if array.shape != (SIZE, SIZE):
            raise InputFormatError(f"{path}: an S1 band must be {SIZE}×{SIZE} pixels, "
                                   f"not {'×'.join(map(str, array.shape))}")
        out[c] = array
    return out


# --- the cache ------------------------------------------------------------------------


class _Store:
    """One sensor's patch arrays, (n, C, 120, 120): a memory-mapped cache file or in memory.

    Pickles without the mapped array (DataLoader workers reopen the file)."""

    def __init__(self, sensor: str, ids: np.ndarray, path: Path | None,
                 array: np.ndarray | None) -> None:
        self.sensor = sensor
        self.ids = ids
        self.path = path
        self._array = array

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            assert self.path is not None
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.path is not None:
            state["_array"] = None
        return state


def _root_tag(root: Path) -> str:
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]


def cache_key(sensor: str, metadata_sha256: str) -> str:
    """Short key naming one sensor's cache file of one ``metadata.parquet``."""
    text = f"v{CACHE_VERSION}|{sensor}|{_SENSOR_BANDS[sensor]}|{INTERPOLATION}|{metadata_sha256}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_paths(cache_dir: Path, root: Path, sensor: str, key: str) -> tuple[Path, Path]:
    stem = f"ben.{_root_tag(root)}.{sensor}.{key}"
    return cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"


def _build_alive(tmp: Path) -> bool:
    try:
        os.kill(int(tmp.name.rsplit(".", 2)[-2]), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    return True


def _reader(root: Path, sensor: str) -> Callable[[str], np.ndarray]:
    read = read_s2_patch if sensor == "s2" else read_s1_patch

    def one(name: str) -> np.ndarray:
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):  # no folder listing
            return read(root, name)

    return one


def _fill(array: np.ndarray, root: Path, sensor: str, names: Sequence[str],
          workers: int, chunk: int = 256) -> None:
    read = _reader(root, sensor)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(names), chunk):
            part = names[start:start + chunk]
            for i, patch in enumerate(pool.map(read, part), start=start):
                array[i] = patch
            done = start + len(part)
            if done % (chunk * 40) < chunk or done == len(names):
                log.info("%s: %d of %d patches read", sensor.upper(), done, len(names))


def _store(root: Path, sensor: str, ids: np.ndarray, names: np.ndarray, metadata_sha: str,
           cache_dir: Path | None, workers: int) -> tuple[_Store, bool]:
    """One sensor's arrays for ``ids`` (read with ``names``), and whether from the cache."""
    shape = (len(ids), len(_SENSOR_BANDS[sensor]), SIZE, SIZE)
    dtype = _SENSOR_DTYPE[sensor]
    if cache_dir is None or len(ids) == 0:
        array = np.empty(shape, dtype=dtype)
        _fill(array, root, sensor, list(names), workers)
        return _Store(sensor, ids, None, array), False
    data, meta = _cache_paths(cache_dir, root, sensor, cache_key(sensor, metadata_sha))
    if data.exists() and meta.exists():
        try:
            listed = json.loads(meta.read_text())
            mapped = np.load(data, mmap_mode="r")
            if (listed.get("cache_version") == CACHE_VERSION and listed.get("ids") == list(ids)
                    and mapped.shape == shape and mapped.dtype == dtype):
                log.info("%s patches of %s (%d) read from cache %s", sensor.upper(), root,
                         len(ids), data)
                return _Store(sensor, ids, data, None), True
            log.warning("cache %s does not match %s: rebuilding", data, root / METADATA)
        except (OSError, ValueError) as e:
            log.warning("cache %s unreadable (%s): rebuilding", data, e)
    prefix = f"ben.{_root_tag(root)}.{sensor}."
    remove_leftovers(cache_dir, f".{prefix}*.tmp", in_use=_build_alive)
    tmp_data = data.with_name(f".{data.name}.{os.getpid()}.tmp")
    tmp_meta = meta.with_name(f".{meta.name}.{os.getpid()}.tmp")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        array = np.lib.format.open_memmap(tmp_data, mode="w+", dtype=dtype, shape=shape)
        _fill(array, root, sensor, list(names), workers)
        array.flush()
        del array
        tmp_meta.write_text(json.dumps({
            "cache_version": CACHE_VERSION, "root": str(root.resolve()), "sensor": sensor,
            "bands": list(_SENSOR_BANDS[sensor]), "interpolation": INTERPOLATION,
            "metadata_sha256": metadata_sha, "ids": list(ids)}))
        replace_together([(tmp_data, data), (tmp_meta, meta)])
    except OSError as e:
        raise OutputError(f"cannot write cache file in {cache_dir}: {e} ({_HINT})") from e
    finally:
        tmp_data.unlink(missing_ok=True)
        tmp_meta.unlink(missing_ok=True)
    for stale in cache_dir.glob(f"{prefix}*"):
        if stale not in (data, meta) and stale.suffix in (".npy", ".json"):
            stale.unlink(missing_ok=True)
    log.info("cached %s patches of %s (%d) in %s", sensor.upper(), root, len(ids), data)
    return _Store(sensor, ids, data, None), False


# --- the tree -------------------------------------------------------------------------


class BenTree:
    """The patches of one modality of a tree: ids, splits, targets, images (lazily mapped).

    Attributes:
        root: the tree's folder.
        modality: ``s1``, ``s2`` or ``s1s2``.
        patch_ids: (n,) patch ids, in ``metadata.parquet`` order.
        s1_names: (n,) Sentinel-1 patch names ("" where none).
        split_names: (n,) ``train`` / ``validation`` / ``test``.
        targets: (n, 19) uint8 multi-hot, :data:`BEN19_CLASSES` order.
        exclusions: reason -> number of patches left out.
        metadata_sha256: SHA-256 of ``metadata.parquet``.
        from_cache: whether every array came from an existing cache file.
    """

    def __init__(self, root: Path, modality: str, table: _Table, keep: np.ndarray,
                 exclusions: dict[str, int], metadata_sha256: str,
                 stores: list[tuple[_Store, np.ndarray]], from_cache: bool) -> None:
        self.root = root
        self.modality = modality
        self.patch_ids = table.patch_ids[keep]
        self.s1_names = table.s1_names[keep]
        self.split_names = table.splits[keep]
        self.targets = table.targets[keep]
        self.exclusions = exclusions
        self.metadata_sha256 = metadata_sha256
        self.from_cache = from_cache
        self._stores = stores  # (store, store row of each tree row), in channel order

    @property
    def channels(self) -> tuple[str, ...]:
        return channels(self.modality)

    def __len__(self) -> int:
        return len(self.patch_ids)

    @property
    def cache_files(self) -> tuple[Path, ...]:
        return tuple(s.path for s, _ in self._stores if s.path is not None)

    def split(self, name: str) -> BenSplit:
        """The rows of split ``name`` (``train``, ``validation`` or ``val``, ``test``)."""
        if name not in SPLIT_ALIASES:
            raise InputFormatError(f"unknown split {name!r}: one of {', '.join(SPLITS)}")
        rows = np.flatnonzero(self.split_names == SPLIT_ALIASES[name]).astype(np.int64)
        return BenSplit(SPLIT_ALIASES[name], rows, self.patch_ids[rows])

    @property
    def splits(self) -> dict[str, BenSplit]:
        return {name: self.split(name) for name in SPLITS}

    def images(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Inputs of the given tree rows, (k, C, 120, 120) float32, not normalised."""
        rows = np.asarray(rows, dtype=np.int64)
        parts = []
        for store, index in self._stores:
            where = index[rows]
            order = np.argsort(where, kind="stable")  # memmaps read fastest in file order
            part = np.empty((len(rows), *store.array.shape[1:]), dtype=np.float32)
            part[order] = store.array[where[order]]
            parts.append(part)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def image(self, row: int) -> np.ndarray:
        """One patch's input, (C, 120, 120) float32, not normalised."""
        return self.images([row])[0]

    @property
    def split_sha256(self) -> str:
        """SHA-256 of the sorted ``patch_id<TAB>split`` lines of the kept patches."""
        lines = sorted(f"{p}\t{s}\n" for p, s in zip(self.patch_ids, self.split_names,
                                                        strict=True))
        return hashlib.sha256("".join(lines).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """What a report records of the data."""
        return {
            "root": str(self.root), "modality": self.modality, "channels": list(self.channels),
            "interpolation": INTERPOLATION, "patches": len(self),
            "splits": {name: len(s) for name, s in self.splits.items()},
            "exclusions": dict(self.exclusions), "metadata_sha256": self.metadata_sha256,
            "split_sha256": self.split_sha256,
        }


def load_tree(root: Path, modality: str, cache_dir: Path | None = None, *,
              workers: int | None = None) -> BenTree:
    """The patches of ``modality`` in the tree at ``root``, images cached under ``cache_dir``.

    Args:
        root: the folder holding ``metadata.parquet`` and ``BigEarthNet-S2/`` (``-S1/``).
        modality: ``s1`` (VV, VH), ``s2`` (10 bands) or ``s1s2`` (12 channels).
        cache_dir: where the per-sensor ``.npy`` files live; None reads into memory.
        workers: threads reading GeoTIFFs on a cache build (default: CPUs, at most 16).

    Raises:
        InputFormatError: no ``metadata.parquet``, an unknown class or split, a missing or
            malformed band file (named).
    """
    _check_modality(modality)
    root = Path(root)
    table = read_table(root)
    sha = file_sha256(root / METADATA, cache_dir if cache_dir and cache_dir.is_dir() else None)
    workers = workers or min(16, os.cpu_count() or 1)
    exclusions = dict(table.exclusions)
    has_s1 = table.s1_names != ""
    if modality == "s2":
        keep = np.ones(len(table.patch_ids), dtype=bool)
    else:
        keep = has_s1
        exclusions[REASON_NO_S1] = int((~has_s1).sum())
    n = int(keep.sum())
    stores: list[tuple[_Store, np.ndarray]] = []
    cached = []
    if modality in ("s1", "s1s2"):
        s1_ids = table.patch_ids[has_s1]
        store, hit = _store(root, "s1", s1_ids, table.s1_names[has_s1], sha, cache_dir, workers)
        stores.append((store, np.arange(n, dtype=np.int64)))
        cached.append(hit)
    if modality in ("s2", "s1s2"):
        store, hit = _store(root, "s2", table.patch_ids, table.patch_ids, sha, cache_dir,
                            workers)
        stores.append((store, np.flatnonzero(keep).astype(np.int64)))
        cached.append(hit)
    return BenTree(root, modality, table, keep, exclusions, sha, stores, all(cached))


# --- normalisation ----------------------------------------------------------------------


@dataclass(frozen=True)
class BandStats:
    """Per-channel mean and std of one split's pixels (float64), for :func:`normalise`."""

    channels: tuple[str, ...]
    mean: np.ndarray  # (C,) float64
    std: np.ndarray  # (C,) float64, zeros replaced by 1
    n_patches: int
    n_values: np.ndarray  # (C,) finite values counted
    split: str = "train"

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` per channel, float32; ``x`` is (C, H, W) or (N, C, H, W)."""
        return normalise(x, self)

    def to_dict(self) -> dict[str, Any]:
        return {"split": self.split, "channels": list(self.channels),
                "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std],
                "n_patches": self.n_patches, "n_values": [int(v) for v in self.n_values]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BandStats:
        return cls(tuple(d["channels"]), np.asarray(d["mean"], dtype=np.float64),
                   np.asarray(d["std"], dtype=np.float64), int(d["n_patches"]),
                   np.asarray(d["n_values"], dtype=np.int64), d.get("split", "train"))


def normalise(x: np.ndarray, stats: BandStats) -> np.ndarray:
    """``(x - mean) / std`` per channel as float32; non-finite inputs become 0."""
    shape = (-1, 1, 1)
    out = (np.asarray(x, dtype=np.float32) - stats.mean.astype(np.float32).reshape(shape)) / (
        stats.std.astype(np.float32).reshape(shape))
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32, copy=False)


def _batches(rows: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def compute_stats(tree: BenTree, split: str = "train", batch: int = 64) -> BandStats:
    """Per-channel mean/std over the pixels of ``split`` (streamed, float64)."""
    part = tree.split(split)
    if len(part) == 0:
        raise InputFormatError(f"{tree.root}: the {part.name} split of modality "
                               f"{tree.modality} is empty: no normalisation statistics")
    c = len(tree.channels)
    count = np.zeros(c, dtype=np.int64)
    mean = np.zeros(c, dtype=np.float64)
    m2 = np.zeros(c, dtype=np.float64)
    for rows in _batches(part.rows, batch):
        x = tree.images(rows).astype(np.float64).transpose(1, 0, 2, 3).reshape(c, -1)
        finite = np.isfinite(x)
        nb = finite.sum(axis=1)
        xz = np.where(finite, x, 0.0)
        mb = np.divide(xz.sum(axis=1), nb, out=np.zeros(c), where=nb > 0)
        m2b = (np.where(finite, x - mb[:, None], 0.0) ** 2).sum(axis=1)
        total = count + nb
        delta = mb - mean
        safe = np.maximum(total, 1)
        mean = mean + delta * nb / safe
        m2 = m2 + m2b + delta ** 2 * count * nb / safe
        count = total
    std = np.sqrt(np.divide(m2, count, out=np.zeros(c), where=count > 0))
    std[std == 0] = 1.0
    return BandStats(tree.channels, mean, std, len(part), count, part.name)


def train_stats(tree: BenTree, cache_dir: Path | None = None) -> BandStats:
    """:func:`compute_stats` of the train split, memoised in ``cache_dir`` when given.

    The memo is keyed by the tree's cache files and the (patch_id, split) digest."""
    if cache_dir is None or not tree.cache_files:
        return compute_stats(tree, "train")
    text = "|".join([*(p.name for p in tree.cache_files), tree.split_sha256])
    prefix = f"ben.{_root_tag(tree.root)}.stats.{tree.modality}."
    memo = cache_dir / f"{prefix}{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if memo.exists():
        try:
            return BandStats.from_dict(json.loads(memo.read_text()))
        except (OSError, ValueError, KeyError) as e:
            log.warning("stats memo %s unreadable (%s): recomputing", memo, e)
    stats = compute_stats(tree, "train")
    for stale in cache_dir.glob(f"{prefix}*.json"):
        stale.unlink(missing_ok=True)
    atomic_write_text(memo, json.dumps(stats.to_dict(), indent=1), hint=_HINT)
    return stats


# --- torch ------------------------------------------------------------------------------


class _PatchData:
    """The torch-free part of :class:`PatchDataset`: normalised numpy arrays per item."""

    def __init__(self, tree: BenTree, split: str, stats: BandStats) -> None:
        if tuple(stats.channels) != tree.channels:
            raise InputFormatError(f"stats of channels {stats.channels} do not fit modality "
                                   f"{tree.modality} ({tree.channels})")
        self.tree = tree
        self.split = tree.split(split)
        self.stats = stats

    def __len__(self) -> int:
        return len(self.split)

    def arrays(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Item ``i``: x (C, 120, 120) float32 normalised, y (19,) float32 multi-hot."""
        row = int(self.split.rows[i])
        x = normalise(self.tree.image(row), self.stats)
        return x, self.tree.targets[row].astype(np.float32)


_PATCH_DATASET: type | None = None


def _patch_dataset_class() -> type:
    """``PatchDataset``: a ``torch.utils.data.Dataset`` made on first use (torch is lazy)."""
    global _PATCH_DATASET
    if _PATCH_DATASET is None:
        torch = require("torch")

        def getitem(self: _PatchData, i: int) -> tuple[Any, Any]:
            x, y = self.arrays(i)
            return torch.from_numpy(x), torch.from_numpy(y)

        _PATCH_DATASET = type("PatchDataset", (_PatchData, torch.utils.data.Dataset), {
            "__getitem__": getitem, "__module__": __name__, "__qualname__": "PatchDataset",
            "__doc__": "(x float32 (C, 120, 120) normalised, y float32 (19,)) per patch of "
                       "one split: ``PatchDataset(tree, split, stats)``."})
    return _PATCH_DATASET


def __getattr__(name: str) -> Any:
    """``PatchDataset`` is built on first access, so importing this module loads no torch."""
    if name == "PatchDataset":
        return _patch_dataset_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
