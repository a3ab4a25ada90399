"""Write and read the ingest stage's outputs.

Why GeoParquet per country: the later stages work country by country, Parquet keeps the
column types (nullable integers, text) and GeoParquet the CRS. Every file is written to a
temporary name in the target folder and moved into place with ``os.replace``, so a crash
never leaves a half-written file under the final name.

Layout of ``out_dir``::

    <CC>.parquet          one per country (AT.parquet, EL.parquet, UK.parquet …)
    rejects.csv           row, point_id, reason, detail
    location_mismatches.csv   row, point_id, th_lat, th_long, grid_lat, grid_long, distance_m
    ingest_summary.json   IngestResult.summary() plus the list of files written
"""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path

import geopandas as gpd
import pandas as pd

from lucas.csv_cells import safe_frame
from lucas.errors import InputFormatError, OutputError
from lucas.ingest import IngestResult
from lucas.safe_files import atomic_write

log = logging.getLogger(__name__)

REJECTS_FILE = "rejects.csv"
MISMATCHES_FILE = "location_mismatches.csv"
SUMMARY_FILE = "ingest_summary.json"


def _write_parquet(frame: gpd.GeoDataFrame, tmp: Path) -> None:
    frame.to_parquet(tmp, index=False)


def _write_csv(frame: pd.DataFrame, tmp: Path) -> None:
    """Text cells that a spreadsheet would run as formulas get a ``'`` (lucas.csv_cells)."""
    safe_frame(frame).to_csv(tmp, index=False)


def _write_text(text: str, tmp: Path) -> None:
    tmp.write_text(text, encoding="utf-8")


def write_points(result: IngestResult, out_dir: Path) -> list[Path]:
    """Write per-country GeoParquet, rejects, mismatches and the summary; return the paths.

    Countries are written in sorted order; a country with no kept point gets no file.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot create the output folder ({e})") from e
    written: list[Path] = []
    points = result.points
    for country in sorted(points["nuts0"].dropna().unique()):
        part = points.loc[points["nuts0"] == country].reset_index(drop=True)
        target = out_dir / f"{country}.parquet"
        written.append(atomic_write(target, partial(_write_parquet, part)))
    for name, table in ((REJECTS_FILE, result.rejects),
                        (MISMATCHES_FILE, result.location_mismatches)):
        written.append(atomic_write(out_dir / name, partial(_write_csv, table)))
    summary = result.summary()
    summary["files"] = [p.name for p in written] + [SUMMARY_FILE]
    text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    written.append(atomic_write(out_dir / SUMMARY_FILE, partial(_write_text, text)))
    log.info("wrote %d files to %s", len(written), out_dir)
    return written


def read_points(path: Path) -> gpd.GeoDataFrame:
    """Read one ``<CC>.parquet``, or every country file of an ingest output folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
        if not files:
            raise InputFormatError(f"{path}: no <CC>.parquet files; run the ingest stage first")
        frames = [gpd.read_parquet(p) for p in files]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    if not path.is_file():
        raise InputFormatError(f"{path}: not found; pass an ingest output file or folder")
    return gpd.read_parquet(path)
