"""The ingest stage as a library: one LUCAS table in, canonical points + rejections out.

Why this shape: the CLI (``etl ingest``) and the pipeline need the same result object, and
the result must say everything a user needs to trust it: how many rows were read, which were
rejected and why, where the theoretical coordinates came from, and which points disagree
with their LAEA grid node.

    result = ingest_table(Path("EU_2018_20200213.CSV"), countries=["AT", "DE"], year=2018)
    write_points(result, Path("out/lucas"))      # lucas.output
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lucas import codes
from lucas.columns import rename_map
from lucas.errors import ConfigError
from lucas.formats import TableFormat, check_format, detect_format, get_format
from lucas.gee_table import is_gee_table, read_gee_table
from lucas.legend import unmapped_report
from lucas.location import location_mismatches
from lucas.normalise import Normalised, normalise
from lucas.reader import RawTable, read_table
from lucas.validate import REASONS, REJECT_COLUMNS, Selection, bad_row_rejects, find_rejections

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"


@dataclass
class IngestResult:
    """What ingest produced.

    ``points`` has the canonical columns first (point_id, year, nuts0, th_lat, th_long, lc1,
    lc1_label, lu1, lu1_label), then every source column under its harmonised name; its
    geometry is the theoretical point (EPSG:4326). ``rejects`` has one row per rejected line
    (row = physical line number, header = 1). ``location_mismatches`` lists kept points
    whose th_lat/th_long lie > 1 m from the grid node of their POINT_ID (warnings).
    """

    points: gpd.GeoDataFrame
    rejects: pd.DataFrame
    rows_read: int
    format: str
    location_mismatches: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    source: Path | None = None
    year: int | None = None
    countries: tuple[str, ...] | None = None
    coordinate_source: str = ""

    def summary(self) -> dict[str, Any]:
        """Counts for ``ingest_summary.json`` and the CLI."""
        by_reason = self.rejects["reason"].value_counts()
        per_country = self.points["nuts0"].value_counts().sort_index()
        return {
            "source": str(self.source) if self.source else None,
            "format": self.format,
            "year": self.year,
            "countries": list(self.countries) if self.countries else "ALL",
            "rows_read": self.rows_read,
            "kept": len(self.points),
            "rejected": len(self.rejects),
            "rejected_by_reason": {r: int(by_reason.get(r, 0)) for r in REASONS if r in by_reason},
            "kept_by_country": {str(k): int(v) for k, v in per_country.items()},
            "location_mismatches": len(self.location_mismatches),
            "coordinate_source": self.coordinate_source,
            "lc1_not_in_code_list": codes.not_in_lc_list(self.lc1_codes()),
            "unmapped_by_legend": unmapped_report(self.lc1_codes()),
            "warnings": list(self.warnings),
        }

    def lc1_codes(self) -> pd.Series:
        """The kept points' LC1 codes (what the legends classify)."""
        if "lc1" not in self.points:
            return pd.Series([], dtype="string")
        return self.points["lc1"]


def _resolve_year(norm: Normalised, year: int | None, fmt_year: int | None, path: Path) -> int:
    if year is not None:
        return int(year)
    if fmt_year is not None:
        return fmt_year
    counts = norm.frame["year"].dropna().value_counts().sort_index()
    if len(counts) == 1:
        return int(counts.index[0])
    if counts.empty:
        raise ConfigError(f"{path}: no row has a survey year; pass the year (flag --year)")
    listing = ", ".join(
        f"{int(y)} ({n} rows)" for y, n in zip(counts.index.tolist(), counts.tolist(), strict=True)
    )
    raise ConfigError(
        f"{path}: the table holds several survey years: {listing}; choose one (flag --year)"
    )


def _to_points(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    geometry = gpd.points_from_xy(
        frame["th_long"].to_numpy(dtype=float), frame["th_lat"].to_numpy(dtype=float), crs=WGS84
    )
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84, copy=False)


def ingest_table(
    path: Path,
    countries: Sequence[str] | None,
    year: int | None,
    fmt: str | None = None,
) -> IngestResult:
    """Read, validate and normalise a LUCAS table.

    ``countries``: NUTS0 codes as LUCAS writes them (``EL``, ``UK``), or None / ``["ALL"]``.
    ``year``: the survey year to keep; None takes the format's year or the table's only year.
    ``fmt``: ``eurostat2018`` | ``harmonised`` | ``lucas2022``; None detects it from the header.

    Raises :class:`InputFormatError` for a missing, empty, binary or foreign file and
    :class:`ConfigError` for an unknown country code or an ambiguous year; bad rows are
    rejected and reported, never raised.
    """
    path = Path(path)
    raw, table_format = _read_raw(path, countries, year, fmt)

    norm = normalise(raw, table_format)
    survey_year, layout_year = _survey_year(norm, raw, table_format, year, path)
    selected = codes.normalise_countries(countries, survey_year)
    warnings = list(norm.warnings)
    warnings += _table_warnings(raw, table_format, survey_year, layout_year)

    sel = Selection(survey_year, selected, codes.valid_countries(survey_year))
    keep, rejects = _all_rejects(norm, raw, sel, table_format.name)

    kept = norm.frame if keep.all() else norm.frame.loc[keep].reset_index(drop=True)
    kept_rows = norm.rows[keep]
    warnings += _new_code_warnings(kept)
    mismatches = location_mismatches(kept.assign(row=kept_rows))
    warnings += _mismatch_warnings(mismatches)
    for w in warnings:
        log.warning("%s: %s", path, w)
    rows_read = len(raw.frame) + len(raw.bad_rows)
    log.info("%s: %d rows read, %d kept, %d rejected", path, rows_read, len(kept), len(rejects))
    return IngestResult(
        points=_to_points(kept),
        rejects=rejects,
        rows_read=rows_read,
        format=table_format.name,
        location_mismatches=mismatches,
        warnings=warnings,
        source=path,
        year=survey_year,
        countries=selected,
        coordinate_source=norm.coordinate_source,
    )


def _read_raw(
    path: Path, countries: Sequence[str] | None, year: int | None, fmt: str | None
) -> tuple[RawTable, TableFormat]:
    """The table's rows and its format (detected, or the one asked for, checked)."""
    table_format = get_format(fmt) if fmt is not None else None
    # Check countries before reading: an unknown code should not cost a 300 MB read.
    hint_year = year if year is not None else (table_format.year if table_format else None)
    codes.normalise_countries(countries, hint_year)

    # ``gee:<asset id>``: the Earth Engine catalog's table, read into the same RawTable.
    raw = read_gee_table(path, countries, year) if is_gee_table(path) else read_table(path)
    if table_format is None:
        table_format = detect_format(raw.header, path)
    else:
        check_format(table_format, raw.header, path)
    log.info("%s: %s, %d rows", path, table_format.name, len(raw.frame) + len(raw.bad_rows))
    return raw, table_format


def _survey_year(
    norm: Normalised, raw: RawTable, table_format: TableFormat, year: int | None, path: Path
) -> tuple[int, int | None]:
    """The year to keep, and the layout's own year when the table has no year column."""
    # A year column (SURVEY_YEAR in a later survey's table) beats the layout's own year.
    year_column = "year" in rename_map(table_format.name, raw.header).values()
    layout_year = None if year_column else table_format.year
    return _resolve_year(norm, year, layout_year, path), layout_year


def _table_warnings(
    raw: RawTable, table_format: TableFormat, survey_year: int, layout_year: int | None
) -> list[str]:
    """Warnings about the table as a whole (blank lines, a year its layout cannot hold)."""
    warnings = []
    if raw.blank_lines:
        warnings.append(f"{raw.blank_lines} empty line(s) ignored")
    if layout_year is not None and survey_year != layout_year:
        warnings.append(
            f"the {table_format.name} table is a {table_format.year} survey but year "
            f"{survey_year} was requested: every row is rejected as wrong_year"
        )
    return warnings


def _all_rejects(
    norm: Normalised, raw: RawTable, sel: Selection, format_name: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """The rows kept, and every rejected line (rule failures and unparseable lines), in order."""
    keep, rejects = find_rejections(norm, sel, format_name)
    rejects = pd.concat(
        [rejects, bad_row_rejects(raw.bad_rows, raw.header, raw.delimiter)], ignore_index=True
    )
    rejects = rejects.sort_values("row", kind="stable").reset_index(drop=True)
    return keep, rejects.loc[:, list(REJECT_COLUMNS)]


def _new_code_warnings(kept: pd.DataFrame) -> list[str]:
    """Kept points whose LC1 code no legend knows: kept, but the user should know."""
    new_codes = codes.not_in_lc_list(kept["lc1"])
    if not new_codes:
        return []
    listed = ", ".join(f"{c} ({n})" for c, n in list(new_codes.items())[:10])
    return [
        f"{sum(new_codes.values())} kept point(s) have an LC1 code that is not in the LUCAS "
        f"code list (new in this survey, or an aggregate): {listed}; kept with an empty "
        "lc1_label, and no built-in legend maps them (see unmapped_by_legend)"
    ]


def _mismatch_warnings(mismatches: pd.DataFrame) -> list[str]:
    """Kept points off their grid node: kept, since the node is only a consistency check."""
    if not len(mismatches):
        return []
    return [
        f"{len(mismatches)} point(s) with th_lat/th_long more than 1 m from the LAEA grid "
        f"node of their POINT_ID (max {mismatches['distance_m'].max():.1f} m); kept, see "
        "location_mismatches"
    ]
