"""Fuzzing ingest with mutated and random LUCAS rows, in all three table formats.

``tests/lucas/test_lucas_bad_input.py`` appends random lines to a valid table; this adds
*mutated* rows: valid rows of each format with fields replaced by junk, sentinels, extreme
numbers, quotes and separators, other rows' ids, and whole lines cut short or spliced. The
invariants: no crash, every row is either kept or rejected with one of the documented
reasons, the counts add up, kept points are valid, and rows nobody touched are kept.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucas.ingest import ingest_table
from lucas.validate import REASONS
from tests.fixtures import lucas_tables as lt

N_ROWS = 6
FORMATS = ("eurostat2018", "harmonised", "lucas2022")
# Columns that decide whether a row is kept, per format (the rest are mutated at random too).
KEY_COLUMNS = {
    "eurostat2018": ["POINT_ID", "NUTS0", "TH_LAT", "TH_LONG", "LC1", "SURVEY_DATE"],
    "harmonised": ["point_id", "year", "nuts0", "th_lat", "th_long", "lc1", "lc1_label"],
    "lucas2022": ["POINT_ID", "POINT_NUTS0", "POINT_LAT", "POINT_LONG", "SURVEY_LC1",
                  "SURVEY_OBS_TYPE"],
}
POINT_ID = {"eurostat2018": "POINT_ID", "harmonised": "point_id", "lucas2022": "POINT_ID"}
YEAR = {"eurostat2018": 2018, "harmonised": 2018, "lucas2022": 2022}  # a run always has one


@cache
def _frame(fmt: str) -> pd.DataFrame:
    make = {"eurostat2018": lt.eurostat2018_frame, "harmonised": lt.harmonised_frame,
            "lucas2022": lt.lucas2022_frame}[fmt]
    return make(N_ROWS).astype(str)


_TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00")
_JUNK = st.one_of(
    st.just(""),
    st.sampled_from(["8", "88", "888", "8888", "88.888888", "-1", "0", "nan", "NaN", "inf",
                     "-inf", "1e309", "99999999", "00000000", "NULL", " ", "47,3", "0x1F",
                     "☃", '"', "a,b", '"quoted"', "\t", "1.5", "47.0000000001", "A11", "a11",
                     "Z99", "12/31/18", "31/12/2018", "EL", "GR", "UK", "XX", "ALL"]),
    st.text(_TEXT, max_size=25),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-10**12, max_value=10**12).map(str),
)


@st.composite
def _mutated_table(draw: st.DrawFn) -> tuple[str, pd.DataFrame, set[int], list[tuple[int, str]]]:
    """A format, its frame with field mutations, the mutated row indexes, line edits."""
    fmt = draw(st.sampled_from(FORMATS))
    frame = _frame(fmt).copy()
    columns = list(frame.columns)
    touched: set[int] = set()
    for _ in range(draw(st.integers(0, 8))):
        row = draw(st.integers(0, N_ROWS - 1))
        col = draw(st.one_of(st.sampled_from(KEY_COLUMNS[fmt]), st.sampled_from(columns)))
        value = draw(st.one_of(_JUNK, st.sampled_from(list(frame[POINT_ID[fmt]]))))
        frame.iloc[row, columns.index(col)] = value
        touched.add(row)
    # Line-level damage: cut a row short, or splice junk into it (after CSV quoting).
    edits = draw(st.lists(st.tuples(st.integers(0, N_ROWS - 1), _JUNK), max_size=2))
    touched |= {row for row, _ in edits}
    return fmt, frame, touched, edits


def _write(frame: pd.DataFrame, edits: list[tuple[int, str]], path: Path) -> Path:
    lt.write_table(frame, path)
    lines = path.read_text(encoding="utf-8").split("\n")
    for row, junk in edits:
        line = lines[row + 1]
        cut = len(junk) % max(len(line), 1)
        lines[row + 1] = line[:cut] + junk  # a truncated line, junk in place of the rest
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=_mutated_table(), extra=st.lists(st.text(_TEXT, max_size=80), max_size=3))
def test_mutated_rows_are_kept_or_rejected_with_a_reason(
    tmp_path: Path, table: tuple[str, pd.DataFrame, set[int], list[tuple[int, str]]],
    extra: list[str],
) -> None:
    fmt, frame, touched, edits = table
    path = _write(frame, edits, tmp_path / f"{fmt}.csv")
    for line in extra:  # random rows after the mutated ones
        lt.append_line(path, line)
    result = ingest_table(path, None, YEAR[fmt], fmt)

    # Every row read is kept or rejected, once.
    assert len(result.points) + len(result.rejects) == result.rows_read
    rej = result.rejects
    assert rej["row"].is_unique and (rej["row"] >= 2).all()
    assert set(rej["reason"]) <= set(REASONS), set(rej["reason"]) - set(REASONS)
    assert rej["reason"].notna().all()
    # Kept points are valid points.
    pts = result.points
    assert pts["point_id"].is_unique
    assert all(10**7 <= int(p) < 10**8 or 0 < int(p) < 10**8 for p in pts["point_id"])
    assert all(math.isfinite(float(v)) for v in [*pts["th_lat"], *pts["th_long"]])
    assert all(str(v).strip() for v in pts["lc1"])
    # Rows nobody touched are kept, unless a mutation copied their id onto another row.
    ids = frame[POINT_ID[fmt]].astype(str)
    for row in set(range(N_ROWS)) - touched:
        pid = ids.iloc[row]
        if (ids == pid).sum() == 1:
            assert int(pid) in set(pts["point_id"].astype(int)), (fmt, row, rej.to_dict("records"))
