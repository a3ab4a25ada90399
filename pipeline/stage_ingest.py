"""Stage 1, ingest, inside a run: the LUCAS table → per-country GeoParquet, once."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import geopandas as gpd

from lucas.errors import ConfigError
from lucas.ingest import IngestResult, ingest_table
from lucas.output import read_points, write_points
from pipeline.config import RunConfig
from pipeline.ledger import DONE, Ledger
from pipeline.report import StageSummary

log = logging.getLogger(__name__)

STAGE = "ingest"
ALL = "ALL"


def points_dir(out_dir: Path, year: int) -> Path:
    return out_dir / str(year) / "points"


def ingest_summary(result: IngestResult, seconds: float) -> StageSummary:
    summary = StageSummary(STAGE, seconds=seconds)
    summary.counts["rows read"] = result.rows_read
    summary.counts["kept"] = len(result.points)
    summary.counts["rejected"] = len(result.rejects)
    if len(result.rejects):
        by_reason = result.rejects["reason"].value_counts()
        summary.reasons.update({str(k): int(v) for k, v in by_reason.items()})
    summary.notes.extend(result.warnings)
    return summary


def run_ingest(cfg: RunConfig, ledger: Ledger) -> tuple[dict[str, gpd.GeoDataFrame], StageSummary]:
    """Ingest unless the ledger says this year's countries are already on disk.

    ``--country ALL`` is resolved here, to the countries the table holds.
    """
    target = points_dir(cfg.out, cfg.year)
    everything = cfg.countries == (ALL,)
    key = f"{cfg.year}/{','.join(cfg.countries)}"
    unit = ledger.get(STAGE, key)
    if unit is not None and unit.state == DONE and not cfg.force:
        countries = tuple(unit.payload["countries"])
        if all((target / f"{cc}.parquet").exists() for cc in countries):
            summary = StageSummary(STAGE)
            summary.counts["already done"] = 1
            return _read_all(target, countries), summary
    if cfg.lucas is None:
        raise ConfigError("no LUCAS table: give --lucas PATH (or 'lucas' in the config file)")
    start = time.perf_counter()
    result = ingest_table(cfg.lucas, None if everything else list(cfg.countries), cfg.year,
                          cfg.lucas_format)
    found = tuple(sorted(set(result.points["nuts0"].dropna())))
    countries = found if everything else tuple(cc for cc in cfg.countries if cc in found)
    write_points(result, target)
    summary = ingest_summary(result, time.perf_counter() - start)
    for cc in cfg.countries:
        if cc not in found and not everything:
            summary.notes.append(f"no point of {cc} kept: no file will be written for it")
    ledger.mark(STAGE, key, DONE, payload={"countries": list(countries),
                                           "points": len(result.points)})
    return _read_all(target, countries), summary


def _read_all(folder: Path, countries: tuple[str, ...]) -> dict[str, gpd.GeoDataFrame]:
    return {cc: read_points(folder / f"{cc}.parquet") for cc in countries}
