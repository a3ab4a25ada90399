"""Column names and column types of the canonical record.

Why one module: every format is renamed to the harmonised lower-case names (JRC
``lucas_harmo_uf``) and then typed by the same rules, so the downstream stages see one schema.

Renaming (documented in ``lucas/README.md``):

* Eurostat 2018: upper-case name lower-cased (94 of 97 are then harmonised names; the plough
  columns ``lndmng_plough``, ``lm_plough_slope``, ``lm_plough_direct`` have no harmonised
  counterpart and keep their lower-cased name).
* LUCAS 2022: ``POINT_ID`` → ``point_id``, ``POINT_LAT`` → ``th_lat``, ``POINT_LONG`` (or
  ``POINT_LON``) → ``th_long``; otherwise strip ``POINT_``/``SURVEY_`` when the rest is a
  harmonised name (``POINT_NUTS0`` → ``nuts0``, ``SURVEY_LC1`` → ``lc1``, ``SURVEY_DATE`` →
  ``survey_date``, ``SURVEY_GPS_LAT`` → ``gps_lat`` …); every other column lower-cased.
* Harmonised: names kept (lower-cased, trimmed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lucas.formats import EUROSTAT2018, HARMONISED, LUCAS2022

CANONICAL: tuple[str, ...] = (
    "point_id", "year", "nuts0", "th_lat", "th_long", "lc1", "lc1_label", "lu1", "lu1_label",
)  # fmt: skip
"""The columns every output has, first and in this order."""

LABELLED: tuple[tuple[str, str, str], ...] = (
    ("lc1", "lc1_label", "lc"),
    ("lc2", "lc2_label", "lc"),
    ("lu1", "lu1_label", "lu"),
    ("lu2", "lu2_label", "lu"),
)
"""(code column, label column, code list) pairs labelled from the code lists."""

CODE_COLUMNS: tuple[str, ...] = (
    "lc1", "lc1_spec", "lc2", "lc2_spec", "lu1", "lu1_type", "lu2", "lu2_type", "cprn_lc",
    "nuts0", "nuts1", "nuts2", "nuts3",
)  # fmt: skip
"""Code columns upper-cased (LUCAS 2022 may write codes in lower case)."""

_2022_OVERRIDES = {
    "POINT_ID": "point_id",
    "POINT_LAT": "th_lat",
    "POINT_LONG": "th_long",
    "POINT_LON": "th_long",
}


@lru_cache(maxsize=1)
def harmonised_names() -> frozenset[str]:
    text = resources.files("lucas.data").joinpath("harmonised2018_columns.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def _rename_2022(name: str) -> str:
    if name in _2022_OVERRIDES:
        return _2022_OVERRIDES[name]
    low = name.lower()
    for prefix in ("point_", "survey_"):
        if low.startswith(prefix) and low[len(prefix) :] in harmonised_names():
            return low[len(prefix) :]
    return low


def rename_map(fmt: str, header: Sequence[str]) -> dict[str, str]:
    """Source column → canonical name; a clash keeps the first and the full lower-case name."""
    if fmt == LUCAS2022:
        proposed = [_rename_2022(h) for h in header]
    else:
        proposed = [h.strip().lower() for h in header]
    out: dict[str, str] = {}
    taken: set[str] = set()
    for src, dst in zip(header, proposed, strict=True):
        if dst in taken:
            dst = src.strip().lower()
            while dst in taken:
                dst += "_src"
        taken.add(dst)
        out[src] = dst
    return out


@dataclass(frozen=True)
class Typed:
    """A numeric column: ``kind`` int or float, ``not_relevant`` the Eurostat sentinel."""

    kind: str  # "int" | "float"
    not_relevant: float | None = None


_COORD_NR = 88.888888
_TYPED_COMMON: dict[str, Typed] = {
    "th_lat": Typed("float"),
    "th_long": Typed("float"),
    "gps_lat": Typed("float", _COORD_NR),
    "gps_long": Typed("float", _COORD_NR),
    "car_latitude": Typed("float", _COORD_NR),
    "car_longitude": Typed("float", _COORD_NR),
    "obs_dist": Typed("float"),
    "gps_prec": Typed("int", 8888),
    "gps_altitude": Typed("int", 8888),
}
_TYPED_2018_SURVEY: dict[str, Typed] = {
    **{c: Typed("int", 88) for c in ("cprn_lc1n", "cprnc_lc1e", "cprnc_lc1s", "cprnc_lc1w")},
    **{f"cprn_lc1{d}_brdth": Typed("int", 888) for d in "nesw"},
    "cprn_impervious_perc": Typed("int", 888),
    **{f"inspire_plcc{i}": Typed("int", 888) for i in range(1, 9)},
}
_TYPED_EUROSTAT_ONLY: dict[str, Typed] = {
    "soil_stones_perc": Typed("int", 888),
    **{c: Typed("int") for c in ("lc1_perc", "lc2_perc", "lu1_perc", "lu2_perc")},
    **{c: Typed("int") for c in ("office_pi", "ex_ante")},
    **{
        c: Typed("int")
        for c in (
            "grassland_sample", "bio_sample", "bulk0_10_sample", "bulk10_20_sample",
            "bulk20_30_sample", "standard_sample", "organic_sample",
        )
    },
}  # fmt: skip
_TYPED_HARMONISED_ONLY: dict[str, Typed] = {
    "th_gps_dist": Typed("float"),
    "obs_radius": Typed("float"),
}
_TYPED_2022_ONLY: dict[str, Typed] = {
    **{c: Typed("int") for c in ("lc1_perc", "lc2_perc", "lu1_perc", "lu2_perc")},
    "point_altitude": Typed("float"),
    "survey_calc_dist": Typed("float"),
}


def typed_columns(fmt: str) -> dict[str, Typed]:
    """The numeric columns of a format (by canonical name) and their not-relevant sentinel.

    Eurostat 2018 and the harmonised table share the 2018 sentinels (a harmonised 2018 row
    still carries ``88.0``/``888.0`` in the CPRN columns); LUCAS 2022 is typed without
    sentinels (its coding of "not relevant" is not in the sources we have).
    """
    if fmt == EUROSTAT2018:
        return {**_TYPED_COMMON, **_TYPED_2018_SURVEY, **_TYPED_EUROSTAT_ONLY}
    if fmt == HARMONISED:
        return {**_TYPED_COMMON, **_TYPED_2018_SURVEY, **_TYPED_HARMONISED_ONLY}
    no_sentinel = {name: Typed(t.kind) for name, t in _TYPED_COMMON.items()}
    return {**no_sentinel, **_TYPED_2022_ONLY}


def strict_typing(fmt: str) -> bool:
    """Eurostat 2018 is numeric by definition: an unparsable value becomes missing (warned).

    Other formats mix numbers and decoded classes across years (``lc1_perc`` is "> 75 %" in
    the harmonised table), so a column with unparsable values is kept as text instead.
    """
    return fmt == EUROSTAT2018
