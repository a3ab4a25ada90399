"""LUCAS 2022 codes: new codes and photo-interpretation aggregates are kept, legends report
what they leave unmapped, out-of-EU points are rejected, later survey years just work."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lucas.ingest import ingest_table
from lucas.legend import load_legend, unmapped_report
from lucas.output import write_points
from pipeline.stage_ingest import ingest_summary
from tests.fixtures import lucas_tables as lt

NEW_CODE = "F50"  # stand-in for a code our 2018-based list lacks (new in a later survey)


def _coded(tmp_path: Path) -> Path:
    df = lt.lucas2022_frame(6, countries=("AT",), seed=3)
    df["SURVEY_LC1"] = [NEW_CODE.lower(), "C00", "bx1", "Z99", "b10", "C21"]
    df.loc[1, "SURVEY_OBS_TYPE"] = "7"  # photo-interpreted in the office: an aggregate
    return lt.write_table(df, tmp_path / "lucas2022.csv")


def test_new_codes_and_pi_aggregates_are_kept(tmp_path: Path) -> None:
    result = ingest_table(_coded(tmp_path), None, 2022)
    assert list(result.rejects["reason"]) == ["unknown_lc1"]  # Z99 is no LC code at all
    assert result.rejects["detail"].item() == "LC1 'Z99' is not in the LUCAS LC code list"
    points = result.points.set_index("lc1")
    assert sorted(points.index) == sorted([NEW_CODE, "C00", "BX1", "B10", "C21"])
    assert points.loc["C00", "lc1_label"] == "Woodland"
    assert points.loc["BX1", "lc1_label"] == "Arable land (only pi)"
    assert pd.isna(points.loc[NEW_CODE, "lc1_label"])
    assert any(f"{NEW_CODE} (1)" in w and "not in the LUCAS code list" in w
               for w in result.warnings)  # fmt: skip


def test_summary_reports_codes_each_legend_leaves_unmapped(tmp_path: Path) -> None:
    result = ingest_table(_coded(tmp_path), None, 2022)
    summary = result.summary()
    assert summary["lc1_not_in_code_list"] == {NEW_CODE: 1}
    unmapped = summary["unmapped_by_legend"]
    assert unmapped["sen4map-landcover"] == {"C00": 1, NEW_CODE: 1}
    assert set(unmapped["sen4map-crop-released"]) == {"B10", "BX1", "C00", NEW_CODE}  # aggregates
    notes = ingest_summary(result, 0.0).notes
    assert "legend sen4map-landcover leaves 2 point(s) unmapped: C00 (1), F50 (1)" in notes
    write_points(result, tmp_path / "points")
    saved = json.loads((tmp_path / "points" / "ingest_summary.json").read_text())
    assert saved["unmapped_by_legend"]["sen4map-landcover"] == {"C00": 1, NEW_CODE: 1}


def test_unmapped_counts_most_frequent_first() -> None:
    legend = load_legend("sen4map-landcover")
    lc1 = pd.Series(["c00", "F50", "C00", "B11", None, "", "F50", "F50"])
    assert legend.unmapped_counts(lc1) == {"F50": 3, "C00": 2}
    assert unmapped_report(lc1, ["sen4map-landcover"]) == {"sen4map-landcover": {"F50": 3,
                                                                                 "C00": 2}}


def test_out_of_eu_by_code_or_label(tmp_path: Path) -> None:
    df = lt.lucas2022_frame(3)
    df.loc[0, "SURVEY_OBS_TYPE"] = "6"
    df.loc[1, "SURVEY_OBS_TYPE"] = "Out of EU"
    result = ingest_table(lt.write_table(df, tmp_path / "p.csv"), None, None)
    assert list(result.rejects["reason"]) == ["out_of_eu", "out_of_eu"]
    assert len(result.points) == 1


def test_a_later_survey_in_the_2022_layout_takes_its_year_column(tmp_path: Path) -> None:
    df = lt.lucas2022_frame(4)
    df.insert(1, "SURVEY_YEAR", "2025")
    path = lt.write_table(df, tmp_path / "p.csv")
    result = ingest_table(path, None, None)
    assert result.year == 2025 and len(result.points) == 4 and result.rejects.empty
    assert not any("every row is rejected" in w for w in result.warnings)
    assert set(result.points["year"]) == {2025}
    other = ingest_table(path, None, 2022)
    assert set(other.rejects["reason"]) == {"wrong_year"}
