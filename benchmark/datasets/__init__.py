"""PyTorch datasets over the tool's outputs, and their quicklooks.

Country files::

    from torch.utils.data import DataLoader
    from benchmark.datasets import Sen4MapDataset

    train = Sen4MapDataset("out/2018", split="train", split_keys="keys/",
                           composite="monthly", crop=15, legend="landcover")
    for batch in DataLoader(train, batch_size=32, num_workers=2):
        batch["image"]  # (32, 12, 10, 15, 15) float32; batch["label"] (32,)

BigEarthNet trees::

    from benchmark.datasets import BigEarthNetDataset

    test = BigEarthNetDataset("out/bigearthnet", split="test", modality="s1s2")
    sample = test[0]  # image (12, 120, 120), label (19,) multi-hot, reference (120, 120)
    test.plot(sample)

torch is optional for the rest of the package: importing this module without it raises one
line that says how to install it.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "Sen4MapDataset": "benchmark.datasets.sen4map",
    "collate_series": "benchmark.datasets.sen4map",
    "COMPOSITES": "benchmark.datasets.sen4map",
    "BigEarthNetDataset": "benchmark.datasets.bigearthnet",
}


def __getattr__(name: str) -> Any:
    """The datasets import torch on first use: ``etl show`` and the rest work without it."""
    if name not in _LAZY:
        raise AttributeError(f"module 'benchmark.datasets' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = ["COMPOSITES", "BigEarthNetDataset", "Sen4MapDataset", "collate_series"]
