"""The LUCAS table formats we read, their column lists, and detection from a header.

Why: a LUCAS table is recognised by its header alone (no sniffing of values), so that a wrong
file fails fast with the list of the columns it lacks. Column lists are package data
(``lucas/data/*_columns.txt``), copied from the public schemas named in ``lucas/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lucas.errors import InputFormatError

EUROSTAT2018 = "eurostat2018"
HARMONISED = "harmonised"
LUCAS2022 = "lucas2022"

GEO_COLUMN = ".geo"
"""Earth Engine CSV exports carry the feature geometry as GeoJSON in this column."""


def _column_list(name: str) -> tuple[str, ...]:
    text = resources.files("lucas.data").joinpath(name).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class TableFormat:
    """One LUCAS table layout.

    ``required`` are the columns without which we cannot build the canonical record;
    ``expected`` is the full published column list (missing ones only give a warning);
    ``year`` is the survey year for single-year formats without a year column.
    """

    name: str
    title: str
    expected: tuple[str, ...]
    required: tuple[str, ...]
    year: int | None = None

    def missing_required(self, header: Sequence[str]) -> list[str]:
        present = set(header)
        return [c for c in self.required if c not in present]

    def missing_expected(self, header: Sequence[str]) -> list[str]:
        present = set(header)
        return [c for c in self.expected if c not in present]

    def overlap(self, header: Sequence[str]) -> float:
        """Share of the expected columns present (to name the closest format)."""
        return len(set(header) & set(self.expected)) / max(len(self.expected), 1)


@lru_cache(maxsize=1)
def formats() -> dict[str, TableFormat]:
    """The supported formats by name (the values ``fmt=`` accepts)."""
    harmo = _column_list("harmonised2018_columns.txt")
    gee_harmo = _column_list("gee_harmo_thloc_properties.txt")
    return {
        EUROSTAT2018: TableFormat(
            EUROSTAT2018,
            "Eurostat LUCAS 2018 primary data (EU_2018_20200213.CSV, 97 upper-case columns)",
            _column_list("eurostat2018_columns.txt"),
            ("POINT_ID", "NUTS0", "TH_LAT", "TH_LONG", "LC1", "LU1"),
            year=2018,
        ),
        HARMONISED: TableFormat(
            HARMONISED,
            "JRC harmonised LUCAS table (lucas_harmo_uf*.csv, 117 lower-case columns; "
            "also its Earth Engine export JRC/LUCAS_HARMO/THLOC/V1)",
            tuple(dict.fromkeys(harmo + gee_harmo)),
            ("point_id", "year", "nuts0", "lc1", "lu1"),
        ),
        LUCAS2022: TableFormat(
            LUCAS2022,
            "LUCAS 2022 survey table (POINT_*/SURVEY_* upper-case columns; "
            "also its Earth Engine export JRC/LUCAS/THLOC/V1/2022)",
            _column_list("lucas2022_columns.txt"),
            ("POINT_ID", "POINT_NUTS0", "SURVEY_LC1", "SURVEY_LU1"),
            year=2022,
        ),
    }


def get_format(name: str) -> TableFormat:
    """The format called ``name``; :class:`InputFormatError` lists the valid names."""
    try:
        return formats()[name]
    except KeyError:
        raise InputFormatError(
            f"unknown LUCAS table format {name!r}; valid: {', '.join(formats())} "
            "(or leave fmt unset to detect it from the header)"
        ) from None


def detect_format(header: Sequence[str], path: Path) -> TableFormat:
    """The format whose required columns the header has, else a helpful error.

    The error names the closest format (largest share of its expected columns present) and
    the required columns it lacks, so the user can tell a wrong file from a damaged header.
    """
    matches = [f for f in formats().values() if not f.missing_required(header)]
    if matches:
        # Several could match only for hand-made headers; prefer the best overlap.
        return max(matches, key=lambda f: f.overlap(header))
    closest = max(formats().values(), key=lambda f: f.overlap(header))
    missing = closest.missing_required(header)
    absent = closest.missing_expected(header)
    shown = ", ".join(list(header)[:8]) + (", …" if len(header) > 8 else "")
    others = [c for c in absent if c not in missing]
    listed = ", ".join(others[:12]) + (", …" if len(others) > 12 else "")
    also = f" (and {len(others)} more of its {len(closest.expected)} columns: {listed})"
    raise InputFormatError(
        f"{path}: the header is not one of a LUCAS table ({len(header)} columns: {shown}). "
        f"Closest format: {closest.name} ({closest.title}), which lacks the required "
        f"column(s) {', '.join(missing)}{also if others else ''}. Pass a LUCAS table, or "
        f"name its format with --lucas-format ({', '.join(formats())})."
    )


def check_format(fmt: TableFormat, header: Sequence[str], path: Path) -> None:
    """Raise if a format named by the user lacks required columns in this header."""
    missing = fmt.missing_required(header)
    if missing:
        raise InputFormatError(
            f"{path}: named format {fmt.name} ({fmt.title}) needs the column(s) "
            f"{', '.join(missing)}, absent from the header. Check the file, or leave the "
            "format unset to detect it."
        )
