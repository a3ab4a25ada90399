"""The file families a run writes: Sentinel-2 (``<CC>.h5``) and, with ``--s1``, Sentinel-1.

A product names its ledger stages, its writer, its staging folder and the digest of the
settings that decide its content, so the pack stage (and the checks of what is current)
serve both without a branch on which one it is; each product's units are its own, so
adding ``--s1`` to a finished run adds radar work and leaves ``<CC>.h5`` untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import RunConfig
from pipeline.dataset.layout import OutputLayout

S1_WRITER = "sen4map_s1"


@dataclass(frozen=True)
class Product:
    """One file family of a run."""

    name: str  # "s2", "s1": how summaries and notes name it
    select_stage: str
    export_stage: str
    pack_stage: str
    writer: str  # the registered DatasetWriter
    staging_suffix: str  # staging folder <CC><suffix>
    output_hash: str  # digest of the settings deciding the content
    label: str = ""  # how notes name its files ("Sentinel-1 "; none for Sentinel-2)

    def staging_dir(self, layout: OutputLayout, year: int, country: str) -> Path:
        """Where the product's staged units of a country lie."""
        return layout.staging_dir(year, f"{country}{self.staging_suffix}")

    @property
    def stages(self) -> tuple[str, str, str]:
        """Its ledger stages, in run order."""
        return (self.select_stage, self.export_stage, self.pack_stage)


def s2_product(cfg: RunConfig) -> Product:
    """The Sentinel-2 country files (the stages' historic names: older ledgers stay valid)."""
    return Product("s2", "select", "export", "pack", cfg.writer, "", cfg.output_hash())


def s1_product(cfg: RunConfig) -> Product:
    """The Sentinel-1 country files ``<CC>_S1.h5``."""
    return Product("s1", "s1_select", "s1_export", "s1_pack", S1_WRITER, "_S1",
                   cfg.s1_output_hash(), label="Sentinel-1 ")
