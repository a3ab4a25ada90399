"""The Sen4Map HDF5 layout (ARCHITECTURE.md "HDF5 layout"), in one place.

Per point a root dataset ``Lucas_Point_<id>`` of shape (T, 64, 64) with a compound dtype
(SCL u1, B2 … B12 u2), gzip + shuffle so plain h5py reads it without plugins, and as
attributes every LUCAS column plus ``Image_ID``, ``crs`` and ``transform``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np
import pandas as pd

FORMAT_VERSION = "1.0"
COMPRESSION = "gzip"
COMPRESSION_LEVEL = 4
CHUNK_STEPS = 8  # time steps per chunk: a few hundred KB raw, a good gzip ratio


def dataset_name(point_id: int) -> str:
    return f"Lucas_Point_{int(point_id):08d}"


def write_point(
    parent: h5py.Group,
    point_id: int,
    data: np.ndarray,
    image_ids: Sequence[str],
    crs: str,
    transform: Sequence[float],
    attributes: Mapping[str, Any],
) -> h5py.Dataset:
    """Write one point's dataset with its attributes (LUCAS columns first, then georeference)."""
    if data.ndim != 3 or data.shape[0] != len(image_ids):
        raise ValueError(
            f"point {point_id}: data shape {data.shape} does not match {len(image_ids)} Image_IDs"
        )
    chunks = (max(1, min(CHUNK_STEPS, data.shape[0])), data.shape[1], data.shape[2])
    ds = parent.create_dataset(
        dataset_name(point_id),
        data=data,
        chunks=chunks,
        compression=COMPRESSION,
        compression_opts=COMPRESSION_LEVEL,
        shuffle=True,
    )
    for key, value in attributes.items():
        ds.attrs[key] = value
    ds.attrs["Image_ID"] = np.array(list(image_ids), dtype=h5py.string_dtype())
    ds.attrs["crs"] = crs
    ds.attrs["transform"] = np.asarray(transform, dtype="f8")
    return ds


def attribute_records(points: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """Per point id, its LUCAS columns as HDF5-storable scalars.

    Types are decided per column (not per value) so an attribute has one type in a whole
    file: integer columns with gaps become float with NaN, text gaps become "".
    """
    columns: dict[str, np.ndarray] = {}
    for name in points.columns:
        if name == "geometry":
            continue
        columns[name] = _column_values(points[name])
    ids = points["point_id"].astype("int64").to_numpy()
    records: dict[int, dict[str, Any]] = {}
    for i, pid in enumerate(ids):
        records[int(pid)] = {name: _scalar(values[i]) for name, values in columns.items()}
    return records


def _column_values(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) and not series.isna().any():
        return series.to_numpy(dtype="int8")
    if pd.api.types.is_integer_dtype(series) and not series.isna().any():
        return series.to_numpy(dtype="int64")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64").to_numpy(na_value=math.nan)
    return series.astype("string").fillna("").to_numpy(dtype=object)


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
