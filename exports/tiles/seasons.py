"""Meteorological seasons and ``--per-season N``: the N least cloudy scenes of each season."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from exports.source import Scene

SEASONS: tuple[str, ...] = ("winter", "spring", "summer", "autumn")  # DJF, MAM, JJA, SON


def season(day: date) -> str:
    """The meteorological season of a date (December belongs to the next year's winter)."""
    return SEASONS[(day.month % 12) // 3]


def per_season(scenes: Sequence[Scene], n: int | None) -> list[Scene]:
    """The ``n`` least cloudy scenes of each season of each year (ties: the earlier, then
    the id); None keeps all. Returned in time order."""
    if n is None:
        return sorted(scenes, key=lambda s: (s.acquired, s.scene_id))
    groups: dict[tuple[int, str], list[Scene]] = {}
    for s in scenes:
        d = s.acquired.date()
        winter_year = d.year + 1 if d.month == 12 else d.year
        groups.setdefault((winter_year, season(d)), []).append(s)
    kept = [s for group in groups.values()
            for s in sorted(group, key=lambda s: (s.cloud_cover, s.acquired, s.scene_id))[:n]]
    return sorted(kept, key=lambda s: (s.acquired, s.scene_id))
