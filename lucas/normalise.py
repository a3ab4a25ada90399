"""Turn a raw LUCAS table (text columns) into the canonical record, column-wise.

Why column-wise: a 340,000-row table must normalise in seconds, so every step is a pandas
vector operation; no per-row Python. Row problems are not decided here: this module types
and decodes, and hands the raw text of the key fields to :mod:`lucas.validate`, which
chooses the rejection reason.

Decoding (see ``lucas/README.md`` for the full mapping):

* ``lc1_label``/``lc2_label``/``lu1_label``/``lu2_label`` from the code lists when the
  source has only codes (``8`` → "Not relevant", as in the harmonised table);
* ``gps_ew``/``car_ew``: Eurostat 2018 codes ``1`` → "East", ``2`` → "West", ``8`` → missing
  (the harmonised table's decoding); ``gps_long``/``car_longitude`` then get their sign
  from them (West → negative), for every format;
* Eurostat "not relevant" sentinels (88.888888, 8888, 888, 88) → missing in numeric columns;
* ``survey_date`` (dd/mm/yy, dd/mm/yyyy or ISO) → "YYYY-MM-DD" text;
* Eurostat 2018 also gets the harmonised derived columns ``year``, ``letter_group`` and
  ``file_path_gisco_<dir>`` (the GISCO photo URL, where ``photo_<dir>`` is 1).
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lucas import codes
from lucas.columns import (
    CANONICAL,
    CODE_COLUMNS,
    LABELLED,
    Typed,
    rename_map,
    strict_typing,
    typed_columns,
)
from lucas.errors import InputFormatError
from lucas.formats import EUROSTAT2018, GEO_COLUMN, LUCAS2022, TableFormat
from lucas.location import grid_latlon, parse_geojson_points
from lucas.reader import RawTable

log = logging.getLogger(__name__)

_EW = {"1": "East", "2": "West", "E": "East", "W": "West", "EAST": "East", "WEST": "West"}
_DATE_FORMATS = ("%d/%m/%y", "%d/%m/%Y", "%Y-%m-%d")
_GISCO = "https://gisco-services.ec.europa.eu/lucas/photos"
_PHOTO_DIRS = {"north": "N", "south": "S", "east": "E", "west": "W", "point": "P"}


@dataclass
class Normalised:
    """The typed table plus what validation needs to explain a rejection."""

    frame: pd.DataFrame
    rows: np.ndarray  # physical line of each row
    raw_point_id: pd.Series
    raw_year: pd.Series
    coord_issue: pd.Series  # text describing unusable theoretical coordinates, else NA
    coordinate_source: str
    warnings: list[str] = field(default_factory=list)


def _text(s: pd.Series) -> pd.Series:
    stripped = s.astype("str").str.strip()
    return stripped.mask(stripped == "")


def _fast_float(column: pd.Series) -> pd.Series | None:
    """Arrow's string → float64 cast: ~10x faster than ``to_numeric``, but all-or-nothing."""
    try:
        arrow = pa.array(column.array)
        cast = pc.cast(arrow, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    values = pc.fill_null(cast, float("nan")).to_numpy()
    return pd.Series(values, index=column.index, dtype=float)


def _to_number(
    name: str, column: pd.Series, spec: Typed, strict: bool, warnings: list[str]
) -> pd.Series | None:
    """Parse one numeric column; ``None`` means keep it as text (non-strict, mixed values)."""
    fast = _fast_float(column)
    raw = _text(column) if fast is None else column
    num = pd.to_numeric(raw, errors="coerce").astype(float) if fast is None else fast
    bad = num.isna() & raw.notna()
    if bad.any():
        if not strict:
            log.info("column %s has non-numeric values; kept as text", name)
            return None
        examples = ", ".join(repr(v) for v in raw[bad].unique()[:3])
        warnings.append(f"column {name}: {int(bad.sum())} non-numeric value(s) set to missing "
                        f"(e.g. {examples})")  # fmt: skip
    if spec.not_relevant is not None:
        num = num.mask(np.isclose(num, spec.not_relevant, rtol=0.0, atol=1e-6))
    if spec.kind == "int":
        finite = num.dropna()
        # Whole numbers an int64 holds exactly; "inf" or "1e20" keep the column as floats
        # (as a "1.5" does) rather than crash the cast.
        exact = np.isfinite(finite) & (finite.abs() < 2.0**53) & (finite == np.round(finite))
        if bool(exact.all()):
            return num.astype("Int64")
    return num


def _parse_dates(raw: pd.Series, warnings: list[str]) -> pd.Series:
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in _DATE_FORMATS:
        todo = out.isna() & raw.notna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(raw[todo], format=fmt, errors="coerce")
    bad = out.isna() & raw.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].unique()[:3])
        warnings.append(f"survey_date: {int(bad.sum())} value(s) not a date, set to missing "
                        f"(e.g. {examples})")  # fmt: skip
    return out.dt.strftime("%Y-%m-%d").astype("str")


def _sign_longitude(df: pd.DataFrame, lon_col: str, ew_col: str, warnings: list[str]) -> None:
    if lon_col not in df or ew_col not in df:
        return
    raw = _text(df[ew_col]).str.upper()
    ew = raw.map(_EW)
    unknown = ew.isna() & raw.notna() & (raw != codes.NOT_RELEVANT_CODE)
    if unknown.any():
        warnings.append(f"{ew_col}: {int(unknown.sum())} value(s) neither East nor West "
                        f"(e.g. {raw[unknown].iloc[0]!r}); {lon_col} left unsigned")
    df[ew_col] = ew.astype("str")
    if df[lon_col].dtype.kind != "f":  # kept as text: it had non-numeric values
        warnings.append(f"{lon_col}: not numeric in this table, left unsigned")
        return
    lon = df[lon_col].to_numpy(dtype=float)
    signed = np.where(ew == "West", -np.abs(lon), np.where(ew == "East", np.abs(lon), lon))
    df[lon_col] = signed


def _check_gps_side(df: pd.DataFrame, warnings: list[str]) -> None:
    """Warn when signed GPS longitudes fall far from the theoretical point (EW decoding check)."""
    if "gps_long" not in df or df["gps_long"].dtype.kind != "f":
        return
    far = (df["gps_long"] - df["th_long"]).abs() > 1.0
    if far.any():
        warnings.append(
            f"gps_long: {int(far.sum())} row(s) more than 1 degree of longitude from th_long "
            "after applying gps_ew (1=East, 2=West); check the GPS_EW coding of this table"
        )


def _add_labels(df: pd.DataFrame) -> list[str]:
    """Insert ``<code>_label`` after each code column that lacks one; return new names."""
    added = []
    tables = {"lc": codes.lc_labels(), "lu": codes.lu_labels()}
    for code_col, label_col, table in LABELLED:
        if code_col in df and label_col not in df:
            labels = df[code_col].map(tables[table]).astype("str")
            df.insert(list(df.columns).index(code_col) + 1, label_col, labels)
            added.append(label_col)
    return added


_COORDINATE_PAIRS = (("th_lat", "th_long"), ("TH_LAT", "TH_LONG"), ("POINT_LAT", "POINT_LONG"))


def _check_coordinate_pair(raw: RawTable, renames: dict[str, str]) -> None:
    """Refuse a header with one theoretical coordinate but not the other (a typo, most often).

    Why: without this, the missing one would be derived from POINT_ID next to the present
    one and pandas fails deep inside ("cannot insert th_long, already exists").
    """
    columns = {renames.get(c, c): c for c in raw.header}  # harmonised name → the table's
    present = [c for c in ("th_lat", "th_long") if c in columns]
    if len(present) != 1:
        return
    missing = "th_long" if present[0] == "th_lat" else "th_lat"
    have = columns[present[0]]
    want = next((pair[1] if have == pair[0] else pair[0] for pair in _COORDINATE_PAIRS
                 if have in pair), missing)
    close = difflib.get_close_matches(want, raw.header, n=1, cutoff=0.6)
    hint = f" ({close[0]} looks like a typo of it)" if close else ""
    raise InputFormatError(
        f"{raw.path}: the header has {have} but no {want}{hint}; fix the header: a table "
        "needs both theoretical coordinates, or neither (then they are derived from POINT_ID)"
    )


def _theoretical_coordinates(
    df: pd.DataFrame, point_ok: pd.Series, warnings: list[str]
) -> tuple[str, pd.Series]:
    """Fill th_lat/th_long (floats); return their source and per-row coordinate problems."""
    issue: pd.Series = pd.Series(np.nan, index=df.index, dtype="str")
    if "th_lat" in df and "th_long" in df:
        source = "th_lat/th_long columns"
        for col in ("th_lat", "th_long"):
            raw = _text(df[col])
            num = pd.to_numeric(raw, errors="coerce").astype(float)
            empty = raw.isna() & issue.isna()
            issue[empty] = f"{col} is empty"
            notnum = num.isna() & raw.notna() & issue.isna()
            issue[notnum] = f"{col} " + raw[notnum].str.slice(0, 30) + " is not a number"
            df[col] = num
        return source, issue
    if GEO_COLUMN in df:
        lat, lon = parse_geojson_points(df[GEO_COLUMN])
        issue[lat.isna() | lon.isna()] = f"{GEO_COLUMN} is not a GeoJSON point"
        warnings.append(
            "no th_lat/th_long columns: theoretical coordinates taken from the Earth Engine "
            f"geometry column {GEO_COLUMN} (the THLOC geometry)"
        )
        source = f"{GEO_COLUMN} geometry"
    else:
        lat = pd.Series(np.nan, index=df.index)
        lon = pd.Series(np.nan, index=df.index)
        ids = df.loc[point_ok, "point_id"].to_numpy(dtype=np.int64)
        glat, glon = grid_latlon(ids)
        lat[point_ok] = glat
        lon[point_ok] = glon
        warnings.append(
            "no theoretical coordinates in the table (no th_lat/th_long, POINT_LAT/POINT_LONG "
            f"or {GEO_COLUMN}): derived th_lat/th_long from POINT_ID on the LAEA grid "
            "(EPSG:3035), so the location check cannot find disagreements"
        )
        source = "derived from POINT_ID"
    pos = min(3, len(df.columns))
    df.insert(pos, "th_long", lon.to_numpy())
    df.insert(pos, "th_lat", lat.to_numpy())
    return source, issue


def _eurostat_extras(df: pd.DataFrame, year: int) -> None:
    """Harmonised columns derivable from a Eurostat 2018 row (year, letter_group, photo URLs)."""
    df.insert(1, "year", pd.Series(np.full(len(df), year), index=df.index, dtype="Int64"))
    if "letter_group" not in df and "lc1" in df:
        df["letter_group"] = df["lc1"].str.slice(0, 1)
    pid = df["point_id"].astype("str")
    base = f"{_GISCO}/{year}/" + df["nuts0"].astype("str") + "/" + pid.str.slice(0, 3) + "/"
    base = base + pid.str.slice(3, 6) + "/" + pid
    for name, letter in _PHOTO_DIRS.items():
        photo = f"photo_{name}"
        if photo in df and f"file_path_gisco_{name}" not in df:
            url = (base + f"{letter}.jpg").where(df[photo].astype("str").str.strip() == "1")
            df[f"file_path_gisco_{name}"] = url.astype("str")


def _order(df: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in CANONICAL if c in df]
    return df[first + [c for c in df.columns if c not in first]]


def normalise(raw: RawTable, fmt: TableFormat) -> Normalised:
    """Rename, type and decode ``raw`` as format ``fmt``; no row is dropped here."""
    warnings: list[str] = []
    missing = fmt.missing_expected(raw.header)
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        warnings.append(f"{len(missing)} column(s) of the {fmt.name} layout absent: {shown}")
    renames = rename_map(fmt.name, raw.header)
    _check_coordinate_pair(raw, renames)
    df = raw.frame.rename(columns=renames)
    df.index = pd.RangeIndex(len(df))

    raw_pid = _text(df["point_id"])
    pid_num = pd.to_numeric(raw_pid, errors="coerce").astype(float)
    point_ok = pid_num.notna() & (pid_num == np.round(pid_num))
    point_ok &= (pid_num >= 10_000_000) & (pid_num <= 99_999_999)
    df["point_id"] = pid_num.where(point_ok).astype("Int64")

    if "year" in df:
        raw_year = _text(df["year"])
        year_num = pd.to_numeric(raw_year, errors="coerce").astype(float)
        # A whole number of plausible size: "inf" or "1e20" must become "no year" (the row is
        # rejected as wrong_year), not an overflow in the cast.
        year_ok = (year_num == np.round(year_num)) & (year_num.abs() < 100_000)
        df["year"] = year_num.where(year_ok).astype("Int64")
    else:
        year = fmt.year if fmt.year is not None else 0
        raw_year = pd.Series(str(year), index=df.index, dtype="str")
        if fmt.name == EUROSTAT2018:
            _eurostat_extras(df, year)
        else:
            df.insert(1, "year", pd.Series(np.full(len(df), year), index=df.index, dtype="Int64"))

    upper = CODE_COLUMNS if fmt.name == LUCAS2022 else ("lc1", "lu1", "lc2", "lu2", "nuts0")
    for col in upper:
        if col in df:
            df[col] = _text(df[col]).str.upper()

    source, coord_issue = _theoretical_coordinates(df, point_ok, warnings)
    strict = strict_typing(fmt.name)
    for name, spec in typed_columns(fmt.name).items():
        if name in df and name not in ("th_lat", "th_long"):
            typed = _to_number(name, df[name], spec, strict, warnings)
            if typed is not None:
                df[name] = typed
    _sign_longitude(df, "gps_long", "gps_ew", warnings)
    _sign_longitude(df, "car_longitude", "car_ew", warnings)
    _check_gps_side(df, warnings)
    if "survey_date" in df:
        df["survey_date"] = _parse_dates(_text(df["survey_date"]), warnings)
    _add_labels(df)
    return Normalised(
        frame=_order(df),
        rows=raw.lines,
        raw_point_id=raw_pid,
        raw_year=raw_year,
        coord_issue=coord_issue,
        coordinate_source=source,
        warnings=warnings,
    )
