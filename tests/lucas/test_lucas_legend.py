"""Legends as data: the built-in Sen4Map legends and validation of user legends."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lucas.codes import lc_codes
from lucas.errors import LegendError
from lucas.legend import load_legend

LANDCOVER = (
    "Artificial land", "Bareland", "Grassland", "Cropland", "Broadleaves", "Conifers",
    "Shrubland", "Water", "Wetlands",
)  # fmt: skip


def test_landcover_legend_classes_in_paper_order() -> None:
    legend = load_legend("sen4map-landcover")
    assert legend.classes == LANDCOVER
    codes = pd.Series(["A11", "A22", "B55", "b16", "C10", "C33", "D20", "G40", "H12", "C00", None])
    assert legend.classify(codes).tolist()[:9] == [
        "Artificial land", "Bareland", "Grassland", "Cropland", "Broadleaves", "Conifers",
        "Shrubland", "Water", "Wetlands",
    ]  # fmt: skip
    assert legend.classify(codes).iloc[9:].isna().all()
    assert legend.classify(codes, index=True).tolist()[:9] == list(range(9))
    assert legend.unmapped() == ["C00"]
    assert legend.unmapped(["C00", "B11", "Z1", "c00"]) == ["C00", "Z1"]


CROP_CLASSES = (
    "Cereals", "Root crops", "Nonpermanent industrial crops",
    "Dry pulses, vegetables and flowers", "Fodder crops", "Bareland",
    "Woodland and shrubland", "Grassland",
)  # fmt: skip

# Table II of the paper as printed (its "B12" in Root crops read as B21).
TABLE_II = {
    "Cereals": ["B11", "B12", "B13", "B14", "B15", "B16", "B17", "B18", "B19"],
    "Root crops": ["B21", "B22", "B23"],
    "Nonpermanent industrial crops": ["B34", "B35", "B36", "B37"],
    "Dry pulses, vegetables and flowers": ["B31", "B32", "B33", "B41", "B42", "B43", "B44",
                                           "B45"],
    "Fodder crops": ["B51", "B52", "B53", "B54"],
    "Bareland": ["F10", "F20", "F30", "F40"],
    "Woodland and shrubland": ["B71", "B72", "B73", "B74", "B75", "B76", "B77", "B81", "B82",
                               "B83", "B84", "C10", "C20", "C21", "C22", "C23", "C30", "C31",
                               "C32", "C33", "D10", "D20"],
    "Grassland": ["B55", "E10", "E20", "E30"],
}
# What the released reader (terratorch crop_classification_map) does differently.
RELEASED_MOVES = {"B31": "Nonpermanent industrial crops", "B32": "Nonpermanent industrial crops",
                  "B33": "Nonpermanent industrial crops", "C20": None, "C30": None}


def test_crop_legend_paper_is_table_ii() -> None:
    legend = load_legend("sen4map-crop-paper")
    assert legend.classes == CROP_CLASSES
    expected = {code: cls for cls, codes in TABLE_II.items() for code in codes}
    assert legend.mapping == expected
    out = legend.classify(pd.Series(["B32", "C30", "B21", "B12", "B10", "A11"]))
    assert out.tolist()[:4] == ["Dry pulses, vegetables and flowers", "Woodland and shrubland",
                                "Root crops", "Cereals"]
    assert out.iloc[4:].isna().all()


def test_crop_legend_released_differs_from_table_ii_only_where_documented() -> None:
    legend = load_legend("sen4map-crop-released")
    assert load_legend("sen4map-crop").mapping == legend.mapping  # the old name
    assert legend.classes == CROP_CLASSES
    expected = {code: cls for cls, codes in TABLE_II.items() for code in codes}
    for code, cls in RELEASED_MOVES.items():
        expected.pop(code)
        if cls is not None:
            expected[code] = cls
    assert legend.mapping == expected
    out = legend.classify(pd.Series(["B13", "B55", "C22", "B32", "B10", "C20"]), index=True)
    assert out.tolist()[:4] == [0, 7, 6, 2]
    assert out.iloc[4:].isna().all()


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "legend.toml"
    path.write_text('name = "mine"\n' + body)
    return path


def test_user_legend_loads_and_reports_unmapped(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[classes]]\nname = "Woods"\ncodes = ["C*"]\n'
                            '[[classes]]\nname = "Crops"\ncodes = ["B1*", "B21"]\n')  # fmt: skip
    legend = load_legend(path)
    assert legend.classes == ("Woods", "Crops")
    assert "A11" in legend.unmapped() and "C21" not in legend.unmapped()
    assert legend.classify(pd.Series(["CXXA", "B19"])).tolist() == ["Woods", "Crops"]


def test_unknown_codes_are_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[classes]]\nname = "X"\ncodes = ["B99", "Q*", "A11"]\n')
    with pytest.raises(LegendError, match=r"not in the LUCAS LC code list: B99 \(X\), Q\* \(X\)"):
        load_legend(path)


def test_overlapping_classes_are_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[classes]]\nname = "Art"\ncodes = ["A*"]\n'
                            '[[classes]]\nname = "Bare"\ncodes = ["A22", "F*"]\n')  # fmt: skip
    with pytest.raises(LegendError, match=r"claimed by several classes: A22 → Art / Bare"):
        load_legend(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "no \\[\\[classes\\]\\]"),
        ('[[classes]]\ncodes = ["A11"]\n', "class #1 has no name"),
        ('[[classes]]\nname = "A"\ncodes = []\n', "needs a non-empty codes list"),
        ('[[classes]]\nname = "A"\ncodes = ["A11"]\n[[classes]]\nname = "A"\ncodes = ["B11"]\n',
         "used twice"),
        ("[[classes]\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_malformed_legends(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(LegendError, match=message):
        load_legend(_write(tmp_path, body))


def test_missing_legend_file(tmp_path: Path) -> None:
    with pytest.raises(LegendError, match="legend file not found.*sen4map-landcover"):
        load_legend(tmp_path / "none.toml")


@pytest.mark.realdata
def test_builtin_legends_match_terratorch(shared_dir: Path) -> None:
    """Same class index as terratorch for every code it maps; differences are documented."""
    ref = pd.read_csv(
        shared_dir / "lucas" / "schemas" / "sen4map_legends_terratorch.csv",
        dtype=str, keep_default_na=False,
    )  # fmt: skip
    landcover, crop = load_legend("sen4map-landcover"), load_legend("sen4map-crop-released")
    coded = ref[ref["lc1_code"] != ""]
    ours_lc = landcover.classify(coded["lc1_code"], index=True).astype("str").tolist()
    assert ours_lc == coded["landcover_class_index"].tolist()
    ours_crop = crop.classify(coded["lc1_code"], index=True).astype("str").fillna("").tolist()
    assert ours_crop == coded["crop_class_index"].tolist()
    named = coded[coded["crop_class_name"] != ""]
    names = crop.classify(named["lc1_code"]).tolist()
    assert names == named["crop_class_name"].tolist()
    # Documented differences: terratorch's class 9 is the empty code (we reject such rows);
    # the level-1 aggregates A00..H00 have no terratorch key; we classify all but C00.
    assert ref.loc[ref["lc1_code"] == "", "landcover_class_index"].tolist() == ["9"]
    extra = sorted(set(lc_codes()) - set(coded["lc1_code"]))
    assert extra == ["A00", "B00", "C00", "D00", "E00", "F00", "G00", "H00"]
    assert landcover.unmapped(extra) == ["C00"]
