"""The scene filters every radar source applies, as pure functions of an item's properties.

A slice serves the dataset when it is of the run's year, in IW mode, carries both VV and VH
and passes the orbit filter; a source that can push a filter to its service (Earth Engine)
still states it here, so both sources drop the same slices for the same reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from exports.s1.scene import S1_BANDS

ORBIT_FILTERS: tuple[str, ...] = ("both", "ascending", "descending")
INSTRUMENT_MODE = "IW"

Drop = tuple[str, str]  # (DroppedScene.kind, reason)


def orbit_allowed(orbit_filter: str, orbit_pass: str) -> bool:
    """Whether ``--s1-orbit`` keeps a slice of this pass."""
    return orbit_filter == "both" or orbit_pass.upper() == orbit_filter.upper()


def missing_polarisations(polarisations: Iterable[str]) -> list[str]:
    """The polarisations of :data:`S1_BANDS` a slice lacks (``["VH"]`` for a VV-only one)."""
    have = {p.strip().upper() for p in polarisations}
    return [b for b in S1_BANDS if b not in have]


def drop_reason(
    *,
    acquired: datetime,
    year: int,
    instrument_mode: str | None,
    polarisations: Iterable[str],
    orbit_pass: str,
    orbit_filter: str,
) -> Drop | None:
    """The first filter a slice fails, with a reason a user can act on, or None."""
    if acquired.year != year:
        return "wrong_year", f"wrong year {acquired.year} (want {year})"
    if instrument_mode is not None and instrument_mode.upper() != INSTRUMENT_MODE:
        return "instrument_mode", f"instrument mode {instrument_mode} (want {INSTRUMENT_MODE})"
    missing = missing_polarisations(polarisations)
    if missing:
        return "missing_polarisation", (
            f"missing polarisation {', '.join(missing)} (both VV and VH are needed)")
    if not orbit_allowed(orbit_filter, orbit_pass):
        return "orbit", f"orbit {orbit_pass.upper()} (--s1-orbit {orbit_filter})"
    return None
