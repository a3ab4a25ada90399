"""The outputs as users read them: the index, the PyTorch datasets, ``etl show``."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

import torch
from torch.utils.data import DataLoader

from benchmark.datasets import BigEarthNetDataset, Sen4MapDataset, collate_series
from exports.file_index import (
    IndexMismatch,
    index_is_current,
    index_path,
    read_index,
    write_index,
)
from pipeline.cli import main
from tests.fixtures.synthetic_ben_tree import write_tree


@pytest.fixture
def country(reference: Path, tmp_path: Path) -> Path:
    """A private copy of the session's reference run (AT.h5 and its index)."""
    out = tmp_path / "2018"
    out.mkdir()
    for path in (reference, index_path(reference)):
        shutil.copy2(path, out / path.name)
    return out / reference.name


def test_the_pack_writes_an_index_that_matches_the_file(reference: Path) -> None:
    assert index_is_current(reference)
    table = read_index(reference).to_pandas()
    with h5py.File(reference, "r") as f:
        names = sorted(n for n in f if n.startswith("Lucas_Point_"))
        assert table["dataset"].tolist() == names
        for row in table.itertuples():
            ds = f[row.dataset]
            ids = [v.decode() if isinstance(v, bytes) else v for v in ds.attrs["Image_ID"]]
            assert row.steps == ds.shape[0] == len(ids)
            assert row.lc1 == ds.attrs["lc1"] and row.point_id == ds.attrs["point_id"]
            assert row.first_acquired.strftime("%Y%m%dT%H%M%S") == min(i[:15] for i in ids)
            assert row.last_acquired.strftime("%Y%m%dT%H%M%S") == max(i[:15] for i in ids)
    assert table["s1_steps"].isna().all()  # no S1 file in this run
    assert table["digest"].str.len().eq(64).all() and table["digest"].is_unique


def test_a_point_added_or_removed_by_hand_is_detected(country: Path) -> None:
    with h5py.File(country, "a") as f:
        first = sorted(f)[0]
        f.copy(f[first], "Lucas_Point_99999999")
    with pytest.raises(IndexMismatch, match=r"1 point\(s\) not in the index \(99999999\)"):
        read_index(country)
    with h5py.File(country, "a") as f:
        del f["Lucas_Point_99999999"]
        del f[first]
    with pytest.raises(IndexMismatch, match=r"gone from the file"):
        Sen4MapDataset(country)
    repaired = read_index(country, repair=True)
    assert first not in repaired.column("dataset").to_pylist()
    assert index_is_current(country)


def test_the_dataset_returns_exactly_what_h5py_reads(country: Path) -> None:
    ds = Sen4MapDataset(country, crop=15, legend="landcover")
    with h5py.File(country, "r") as f:
        assert len(ds) == sum(1 for n in f if n.startswith("Lucas_Point_"))
        for i in range(len(ds)):
            sample = ds[i]
            raw = f[sample["meta"]["dataset"]]
            patch = raw[:, 25:40, 25:40]
            assert sample["image"].shape == (raw.shape[0], 10, 15, 15)
            assert np.array_equal(sample["image"][:, 2].numpy(), patch["B4"].astype(np.float32))
            assert np.array_equal(sample["scl"].numpy(), patch["SCL"])
            ids = [v.decode() if isinstance(v, bytes) else v for v in raw.attrs["Image_ID"]]
            assert sample["dates"][0] == f"{ids[0][:4]}-{ids[0][4:6]}-{ids[0][6:8]}"
            assert sample["meta"]["lc1"] == raw.attrs["lc1"]
    assert set(ds.labels.tolist()) - {-1}  # some points carry a class of the legend


def test_monthly_and_annual_composites_and_a_split(country: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    names = read_index(country).column("dataset").to_pylist()
    (keys / "val_keys.txt").write_text(names[0] + "\n")
    (keys / "test_keys.txt").write_text(names[1] + "\n")
    train = Sen4MapDataset(country, split="train", split_keys=keys, composite="monthly")
    test = Sen4MapDataset(country, split="test", split_keys=keys, composite="annual")
    assert len(train) == len(names) - 2
    assert [test[0]["meta"]["dataset"]] == [names[1]]
    monthly = train[0]["image"]
    assert monthly.shape == (12, 10, 15, 15) and monthly.dtype == torch.float32
    assert test[0]["image"].shape == (10, 15, 15)
    assert float(monthly.max()) > 0


def test_a_dataloader_with_two_workers_reads_every_point(country: Path) -> None:
    ds = Sen4MapDataset(country, crop=9)
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate_series)
    seen: dict[str, torch.Tensor] = {}
    for batch in loader:
        for k, meta in enumerate(batch["meta"]):
            steps = int(batch["image_steps"][k]) if "image_steps" in batch else meta["steps"]
            seen[meta["dataset"]] = batch["image"][k, :steps]
    assert len(seen) == len(ds)
    with h5py.File(country, "r") as f:
        for name, image in seen.items():
            assert np.array_equal(image[:, 6].numpy(), f[name][:, 28:37, 28:37]["B8"])


def test_the_s1_twin_joins_its_points(country: Path) -> None:
    twin = country.with_name("AT_S1.h5")
    names = read_index(country).column("dataset").to_pylist()
    with h5py.File(twin, "w") as f:
        data = np.zeros((3, 64, 64), dtype=[("VV", "<f4"), ("VH", "<f4")])
        data["VV"][:, 32, 32] = [-10.0, -11.0, -12.0]
        ds = f.create_dataset(names[0], data=data)
        ds.attrs["acquired"] = np.array(["2018-05-01T05:00:00", "2018-05-13T05:00:00",
                                         "2018-05-25T05:00:00"], dtype=h5py.string_dtype())
    assert not index_is_current(country)  # the S1 file is new: its stamps differ
    write_index(country)
    table = pq.read_table(index_path(country)).to_pandas()
    assert table.loc[table.dataset == names[0], "s1_steps"].item() == 3
    sample = Sen4MapDataset(country, crop=15)[names.index(names[0])]
    assert sample["s1"].shape == (3, 2, 15, 15)
    assert sample["s1"][:, 0, 7, 7].tolist() == [-10.0, -11.0, -12.0]
    assert sample["s1_dates"] == ["2018-05-01", "2018-05-13", "2018-05-25"]


def test_bad_options_are_one_clear_line(country: Path) -> None:
    with pytest.raises(Exception, match="composite='weekly': choose one of none, monthly"):
        Sen4MapDataset(country, composite="weekly")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="crop=16: must be odd"):
        Sen4MapDataset(country, crop=16)
    with pytest.raises(Exception, match="split= needs split_keys="):
        Sen4MapDataset(country, split="train")


def test_etl_show_writes_the_point_quicklook(country: Path, tmp_path: Path) -> None:
    point = int(read_index(country).column("point_id")[0].as_py())
    png = tmp_path / "q.png"
    result = CliRunner().invoke(main, ["show", "--out", str(country.parent.parent),
                                       "--point", str(point), "--png", str(png)])
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(png) as im:
        width, height = im.size
    steps = int(read_index(country).column("steps")[0].as_py())
    rows = -(-steps // 10)  # ten thumbnails a row, then the NDVI panel
    assert 700 < width <= 10 * 1.3 * 80  # the figure's width at 80 dpi, trimmed
    assert (rows * 1.45 + 1.2) * 80 < height <= (rows * 1.45 + 2.4) * 80
    missing = CliRunner().invoke(main, ["show", "--out", str(country.parent.parent),
                                        "--point", "12345678"])
    assert missing.exit_code == 2 and "point 12345678 is in none of 1 country file" in (
        missing.output)


def test_bigearthnet_dataset_and_patch_quicklook(tmp_path: Path) -> None:
    facts = write_tree(tmp_path / "bigearthnet", n_patches=12, seed=4, constant_bands=True)
    root = facts.root
    ds = BigEarthNetDataset(root, modality="s2")
    sample = ds[0]
    assert sample["image"].shape == (10, 120, 120)
    assert sample["label"].shape == (19,) and float(sample["label"].sum()) >= 1
    assert sample["reference"].shape == (120, 120)
    import rasterio

    from benchmark.multilabel.data import s2_band_path

    with rasterio.open(s2_band_path(root, str(sample["meta"]["patch_id"]), "B02")) as src:
        assert np.array_equal(sample["image"][0].numpy(), src.read(1).astype(np.float32))
    both = BigEarthNetDataset(root, modality="s1s2", split="train")
    assert all(both.s1_names != "") and set(both.splits) == {"train"}
    assert both[0]["image"].shape == (12, 120, 120)
    loader = DataLoader(both, batch_size=2, num_workers=2)
    assert sum(len(b["label"]) for b in loader) == len(both)
    png = tmp_path / "patch.png"
    result = CliRunner().invoke(main, ["show", "--out", str(root), "--patch",
                                       str(sample["meta"]["patch_id"]), "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert png.stat().st_size > 10_000
