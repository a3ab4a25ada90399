"""Bad files and bad rows: clear errors for the first, counted rejections for the second."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucas.errors import ConfigError, InputFormatError
from lucas.ingest import ingest_table
from tests.fixtures import lucas_tables as lt


def test_file_not_found_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"nope\.csv: file not found"):
        ingest_table(tmp_path / "nope.csv", None, None)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputFormatError, match=r"empty\.csv: the file is empty"):
        ingest_table(path, None, None)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InputFormatError, match=r"data\.csv: binary content"):
        ingest_table(path, None, None)


def test_zip_and_gzip_get_a_hint(tmp_path: Path) -> None:
    csv_path = lt.eurostat2018_file(tmp_path / "EU_2018.CSV", 2)
    zpath = tmp_path / "EU_2018.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(csv_path, "EU_2018.CSV")
    with pytest.raises(InputFormatError, match="ZIP archive .*unzip it"):
        ingest_table(zpath, None, None)
    gz = tmp_path / "EU_2018.csv.gz"
    gz.write_bytes(gzip.compress(csv_path.read_bytes()))
    with pytest.raises(InputFormatError, match="gzip"):
        ingest_table(gz, None, None)


def test_header_only_file_gives_an_empty_result(tmp_path: Path) -> None:
    path = lt.write_table(lt.eurostat2018_frame(1).iloc[:0], tmp_path / "e.csv")
    result = ingest_table(path, None, None)
    assert (result.rows_read, len(result.points), len(result.rejects)) == (0, 0, 0)


def test_rows_with_too_few_or_too_many_fields_are_rejected_not_shifted(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(4)
    path = lt.write_table(df.iloc[:2], tmp_path / "e.csv")
    line = ",".join(df.iloc[2].astype(str))
    lt.append_line(path, line.rsplit(",", 1)[0])  # one field short (line 4)
    lt.append_line(path, line + ",extra")  # one field too many (line 5)
    lt.append_line(path, ",".join(df.iloc[3].astype(str)))  # good row after them (line 6)
    result = ingest_table(path, None, None)
    rej = result.rejects
    assert rej["row"].tolist() == [4, 5]
    assert rej["reason"].tolist() == ["wrong_field_count"] * 2
    assert rej["point_id"].tolist() == [df.loc[2, "POINT_ID"]] * 2
    assert rej["detail"].tolist() == [
        "expected 97 fields, found 96", "expected 97 fields, found 98",
    ]  # fmt: skip
    # The rows after the bad lines keep their own values (nothing shifted).
    kept = result.points.set_index("point_id")
    last = kept.loc[int(df.loc[3, "POINT_ID"])]
    assert last["lc1"] == df.loc[3, "LC1"] and last["nuts3"] == df.loc[3, "NUTS3"]
    assert result.rows_read == 5 and len(result.points) == 3


def test_blank_lines_are_ignored_and_line_numbers_stay_physical(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(2)
    path = lt.write_table(df.iloc[:1], tmp_path / "e.csv")
    lt.append_line(path, "")
    df.loc[1, "LC1"] = ""
    lt.append_line(path, ",".join(df.iloc[1].fillna("").astype(str)))
    result = ingest_table(path, None, None)
    assert result.rejects[["row", "reason"]].values.tolist() == [[4, "missing_lc1"]]
    assert any("1 empty line(s) ignored" in w for w in result.warnings)


def test_non_numeric_latitude_is_bad_coordinates(tmp_path: Path) -> None:
    df = lt.harmonised_frame(3)
    df.loc[0, "th_lat"] = "47,3"
    result = ingest_table(lt.write_table(df, tmp_path / "h.csv"), None, None)
    assert result.rejects[["row", "reason", "detail"]].values.tolist() == [
        [2, "bad_coordinates", "th_lat 47,3 is not a number"]
    ]


def test_duplicated_point_id_rejects_every_copy(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(5)
    df.loc[4, "POINT_ID"] = df.loc[1, "POINT_ID"]
    result = ingest_table(lt.write_table(df, tmp_path / "e.csv"), None, None)
    assert result.rejects["row"].tolist() == [3, 6]
    assert set(result.rejects["reason"]) == {"duplicate_point_id"}
    assert int(df.loc[1, "POINT_ID"]) not in set(result.points["point_id"])


@pytest.mark.parametrize(
    ("countries", "hint"),
    [(["AT", "XX"], "XX"), (["GR"], "GR → LUCAS writes EL"), ("GB", "GB → LUCAS writes UK")],
)
def test_unknown_country_lists_the_valid_codes(
    tmp_path: Path, countries: list[str] | str, hint: str
) -> None:
    path = lt.eurostat2018_file(tmp_path / "e.csv", 2)
    with pytest.raises(ConfigError) as err:
        ingest_table(path, countries, None)
    msg = str(err.value)
    assert hint in msg
    assert "AT, BE, BG, CY, CZ, DE, DK, EE, EL, ES" in msg and "UK or ALL" in msg


def test_unknown_country_fails_before_reading_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown country code"):
        ingest_table(tmp_path / "does-not-exist.csv", ["ZZ"], 2018)


_LINE_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.lists(st.text(alphabet=_LINE_CHARS, max_size=60), max_size=6))
def test_fuzzed_lines_never_crash_and_every_line_is_accounted(
    tmp_path: Path, junk: list[str]
) -> None:
    path = lt.write_table(lt.eurostat2018_frame(3), tmp_path / "fuzz.csv")
    for line in junk:
        lt.append_line(path, line)
    result = ingest_table(path, None, None)
    assert len(result.points) + len(result.rejects) == result.rows_read
    assert len(result.points) >= 3 - len(junk)
    assert result.rejects["row"].is_unique
