"""CSV injection: no cell of a CSV the tool writes is a formula a spreadsheet would run."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from lucas.csv_cells import is_formula_like, safe_cell, safe_frame
from lucas.ingest import ingest_table
from lucas.output import write_points
from tests.fixtures import lucas_tables as lt

PAYLOAD = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize("value", [PAYLOAD, "+1+1", "-2+3", "@SUM(A1:A2)", "\tx", "\r=1", "-"])
def test_formula_like_text_gets_a_quote(value: str) -> None:
    assert is_formula_like(value)
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.5", "+3", "-1e5", "-.5", "12", "LC1 is empty", "", "a=b"])
def test_numbers_and_plain_text_stay(value: str) -> None:
    assert safe_cell(value) == value


def test_numeric_columns_are_untouched() -> None:
    frame = pd.DataFrame({"n": [-12.5, 3.0], "i": pd.array([-1, None], dtype="Int64"),
                          "t": ["-12.5", "=1+1"]})
    out = safe_frame(frame)
    assert out["n"].tolist() == [-12.5, 3.0] and out["i"].dtype == "Int64"
    assert out["t"].tolist() == ["-12.5", "'=1+1"]
    assert frame["t"].tolist() == ["-12.5", "=1+1"]  # the caller's frame is not changed


def test_rejects_csv_neutralises_a_formula_point_id(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(4, countries=("AT",))
    df.loc[0, "POINT_ID"] = PAYLOAD
    df.loc[1, "POINT_ID"] = "-12.5"
    result = ingest_table(lt.write_table(df, tmp_path / "e.csv"), None, None)
    out = tmp_path / "out"
    write_points(result, out)
    with (out / "rejects.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ids = {r["point_id"] for r in rows if r["reason"] == "bad_point_id"}
    assert ids == {"'" + PAYLOAD, "-12.5"}  # a number stays a number
    assert not any(is_formula_like(v) for r in rows for v in r.values())
