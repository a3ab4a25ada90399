"""A PyTorch dataset over a BigEarthNet v2 (reBEN) tree, as ``etl bigearthnet`` writes it.

``metadata.parquet`` plays the index's role: which patches, which split, which labels, which
Sentinel-1 twin, so no folder is listed. The patches are read from the tree's GeoTIFFs with
the benchmark's readers (:mod:`benchmark.multilabel.data`: S2's 20 m bands bicubic-upsampled
to 120×120 as the paper; S1 VV/VH dB), opened per call (rasterio handles are never shared
across DataLoader workers).

A sample: ``image`` (float32 (C, 120, 120): S1 VV, VH then S2 B02…B12 for ``s1s2``),
``label`` (float32 multi-hot over the 19 classes), ``reference`` (int64 (120, 120) CLC codes,
when the tree holds the map), ``meta`` (patch id, S1 name, split).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.datasets.ben_files import patch_view, reference_map_path
from benchmark.deps import INSTALL_HINT, MissingExtraError
from benchmark.multilabel.data import (
    MODALITIES,
    SPLIT_ALIASES,
    read_s1_patch,
    read_s2_patch,
    read_table,
)
from exports.clc.codes import BEN19_CLASSES
from lucas.errors import ConfigError

try:  # the [benchmark] extra: without it, one line that says how to install it
    import torch
except ImportError as e:
    raise MissingExtraError(f"torch is not installed; {INSTALL_HINT}") from e


class BigEarthNetDataset(torch.utils.data.Dataset):
    """Patches of one tree (optionally one split), S1, S2 or both."""

    classes: tuple[str, ...] = tuple(BEN19_CLASSES)

    def __init__(self, root: Path | str, *, split: str | None = None,
                 modality: str = "s1s2", reference: bool = True) -> None:
        """``split``: train, validation (val) or test; ``modality``: s1, s2 or s1s2 (patches
        without an S1 twin are left out of s1 and s1s2)."""
        self.root = Path(root)
        if modality not in MODALITIES:
            raise ConfigError(f"modality={modality!r}: choose one of {', '.join(MODALITIES)}")
        self.modality = modality
        self.reference = reference
        table = read_table(self.root)
        keep = np.ones(len(table.patch_ids), dtype=bool)
        if split is not None:
            if split not in SPLIT_ALIASES:
                raise ConfigError(f"split={split!r}: choose train, validation (val) or test")
            keep &= table.splits == SPLIT_ALIASES[split]
        if modality != "s2":
            keep &= table.s1_names != ""
        self.patch_ids = table.patch_ids[keep]
        self.s1_names = table.s1_names[keep]
        self.splits = table.splits[keep]
        self.targets = table.targets[keep]

    def __len__(self) -> int:
        return len(self.patch_ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pid = str(self.patch_ids[i])
        parts = []
        if self.modality in ("s1", "s1s2"):
            parts.append(read_s1_patch(self.root, str(self.s1_names[i])))
        if self.modality in ("s2", "s1s2"):
            parts.append(read_s2_patch(self.root, pid).astype(np.float32))
        sample: dict[str, Any] = {
            "image": torch.from_numpy(np.concatenate(parts).astype(np.float32)),
            "label": torch.from_numpy(self.targets[i].astype(np.float32)),
            "meta": {"patch_id": pid, "s1_name": str(self.s1_names[i]),
                     "split": str(self.splits[i])},
        }
        path = reference_map_path(self.root, pid)
        if self.reference and path.is_file():
            import rasterio

            with rasterio.open(path) as src:
                sample["reference"] = torch.from_numpy(src.read(1).astype(np.int64))
        return sample

    def plot(self, sample: Mapping[str, Any]) -> Any:
        """A matplotlib figure: S2 true colour, S1 VV/VH, the reference map (torchgeo's way)."""
        from benchmark.datasets.plots import plot_patch

        return plot_patch(patch_view(self.root, str(sample["meta"]["patch_id"])))
