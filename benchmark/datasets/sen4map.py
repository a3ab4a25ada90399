"""A PyTorch dataset over Sen4Map country files (``<CC>.h5``, with ``<CC>_S1.h5`` when present).

Which points exist, their classes and step counts come from ``<CC>.index.parquet``
(:mod:`exports.file_index`), so opening a country of 20,000 points reads one small table
instead of every dataset's header. HDF5 files are opened lazily in the process that reads
(a DataLoader worker opens its own handles: h5py handles must not cross a fork).

A sample is a dict: ``image`` (float32 tensor; reflectance × 10000 as stored):
``composite="none"``: (T, C, crop, crop) with ``dates`` (T ISO dates) and ``scl``
(T, crop, crop); ``"monthly"``: (12, C, crop, crop), the benchmark's cloud-masked monthly
medians (:mod:`benchmark.composites`); ``"annual"``: (C, crop, crop). ``label`` (int64, -1
when the legend leaves the code out) when a legend is given; ``s1`` (T₁, 2, crop, crop) VV/VH
dB (NaN no data) with ``s1_dates`` when the S1 file holds the point; ``meta``: point id,
dataset, country, lc1, lu1, nuts0, steps. Series of different lengths need
:func:`collate_series` (pads with 0, gives ``steps``) or ``batch_size=1``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import pandas as pd

from benchmark.composites import BANDS, composite_batch
from benchmark.deps import INSTALL_HINT, MissingExtraError
from benchmark.h5read import grid_facts, image_months
from benchmark.legend_apply import EXCLUDED, LegendLike, apply_legend
from benchmark.legend_apply import load as load_legend
from benchmark.split import PARTS
from exports.file_index import read_index, s1_twin
from lucas.errors import ConfigError

try:  # the [benchmark] extra: without it, one line that says how to install it
    import torch
except ImportError as e:
    raise MissingExtraError(f"torch is not installed; {INSTALL_HINT}") from e


Composite = Literal["none", "monthly", "annual"]
COMPOSITES: tuple[str, ...] = ("none", "monthly", "annual")
S1_FIELDS = ("VV", "VH")


@dataclass(frozen=True)
class _Row:
    file: Path
    dataset: str
    meta: dict[str, Any]
    label: int | None
    has_s1: bool


class Sen4MapDataset(torch.utils.data.Dataset):
    """Points of one or more country files, optionally one split part, as tensors."""

    def __init__(
        self,
        files: Sequence[Path | str] | Path | str,
        *,
        split: str | None = None,
        split_keys: Path | str | None = None,
        split_column: str | None = None,
        composite: Composite = "none",
        crop: int = 15,
        bands: Sequence[str] = BANDS,
        legend: str | LegendLike | None = None,
        s1: bool = True,
    ) -> None:
        """``files``: country files, or a folder of them (``OUT/<year>``). ``split``
        (``train``/``val``/``test``) picks a part from ``split_keys`` (a folder of
        ``{train,val,test}_keys.txt``; without a train list, train is every other point)
        or from the index's ``split_column``. ``crop``: pixels a side around the point's
        pixel (odd, at most the patch). ``legend``: a name of ``--legend`` or a legend."""
        self.files = _country_files(files)
        if composite not in COMPOSITES:
            raise ConfigError(f"composite={composite!r}: choose one of {', '.join(COMPOSITES)}")
        self.composite = composite
        self.bands = tuple(bands)
        self.s1 = s1
        self._legend = load_legend(legend) if isinstance(legend, str) else legend
        self.classes: tuple[str, ...] = tuple(self._legend.classes) if self._legend else ()
        self.crop = crop
        self._rows = self._select(self._index_rows(), split, split_keys, split_column)
        self._regions = {f: self._region(f, crop) for f in self.files}
        self._handles: dict[Path, h5py.File] = {}
        self._pid = os.getpid()

    # --- what the dataset holds -------------------------------------------------------

    def _index_rows(self) -> pd.DataFrame:
        frames = []
        for f in self.files:
            frame = read_index(f).to_pandas()
            frame["file"] = str(f)
            frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        if self._legend is not None:
            table["label"] = apply_legend(table, self._legend).y
        return table

    def _select(self, table: pd.DataFrame, split: str | None, keys: Path | str | None,
                column: str | None) -> list[_Row]:
        if split is not None:
            if split not in PARTS:
                raise ConfigError(f"split={split!r}: choose one of {', '.join(PARTS)}")
            table = table[_parts(table, keys, column) == split]
        rows = []
        for record in table.to_dict("records"):
            label = record.get("label")
            meta = {k: record[k] for k in ("point_id", "dataset", "nuts0", "lc1", "lu1", "steps")}
            meta["point_id"] = int(meta["point_id"])
            meta["steps"] = int(meta["steps"])
            s1_steps = record.get("s1_steps")
            rows.append(_Row(Path(record["file"]), str(record["dataset"]), meta,
                             None if label is None else int(label),
                             self.s1 and s1_steps is not None and s1_steps == s1_steps))
        return rows

    def _region(self, path: Path, crop: int) -> tuple[slice, slice]:
        with h5py.File(path, "r") as f:
            grid = grid_facts(f)
        row, col = grid.center_pixel
        half = crop // 2
        if crop < 1 or crop % 2 == 0 or row - half < 0 or row + half >= grid.patch_size or (
            col - half < 0 or col + half >= grid.patch_size
        ):
            raise ConfigError(f"crop={crop}: must be odd and fit the {grid.patch_size}-pixel "
                              f"patch around pixel [{row}, {col}] of {path}")
        return slice(row - half, row + half + 1), slice(col - half, col + half + 1)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def labels(self) -> np.ndarray:
        """Every sample's label (for class weights or a stratified sampler)."""
        return np.array([EXCLUDED if r.label is None else r.label for r in self._rows])

    # --- reading ----------------------------------------------------------------------

    def _file(self, path: Path) -> h5py.File:
        """This process's handle (a forked worker opens its own: handles do not survive)."""
        if os.getpid() != self._pid:
            self._handles = {}
            self._pid = os.getpid()
        if path not in self._handles:
            self._handles[path] = h5py.File(path, "r")
        return self._handles[path]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"] = {}  # pickled to spawned workers: they open their own
        return state

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self._rows[i]
        rows, cols = self._regions[row.file]
        ds = self._file(row.file)[row.dataset]
        stack = ds[:, rows, cols]
        ids = [v.decode() if isinstance(v, bytes) else str(v) for v in ds.attrs["Image_ID"]]
        sample: dict[str, Any] = {"meta": dict(row.meta, file=str(row.file))}
        if self.composite == "none":
            image = np.stack([stack[b] if b in stack.dtype.names else
                              np.zeros(stack.shape, np.uint16) for b in self.bands], axis=1)
            sample["image"] = torch.from_numpy(image.astype(np.float32))
            sample["scl"] = torch.from_numpy(stack["SCL"].astype(np.int64))
            sample["dates"] = [f"{d[:4]}-{d[4:6]}-{d[6:8]}" for d in ids]
        else:
            sample["image"] = torch.from_numpy(self._composite(stack, ids))
        if row.label is not None:
            sample["label"] = torch.tensor(row.label, dtype=torch.int64)
        if row.has_s1:
            sample.update(self._s1(row, rows, cols))
        return sample

    def _composite(self, stack: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        """The benchmark's composites of the crop (composite_batch works on any region)."""
        comp = composite_batch([stack], [image_months(ids)], bands=self.bands)
        if self.composite == "monthly":
            return np.ascontiguousarray(comp.monthly[0].transpose(0, 3, 1, 2))
        return np.ascontiguousarray(comp.annual[0].transpose(2, 0, 1))

    def _s1(self, row: _Row, rows: slice, cols: slice) -> dict[str, Any]:
        twin = s1_twin(row.file)
        ds = self._file(twin)[row.dataset]
        stack = ds[:, rows, cols]
        ids = ds.attrs.get("acquired", ds.attrs.get("S1_Image_ID", []))
        return {
            "s1": torch.from_numpy(np.stack([stack[b] for b in S1_FIELDS], axis=1)),
            "s1_dates": [(v.decode() if isinstance(v, bytes) else str(v))[:10] for v in ids],
        }

    def plot(self, sample: Mapping[str, Any], *, max_steps: int = 12) -> Any:
        """A matplotlib figure of a sample (torchgeo's manner): true colour per step or
        month, the point's pixel marked; see ``etl show`` for the full quicklook."""
        from benchmark.datasets.plots import plot_sen4map_sample

        return plot_sen4map_sample(sample, self.bands, max_steps=max_steps)


def _country_files(files: Sequence[Path | str] | Path | str) -> list[Path]:
    if isinstance(files, str | Path):
        path = Path(files)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.h5") if len(p.stem) == 2 and p.stem.isupper())
            if not found:
                raise ConfigError(f"{path}: no country file <CC>.h5 in this folder")
            return found
        files = [path]
    paths = [Path(f) for f in files]
    for p in paths:
        if not p.is_file():
            raise ConfigError(f"{p}: no such country file")
    return paths


def _parts(table: pd.DataFrame, keys: Path | str | None, column: str | None) -> np.ndarray:
    """The split part of each row, from key lists or a column of the index."""
    if keys is not None:
        from benchmark.split import key_files, keys_split

        return keys_split(table["dataset"].to_numpy(dtype=str), key_files(Path(keys)))
    if column is not None:
        if column not in table.columns:
            raise ConfigError(f"split_column={column!r}: not a column of the index")
        return table[column].astype(str).to_numpy()
    raise ConfigError("split= needs split_keys= (a folder of key lists) or split_column=")


def collate_series(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch series of different lengths: ``image`` padded with 0 to the longest, ``steps``
    the true lengths; other tensors stacked, lists and ``meta`` kept as lists."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if key in ("image", "scl", "s1") and values[0].dim() >= 3 and any(
            v.shape != values[0].shape for v in values
        ):
            out[key] = torch.nn.utils.rnn.pad_sequence(values, batch_first=True)
            out[f"{key}_steps"] = torch.tensor([len(v) for v in values])
        elif isinstance(values[0], torch.Tensor):
            out[key] = torch.stack(values)
        else:
            out[key] = values
    return out


__all__ = ["COMPOSITES", "Sen4MapDataset", "collate_series"]
