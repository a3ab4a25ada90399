"""GeoParquet per country, rejects.csv and ingest_summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lucas.columns import CANONICAL
from lucas.errors import InputFormatError
from lucas.ingest import ingest_table
from lucas.output import read_points, write_points
from tests.fixtures import lucas_tables as lt


@pytest.fixture
def result(tmp_path: Path):  # type: ignore[no-untyped-def]
    df = lt.eurostat2018_frame(9, countries=("AT", "EL", "UK"))
    df.loc[0, "LC1"] = ""
    return ingest_table(lt.write_table(df, tmp_path / "e.csv"), None, None)


def test_layout_and_round_trip(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    written = write_points(result, out)
    assert [p.name for p in written] == [
        "AT.parquet", "EL.parquet", "UK.parquet", "rejects.csv", "location_mismatches.csv",
        "ingest_summary.json",
    ]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temps
    at = read_points(out / "AT.parquet")
    assert at.crs == "EPSG:4326" and set(at["nuts0"]) == {"AT"}
    assert list(at.columns[: len(CANONICAL)]) == list(CANONICAL)
    assert at["point_id"].dtype == "Int64"
    assert (at.geometry.x == at["th_long"]).all() and (at.geometry.y == at["th_lat"]).all()
    everything = read_points(out)
    assert len(everything) == len(result.points) == 8
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert rejects.columns.tolist() == ["row", "point_id", "reason", "detail"]
    assert rejects.values.tolist() == [["2", rejects["point_id"][0], "missing_lc1", "LC1 is empty"]]
    summary = json.loads((out / "ingest_summary.json").read_text())
    assert summary["rows_read"] == 9 and summary["kept"] == 8
    assert summary["rejected_by_reason"] == {"missing_lc1": 1}
    assert summary["format"] == "eurostat2018" and summary["location_mismatches"] == 0
    assert summary["files"][-1] == "ingest_summary.json"


def test_rewrite_replaces_files(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    write_points(result, out)
    write_points(result, out)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_read_points_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="no <CC>.parquet files"):
        read_points(tmp_path)
    with pytest.raises(InputFormatError, match="not found"):
        read_points(tmp_path / "AT.parquet")
