"""The demo's LUCAS table in the 2022 layout, without rendering any imagery."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lucas.errors import ConfigError
from lucas.ingest import ingest_table
from pipeline.demo import build_demo, plan_demo
from pipeline.demo.lucas2022 import aggregated_code, lucas2022_columns, lucas2022_rows
from pipeline.demo.lucas_harmonised import write_lucas_csv


@pytest.mark.parametrize(
    ("code", "aggregate"),
    [("B16", "B10"), ("C21", "C20"), ("G11", "G10"), ("A22", "A20"), ("C10", "C00"),
     ("A30", "A00"), ("E20", "E00"), ("F40", "F00")],
)  # fmt: skip
def test_photo_interpreted_points_get_the_aggregate(code: str, aggregate: str) -> None:
    assert aggregated_code(code) == aggregate


def test_columns_are_the_2022_schema_with_the_theoretical_point() -> None:
    cols = lucas2022_columns(2022)
    assert len(cols) == 312 and cols[:7] == [
        "POINT_ID", "POINT_NUTS0", "POINT_NUTS1", "POINT_NUTS2", "POINT_NUTS3", "POINT_LAT",
        "POINT_LONG",
    ]  # fmt: skip
    assert lucas2022_columns(2024)[1] == "SURVEY_YEAR"


def test_a_later_year_in_the_2022_layout_ingests(tmp_path: Path) -> None:
    points = plan_demo(10, seed=0).points
    path = tmp_path / "lucas_survey_2024.csv"
    write_lucas_csv(path, lucas2022_rows(points, 2024, 0), lucas2022_columns(2024))
    result = ingest_table(path, ["AT"], 2024)
    assert result.format == "lucas2022" and result.rejects.empty
    assert len(result.points) == 10 and set(result.points["year"]) == {2024}
    assert result.location_mismatches.empty
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    office = [r for r in rows if r["SURVEY_OBS_TYPE"] == "7"]
    assert len(office) == 1 and all(r["photo_point"] == "0" for r in office)
    assert {r["SURVEY_LC1"].upper() for r in office} <= set(result.points["lc1"])


def test_unknown_lucas_format_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="harmonised or lucas2022"):
        build_demo(tmp_path / "d", n_points=4, step_days=120.0, lucas_format="eurostat2018")
    assert not (tmp_path / "d").exists()
