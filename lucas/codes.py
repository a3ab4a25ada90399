"""LUCAS code lists (land cover, land use) and the country codes of each survey year.

Why here: labels must come from one place whatever the input format, and a legend or a
reader must be able to say "this code does not exist" without network access. The lists are
package data (``lucas/data/lc_codes.csv``, ``lu_codes.csv``) transcribed from public sources
(see ``lucas/README.md``).
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

from lucas.errors import ConfigError

NOT_RELEVANT_CODE = "8"
"""Eurostat's "not relevant" value in the LC2/LU2/…_SPEC/_TYPE code columns."""
NOT_RELEVANT_LABEL = "Not relevant"
"""Label the harmonised table gives to the code ``8`` (``lc2_label`` etc.)."""

# EU-28 as surveyed in 2018, spelled as LUCAS writes NUTS0 (EL for Greece, UK for the UK).
NUTS0_2018: tuple[str, ...] = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "UK",
)  # fmt: skip
NUTS0_2022: tuple[str, ...] = tuple(c for c in NUTS0_2018 if c != "UK")
"""LUCAS 2022 covers EU-27 (NUTS 2021): no UK."""

LC_CODE_SHAPE = r"[A-H][0-9X]{2}[0-9A-Z]?"
"""What a LUCAS LC code looks like (``A00`` … ``H23``, ``BX1``, ``CXX1`` …), upper-cased.

Why a shape and not only the list: each survey revises the nomenclature (LUCAS 2022 has
codes and photo-interpretation aggregates our 2018-based list may lack), so a code of this
shape that the list does not have is kept, with an empty label, and reported as unmapped by
the legends; only values that are no LC code at all (``Z99``, ``8``) are rejected.
"""

# ISO 3166 spellings users type, and the LUCAS spelling they mean.
_ISO_ALIASES = {"GR": "EL", "GB": "UK"}


@dataclass(frozen=True)
class Code:
    """One code of a LUCAS code list."""

    code: str
    label: str
    level: str
    note: str = ""


def _read_data_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("lucas.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@lru_cache(maxsize=1)
def lc_codes() -> dict[str, Code]:
    """LC codes (level 1 aggregates A00…H00, level 2, the 2018 C3 LC1 codes, PI-only codes)."""
    rows = _read_data_csv("lc_codes.csv")
    return {
        r["code"].upper(): Code(r["code"].upper(), r["label"], r["level"], r.get("note", ""))
        for r in rows
    }


@lru_cache(maxsize=1)
def lu_codes() -> dict[str, Code]:
    """LU codes U111…U420 (C3 2018) with their labels."""
    rows = _read_data_csv("lu_codes.csv")
    return {r["code"].upper(): Code(r["code"].upper(), r["label"], "3", "") for r in rows}


@lru_cache(maxsize=1)
def lc_labels() -> dict[str, str]:
    """Code → label for LC, plus ``8`` → "Not relevant" as in the harmonised table."""
    labels = {c.code: c.label for c in lc_codes().values()}
    labels[NOT_RELEVANT_CODE] = NOT_RELEVANT_LABEL
    return labels


@lru_cache(maxsize=1)
def lu_labels() -> dict[str, str]:
    """Code → label for LU, plus ``8`` → "Not relevant"."""
    labels = {c.code: c.label for c in lu_codes().values()}
    labels[NOT_RELEVANT_CODE] = NOT_RELEVANT_LABEL
    return labels


def valid_countries(year: int | None) -> tuple[str, ...]:
    """The NUTS0 codes LUCAS uses in a survey year (EU-28 up to 2018, EU-27 from 2022)."""
    if year is not None and year >= 2020:
        return NUTS0_2022
    return NUTS0_2018


def normalise_countries(
    countries: Sequence[str] | str | None, year: int | None
) -> tuple[str, ...] | None:
    """Check requested countries against the year's NUTS0 list; ``None`` means all.

    ``"ALL"`` (any case, alone or in a list) also means all. Codes are upper-cased; an unknown
    code raises :class:`ConfigError` naming the valid ones (and the LUCAS spelling for GR/GB).
    """
    if countries is None:
        return None
    items = [countries] if isinstance(countries, str) else list(countries)
    cleaned = [c.strip().upper() for item in items for c in str(item).split(",") if c.strip()]
    if not cleaned or "ALL" in cleaned:
        return None
    valid = valid_countries(year)
    unknown = [c for c in cleaned if c not in valid]
    if unknown:
        hints = []
        for c in unknown:
            if c in _ISO_ALIASES and _ISO_ALIASES[c] in valid:
                hints.append(f"{c} → LUCAS writes {_ISO_ALIASES[c]}")
            elif c == "UK" and "UK" not in valid:
                hints.append("UK is not part of the LUCAS 2022 survey")
            else:
                close = difflib.get_close_matches(c, valid, n=1)
                if close:
                    hints.append(f"{c} → did you mean {close[0]}?")
        hint = f" ({'; '.join(hints)})" if hints else ""
        year_txt = f" for {year}" if year is not None else ""
        raise ConfigError(
            f"unknown country code(s) {', '.join(unknown)}{hint}; valid LUCAS NUTS0 codes"
            f"{year_txt}: {', '.join(valid)} or ALL (flag --country)"
        )
    return tuple(dict.fromkeys(cleaned))


def not_in_lc_list(codes_: pd.Series) -> dict[str, int]:
    """Count of each distinct (upper-cased) code of ``codes_`` missing from the LC code list.

    Ingest keeps such codes when they have the LC shape (:data:`LC_CODE_SHAPE`) and reports
    them with these counts, most frequent first.
    """
    text = codes_.dropna().astype("str").str.strip().str.upper()
    missing = text[(text != "") & ~text.isin(list(lc_codes()))]
    counts = missing.value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}
