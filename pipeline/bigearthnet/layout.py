"""Where ``etl bigearthnet`` writes: reBEN's tree under ``OUT/bigearthnet/``, in one place.

::

    OUT/bigearthnet/BigEarthNet-S2/<product>/<patch_id>/<patch_id>_<band>.tif
    OUT/bigearthnet/BigEarthNet-S1/<s1 product part>/<s1_name>/<s1_name>_VV.tif, _VH.tif
    OUT/bigearthnet/Reference_Maps/<product>/<patch_id>/<patch_id>_reference_map.tif
    OUT/bigearthnet/metadata.parquet, metadata_snow_cloud.parquet, etl_sources.json
    OUT/bigearthnet/.staging/<unit>/…       a unit's files before they move into the tree
    OUT/ledger.sqlite, OUT/.etl.lock        as for etl run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

S2_DIR = "BigEarthNet-S2"
S1_DIR = "BigEarthNet-S1"
MAPS_DIR = "Reference_Maps"
METADATA = "metadata.parquet"
METADATA_FLAGGED = "metadata_snow_cloud.parquet"
PROVENANCE = "etl_sources.json"  # the sources and settings (a coarse CORINE raster says so)


def s1_product_part(s1_name: str) -> str:
    """The folder of a Sentinel-1 patch: its name without ``_<tile>_<x>_<y>`` (reBEN)."""
    return s1_name.rsplit("_", 3)[0]


@dataclass(frozen=True)
class BenLayout:
    """Paths of one BigEarthNet tree (``OUT/bigearthnet``)."""

    out: Path

    @property
    def root(self) -> Path:
        return self.out / "bigearthnet"

    @property
    def staging(self) -> Path:
        return self.root / ".staging"

    def unit_staging(self, unit: str) -> Path:
        return self.staging / unit.replace("/", "__")

    @property
    def metadata(self) -> Path:
        return self.root / METADATA

    @property
    def metadata_flagged(self) -> Path:
        return self.root / METADATA_FLAGGED

    @property
    def provenance(self) -> Path:
        return self.root / PROVENANCE


def s2_patch_dir(root: Path, product: str, patch_id: str) -> Path:
    """``<root>/BigEarthNet-S2/<product>/<patch_id>`` (``root``: the tree or a staging copy)."""
    return root / S2_DIR / product / patch_id


def s1_patch_dir(root: Path, s1_name: str) -> Path:
    return root / S1_DIR / s1_product_part(s1_name) / s1_name


def map_dir(root: Path, product: str, patch_id: str) -> Path:
    return root / MAPS_DIR / product / patch_id
