"""Compare two country files by content (datasets, values, attributes), not bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

# File attributes that legitimately differ between two runs.
VOLATILE_FILE_ATTRS = {"created"}


def _norm(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_norm(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, float) and np.isnan(value):
        return "NaN"
    if isinstance(value, np.generic):
        return _norm(value.item())
    return value


def content(path: Path) -> dict[str, Any]:
    with h5py.File(path, "r") as f:
        out: dict[str, Any] = {
            "file_attrs": {k: _norm(v) for k, v in f.attrs.items()
                           if k not in VOLATILE_FILE_ATTRS},
        }
        for name in f:
            ds = f[name]
            out[name] = (ds[()].tobytes(), ds.dtype.descr, ds.shape,
                         {k: _norm(v) for k, v in ds.attrs.items()})
        return out


def assert_same_content(a: Path, b: Path) -> None:
    ca, cb = content(a), content(b)
    assert sorted(ca) == sorted(cb), "different datasets"
    for key in ca:
        assert ca[key] == cb[key], f"{key} differs"
