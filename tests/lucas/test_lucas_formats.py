"""Format detection from the header, and the column lists shipped in the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucas.errors import InputFormatError
from lucas.formats import EUROSTAT2018, HARMONISED, LUCAS2022, detect_format, formats, get_format
from lucas.ingest import ingest_table
from tests.fixtures import lucas_tables as lt


def test_column_lists_have_the_published_lengths() -> None:
    assert len(formats()[EUROSTAT2018].expected) == 97
    assert formats()[EUROSTAT2018].expected[:3] == ("POINT_ID", "NUTS0", "NUTS1")
    harmo = formats()[HARMONISED].expected
    assert harmo[:9] == (
        "id", "point_id", "year", "nuts0", "nuts1", "nuts2", "nuts3", "th_lat", "th_long",
    )  # fmt: skip
    assert len(harmo) == 117  # the GEE properties are a subset of the 117 harmonised columns
    assert len(formats()[LUCAS2022].expected) == 310


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (lambda: lt.eurostat2018_frame(3), EUROSTAT2018),
        (lambda: lt.harmonised_frame(3), HARMONISED),
        (lambda: lt.lucas2022_frame(3), LUCAS2022),
        (lambda: lt.lucas2022_frame(3, coordinates="geo"), LUCAS2022),
    ],
)
def test_detects_each_format_from_its_header(frame, expected: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = lt.write_table(frame(), tmp_path / "t.csv")
    assert ingest_table(path, None, None).format == expected


def test_unknown_header_names_closest_format_and_missing_columns(tmp_path: Path) -> None:
    df = lt.eurostat2018_frame(2).drop(columns=["LC1", "LU1"])
    with pytest.raises(InputFormatError) as err:
        detect_format(list(df.columns), tmp_path / "x.csv")
    msg = str(err.value)
    assert "Closest format: eurostat2018" in msg
    assert "lacks the required column(s) LC1, LU1" in msg
    assert str(tmp_path / "x.csv") in msg


def test_header_of_another_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scenes.csv"
    path.write_text("scene_id,cloud_cover,tile\nS2A_1,12.5,33UWP\n")
    with pytest.raises(InputFormatError, match=r"not one of a LUCAS table .*scene_id"):
        ingest_table(path, None, None)


def test_named_format_must_match_the_header(tmp_path: Path) -> None:
    path = lt.harmonised_file(tmp_path / "h.csv", 3)
    with pytest.raises(InputFormatError, match=r"named format eurostat2018 .* POINT_ID"):
        ingest_table(path, None, None, fmt="eurostat2018")


def test_named_format_is_used(tmp_path: Path) -> None:
    path = lt.harmonised_file(tmp_path / "h.csv", 3)
    assert ingest_table(path, None, 2018, fmt="harmonised").format == HARMONISED


def test_unknown_format_name_lists_valid_ones() -> None:
    with pytest.raises(InputFormatError, match="eurostat2018, harmonised, lucas2022"):
        get_format("lucas2015")


def test_semicolon_delimited_table_is_read(tmp_path: Path) -> None:
    path = lt.write_table(lt.eurostat2018_frame(4), tmp_path / "semi.csv", sep=";")
    result = ingest_table(path, None, None)
    assert (result.format, len(result.points)) == (EUROSTAT2018, 4)


@pytest.mark.parametrize(("fmt", "typo", "kept"), [
    ("harmonised", ("th_lat", "th_lta"), "th_long"),
    ("lucas2022", ("POINT_LAT", "POINT_LTA"), "POINT_LONG"),
])
def test_one_coordinate_column_without_the_other_names_the_typo(
    fmt: str, typo: tuple[str, str], kept: str, tmp_path: Path
) -> None:
    """Not pandas' "cannot insert th_long, already exists": the header's own names. (In the
    Eurostat 2018 layout both are required columns: format detection names the missing one.)"""
    make = {"harmonised": lt.harmonised_frame, "lucas2022": lt.lucas2022_frame}[fmt]
    path = lt.write_table(make(4).rename(columns=dict([typo])), tmp_path / "t.csv")
    with pytest.raises(InputFormatError, match=rf"t.csv: the header has {kept} but no "
                       rf"{typo[0]} \({typo[1]} looks like a typo of it\); fix the header"):
        ingest_table(path, ["AT"], None)
