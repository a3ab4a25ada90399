"""Where a BigEarthNet tree keeps a patch's files, and what its quicklook shows (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from benchmark.datasets.plots import PatchView, true_colour
from exports.clc.codes import clc_table
from lucas.errors import ConfigError, InputFormatError

MAPS_DIR = "Reference_Maps"


def reference_map_path(root: Path, patch_id: str) -> Path:
    """``ROOT/Reference_Maps/<patch_id less 2 fields>/<patch_id>/<patch_id>_reference_map.tif``."""
    product = patch_id.rsplit("_", 2)[0]
    return root / MAPS_DIR / product / patch_id / f"{patch_id}_reference_map.tif"


def patch_view(root: Path, patch_id: str) -> PatchView:
    """What the BigEarthNet quicklook shows, read from the tree's GeoTIFFs."""
    import rasterio

    from benchmark.multilabel.data import METADATA, s1_band_path, s2_band_path

    table = pq.read_table(root / METADATA).to_pandas()
    rows = table[table["patch_id"].astype(str) == patch_id]
    if rows.empty:
        raise ConfigError(f"patch {patch_id} is not in {root / METADATA}")
    row = rows.iloc[0]

    def band(path: Path) -> np.ndarray:
        if not path.is_file():
            raise InputFormatError(f"{path}: missing from the tree")
        with rasterio.open(path) as src:
            return src.read(1)

    rgb = true_colour(*(band(s2_band_path(root, patch_id, b)) for b in ("B04", "B03", "B02")))
    s1 = str(row.get("s1_name") or "")
    vv = band(s1_band_path(root, s1, "VV")) if s1 else None
    vh = band(s1_band_path(root, s1, "VH")) if s1 else None
    ref_path = reference_map_path(root, patch_id)
    reference = band(ref_path) if ref_path.is_file() else None
    names = {code: c.level3 for code, c in clc_table().items()}
    return PatchView(patch_id, [str(v) for v in row["labels"]], rgb, vv, vh, reference, names)
