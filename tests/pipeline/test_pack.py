"""Staging and packing: the Sen4Map HDF5 layout, read back with plain h5py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from exports.grid import patch_grid
from exports.source import ALL_BANDS, PointStack, band_dtype
from lucas.errors import OutputError
from pipeline.dataset.sen4map_format import attribute_records
from pipeline.dataset.sen4map_pack import file_attributes_for, pack_country
from pipeline.dataset.sen4map_writer import stage_point

IDS = ["20180105T101401_20180105T101403_T33UUP", "20180712T101031_20180712T101025_T33UUP"]


def _stack(point_id: int, marker: int) -> PointStack:
    data = np.zeros((2, 64, 64), dtype=band_dtype(ALL_BANDS))
    data["SCL"] = 4
    data["B4"][1, 32, 32] = marker
    return PointStack(point_id, data, list(IDS),
                      [datetime(2018, 1, 5, tzinfo=UTC), datetime(2018, 7, 12, tzinfo=UTC)])


def _attrs() -> dict[int, dict[str, object]]:
    frame = pd.DataFrame({
        "point_id": [47002712, 47022712],
        "nuts0": ["AT", "AT"],
        "lc1": ["B11", "C21"],
        "lc1_label": ["Common wheat", "Spruce dominated coniferous woodland"],
        "obs_dist": pd.array([12, None], dtype="Int64"),
        "th_lat": [47.6, 47.62],
    })
    return attribute_records(frame)


def _pack(tmp_path: Path, target: Path) -> Path:
    attrs = _attrs()
    grid = patch_grid(47.6, 12.01)
    staged = []
    for pid, marker in ((47022712, 222), (47002712, 111)):
        staged.append((pid, stage_point(tmp_path / "stage", _stack(pid, marker), grid, attrs[pid])))
    fattrs = file_attributes_for(year=2018, country="AT", source="stac", bands=ALL_BANDS,
                                 thresholds={"max_cloud_cover": 40.0}, config_hash="abc",
                                 producer_version="0.1.0")
    return pack_country(staged, target, fattrs)


def test_country_file_layout(tmp_path: Path) -> None:
    target = _pack(tmp_path, tmp_path / "2018" / "AT.h5")
    with h5py.File(target, "r") as f:
        assert list(f.keys()) == ["Lucas_Point_47002712", "Lucas_Point_47022712"]
        im = f["Lucas_Point_47002712"]
        assert im.shape == (2, 64, 64)
        assert im.dtype.names == ALL_BANDS
        assert im.dtype["SCL"] == np.uint8 and im.dtype["B2"] == np.uint16
        assert int(im["B4"][1, 32, 32]) == 111
        assert (im["SCL"][:] < 9).all()
        image_ids = [s.decode() if isinstance(s, bytes) else s for s in im.attrs["Image_ID"]]
        assert image_ids == IDS
        assert any("201807" in s for s in image_ids)
        assert im.attrs["lc1"] == "B11"
        assert im.attrs["point_id"] == 47002712
        assert im.attrs["crs"] == "EPSG:32633"
        assert len(im.attrs["transform"]) == 6
        assert np.isnan(f["Lucas_Point_47022712"].attrs["obs_dist"])
        assert f.attrs["year"] == 2018 and f.attrs["country"] == "AT"
        assert f.attrs["point_count"] == 2
        bands = [b.decode() if isinstance(b, bytes) else b for b in f.attrs["bands"]]
        assert bands == list(ALL_BANDS)
        assert im.compression == "gzip" and im.shuffle


def test_write_error_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _pack(tmp_path, tmp_path / "2018" / "AT.h5")
    before = target.read_bytes()

    def broken_copy(self: h5py.Group, *args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(h5py.Group, "copy", broken_copy)
    with pytest.raises(OutputError, match=r"disk full.*free at least"):
        _pack(tmp_path, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["AT.h5"]
