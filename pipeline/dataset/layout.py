"""The output folder's layout, in one place: where every stage reads and writes.

::

    OUT/ledger.sqlite                   the work ledger (one per output folder)
    OUT/.etl.lock                       held by the running process
    OUT/<year>/points/<CC>.parquet      ingest: the canonical LUCAS points
    OUT/<year>/.staging/<CC>/…          export: one finished unit per file (the writer's names)
    OUT/<year>/.staging/.dask/…         Dask scratch (scene fragments of a wave)
    OUT/<year>/<CC>.h5                  pack: the Sen4Map country file
    OUT/<year>/.staging/<CC>_S1/…       export of Sentinel-1 (--s1)
    OUT/<year>/<CC>_S1.h5               pack: the Sentinel-1 country file
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LEDGER_NAME = "ledger.sqlite"
STAGING = ".staging"
DASK_SCRATCH = ".dask"


@dataclass(frozen=True)
class OutputLayout:
    """Paths under one output folder (``--out``)."""

    root: Path

    @property
    def ledger(self) -> Path:
        return self.root / LEDGER_NAME

    def year_dir(self, year: int) -> Path:
        return self.root / str(year)

    def points_dir(self, year: int) -> Path:
        return self.year_dir(year) / "points"

    def staging_dir(self, year: int, country: str) -> Path:
        return self.year_dir(year) / STAGING / country

    def dask_scratch(self, year: int) -> Path:
        return self.year_dir(year) / STAGING / DASK_SCRATCH

    def country_file(self, year: int, country: str) -> Path:
        return self.year_dir(year) / f"{country}.h5"

    def s1_file(self, year: int, country: str) -> Path:
        return self.year_dir(year) / f"{country}_S1.h5"
