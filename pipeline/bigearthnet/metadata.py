"""The metadata tables, rebuilt from the ledger: ``metadata.parquet`` (reBEN's columns and
ours) and ``metadata_snow_cloud.parquet`` (the flagged patches), each written whole and
renamed into place, so a crash never leaves a half-written table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from exports.tiles.split import assign
from lucas.safe_files import replace_atomically

COLUMNS = ("patch_id", "labels", "split", "country", "s1_name", "contains_seasonal_snow",
           "contains_cloud_or_shadow", "labels_43", "tile", "x", "y", "s2_product",
           "s2_datetime", "s1_datetime", "delta_hours", "unlabeled_fraction", "snow_fraction",
           "cloud_shadow_fraction")


def metadata_frame(
    rows: Iterable[Mapping[str, Any]], split: str, seed: int = 0,
    table: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every patch row with its split, sorted by patch id (one row per patch id)."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    frame = frame.drop_duplicates("patch_id", keep="last").sort_values("patch_id")
    splits = assign(zip(frame["patch_id"], frame["x"], frame["y"], strict=True), split, seed,
                    table)
    frame["split"] = frame["patch_id"].map(splits)
    return frame.loc[:, list(COLUMNS)].reset_index(drop=True)


def write_tables(frame: pd.DataFrame, clean: Path, flagged: Path) -> tuple[int, int]:
    """The two tables (temp + rename each); returns their row counts."""
    flags = frame["contains_seasonal_snow"].astype(bool) | frame[
        "contains_cloud_or_shadow"].astype(bool)
    parts = ((clean, frame[~flags]), (flagged, frame[flags]))
    for path, part in parts:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_parquet(path, pa.Table.from_pandas(part.reset_index(drop=True),
                                                  preserve_index=False))
    return len(parts[0][1]), len(parts[1][1])


def _write_parquet(path: Path, table: pa.Table) -> None:
    def write(tmp: Path) -> None:
        pq.write_table(table, tmp)

    replace_atomically(path, write, path.with_name(f".{path.name}.tmp"), sync_folder=True)
