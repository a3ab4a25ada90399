"""The torchgeo BigEarthNetV2 transcription on a tiny synthetic reBEN tree.

The tree is written with rasterio in the layout ``etl bigearthnet`` produces; every band's
value encodes its patch and band, so the channel order is checkable. When torchgeo is
importable, the real dataset class reads the same tree and must agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine

from tests.bigearthnet.torchgeo_reader import (
    CLASSES_19,
    CLC_CODES,
    S1_ORDER,
    S2_ORDER,
    image_paths,
    patch_dir,
    read_split,
)

# Native pixel counts of a 1200 m patch: 10 m -> 120, 20 m -> 60, 60 m -> 20.
S2_SIZE = {
    "B01": 20, "B02": 120, "B03": 120, "B04": 120, "B05": 60, "B06": 60, "B07": 60,
    "B08": 120, "B8A": 60, "B09": 20, "B11": 60, "B12": 60,
}
CRS = "EPSG:32633"


@dataclass(frozen=True)
class Patch:
    patch_id: str
    s1_name: str
    split: str
    codes: tuple[int, ...]  # CLC codes painted on the reference map, in stripes
    labels: tuple[str, ...]


PATCHES = [
    Patch(
        "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57",
        "S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57",
        "train",
        (111, 312, 999),
        ("Urban fabric", "Coniferous forest"),
    ),
    Patch(
        "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_58",
        "S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_58",
        "train",
        (211, 122, 523),
        ("Arable land", "Marine waters"),
    ),
    Patch(
        "S2B_MSIL2A_20170615T102019_N9999_R122_T32TNS_45_23",
        "S1A_IW_GRDH_1SDV_20170615T170156_32TNS_45_23",
        "validation",
        (243, 411),
        (
            "Land principally occupied by agriculture, with significant areas of natural "
            "vegetation",
            "Inland wetlands",
        ),
    ),
]


def s2_value(patch_no: int, band: str) -> int:
    return 100 * (S2_ORDER.index(band) + 1) + patch_no


def s1_value(patch_no: int, band: str) -> float:
    return (-10.0 if band == "VV" else -20.0) - patch_no


def write_tif(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixel = 1200.0 / array.shape[1]
    with rasterio.open(
        path, "w", driver="GTiff", height=array.shape[0], width=array.shape[1], count=1,
        dtype=array.dtype, crs=CRS, transform=Affine(pixel, 0.0, 399960.0, 0.0, -pixel, 5400000.0),
    ) as dst:
        dst.write(array, 1)


def reference_map(codes: tuple[int, ...]) -> np.ndarray:
    stripes = np.array_split(np.arange(120), len(codes))
    out = np.zeros((120, 120), dtype=np.uint16)
    for code, rows in zip(codes, stripes, strict=True):
        out[rows] = code
    return out


def make_tree(root: Path, patches: list[Patch] = PATCHES) -> Path:
    """A reBEN tree: BigEarthNet-S2, BigEarthNet-S1, Reference_Maps, metadata.parquet."""
    for n, p in enumerate(patches):
        s2_dir = root / "BigEarthNet-S2" / p.patch_id.rsplit("_", 2)[0] / p.patch_id
        for band, size in S2_SIZE.items():
            write_tif(s2_dir / f"{p.patch_id}_{band}.tif",
                      np.full((size, size), s2_value(n, band), dtype=np.uint16))
        s1_dir = root / "BigEarthNet-S1" / p.s1_name.rsplit("_", 3)[0] / p.s1_name
        for band in ("VV", "VH"):
            write_tif(s1_dir / f"{p.s1_name}_{band}.tif",
                      np.full((120, 120), s1_value(n, band), dtype=np.float32))
        maps = root / "Reference_Maps" / p.patch_id.rsplit("_", 2)[0] / p.patch_id
        write_tif(maps / f"{p.patch_id}_reference_map.tif", reference_map(p.codes))
    pd.DataFrame({
        "patch_id": [p.patch_id for p in patches],
        "labels": [list(p.labels) for p in patches],
        "split": [p.split for p in patches],
        "country": ["Austria"] * len(patches),
        "s1_name": [p.s1_name for p in patches],
        "contains_seasonal_snow": [False] * len(patches),
        "contains_cloud_or_shadow": [False] * len(patches),
    }).to_parquet(root / "metadata.parquet")
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "bigearthnet")


def test_train_split_shapes_and_dtypes(tree: Path) -> None:
    samples = read_split(tree, "train")
    assert [s.patch_id for s in samples] == [p.patch_id for p in PATCHES[:2]]
    assert [s.s1_name for s in samples] == [p.s1_name for p in PATCHES[:2]]
    for s in samples:
        assert s.image_s2 is not None and s.image_s1 is not None
        assert s.image_s2.shape == (12, 120, 120) and s.image_s2.dtype == np.float32
        assert s.image_s1.shape == (2, 120, 120) and s.image_s1.dtype == np.float32
        assert s.mask.shape == (120, 120) and s.mask.dtype == np.int64
        assert s.label.shape == (19,) and s.label.dtype == np.int64


def test_s2_band_order_and_upsampling_of_20_and_60_m_bands(tree: Path) -> None:
    for n, s in enumerate(read_split(tree, "train")):
        assert s.image_s2 is not None
        for k, band in enumerate(S2_ORDER):
            assert np.all(s.image_s2[k] == s2_value(n, band)), band
    paths = image_paths(tree, pd.Series({"patch_id": PATCHES[0].patch_id}), "s2")
    assert [Path(p).stem.rsplit("_", 1)[1] for p in paths] == list(S2_ORDER)
    assert S2_ORDER == ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A",
                        "B09", "B11", "B12")


def test_20_m_bands_are_upsampled_bilinearly_on_pixel_centres(tree: Path) -> None:
    p = PATCHES[0]
    s2_dir = tree / "BigEarthNet-S2" / patch_dir(p.patch_id, "s2") / p.patch_id
    ramp = np.tile((20 * np.arange(60)).astype(np.uint16), (60, 1))  # 20 per 20 m column
    write_tif(s2_dir / f"{p.patch_id}_B05.tif", ramp)
    s = read_split(tree, "train")[0]
    assert s.image_s2 is not None
    b05 = s.image_s2[S2_ORDER.index("B05")]
    cols = np.arange(1, 119)  # inside the outermost half source pixel: linear, 10 per column
    np.testing.assert_allclose(b05[:, 1:119], np.tile(10 * cols - 5, (120, 1)), atol=1)
    assert b05[0, 0] == 0 and b05[0, 119] == 20 * 59  # clamped at the edges


def test_s1_channels_follow_file_names_vh_then_vv(tree: Path) -> None:
    assert S1_ORDER == ("VH", "VV")
    for n, s in enumerate(read_split(tree, "train")):
        assert s.image_s1 is not None
        assert np.all(s.image_s1[0] == s1_value(n, "VH"))
        assert np.all(s.image_s1[1] == s1_value(n, "VV"))


def test_s1_db_values_arrive_rounded_to_whole_db(tree: Path) -> None:
    p = PATCHES[0]
    s1_dir = tree / "BigEarthNet-S1" / patch_dir(p.s1_name, "s1") / p.s1_name
    vv = np.full((120, 120), -12.7, dtype=np.float32)
    vv[0, :4] = [-12.5, -12.3, -0.5, 2.5]
    write_tif(s1_dir / f"{p.s1_name}_VV.tif", vv)
    s = read_split(tree, "train")[0]
    assert s.image_s1 is not None
    assert s.image_s1[1, 1, 1] == -13.0
    assert list(s.image_s1[1, 0, :4]) == [-13.0, -12.0, -1.0, 3.0]


def test_folders_derive_from_the_names() -> None:
    assert patch_dir("S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57", "s2") == (
        "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP")
    assert patch_dir("S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57", "s1") == (
        "S1B_IW_GRDH_1SDV_20170612T165809")


def test_label_is_the_labels_column_multi_hot(tree: Path) -> None:
    got = read_split(tree, "train") + read_split(tree, "val")
    assert len(got) == 3
    for s, p in zip(got, PATCHES, strict=True):
        assert [CLASSES_19[i] for i in np.flatnonzero(s.label)] == sorted(
            p.labels, key=CLASSES_19.index)


def test_mask_codes_become_ordinals_others_stay(tree: Path) -> None:
    s0, s1 = read_split(tree, "train")
    assert s0.mask[0, 0] == CLC_CODES[111] == 0
    assert s0.mask[60, 0] == CLC_CODES[312] == 9
    assert s0.mask[119, 0] == 999  # no data passes through
    assert s1.mask[60, 0] == 122  # a code outside the 19-class nomenclature too
    assert s1.mask[119, 0] == CLC_CODES[523] == 18


def test_split_names(tree: Path, tmp_path: Path) -> None:
    (val,) = read_split(tree, "val")
    assert val.patch_id == PATCHES[2].patch_id
    assert read_split(tree, "test") == []
    with pytest.raises(AssertionError):
        read_split(tree, "validation")
    # A parquet saying "val" (not reBEN's "validation") gives an empty validation set.
    other = make_tree(tmp_path / "val_named", [
        Patch(p.patch_id, p.s1_name, "val" if p.split == "validation" else p.split,
              p.codes, p.labels) for p in PATCHES])
    assert read_split(other, "val") == []


def test_sensor_selection_and_a_tree_without_s1(tree: Path) -> None:
    (s,) = read_split(tree, "val", bands="s2")
    assert s.image_s1 is None and s.image_s2 is not None
    (s,) = read_split(tree, "val", bands="s1")
    assert s.image_s2 is None and s.image_s1 is not None
    for f in sorted((tree / "BigEarthNet-S1").rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    (tree / "BigEarthNet-S1").rmdir()
    with pytest.raises(FileNotFoundError, match="BigEarthNet-S1"):
        read_split(tree, "val", bands="s2")


def test_any_extra_tif_in_a_patch_folder_becomes_a_channel(tree: Path) -> None:
    p = PATCHES[2]
    s2_dir = tree / "BigEarthNet-S2" / patch_dir(p.patch_id, "s2") / p.patch_id
    write_tif(s2_dir / f"{p.patch_id}_B10.tif", np.ones((20, 20), dtype=np.uint16))
    (s,) = read_split(tree, "val", bands="s2")
    assert s.image_s2 is not None and s.image_s2.shape == (13, 120, 120)


def test_the_real_torchgeo_class_agrees(tree: Path) -> None:
    datasets = pytest.importorskip("torchgeo.datasets")
    for split in ("train", "val", "test"):
        ours = read_split(tree, split)
        theirs = datasets.BigEarthNetV2(root=os.fspath(tree), split=split, bands="all")
        assert len(theirs) == len(ours)
        assert list(theirs.class_set) == CLASSES_19
        for i, s in enumerate(ours):
            t = theirs[i]
            np.testing.assert_array_equal(t["image_s2"].numpy(), s.image_s2)
            np.testing.assert_array_equal(t["image_s1"].numpy(), s.image_s1)
            assert tuple(t["mask"].shape) == (1, 120, 120)
            np.testing.assert_array_equal(t["mask"][0].numpy(), s.mask)
            np.testing.assert_array_equal(t["label"].numpy(), s.label)
        for bands in ("s1", "s2"):
            single = datasets.BigEarthNetV2(root=os.fspath(tree), split=split, bands=bands)
            for i, s in enumerate(ours):
                want = s.image_s1 if bands == "s1" else s.image_s2
                np.testing.assert_array_equal(single[i]["image"].numpy(), want)
