"""Decide which rows are rejected, and why, with one reason per row.

Why a fixed vocabulary: the summary counts rejections by reason and users filter
``rejects.csv`` by it, so reasons are stable identifiers; the ``detail`` column says what
exactly was wrong. A row with several problems gets the first reason in :data:`REASONS`
order (a row of another year is reported as ``wrong_year`` even if its LC1 is missing too).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lucas import codes
from lucas.formats import LUCAS2022
from lucas.location import EUROPE_BBOX
from lucas.normalise import Normalised
from lucas.reader import BadRow

REASONS: tuple[str, ...] = (
    "wrong_field_count",  # the line has more or fewer fields than the header
    "bad_point_id",  # POINT_ID empty or not an 8-digit number
    "wrong_year",  # survey year missing or not the requested one
    "other_country",  # nuts0 not among the requested countries (or not a LUCAS country)
    "duplicate_point_id",  # the id appears on several rows of the year: all are rejected
    "out_of_eu",  # LUCAS 2022 SURVEY_OBS_TYPE 6: the point lies out of the EU
    "missing_lc1",  # no land-cover code
    "unknown_lc1",  # LC1 neither in the LC code list nor shaped like an LC code
    "bad_coordinates",  # theoretical coordinates empty or not numbers
    "outside_europe",  # theoretical point outside EUROPE_BBOX
)
REJECT_COLUMNS = ("row", "point_id", "reason", "detail")
OUT_OF_EU_OBS_TYPE = "6"
OUT_OF_EU_LABEL = "OUT OF EU"  # the decoded form of the same value, upper-cased


@dataclass(frozen=True)
class Selection:
    """What the caller asked for: the survey year and countries (None = all)."""

    year: int
    countries: tuple[str, ...] | None
    valid_countries: tuple[str, ...]


Detail = Callable[[pd.Series], "pd.Series | str"]


Mark = Callable[[pd.Series, str, Detail], None]


def _reasons(norm: Normalised, sel: Selection, fmt_name: str) -> tuple[pd.Series, pd.Series]:
    """Per row: the rejection reason (NA = kept) and its detail.

    Details are built only for the rows a rule rejects (the ``Detail`` callables get the
    mask), so a clean 340,000-row table costs no string work. The rules run in
    :data:`REASONS` order, so a row gets the first reason that applies.
    """
    df = norm.frame
    reason: pd.Series = pd.Series(np.nan, index=df.index, dtype="str")
    detail: pd.Series = pd.Series(np.nan, index=df.index, dtype="str")

    def mark(mask: pd.Series, name: str, text: Detail) -> None:
        todo = mask.fillna(False).astype(bool) & reason.isna()
        if todo.any():
            reason[todo] = name
            detail[todo] = text(todo)

    _mark_selection(mark, norm, sel)
    _mark_duplicates(mark, norm, sel)
    if fmt_name == LUCAS2022 and "obs_type" in df:
        _mark_out_of_eu(mark, df)
    _mark_lc1(mark, df)
    _mark_coordinates(mark, norm)
    return reason, detail


def _mark_selection(mark: Mark, norm: Normalised, sel: Selection) -> None:
    """Rows that are not a point of the requested year and countries."""
    df = norm.frame
    pid_raw = norm.raw_point_id
    mark(df["point_id"].isna(), "bad_point_id",
         lambda m: "POINT_ID '" + pid_raw[m].fillna("") + "' is not an 8-digit LUCAS point id")
    mark(df["year"].isna() | (df["year"] != sel.year), "wrong_year",
         lambda m: "year '" + norm.raw_year[m].fillna("")
         + f"' is not the requested {sel.year}")  # fmt: skip

    nuts0 = df["nuts0"].astype("str")
    allowed = sel.countries if sel.countries is not None else sel.valid_countries
    wanted = ", ".join(sel.countries) if sel.countries is not None else "LUCAS countries"
    mark(~nuts0.isin(allowed), "other_country",
         lambda m: "nuts0 '" + nuts0[m].fillna("") + f"' is not among the requested {wanted}")


def _mark_duplicates(mark: Mark, norm: Normalised, sel: Selection) -> None:
    """Every row of an id seen twice in the year: no way to tell which one is right."""
    df = norm.frame
    eligible = df["point_id"].notna() & (df["year"] == sel.year).fillna(False).astype(bool)
    ids = df["point_id"].where(eligible)
    dup = eligible & ids.duplicated(keep=False)
    if dup.any():
        lines = pd.Series(norm.rows, index=df.index)[dup]
        groups = lines.groupby(ids[dup])
        count = groups.transform("count").astype(str)
        first = groups.transform("min").astype(str)
        last = groups.transform("max").astype(str)
        text = ("POINT_ID appears on " + count + " rows (lines " + first + " to " + last
                + "); all are rejected")  # fmt: skip
        mark(dup, "duplicate_point_id", lambda m: text[m[m].index])


def _mark_out_of_eu(mark: Mark, df: pd.DataFrame) -> None:
    """LUCAS 2022 rows the surveyors flagged as out of the EU (code or decoded label)."""
    obs = df["obs_type"].astype("str").str.strip().str.replace(r"\.0$", "", regex=True)
    out = (obs == OUT_OF_EU_OBS_TYPE) | (obs.str.upper() == OUT_OF_EU_LABEL)
    mark(out, "out_of_eu", lambda m: "SURVEY_OBS_TYPE 6: the point is out of the EU")


def _mark_lc1(mark: Mark, df: pd.DataFrame) -> None:
    """Rows without a land-cover code a legend could ever classify."""
    lc1 = df["lc1"].astype("str")
    mark(lc1.isna(), "missing_lc1", lambda m: "LC1 is empty")
    # A code of the LC shape that the list lacks (new in a later survey) is kept; see codes.
    known = lc1.isin(list(codes.lc_codes())) | lc1.str.fullmatch(codes.LC_CODE_SHAPE)
    mark(~known.fillna(False).astype(bool), "unknown_lc1",
         lambda m: "LC1 '" + lc1[m] + "' is not in the LUCAS LC code list")


def _mark_coordinates(mark: Mark, norm: Normalised) -> None:
    """Rows whose theoretical point is unreadable or could not be a LUCAS point."""
    df = norm.frame
    mark(norm.coord_issue.notna(), "bad_coordinates", lambda m: norm.coord_issue[m])
    lat = df["th_lat"].to_numpy(dtype=float)
    lon = df["th_long"].to_numpy(dtype=float)
    inside = pd.Series(EUROPE_BBOX.contains(lat, lon), index=df.index)
    b = EUROPE_BBOX
    box = f"outside the LUCAS box lon {b.lon_min}..{b.lon_max}, lat {b.lat_min}..{b.lat_max}"

    def where(m: pd.Series) -> pd.Series:
        return pd.Series(
            [f"th_lat {la:.6f}, th_long {lo:.6f} {box}" for la, lo in zip(lat[m], lon[m],
                                                                        strict=True)],
            index=m[m].index, dtype="str",
        )  # fmt: skip

    mark(~inside, "outside_europe", where)


def _point_id_from_line(text: str, header: Sequence[str], delimiter: str) -> str:
    idx = next((i for i, h in enumerate(header) if h.upper() == "POINT_ID"), 0)
    try:
        fields = next(csv.reader([text], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return ""
    return fields[idx].strip() if idx < len(fields) else ""


def bad_row_rejects(
    bad_rows: Sequence[BadRow], header: Sequence[str], delimiter: str
) -> pd.DataFrame:
    """Rejections for lines whose field count differs from the header's."""
    return pd.DataFrame(
        {
            "row": pd.array([b.line for b in bad_rows], dtype="Int64"),
            "point_id": pd.array(
                [_point_id_from_line(b.text, header, delimiter) for b in bad_rows], dtype="str"
            ),
            "reason": pd.array(["wrong_field_count"] * len(bad_rows), dtype="str"),
            "detail": pd.array(
                [f"expected {b.expected} fields, found {b.actual}" for b in bad_rows],
                dtype="str",
            ),
        }
    )


def find_rejections(
    norm: Normalised, sel: Selection, fmt_name: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """(mask of rows kept, rejects with columns row, point_id, reason, detail)."""
    reason, detail = _reasons(norm, sel, fmt_name)
    rejected = reason.notna().to_numpy()
    pid_text = norm.frame["point_id"].astype("str").where(
        norm.frame["point_id"].notna(), norm.raw_point_id
    )
    rejects = pd.DataFrame(
        {
            "row": pd.array(norm.rows[rejected], dtype="Int64"),
            "point_id": pid_text[rejected].fillna("").to_numpy(),
            "reason": reason[rejected].to_numpy(),
            "detail": detail[rejected].to_numpy(),
        }
    )
    return ~rejected, rejects
