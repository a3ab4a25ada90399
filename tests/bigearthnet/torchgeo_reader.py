"""A transcription of how torchgeo's ``BigEarthNetV2`` reads a BigEarthNet v2 (reBEN) tree.

torchgeo cannot be installed here (it needs torchvision), so the tests of ``etl bigearthnet``
check its output with this plain numpy/rasterio copy of the dataset's reading logic. Every
step cites the code it copies:

    microsoft/torchgeo, torchgeo/datasets/bigearthnet.py, class BigEarthNetV2
    (commit 7ea0616ded0cc27a8feb8b2aafefd7c14155f6fb, 2025-08-14, 0.8.0.dev0; the class is
    identical in v0.7.1 but for the copyright line), and torchgeo/datasets/utils.py,
    ``sort_sentinel2_bands``. Line numbers below are those of that commit.

It was checked once against that very file run under torch (its package-relative imports,
``NonGeoDataset``, ``DatasetNotFoundError`` and the download helpers, stubbed): every array of
the synthetic tree of ``test_torchgeo_reader.py``, random 20/60 m bands and fractional dB
included, came out identical. ``test_the_real_torchgeo_class_agrees`` repeats that wherever
torchgeo is installed.

What the ETL's output must therefore satisfy, including points where torchgeo differs from
what one would guess:

- Splits. ``BigEarthNetV2(split=...)`` takes ``"train" | "val" | "test"`` (``valid_splits``,
  L686) and keeps the rows of ``metadata.parquet`` whose ``split`` column equals
  ``split_map[split]`` (L687-691, L729-732): the column must hold ``"train"``,
  ``"validation"``, ``"test"`` (the reBEN values). A column holding ``"val"`` gives an
  empty validation set, silently. torchgeo v0.7.0 had no ``split_map`` and compared the
  column with the argument itself (so ``"val"`` matched nothing there; fixed by #2825,
  shipped in v0.7.1).
- Presence. ``_verify`` (L862-892) requires all four of ``BigEarthNet-S1``,
  ``BigEarthNet-S2``, ``Reference_Maps`` and ``metadata.parquet`` under the root whatever
  ``bands`` is, else ``DatasetNotFoundError`` (or a download attempt). An S2-only tree must
  still have a ``BigEarthNet-S1`` folder.
- Folders (``_load_image``, L785-797; ``_load_map``, L826-835). The S2 product folder is
  ``patch_id`` without its last two ``_`` fields (x, y); the S1 folder is ``s1_name``
  without its last **three** fields (tile, x, y), so
  ``S1B_IW_GRDH_1SDV_20170612T165809_33UUP_26_57`` lives in
  ``BigEarthNet-S1/S1B_IW_GRDH_1SDV_20170612T165809/<s1_name>/``. The reference map is
  ``Reference_Maps/<S2 folder>/<patch_id>/<patch_id>_reference_map.tif``.
- Files. Images are ``glob('*.tif')`` in the patch folder (L793-797): every ``.tif`` there
  becomes a channel, so a patch folder must hold exactly the band files (12 for S2: B01-B09,
  B8A, B11, B12, no B10; 2 for S1), nothing else ending in ``.tif``. Names need only end
  in ``_<band>.tif`` for the S2 sort.
- Band order. S2: ``sorted(paths, key=sort_sentinel2_bands)`` (L799-800), i.e. by the
  string after the last ``_`` with ``B8A`` read as ``B08A``: B01 B02 B03 B04 B05 B06 B07 B08
  B8A B09 B11 B12. S1: plain ``sorted(paths)`` (L801-802), so ``..._VH.tif`` comes before
  ``..._VV.tif``: **channel 0 is VH, channel 1 is VV** (torchgeo's ``plot`` labels channel
  0 "VV", L949, which is wrong for such a tree; the order follows file names only).
- Resampling and dtype. Each file's band 1 is read with ``out_shape=(120, 120)``,
  ``out_dtype='int32'``, ``resampling=Resampling.bilinear`` (L805-813), then stacked and
  cast to float: 20 m (60 px) and 60 m (20 px) bands are upsampled bilinearly by GDAL, and
  every value is converted to int32 by GDAL, which rounds to nearest (half away from zero):
  float32 dB S1 values arrive as whole dB (-12.7 -> -13.0, -12.5 -> -13.0). That precision
  loss is torchgeo's; the files may and should stay float32.
- Reference map (L836-843). All bands are read at native size (no ``out_shape``: the file
  must be 120x120 itself), as int32; each CLC code in ``clc_codes`` (L651-684) is replaced
  by its 19-class ordinal; any other value (999 "no data", codes such as 122, 131, 141,
  332, 335 that the 19-class nomenclature drops) is left as it is. torchgeo returns shape
  (1, 120, 120) int64; :class:`Sample` keeps (120, 120) (``mask[0]``, as ``plot`` uses it).
- Target (L845-860). ``labels`` is a list of the 19 class names (exact strings of
  ``class_sets[19]``, L135-156; unknown names raise ``KeyError``); the target is a
  length-19 int64 multi-hot vector in that order. The reference map is not used for it.
- Sample keys (L756-768). ``bands="all"`` gives ``image_s1``, ``image_s2``, ``mask``,
  ``label``; ``"s1"`` / ``"s2"`` give ``image`` instead of the two images.
- Other ``metadata.parquet`` columns (country, contains_seasonal_snow, ...) are not read.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from rasterio.enums import Resampling

TORCHGEO_COMMIT = "7ea0616ded0cc27a8feb8b2aafefd7c14155f6fb"

# BigEarthNet.class_sets[19] (bigearthnet.py L135-156), used by BigEarthNetV2.class_set (L595).
CLASSES_19: list[str] = [
    "Urban fabric",
    "Industrial or commercial units",
    "Arable land",
    "Permanent crops",
    "Pastures",
    "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas",
    "Broad-leaved forest",
    "Coniferous forest",
    "Mixed forest",
    "Natural grassland and sparsely vegetated areas",
    "Moors, heathland and sclerophyllous vegetation",
    "Transitional woodland, shrub",
    "Beaches, dunes, sands",
    "Inland wetlands",
    "Coastal wetlands",
    "Inland waters",
    "Marine waters",
]

# BigEarthNetV2.clc_codes (L651-684): CLC level-3 code -> 19-class ordinal.
CLC_CODES: dict[int, int] = {
    111: 0, 112: 0, 121: 1, 211: 2, 212: 2, 213: 2, 221: 3, 222: 3, 223: 3, 231: 4,
    241: 3, 242: 5, 243: 6, 244: 7, 311: 8, 312: 9, 313: 10, 321: 11, 322: 12, 323: 12,
    324: 13, 331: 14, 333: 11, 411: 15, 412: 15, 421: 16, 422: 16, 511: 17, 512: 17,
    521: 18, 522: 18, 523: 18,
}

IMAGE_SIZE = (120, 120)  # BigEarthNet.image_size (L271), BigEarthNetV2.image_size (L597)
VALID_SPLITS = ("train", "val", "test")  # L686
SPLIT_MAP = {"train": "train", "val": "validation", "test": "test"}  # L687-691
DIR_FILE_NAMES = {  # L620-625
    "s1": "BigEarthNet-S1",
    "s2": "BigEarthNet-S2",
    "maps": "Reference_Maps",
    "metadata": "metadata.parquet",
}
S2_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
S1_ORDER = ("VH", "VV")  # what sorted() makes of <s1_name>_VH.tif, <s1_name>_VV.tif


@dataclass
class Sample:
    """One item of ``BigEarthNetV2(root, split, bands)[i]``, as numpy arrays.

    ``image_s2`` (12, 120, 120) float32 and ``image_s1`` (2, 120, 120) float32 (``None``
    for the sensor ``bands`` leaves out), ``mask`` (120, 120) int64 (torchgeo: (1, 120,
    120)), ``label`` (19,) int64 multi-hot in :data:`CLASSES_19` order.
    """

    patch_id: str
    s1_name: str
    image_s2: np.ndarray | None
    image_s1: np.ndarray | None
    mask: np.ndarray
    label: np.ndarray


def sort_sentinel2_bands(x: str) -> str:
    """torchgeo/datasets/utils.py ``sort_sentinel2_bands`` (L528-534)."""
    x = os.path.basename(x).split("_")[-1]
    x = os.path.splitext(x)[0]
    if x == "B8A":
        x = "B08A"
    return x


def verify(root: Path) -> None:
    """``_verify`` (L862-871) for an extracted tree: all four entries must exist.

    (torchgeo would then look for the downloaded archives and raise
    ``DatasetNotFoundError``; here a missing entry is a ``FileNotFoundError``.)
    """
    missing = [n for n in DIR_FILE_NAMES.values() if not os.path.exists(os.path.join(root, n))]
    if missing:
        raise FileNotFoundError(f"BigEarthNetV2 would not find {missing} under {root}")


def metadata(root: Path, split: str) -> pd.DataFrame:
    """The rows of one split (``__init__``, L717, L729-732)."""
    assert split in VALID_SPLITS, f"split must be one of {VALID_SPLITS}"
    df = pd.read_parquet(os.path.join(root, "metadata.parquet"))
    return df[df["split"] == SPLIT_MAP[split]].reset_index(drop=True)


def patch_dir(name: str, sensor: str) -> str:
    """The product folder of a patch (L788-791): ``patch_id`` less 2 fields, ``s1_name`` less 3."""
    if sensor == "s2":
        return "_".join(name.split("_")[0:-2])
    return "_".join(name.split("_")[0:-3])


def image_paths(root: Path, row: pd.Series, sensor: str) -> list[str]:
    """The files stacked for one sensor, in channel order (L785-802)."""
    name = row["s1_name" if sensor == "s1" else "patch_id"]  # L786-787
    paths = glob.glob(
        os.path.join(root, DIR_FILE_NAMES[sensor], patch_dir(name, sensor), name, "*.tif")
    )
    if sensor == "s2":
        return sorted(paths, key=sort_sentinel2_bands)
    return sorted(paths)


def load_image(root: Path, row: pd.Series, sensor: str) -> np.ndarray:
    """``_load_image`` (L775-815): bilinear to 120x120, GDAL's int32 conversion, then float."""
    images = []
    for path in image_paths(root, row, sensor):
        with rasterio.open(path) as dataset:
            images.append(
                dataset.read(
                    indexes=1,
                    out_shape=IMAGE_SIZE,
                    out_dtype="int32",
                    resampling=Resampling.bilinear,
                )
            )
    # torch.from_numpy(np.stack(images, axis=0)).float() -> float32
    return np.stack(images, axis=0).astype(np.float32)


def map_path(root: Path, patch_id: str) -> str:
    """The reference map of a patch (L827-835)."""
    return os.path.join(
        root, DIR_FILE_NAMES["maps"], patch_dir(patch_id, "s2"), patch_id,
        patch_id + "_reference_map.tif",
    )


def load_map(root: Path, row: pd.Series) -> np.ndarray:
    """``_load_map`` (L817-843): native size, int32, codes remapped in place, int64.

    Returns the (bands, H, W) array torchgeo returns; :func:`read_split` keeps band 0.
    """
    with rasterio.open(map_path(root, row["patch_id"])) as dataset:
        array = dataset.read(out_dtype="int32")
    for corine, ordinal in CLC_CODES.items():  # sequential, as torchgeo; ordinals < codes
        array[array == corine] = ordinal
    return array.astype(np.int64)


def load_target(row: pd.Series) -> np.ndarray:
    """``_load_target`` (L845-860): multi-hot over :data:`CLASSES_19`."""
    class2idx = {c: i for i, c in enumerate(CLASSES_19)}  # L726
    indices = [class2idx[name] for name in row["labels"]]
    target = np.zeros(len(CLASSES_19), dtype=np.int64)
    target[indices] = 1
    return target


def read_split(root: Path, split: str, bands: str = "all") -> list[Sample]:
    """Every sample of ``BigEarthNetV2(root, split=split, bands=bands)``, in its order."""
    assert bands in ["s1", "s2", "all"]  # L718
    verify(root)
    df = metadata(root, split)
    samples = []
    for index in range(len(df)):
        row = df.iloc[index]  # torchgeo: .loc[index] (L785, L826), the same after reset_index
        samples.append(
            Sample(
                patch_id=str(row["patch_id"]),
                s1_name=str(row["s1_name"]),
                image_s2=load_image(root, row, "s2") if bands in ("s2", "all") else None,
                image_s1=load_image(root, row, "s1") if bands in ("s1", "all") else None,
                mask=load_map(root, row)[0],
                label=load_target(row),
            )
        )
    return samples
