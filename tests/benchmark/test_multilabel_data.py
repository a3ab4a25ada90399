"""benchmark.multilabel.data on synthetic reBEN trees (tests/fixtures/synthetic_ben_tree.py)."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from benchmark.multilabel import data
from benchmark.multilabel.data import (
    REASON_CLOUD,
    REASON_FLAGGED_TABLE,
    REASON_NO_LABEL,
    REASON_NO_S1,
    REASON_SNOW,
    compute_stats,
    load_tree,
    normalise,
    s2_band_path,
    train_stats,
)
from exports.clc.codes import BEN19_CLASSES
from lucas.errors import InputFormatError
from tests.fixtures.synthetic_ben_tree import (
    S2_OFFSETS,
    SIGNATURE_CLASSES,
    TreeFacts,
    s1_constant,
    s2_constant,
    write_tree,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def constant_tree(tmp_path_factory: pytest.TempPathFactory) -> TreeFacts:
    root = tmp_path_factory.mktemp("ben_const") / "bigearthnet"
    return write_tree(root, n_patches=30, seed=3, constant_bands=True, flagged_in_metadata=2)


@pytest.fixture(scope="session")
def signal_tree(tmp_path_factory: pytest.TempPathFactory) -> TreeFacts:
    root = tmp_path_factory.mktemp("ben_signal") / "bigearthnet"
    return write_tree(root, n_patches=200, seed=1)


@pytest.fixture(scope="session")
def signal_s2(signal_tree: TreeFacts) -> data.BenTree:
    return load_tree(signal_tree.root, "s2")


@pytest.fixture
def small_tree(tmp_path: Path) -> TreeFacts:
    return write_tree(tmp_path / "bigearthnet", n_patches=30, seed=5)


@pytest.mark.parametrize(("modality", "n_channels"), [("s1", 2), ("s2", 10), ("s1s2", 12)])
def test_shapes_per_modality(constant_tree: TreeFacts, modality: str, n_channels: int) -> None:
    tree = load_tree(constant_tree.root, modality)
    assert len(tree.channels) == n_channels
    x = tree.images(np.arange(len(tree)))
    assert x.shape == (len(tree), n_channels, 120, 120) and x.dtype == np.float32
    assert tree.image(0).shape == (n_channels, 120, 120)
    assert tree.targets.shape == (len(tree), 19)


def test_channel_order(constant_tree: TreeFacts) -> None:
    tree = load_tree(constant_tree.root, "s1s2")
    assert tree.channels == ("VV", "VH", "B02", "B03", "B04", "B05", "B06", "B07", "B08",
                             "B8A", "B11", "B12")
    x = tree.images(np.arange(len(tree)))
    for row, pid in enumerate(tree.patch_ids):
        k = constant_tree.number(str(pid))
        for c, band in enumerate(tree.channels):
            want = s1_constant(k, band) if band in ("VV", "VH") else s2_constant(k, band)
            np.testing.assert_allclose(x[row, c], want, rtol=0, atol=1e-5,
                                       err_msg=f"{pid} {band}")
    s2 = load_tree(constant_tree.root, "s2")
    assert s2.channels == tree.channels[2:]


def test_cubic_upsampling_of_a_20m_band(signal_tree: TreeFacts, signal_s2: data.BenTree) -> None:
    torch = pytest.importorskip("torch")
    tree = signal_s2
    pid = str(tree.patch_ids[3])
    image = tree.image(3)
    for band in ("B05", "B8A", "B12"):
        with rasterio.open(s2_band_path(signal_tree.root, pid, band)) as src:
            native = src.read(1)
        assert native.shape == (60, 60)
        ref = torch.nn.functional.interpolate(
            torch.from_numpy(native.astype(np.float32))[None, None], size=(120, 120),
            mode="bicubic", align_corners=False)[0, 0].numpy()
        got = image[tree.channels.index(band)]
        assert np.abs(got - ref).max() <= 0.5 + 0.1  # uint16 rounding, float32 noise
        same = got == np.clip(np.rint(ref), 0, 65535)
        assert same.mean() > 0.999
        assert np.abs(np.asarray(data.upsample_cubic(native[None]))[0] - ref).max() < 0.1
    with rasterio.open(s2_band_path(signal_tree.root, pid, "B08")) as src:
        np.testing.assert_array_equal(image[tree.channels.index("B08")], src.read(1))


def test_targets_follow_labels(signal_tree: TreeFacts, signal_s2: data.BenTree) -> None:
    tree = signal_s2
    assert tree.targets.dtype == np.uint8
    for pid, target in zip(tree.patch_ids, tree.targets, strict=True):
        names = {BEN19_CLASSES[i] for i in np.flatnonzero(target)}
        assert names == set(signal_tree.labels[str(pid)]) and names


def test_exclusions_are_counted_with_reasons(constant_tree: TreeFacts) -> None:
    f = constant_tree
    s2 = load_tree(f.root, "s2")
    assert s2.exclusions == {REASON_FLAGGED_TABLE: len(f.flagged), REASON_SNOW: 1,
                             REASON_CLOUD: 1, REASON_NO_LABEL: len(f.no_label)}
    assert list(s2.patch_ids) == f.usable
    s1 = load_tree(f.root, "s1")
    assert s1.exclusions[REASON_NO_S1] == len(f.no_s1) > 0
    assert list(s1.patch_ids) == [p for p in f.usable if p not in f.no_s1]
    assert all(s1.s1_names)
    s1s2 = load_tree(f.root, "s1s2")
    assert s1s2.exclusions == s1.exclusions
    assert list(s1s2.patch_ids) == list(s1.patch_ids)


def test_splits_and_the_val_alias(small_tree: TreeFacts) -> None:
    f = small_tree
    tree = load_tree(f.root, "s2")
    for name, part in tree.splits.items():
        assert sorted(part.patch_ids) == sorted(p for p in f.usable if f.splits[p] == name)
        assert list(tree.patch_ids[part.rows]) == list(part.patch_ids)
    assert sum(len(p) for p in tree.splits.values()) == len(tree)
    digest = tree.split_sha256
    meta = f.root / "metadata.parquet"
    frame = pd.read_parquet(meta)
    frame["split"] = frame["split"].replace({"validation": "val"})
    frame.iloc[::-1].to_parquet(meta, index=False)  # reversed rows too: same digest
    again = load_tree(f.root, "s2")
    assert sorted(again.split("val").patch_ids) == sorted(tree.split("validation").patch_ids)
    assert again.split_sha256 == digest
    assert again.metadata_sha256 == hashlib.sha256(meta.read_bytes()).hexdigest()
    frame.loc[frame["split"] == "val", "split"] = "holdout"
    frame.to_parquet(meta, index=False)
    with pytest.raises(InputFormatError, match="holdout"):
        load_tree(f.root, "s2")


def test_stats_come_from_the_train_split_only(small_tree: TreeFacts) -> None:
    f = small_tree
    tree = load_tree(f.root, "s1s2")
    stats = compute_stats(tree, batch=4)  # several batches: the streamed merge
    x = tree.images(tree.split("train").rows).astype(np.float64)
    np.testing.assert_allclose(stats.mean, x.mean(axis=(0, 2, 3)), rtol=1e-10)
    np.testing.assert_allclose(stats.std, x.std(axis=(0, 2, 3)), rtol=1e-8)
    assert stats.n_patches == len(tree.split("train")) and stats.channels == tree.channels
    assert stats.to_dict()["channels"][0] == "VV"

    def overwrite(pid: str) -> None:
        path = s2_band_path(f.root, pid, "B04")
        with rasterio.open(path, "r+") as dst:
            dst.write(np.full((120, 120), 60000, dtype=np.uint16), 1)

    overwrite(str(tree.split("test").patch_ids[0]))
    changed = load_tree(f.root, "s1s2")
    assert not np.array_equal(changed.images(changed.split("test").rows),
                              tree.images(tree.split("test").rows))
    after = compute_stats(changed)
    np.testing.assert_array_equal(after.mean, compute_stats(tree).mean)
    np.testing.assert_array_equal(after.std, compute_stats(tree).std)
    overwrite(str(tree.split("train").patch_ids[0]))
    assert not np.allclose(compute_stats(load_tree(f.root, "s1s2")).mean, stats.mean)


def test_normalise(small_tree: TreeFacts) -> None:
    tree = load_tree(small_tree.root, "s2")
    stats = compute_stats(tree)
    z = normalise(tree.images(tree.split("train").rows), stats)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-4)
    one = tree.image(0).copy()
    one[0, 0, 0] = np.nan
    out = stats.normalise(one)
    assert out.shape == one.shape and out[0, 0, 0] == 0 and np.isfinite(out).all()


def test_cache_is_reused_then_rebuilt_when_metadata_changes(
    small_tree: TreeFacts, tmp_path: Path
) -> None:
    f = small_tree
    cache = tmp_path / "cache"
    first = load_tree(f.root, "s1s2", cache)
    assert not first.from_cache and len(first.cache_files) == 2
    assert all(p.parent == cache and p.suffix == ".npy" for p in first.cache_files)
    mtimes = {p: p.stat().st_mtime_ns for p in first.cache_files}
    ref = first.images(np.arange(len(first)))
    second = load_tree(f.root, "s1s2", cache)
    assert second.from_cache and second.cache_files == first.cache_files
    assert {p: p.stat().st_mtime_ns for p in second.cache_files} == mtimes
    assert isinstance(second._stores[0][0].array, np.memmap)
    np.testing.assert_array_equal(second.images(np.arange(len(second))), ref)
    np.testing.assert_array_equal(ref, load_tree(f.root, "s1s2").images(np.arange(len(first))))
    assert load_tree(f.root, "s2", cache).from_cache  # s2 shares the S2 file of s1s2
    stats = train_stats(second, cache)
    np.testing.assert_array_equal(train_stats(second, cache).mean, stats.mean)
    assert len(list(cache.glob("*.stats.s1s2.*.json"))) == 1

    meta = f.root / "metadata.parquet"
    frame = pd.read_parquet(meta)
    frame.iloc[1:].to_parquet(meta, index=False)  # one patch fewer
    third = load_tree(f.root, "s1s2", cache)
    assert not third.from_cache and set(third.cache_files).isdisjoint(first.cache_files)
    assert not any(p.exists() for p in first.cache_files)  # the old key is removed
    assert len(third) == len(first) - (1 if frame["patch_id"].iloc[0] in first.patch_ids
                                       else 0)
    assert sorted(p.name for p in cache.glob("*.tmp")) == []
    assert load_tree(f.root, "s1s2", cache).from_cache


def test_errors(small_tree: TreeFacts, tmp_path: Path) -> None:
    f = small_tree
    with pytest.raises(InputFormatError, match="metadata.parquet"):
        load_tree(tmp_path / "nowhere", "s2")
    with pytest.raises(InputFormatError, match="modality"):
        load_tree(f.root, "rgb")
    pid = load_tree(f.root, "s2").patch_ids[2]
    band = s2_band_path(f.root, str(pid), "B11")
    band.unlink()
    with pytest.raises(InputFormatError, match=f"{band.name}.*missing"):
        load_tree(f.root, "s2", tmp_path / "cache")
    assert list((tmp_path / "cache").glob("*.tmp")) == []  # the failed build left nothing
    meta = f.root / "metadata.parquet"
    frame = pd.read_parquet(meta)
    frame.at[0, "labels"] = ["Arable land", "Rice fields"]
    frame.to_parquet(meta, index=False)
    with pytest.raises(InputFormatError, match="Rice fields"):
        load_tree(f.root, "s2")


def test_patch_dataset(small_tree: TreeFacts, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    tree = load_tree(small_tree.root, "s1s2", tmp_path / "cache")
    stats = train_stats(tree, tmp_path / "cache")
    ds = data.PatchDataset(tree, "train", stats)
    assert isinstance(ds, torch.utils.data.Dataset) and len(ds) == len(tree.split("train"))
    x, y = ds[0]
    assert x.dtype == torch.float32 and x.shape == (12, 120, 120)
    assert y.dtype == torch.float32 and y.shape == (19,)
    row = tree.split("train").rows[0]
    np.testing.assert_array_equal(y.numpy(), tree.targets[row])
    np.testing.assert_allclose(x.numpy(), normalise(tree.image(int(row)), stats))
    copy = pickle.loads(pickle.dumps(ds))  # DataLoader workers under spawn
    assert copy.tree._stores[0][0]._array is None or len(pickle.dumps(ds)) < 1_000_000
    np.testing.assert_array_equal(copy[0][0].numpy(), x.numpy())
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, 12, 120, 120) and batch[1].shape == (4, 19)
    with pytest.raises(InputFormatError, match="channels"):
        data.PatchDataset(load_tree(small_tree.root, "s2"), "train", stats)


def test_importing_loads_no_torch() -> None:
    code = ("import sys, benchmark.multilabel.data as d; d.load_tree; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_the_fixture_signal_is_learnable(signal_s2: data.BenTree) -> None:
    """Band means move with each signature class as its offset says (a model can learn it)."""
    tree = signal_s2
    means = tree.images(np.arange(len(tree))).mean(axis=(2, 3))
    for c in SIGNATURE_CLASSES:
        has = tree.targets[:, BEN19_CLASSES.index(c)] == 1
        assert 0 < has.sum() < len(tree)
        for band in ("B04", "B08", "B11"):
            ch = tree.channels.index(band)
            diff = means[has, ch].mean() - means[~has, ch].mean()
            assert np.sign(diff) == np.sign(S2_OFFSETS[c][band]), (c, band)
    sizes = {k: len(v) for k, v in tree.splits.items()}
    assert sizes["train"] > sizes["validation"] > 0 and sizes["test"] > 0
