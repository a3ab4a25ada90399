"""The CLC 2018 code table (package data) and the BigEarthNet class orders."""

from __future__ import annotations

from pathlib import Path

import pytest

from exports.clc.codes import (
    BEN19_CLASSES,
    BEN43_CLASSES,
    GLACIERS,
    UNCOVERED,
    UNLABELED,
    ClcCode,
    clc_table,
    is_clc_code,
)

PACKAGE_CSV = Path(__file__).parents[2] / "exports" / "clc" / "data" / "clc2018_codes.csv"


def test_the_table_has_the_44_level3_codes_and_999() -> None:
    table = clc_table()
    assert len(table) == 45 and list(table) == sorted(table)
    codes = list(table)
    assert codes[0] == 111 and codes[-2] == 523 and codes[-1] == UNCOVERED
    assert table[211] == ClcCode(211, "Non-irrigated arable land", "Arable land")
    assert table[122].ben19 == UNLABELED and table[122].unlabeled
    assert table[UNCOVERED] == ClcCode(999, "UNLABELED", UNLABELED)
    assert clc_table() is clc_table()  # read once
    assert is_clc_code(523) and is_clc_code(999) and not is_clc_code(0)


def test_the_unlabeled_codes_are_reben_s() -> None:
    dropped = [c for c, e in clc_table().items() if e.unlabeled]
    assert dropped == [122, 123, 124, 131, 132, 133, 141, 142, 332, 334, 335, 423, 999]


def test_ben19_is_torchgeo_s_order_the_tables_first_appearance() -> None:
    first_seen: list[str] = []
    for entry in clc_table().values():
        if entry.ben19 != UNLABELED and entry.ben19 not in first_seen:
            first_seen.append(entry.ben19)
    assert tuple(first_seen) == BEN19_CLASSES and len(BEN19_CLASSES) == 19
    assert BEN19_CLASSES[:3] == ("Urban fabric", "Industrial or commercial units", "Arable land")
    assert BEN19_CLASSES[-1] == "Marine waters"


def test_ben43_is_every_level3_name_but_glaciers() -> None:
    names = [e.level3 for c, e in clc_table().items() if c not in (UNCOVERED, GLACIERS)]
    assert tuple(names) == BEN43_CLASSES and len(BEN43_CLASSES) == 43
    assert "Road and rail networks and associated land" in BEN43_CLASSES
    assert "Glaciers and perpetual snow" not in BEN43_CLASSES
    assert [c for c, e in clc_table().items() if e.in_ben43] == [
        c for c in clc_table() if c not in (335, 999)]


@pytest.mark.realdata
def test_the_package_copy_is_the_shared_table(shared_dir: Path) -> None:
    shared = shared_dir / "bigearthnet" / "clc2018_codes.csv"
    assert PACKAGE_CSV.read_bytes() == shared.read_bytes()
