"""The Sentinel-1 companion layout ``<CC>_S1.h5`` (ARCHITECTURE.md "HDF5 layout"), in one place.

Per point a root dataset ``Lucas_Point_<id>`` (the name of its ``<CC>.h5`` twin) of shape
(T, 64, 64), compound dtype ``VV``/``VH`` float32 dB with NaN as no data, on the same grid as
the Sentinel-2 patch (same ``crs`` and ``transform``). Attributes: ``point_id``, ``nuts0``,
``lc1``, then per step ``S1_Image_ID``, ``orbit_pass``, ``relative_orbit``, ``platform``,
``acquired`` (and in ``closest`` mode ``paired_Image_ID``, ``delta_hours``), ``crs``,
``transform``. The file attributes add the radar settings to those of ``<CC>.h5``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np

from exports.grid import SEN4MAP_GRID, PatchGrid
from exports.s1.scene import S1_BANDS
from exports.source import PointStack
from pipeline.dataset.sen4map_format import (
    CHUNK_STEPS,
    COMPRESSION,
    COMPRESSION_LEVEL,
    dataset_name,
)

S1_FORMAT_VERSION = "1.0"
POINT_ATTRIBUTES: tuple[str, ...] = ("point_id", "nuts0", "lc1")
_TEXT_STEPS = ("orbit_pass", "platform", "acquired", "paired_Image_ID")
_STEP_ORDER = ("orbit_pass", "relative_orbit", "platform", "acquired", "paired_Image_ID",
               "delta_hours")


def point_attributes(lucas: Mapping[str, Any]) -> dict[str, Any]:
    """The LUCAS attributes a radar dataset carries (the rest are in ``<CC>.h5``)."""
    return {k: lucas[k] for k in POINT_ATTRIBUTES if k in lucas}


def write_s1_point(
    parent: h5py.Group, stack: PointStack, grid: PatchGrid, attributes: Mapping[str, Any]
) -> h5py.Dataset:
    """One point's radar dataset with its attributes."""
    data = stack.data
    if data.ndim != 3 or data.shape[0] != len(stack.image_ids):
        raise ValueError(f"point {stack.point_id}: data shape {data.shape} does not match "
                         f"{len(stack.image_ids)} S1_Image_IDs")
    chunks = (max(1, min(CHUNK_STEPS, data.shape[0])), data.shape[1], data.shape[2])
    ds = parent.create_dataset(dataset_name(stack.point_id), data=data, chunks=chunks,
                               compression=COMPRESSION, compression_opts=COMPRESSION_LEVEL,
                               shuffle=True)
    for key, value in point_attributes(attributes).items():
        ds.attrs[key] = value
    ds.attrs["S1_Image_ID"] = np.array(list(stack.image_ids), dtype=h5py.string_dtype())
    for key in _STEP_ORDER:
        if key not in stack.step_attributes:
            continue
        values = stack.step_attributes[key]
        if key in _TEXT_STEPS:
            ds.attrs[key] = np.array([str(v) for v in values], dtype=h5py.string_dtype())
        elif key == "relative_orbit":
            ds.attrs[key] = np.array(values, dtype="i4")
        else:
            ds.attrs[key] = np.array(values, dtype="f8")
    ds.attrs["crs"] = grid.crs
    ds.attrs["transform"] = np.asarray(grid.transform_tuple(), dtype="f8")
    return ds


def s1_file_attributes(
    *,
    year: int,
    country: str,
    source: str,
    thresholds: Mapping[str, float],
    config_hash: str,
    producer_version: str,
    s1_mode: str,
    s1_orbit: str,
    s1_max_days: float,
    s1_resampling: str,
    s1_source: str,
    backscatter: str,
    s2_config_hash: str,
    bands: Sequence[str] = (),
) -> dict[str, Any]:
    """The file attributes of ``<CC>_S1.h5`` (point count and creation time added at pack).

    ``bands`` (the Sentinel-2 bands of the run) is accepted and not written: the file's
    bands are VV and VH."""
    del bands
    attrs: dict[str, Any] = {
        "format_version": S1_FORMAT_VERSION,
        "producer": "sen4map-etl",
        "producer_version": producer_version,
        "year": int(year),
        "country": country,
        "source": source,
        "s1_source": s1_source,
        "bands": np.array(list(S1_BANDS), dtype=h5py.string_dtype()),
        "units": "dB",
        "backscatter": backscatter,
        "s1_mode": s1_mode,
        "s1_orbit": s1_orbit,
        "s1_max_days": float(s1_max_days),
        "s1_resampling": s1_resampling,
        "config_hash": config_hash,
        "s2_config_hash": s2_config_hash,
    }
    for key, value in thresholds.items():  # the Sentinel-2 ones too: they chose the steps
        attrs[key] = float(value)
    attrs.update(SEN4MAP_GRID.as_attributes())
    return attrs
