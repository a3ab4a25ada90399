"""Legends as data: LC1 code patterns → class names, loaded from TOML and validated.

Why data files: users bring their own legends (the paper's two are only defaults), so a
legend must be checked when it is loaded: a code that LUCAS does not have is a typo, a code
claimed by two classes is ambiguous, and codes no class claims are worth a warning.

File format (classes in order; a class's position is its index)::

    name = "sen4map-landcover"
    description = "…"

    [[classes]]
    name = "Artificial land"
    codes = ["A1*", "A21", "A30"]   # exact codes, or a prefix followed by *

Built-in legends (``lucas/data/legend_<name>.toml``): ``sen4map-landcover`` (Table I of the
Sen4Map paper, 9 classes, as the public Sen4Map reader in terratorch maps it), and the crop
legend twice (8 classes): ``sen4map-crop-paper`` (Table II as printed, its one typo fixed)
and ``sen4map-crop-released`` (the reader's mapping, which made the released labels;
``sen4map-crop`` is its old name). ``lucas/README.md`` lists the differences.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from lucas import codes
from lucas.errors import LegendError

log = logging.getLogger(__name__)

BUILTIN = ("sen4map-landcover", "sen4map-crop-paper", "sen4map-crop-released")
# Older names of built-in legends, still accepted.
ALIASES = {"sen4map-crop": "sen4map-crop-released"}


@dataclass(frozen=True)
class LegendClass:
    """One class: its name and the code patterns it claims."""

    name: str
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class Legend:
    """A validated legend: ``mapping`` holds every known LC code a class claims."""

    name: str
    description: str
    class_defs: tuple[LegendClass, ...]
    mapping: dict[str, str]
    source: str

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in index order."""
        return tuple(c.name for c in self.class_defs)

    def classify(self, codes_: pd.Series, *, index: bool = False) -> pd.Series:
        """Class name (or, with ``index=True``, class index) of each LC1 code; NA if unmapped.

        Codes are matched upper-cased and trimmed, vectorised (one dictionary lookup).
        """
        keys = codes_.astype("string").str.strip().str.upper()
        if index:
            positions = {code: self.classes.index(cls) for code, cls in self.mapping.items()}
            return keys.map(positions).astype("Int64")
        return keys.map(self.mapping).astype("string")

    def unmapped(self, codes_: Iterable[str] | pd.Series | None = None) -> list[str]:
        """Distinct codes no class claims: of ``codes_``, or of the LC code list if None."""
        pool = codes.lc_codes().keys() if codes_ is None else codes_
        values = {str(c).strip().upper() for c in pool if isinstance(c, str) and c.strip()}
        return sorted(values - self.mapping.keys())


    def unmapped_counts(self, codes_: pd.Series) -> dict[str, int]:
        """Points per code of ``codes_`` that no class claims, most frequent first.

        Why counts: a survey year brings codes a legend was not written for (LUCAS 2022's
        new codes, photo-interpretation aggregates such as ``C00``); the user needs to see
        how many points each one leaves out of the benchmark to decide whether to extend
        the legend.
        """
        keys = codes_.dropna().astype("string").str.strip().str.upper()
        left = keys[(keys != "") & ~keys.isin(list(self.mapping))].value_counts()
        ordered = sorted(left.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
        return {str(k): int(v) for k, v in ordered}


def unmapped_report(
    codes_: pd.Series, legends: Iterable[str | Path] = BUILTIN
) -> dict[str, dict[str, int]]:
    """Per legend (by name), the codes of ``codes_`` it leaves unmapped, with point counts."""
    out: dict[str, dict[str, int]] = {}
    for which in legends:
        legend = load_legend(which)
        out[legend.name] = legend.unmapped_counts(codes_)
    return out


def _matches(pattern: str, known: Iterable[str]) -> list[str]:
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return [c for c in known if c.startswith(prefix)]
    return [pattern] if pattern in known else []


def _parse(doc: dict[str, object], where: str) -> tuple[str, str, list[LegendClass]]:
    raw_classes = doc.get("classes")
    if not isinstance(raw_classes, list) or not raw_classes:
        raise LegendError(f"{where}: no [[classes]] table; each class needs name and codes")
    classes = []
    for i, item in enumerate(raw_classes, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise LegendError(f"{where}: class #{i} has no name")
        pats = item.get("codes")
        if not isinstance(pats, list) or not pats or not all(isinstance(p, str) for p in pats):
            raise LegendError(f"{where}: class {item['name']!r} needs a non-empty codes list")
        classes.append(LegendClass(item["name"], tuple(p.strip().upper() for p in pats)))
    names = [c.name for c in classes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise LegendError(f"{where}: class name(s) used twice: {dupes}")
    return str(doc.get("name", where)), str(doc.get("description", "")), classes


def build_legend(doc: dict[str, object], where: str) -> Legend:
    """Validate a parsed legend; raise :class:`LegendError` on unknown or overlapping codes."""
    name, description, classes = _parse(doc, where)
    known = list(codes.lc_codes())
    mapping: dict[str, str] = {}
    claims: dict[str, list[str]] = {}
    unknown: list[str] = []
    for cls in classes:
        for pattern in cls.patterns:
            hits = _matches(pattern, known)
            if not hits:
                unknown.append(f"{pattern} ({cls.name})")
            for code in hits:
                claims.setdefault(code, [])
                if cls.name not in claims[code]:
                    claims[code].append(cls.name)
                mapping.setdefault(code, cls.name)
    problems = []
    if unknown:
        problems.append(
            "code(s) not in the LUCAS LC code list: " + ", ".join(unknown)
        )
    overlaps = {code: who for code, who in claims.items() if len(who) > 1}
    if overlaps:
        problems.append(
            "code(s) claimed by several classes: "
            + "; ".join(f"{c} → {' / '.join(w)}" for c, w in sorted(overlaps.items()))
        )
    if problems:
        raise LegendError(f"{where}: " + ". ".join(problems))
    legend = Legend(name, description, tuple(classes), mapping, where)
    left = legend.unmapped()
    if left:
        log.info("legend %s leaves %d LC code(s) unmapped: %s", name, len(left), ", ".join(left))
    return legend


def load_legend(name_or_path: str | Path) -> Legend:
    """A built-in legend by name (``BUILTIN`` or an alias) or a TOML file."""
    text: str
    if isinstance(name_or_path, str):
        name_or_path = ALIASES.get(name_or_path, name_or_path)
    if isinstance(name_or_path, str) and name_or_path in BUILTIN:
        where = name_or_path
        text = resources.files("lucas.data").joinpath(f"legend_{name_or_path}.toml").read_text(
            encoding="utf-8"
        )
    else:
        path = Path(name_or_path)
        where = str(path)
        if not path.is_file():
            raise LegendError(
                f"{path}: legend file not found; pass a TOML file or one of {', '.join(BUILTIN)}"
            )
        text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LegendError(f"{where}: not valid TOML: {e}") from e
    return build_legend(doc, where)
