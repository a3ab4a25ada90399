"""Stage 1, ingest, inside a run: the LUCAS table → per-country GeoParquet, once."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import geopandas as gpd

from lucas.errors import ConfigError
from lucas.gee_table import is_gee_table
from lucas.ingest import IngestResult, ingest_table
from lucas.legend import unmapped_report
from lucas.output import read_points, write_points
from pipeline.config import RunConfig
from pipeline.dataset.layout import OutputLayout
from pipeline.ledger import DONE, Ledger
from pipeline.report import StageSummary

log = logging.getLogger(__name__)

STAGE = "ingest"
ALL = "ALL"


def ingest_summary(result: IngestResult, seconds: float) -> StageSummary:
    summary = StageSummary(STAGE, seconds=seconds)
    summary.counts["rows read"] = result.rows_read
    summary.counts["kept"] = len(result.points)
    summary.counts["rejected"] = len(result.rejects)
    if len(result.rejects):
        by_reason = result.rejects["reason"].value_counts()
        summary.reasons.update({str(k): int(v) for k, v in by_reason.items()})
    summary.notes.extend(result.warnings)
    summary.notes.extend(legend_notes(unmapped_report(result.lc1_codes())))
    return summary


def legend_notes(report: dict[str, dict[str, int]], shown: int = 8) -> list[str]:
    """One line per built-in legend: the kept points whose LC1 code it leaves unmapped.

    Why in the ingest summary: a new survey year can bring codes the legends were not
    written for; the user should see it before spending hours on the export.
    """
    notes = []
    for name, left in report.items():
        if left:
            codes = ", ".join(f"{c} ({n})" for c, n in list(left.items())[:shown])
            more = f", … {len(left) - shown} more" if len(left) > shown else ""
            notes.append(f"legend {name} leaves {sum(left.values())} point(s) unmapped: "
                         f"{codes}{more}")
    return notes


def require_points(result: IngestResult, countries: tuple[str, ...], year: int) -> None:
    """Refuse a table that keeps no point for the request, saying why (reasons with counts).

    Why an error and not "Nothing to do": the user asked for a country and year the table
    does not hold; writing nothing and exiting 0 reads as success.
    """
    if len(result.points):
        return
    wanted = "every country" if countries == (ALL,) else ", ".join(countries)
    why = "no row"
    example = ""
    if len(result.rejects):
        by_reason = result.rejects["reason"].value_counts()
        why = ", ".join(f"{reason} {int(n)}" for reason, n in by_reason.items())
        first = result.rejects.iloc[0]
        example = f" (e.g. row {first['row']}: {first['detail']})"
    raise ConfigError(
        f"{result.source}: no point kept for {wanted}, {year}: {result.rows_read} row(s) "
        f"read, 0 kept; rejected: {why}{example}; check --country and --year"
    )


def connect_for_table(cfg: RunConfig) -> None:
    """``--lucas gee:<asset>`` is read from Earth Engine: connect first, with the run's
    ``--project`` and ``--gee-key-file`` (a ConfigError names the fix when they are missing)."""
    if is_gee_table(cfg.lucas):
        from exports.gee.auth import GeeAuth, initialize

        initialize(GeeAuth(project=cfg.project, key_file=cfg.gee_key_file))


def run_ingest(cfg: RunConfig, ledger: Ledger) -> tuple[dict[str, gpd.GeoDataFrame], StageSummary]:
    """Ingest unless the ledger says this year's countries are already on disk.

    ``--country ALL`` is resolved here, to the countries the table holds.
    """
    target = OutputLayout(cfg.out).points_dir(cfg.year)
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
    connect_for_table(cfg)
    start = time.perf_counter()
    result = ingest_table(cfg.lucas, None if everything else list(cfg.countries), cfg.year,
                          cfg.lucas_format)
    require_points(result, cfg.countries, cfg.year)
    found = tuple(sorted(set(result.points["nuts0"].dropna())))
    countries = found if everything else tuple(cc for cc in cfg.countries if cc in found)
    stale = _remove_temp_files(target)
    write_points(result, target)
    summary = ingest_summary(result, time.perf_counter() - start)
    if stale:
        summary.notes.append(f"removed {stale} unfinished file(s) of an interrupted ingest")
    for cc in cfg.countries:
        if cc not in found and not everything:
            summary.notes.append(f"no point of {cc} kept: no file will be written for it")
    ledger.mark(STAGE, key, DONE, payload={"countries": list(countries),
                                           "points": len(result.points)})
    return _read_all(target, countries), summary


def _remove_temp_files(folder: Path) -> int:
    """Delete the temp files of an ingest killed before its renames (we hold the lock).

    ``write_points`` writes ``.<name>.<random>.tmp`` beside each target; a crash leaves them,
    and the next ingest picks new random names, so nobody else would ever remove them.
    """
    if not folder.is_dir():
        return 0
    stale = list(folder.glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _read_all(folder: Path, countries: tuple[str, ...]) -> dict[str, gpd.GeoDataFrame]:
    return {cc: read_points(folder / f"{cc}.parquet") for cc in countries}
