"""The split as the run applies it: key lists of both tasks, random split of labelled points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark import split
from benchmark.config import BenchmarkConfig
from benchmark.dataset import load
from benchmark.h5read import point_names
from benchmark.legend_apply import EXCLUDED
from benchmark.legend_apply import load as load_legend


def test_crop_run_never_trains_on_land_cover_val_or_test_keys(
    demo_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = point_names(demo_dir / "AT.h5")
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "val_keys.txt").write_text("\n".join(names[0:8]))
    (keys / "test_keys.txt").write_text("\n".join(names[8:16]))
    (keys / "crop_val_keys.txt").write_text("\n".join(names[0:2]))
    (keys / "crop_test_keys.txt").write_text("\n".join(names[8:10]))
    cfg = BenchmarkConfig(data_dir=demo_dir, out_dir=tmp_path / "r", legend="crops",
                          countries=("AT",), models=("rf",), split_keys=keys, cache_dir=None)
    data = load(cfg, load_legend("crops"))
    training = set(data.names[data.index("train")])
    assert len(training) > 0
    assert not training & set(names[:16])
    assert set(data.names[data.parts == "val"]) <= set(names[0:2])
    assert data.summary["paper_split_sizes"] == {"train": 196514, "val": 48394, "test": 48396}
    assert "split differs from the paper's (crops legend)" in caplog.text


def test_random_split_of_a_run_is_70_15_15_of_the_labelled_points(
    demo_dir: Path, tmp_path: Path
) -> None:
    cfg = BenchmarkConfig(data_dir=demo_dir, out_dir=tmp_path / "r", legend="crops",
                          models=("rf",), cache_dir=None)
    data = load(cfg, load_legend("crops"))
    labelled = data.y != EXCLUDED
    assert (~labelled).any()  # the crop legend leaves some demo points out
    for country in ("AT", "DE"):
        sel = (data.countries == country) & labelled
        n = int(sel.sum())
        for part, share in zip(split.PARTS, split.DEFAULT_FRACTIONS, strict=True):
            assert abs(int(np.sum(data.parts[sel] == part)) - share * n) <= 1, (country, part)
    assert data.summary["split_sizes"] == split.part_sizes(data.parts)
