"""The Python API, as its module docstring walks through it (a notebook-sized example)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from lucas.errors import ConfigError
from pipeline import api
from pipeline.demo import DemoArchive


def test_build_read_and_rebuild_a_country(demo: DemoArchive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = api.build_country("AT", out=out, lucas=demo.lucas_path, source="stac",
                               catalog=demo.catalog_path, workers=1)
    assert result.files == [api.country_file(out, "AT")] and result.failed == 0
    index = api.read_index(result.files[0])
    with h5py.File(result.files[0], "r") as f:
        assert len(index) == int(f.attrs["point_count"])
        first = int(index.point_id[0])
        point = api.read_point(result.files[0], first)
        raw = f[f"Lucas_Point_{first:08d}"]
        assert np.array_equal(point.data["B4"][:, 32, 32], raw["B4"][:, 32, 32])
        assert point.attributes["lc1"] == raw.attrs["lc1"] == index.lc1[0]
    assert point.dates == sorted(point.dates) and len(point.dates) == index.steps[0]
    again = api.build_country("AT", out=out, lucas=demo.lucas_path, source="stac",
                              catalog=demo.catalog_path, workers=1)
    assert again.nothing_to_do and again.files == result.files


def test_bad_options_raise_the_clis_one_line(demo: DemoArchive, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_cloud_cover"):
        api.build_country("AT", out=tmp_path, lucas=demo.lucas_path, source="stac",
                          catalog=demo.catalog_path, max_cloud_cover="cloudy")
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        api.build_country("AT", out=tmp_path, lucas=demo.lucas_path, colour="red")
    with pytest.raises(ConfigError, match="no point 00000001"):
        api.read_point(_any_file(tmp_path, demo), 1)


def _any_file(tmp_path: Path, demo: DemoArchive) -> Path:
    return api.build_country("AT", out=tmp_path / "o2", lucas=demo.lucas_path,
                             catalog=demo.catalog_path, workers=1).files[0]
