"""Ingest of each format: canonical record, decoding, selection and rejections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lucas.columns import CANONICAL
from lucas.errors import ConfigError
from lucas.formats import formats
from lucas.ingest import ingest_table
from tests.fixtures import lucas_tables as lt


def _eurostat(tmp_path: Path, df: pd.DataFrame) -> Path:
    return lt.write_table(df, tmp_path / "EU_2018.csv")


# --- Eurostat 2018 ------------------------------------------------------------------------


def test_eurostat_canonical_columns_first_and_every_source_column_kept(tmp_path: Path) -> None:
    result = ingest_table(lt.eurostat2018_file(tmp_path / "e.csv", 10), None, None)
    cols = list(result.points.columns)
    assert cols[: len(CANONICAL)] == list(CANONICAL)
    for src in formats()["eurostat2018"].expected:
        assert src.lower() in cols, src
    assert result.points.crs == "EPSG:4326"
    assert result.points["point_id"].dtype == "Int64"
    assert set(result.points["year"]) == {2018}


def test_eurostat_values_are_typed_decoded_and_signed(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(2, countries=("PT",))
    df.loc[0, ["LC1", "LU1", "LC2", "LU2"]] = ["B16", "U111", "8", "U370"]
    df.loc[0, "SURVEY_DATE"] = "05/07/18"
    df.loc[0, ["GPS_EW", "GPS_LONG", "CAR_EW", "CAR_LONGITUDE"]] = ["2", "8.5", "2", "8.6"]
    df.loc[0, ["GPS_PREC", "CPRN_LC1N", "INSPIRE_PLCC1", "SOIL_STONES_PERC"]] = [
        "8888", "88", "888", "12",
    ]  # fmt: skip
    df.loc[1, ["GPS_EW", "GPS_LONG", "GPS_LAT"]] = ["8", "88.888888", "88.888888"]
    result = ingest_table(_eurostat(tmp_path, df), None, 2018)
    p = result.points.set_index("point_id")
    first = p.loc[int(df.loc[0, "POINT_ID"])]
    assert (first["lc1"], first["lc1_label"]) == ("B16", "Maize")
    assert first["lu1_label"] == "Agriculture (excluding fallow land and kitchen gardens)"
    assert (first["lc2"], first["lc2_label"]) == ("8", "Not relevant")
    assert first["lu2_label"] == "Residential"
    assert first["survey_date"] == "2018-07-05"
    assert (first["gps_ew"], first["gps_long"]) == ("West", -8.5)
    assert (first["car_ew"], first["car_longitude"]) == ("West", -8.6)
    assert pd.isna(first["gps_prec"]) and pd.isna(first["cprn_lc1n"])
    assert pd.isna(first["inspire_plcc1"]) and first["soil_stones_perc"] == 12
    assert first["letter_group"] == "B"
    second = p.loc[int(df.loc[1, "POINT_ID"])]
    assert pd.isna(second["gps_ew"]) and np.isnan(second["gps_long"])
    assert np.isnan(second["gps_lat"])


def test_eurostat_photo_urls_follow_the_gisco_layout(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(1, countries=("AT",))
    df.loc[0, ["PHOTO_NORTH", "PHOTO_SOUTH"]] = ["1", "2"]
    point = ingest_table(_eurostat(tmp_path, df), None, 2018).points.iloc[0]
    pid = str(point["point_id"])
    assert point["file_path_gisco_north"] == (
        f"https://gisco-services.ec.europa.eu/lucas/photos/2018/AT/{pid[:3]}/{pid[3:6]}/{pid}N.jpg"
    )
    assert pd.isna(point["file_path_gisco_south"])


def test_eurostat_unparsable_numeric_value_becomes_missing_with_warning(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(3)
    df.loc[1, "GPS_ALTITUDE"] = "high"
    result = ingest_table(_eurostat(tmp_path, df), None, None)
    assert len(result.points) == 3
    assert any("gps_altitude: 1 non-numeric" in w and "'high'" in w for w in result.warnings)


# --- harmonised ----------------------------------------------------------------------------


def test_harmonised_keeps_decoded_values_and_signs_gps_long(tmp_path: Path) -> None:
    df = lt.harmonised_frame(4, countries=("IE",))
    result = ingest_table(lt.write_table(df, tmp_path / "h.csv"), None, None)
    p = result.points
    assert list(p["lc1_label"]) == list(df["lc1_label"])
    assert (p["gps_ew"] == "West").all()
    np.testing.assert_allclose(p["gps_long"], -df["gps_long"].astype(float))
    assert p["lc1_perc"].iloc[0] == "> 75 %"  # decoded classes stay text
    assert p["cprn_lc1n"].isna().all()  # 88.0 is the 2018 "not relevant" sentinel
    assert list(p.columns[: len(CANONICAL)]) == list(CANONICAL)
    assert "id" in p.columns


def test_harmonised_with_several_years_needs_a_year(tmp_path: Path) -> None:
    df = pd.concat(
        [lt.harmonised_frame(3, year=2015, seed=1), lt.harmonised_frame(2, year=2018, seed=2)]
    )
    path = lt.write_table(df, tmp_path / "h.csv")
    with pytest.raises(ConfigError, match=r"2015 \(3 rows\), 2018 \(2 rows\).*--year"):
        ingest_table(path, None, None)
    result = ingest_table(path, None, 2018)
    assert len(result.points) == 2
    assert list(result.rejects["reason"]) == ["wrong_year"] * 3
    assert list(result.rejects["row"]) == [2, 3, 4]
    assert result.rejects["detail"].iloc[0] == "year '2015' is not the requested 2018"


# --- LUCAS 2022 ----------------------------------------------------------------------------


def test_lucas2022_renames_and_upper_cases_codes(tmp_path: Path) -> None:
    df = lt.lucas2022_frame(5, countries=("EL",))
    df.loc[0, "SURVEY_LC1"] = "b16"
    result = ingest_table(lt.write_table(df, tmp_path / "p.csv"), None, None)
    p = result.points
    assert result.year == 2022
    assert p.loc[p["point_id"] == int(df.loc[0, "POINT_ID"]), "lc1"].item() == "B16"
    assert p.loc[p["point_id"] == int(df.loc[0, "POINT_ID"]), "lc1_label"].item() == "Maize"
    np.testing.assert_allclose(p["th_lat"], df["POINT_LAT"].astype(float))
    for name in ("nuts0", "survey_date", "obs_type", "gps_lat", "survey_lm_hedge", "pi_extension"):
        assert name in p.columns, name
    assert "POINT_NUTS0" not in p.columns and "point_lat" not in p.columns
    assert set(p["nuts0"]) == {"EL"}


def test_lucas2022_obs_type_6_is_out_of_eu(tmp_path: Path) -> None:
    df = lt.lucas2022_frame(3)
    df.loc[2, "SURVEY_OBS_TYPE"] = "6"
    result = ingest_table(lt.write_table(df, tmp_path / "p.csv"), None, None)
    assert list(result.rejects["reason"]) == ["out_of_eu"]
    assert result.rejects["row"].item() == 4


def test_lucas2022_has_no_uk(tmp_path: Path) -> None:
    path = lt.lucas2022_file(tmp_path / "p.csv", 3)
    with pytest.raises(ConfigError, match="UK is not part of the LUCAS 2022 survey"):
        ingest_table(path, ["UK"], 2022)


def test_gee_variant_takes_coordinates_from_geo_column(tmp_path: Path) -> None:
    df = lt.lucas2022_frame(3, coordinates="geo")
    result = ingest_table(lt.write_table(df, tmp_path / "g.csv"), None, None)
    assert result.coordinate_source == ".geo geometry"
    assert any(".geo" in w for w in result.warnings)
    assert len(result.location_mismatches) == 0
    assert result.points.geometry.x.round(9).tolist() == [
        float(g.split("[")[1].split(",")[0]) for g in df[".geo"]
    ]


def test_without_coordinates_they_are_derived_from_point_id_and_said(tmp_path: Path) -> None:
    df = lt.lucas2022_frame(3, coordinates="none")
    result = ingest_table(lt.write_table(df, tmp_path / "n.csv"), None, None)
    assert result.coordinate_source == "derived from POINT_ID"
    assert any("derived th_lat/th_long from POINT_ID" in w for w in result.warnings)
    lat, lon = lt.grid_latlon(df["POINT_ID"].astype(np.int64).to_numpy())
    np.testing.assert_allclose(result.points["th_lat"], lat)
    np.testing.assert_allclose(result.points["th_long"], lon)


# --- selection and rejections --------------------------------------------------------------


def test_country_selection_rejects_other_countries(tmp_path: Path) -> None:
    path = lt.eurostat2018_file(tmp_path / "e.csv", 9, countries=("AT", "DE", "EL"))
    result = ingest_table(path, ["at", "EL"], None)
    assert set(result.points["nuts0"]) == {"AT", "EL"}
    assert set(result.rejects["reason"]) == {"other_country"}
    assert len(result.rejects) == 3
    assert "nuts0 'DE' is not among the requested AT, EL" in set(result.rejects["detail"])
    assert ingest_table(path, ["ALL"], None).summary()["kept"] == 9


def test_each_rejection_reason_is_reported_with_row_and_point_id(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(10, countries=("AT",))
    ids = df["POINT_ID"].tolist()
    df.loc[0, "LC1"] = ""
    df.loc[1, "LC1"] = "Z99"
    df.loc[2, "TH_LAT"] = "north"
    df.loc[3, ["TH_LAT", "TH_LONG"]] = ["28.1", "-15.4"]  # Canary Islands: not surveyed
    df.loc[4, "POINT_ID"] = "1234"
    df.loc[5, "NUTS0"] = "XX"
    df.loc[7, "POINT_ID"] = ids[6]
    result = ingest_table(_eurostat(tmp_path, df), None, None)
    rej = result.rejects.set_index("row")
    assert rej.loc[2, "reason"] == "missing_lc1"
    assert rej.loc[3, ["reason", "detail"]].tolist() == [
        "unknown_lc1", "LC1 'Z99' is not in the LUCAS LC code list",
    ]  # fmt: skip
    assert rej.loc[4, ["reason", "detail"]].tolist() == [
        "bad_coordinates", "th_lat north is not a number",
    ]  # fmt: skip
    assert rej.loc[5, "reason"] == "outside_europe"
    assert rej.loc[5, "detail"].startswith("th_lat 28.100000, th_long -15.400000 outside")
    assert rej.loc[6, ["reason", "point_id"]].tolist() == ["bad_point_id", "1234"]
    assert rej.loc[7, "reason"] == "other_country"
    assert rej.loc[8, "reason"] == rej.loc[9, "reason"] == "duplicate_point_id"
    assert rej.loc[8, "point_id"] == rej.loc[9, "point_id"] == ids[6]
    assert "appears on 2 rows (lines 8 to 9)" in rej.loc[8, "detail"]
    assert len(result.points) == 2
    assert result.rows_read == 10
    summary = result.summary()
    assert summary["rejected_by_reason"] == {
        "bad_point_id": 1, "other_country": 1, "duplicate_point_id": 2, "missing_lc1": 1,
        "unknown_lc1": 1, "bad_coordinates": 1, "outside_europe": 1,
    }  # fmt: skip
    assert summary["kept"] + summary["rejected"] == summary["rows_read"]


def test_aggregated_and_pi_codes_are_known(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(4)
    df["LC1"] = ["B10", "Bx1", "A00", "CXX3"]
    result = ingest_table(_eurostat(tmp_path, df), None, None)
    assert result.rejects.empty
    assert list(result.points["lc1"]) == ["B10", "BX1", "A00", "CXX3"]


def test_wrong_year_for_a_single_year_format(tmp_path: Path) -> None:
    path = lt.eurostat2018_file(tmp_path / "e.csv", 3)
    result = ingest_table(path, None, 2015)
    assert set(result.rejects["reason"]) == {"wrong_year"} and result.points.empty
    assert any("is a 2018 survey but year 2015 was requested" in w for w in result.warnings)


def test_location_mismatch_is_a_warning_not_a_rejection(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(3)
    lat = float(df.loc[1, "TH_LAT"])
    df.loc[1, "TH_LAT"] = f"{lat + 0.0001:.9f}"  # ~11 m north of its grid node
    result = ingest_table(_eurostat(tmp_path, df), None, None)
    assert len(result.points) == 3 and result.rejects.empty
    mm = result.location_mismatches
    assert mm["point_id"].tolist() == [int(df.loc[1, "POINT_ID"])]
    assert mm["row"].tolist() == [3]
    assert 10 < mm["distance_m"].item() < 12.5
    assert result.summary()["location_mismatches"] == 1
