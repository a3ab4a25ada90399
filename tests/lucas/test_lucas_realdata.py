"""The real LUCAS rows in ../shared/lucas (skipped when the folder is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lucas.ingest import ingest_table

pytestmark = pytest.mark.realdata


def test_eurostat_2018_belgian_rows(shared_dir: Path) -> None:
    path = shared_dir / "lucas" / "oslo_mapping_eurostat2018_rows"
    result = ingest_table(path / "BE_2018_two_rows_from_OSLO_mapping.csv", ["BE"], 2018)
    assert result.format == "eurostat2018"
    assert (result.rows_read, len(result.points), len(result.rejects)) == (2, 2, 0)
    assert result.location_mismatches.empty  # th_lat/th_long agree with the LAEA node
    p = result.points.set_index("point_id")
    office = p.loc[38863060]  # photo-interpreted in the office: no GPS reading
    assert (office["lc1"], office["lc1_label"]) == ("A22", "Non built-up linear features")
    assert (office["lu1"], office["lu1_label"]) == ("U312", "Road transport")
    assert office["th_lat"] == 50.487792576 and office["th_long"] == 3.862541317
    assert office["survey_date"] == "2018-09-21"
    assert np.isnan(office["gps_lat"]) and pd.isna(office["gps_prec"])
    assert pd.isna(office["gps_ew"]) and pd.isna(office["cprn_impervious_perc"])
    assert (office["lu2"], office["lu2_type"]) == ("U225", "U225L")
    field = p.loc[38863102]  # surveyed in the field, GPS_EW 1 on a point east of Greenwich
    assert (field["gps_ew"], field["gps_long"]) == ("East", 3.813208)
    assert field["gps_prec"] == 5 and field["cprn_impervious_perc"] == 38
    assert field["obs_dist"] == 22.0 and field["nuts3"] == "BE231"


def test_harmonised_subset(shared_dir: Path) -> None:
    path = shared_dir / "lucas" / "malpolon_lucas_harmo_subset" / "metadata_subset.csv"
    result = ingest_table(path, None, 2018)
    assert result.format == "harmonised"
    assert result.rows_read == 7 and len(result.points) == 1
    assert result.rejects["reason"].tolist() == ["wrong_year"] * 6
    uk = result.points.iloc[0]
    assert uk["point_id"] == 31603628 and uk["nuts0"] == "UK" and uk["year"] == 2018
    assert uk["th_long"] == -8.108423 and uk["th_lat"] == 54.43857
    assert (uk["lc1"], uk["lc1_label"]) == ("D10", "Shrubland with sparse tree cover")
    assert (uk["lu1"], uk["lu1_label"]) == ("U420", "Semi-natural and natural areas not in use")
    assert uk["gps_ew"] == "West" and uk["gps_long"] == -8.108829  # signed from gps_ew
    assert uk["pointidyear"] == "316036282018"  # the extra column is kept
    assert uk["survey_date"] == "2018-09-18"
    assert result.location_mismatches.empty


def test_harmonised_2006_rows_use_four_digit_dates(shared_dir: Path) -> None:
    path = shared_dir / "lucas" / "malpolon_lucas_harmo_subset" / "metadata_subset.csv"
    result = ingest_table(path, ["BE", "FR"], 2006)
    assert sorted(result.points["point_id"]) == [35262736, 38023110, 38023114, 38023116]
    dates = result.points.set_index("point_id")["survey_date"]
    assert dates[35262736] == "2006-05-02" and dates[38023110] == "2006-05-22"
    assert result.location_mismatches.empty
