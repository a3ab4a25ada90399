"""The Sentinel-1 settings of a run (``--s1 …``; light: no radar source is imported).

One options class for the radar kind: the shared settings (mode, max days, orbit filter,
resampling) and where the slices come from (``--s1-catalog``, ``--s1-stac-url``, or Earth
Engine). Off by default: ``mode`` None writes no ``<CC>_S1.h5`` and changes nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Self

from exports.s1.filters import ORBIT_FILTERS
from exports.source_options import coerce_path, coerce_text, known_values
from lucas.errors import ConfigError

MODES: tuple[str, ...] = ("closest", "series")
RESAMPLINGS: tuple[str, ...] = ("nearest", "bilinear")
RADAR_SOURCES: tuple[str, ...] = ("stac", "gee")
DEFAULT_COLLECTION = "sentinel-1-rtc"
PLANETARY_COMPUTER = "https://planetarycomputer.microsoft.com/api/stac/v1"
STAC_URL_ALIASES = {"planetary-computer": PLANETARY_COMPUTER, "pc": PLANETARY_COMPUTER}
DEFAULT_MAX_DAYS = 3.0

NEEDS_SOURCE = (
    "--s1 needs a Sentinel-1 source: give --s1-catalog PATH (a static STAC catalog of "
    "sentinel-1-rtc style COGs), --s1-stac-url URL|planetary-computer (a STAC API), or "
    "--s1-source gee (Earth Engine's COPERNICUS/S1_GRD; the default with --source gee)"
)


@dataclass(frozen=True)
class S1Options:
    """Sentinel-1 beside Sentinel-2; every field is a config key and a flag."""

    s1: str | None = field(default=None, metadata={
        "choices": MODES,
        "help": "Add Sentinel-1 VV/VH (dB) on every point's grid, OUT/<year>/<CC>_S1.h5: "
                "closest (the acquisition nearest each Sentinel-2 step) or series (every "
                "acquisition of the year) [default: off]."})
    s1_max_days: float = field(default=DEFAULT_MAX_DAYS, metadata={
        "help": f"--s1 closest: pair only acquisitions at most this many days from the "
                f"Sentinel-2 step [default: {DEFAULT_MAX_DAYS:g}]."})
    s1_orbit: str = field(default="both", metadata={
        "choices": ORBIT_FILTERS, "help": "Sentinel-1 orbit direction [default: both]."})
    s1_resampling: str = field(default="nearest", metadata={
        "choices": RESAMPLINGS,
        "help": "Resampling of Sentinel-1 onto the 10 m patch grid [default: nearest]."})
    s1_source: str | None = field(default=None, metadata={
        "help": f"Where Sentinel-1 comes from: {' or '.join(RADAR_SOURCES)} [default: stac "
                "with --s1-catalog or --s1-stac-url, gee with --source gee]."})
    s1_catalog: Path | None = field(default=None, metadata={
        "path": True,
        "help": "Static STAC catalog of Sentinel-1 COGs (items like Planetary Computer's "
                "sentinel-1-rtc: assets vv, vh, linear backscatter)."})
    s1_stac_url: str | None = field(default=None, metadata={
        "help": "A STAC API of Sentinel-1 items: its URL, or planetary-computer (hrefs are "
                "signed)."})
    s1_collection: str = field(default=DEFAULT_COLLECTION, metadata={
        "help": f"Collection of --s1-stac-url [default: {DEFAULT_COLLECTION}]."})

    @property
    def enabled(self) -> bool:
        """Whether the run writes ``<CC>_S1.h5``."""
        return self.s1 is not None

    @classmethod
    def from_values(cls, values: Mapping[str, Any], where: Callable[[str], str]) -> Self:
        """Coerce and validate; every error names the flag or key it came from."""
        kept = known_values(cls, values)
        for key in ("s1", "s1_orbit", "s1_resampling", "s1_source", "s1_collection"):
            if key in kept:
                kept[key] = coerce_text(kept[key], key, where).strip()
        if "s1_source" in kept:  # checked against the radar registry by the run's config
            kept["s1_source"] = kept["s1_source"].lower()
        for key, choices in (("s1", MODES), ("s1_orbit", ORBIT_FILTERS),
                             ("s1_resampling", RESAMPLINGS)):
            if key in kept:
                kept[key] = kept[key].lower()
                if kept[key] not in choices:
                    raise ConfigError(f"{where(key)}: unknown value '{kept[key]}'; choose one "
                                      f"of {', '.join(choices)}")
        if "s1_max_days" in kept:
            kept["s1_max_days"] = _days(kept["s1_max_days"], where)
        if "s1_catalog" in kept:
            kept["s1_catalog"] = coerce_path(kept["s1_catalog"], "s1_catalog", where)
        if "s1_stac_url" in kept:
            url = coerce_text(kept["s1_stac_url"], "s1_stac_url", where).strip()
            kept["s1_stac_url"] = STAC_URL_ALIASES.get(url.lower(), url)
        options = cls(**kept)
        if options.s1 is None:
            given = [k for k in kept if k != "s1"]
            if given:
                raise ConfigError(f"{where(given[0])} has no effect without --s1 "
                                  "closest|series: add --s1, or drop it")
        return options

    def resolved(self, main_source: str) -> S1Options:
        """The options with the radar source decided (``s1_source`` filled in), or a
        ConfigError naming the flags that provide one."""
        if not self.enabled:
            return self
        if self.s1_catalog is not None and self.s1_stac_url:
            raise ConfigError("give either --s1-catalog (a static catalog) or --s1-stac-url "
                              "(a STAC API), not both")
        has_stac = self.s1_catalog is not None or bool(self.s1_stac_url)
        name = self.s1_source
        if name is None:
            name = "stac" if has_stac else ("gee" if main_source == "gee" else None)
        if name is None or (name == "stac" and not has_stac):
            raise ConfigError(NEEDS_SOURCE)
        if name == "gee" and has_stac:
            raise ConfigError("--s1-source gee reads Earth Engine: drop --s1-catalog / "
                              "--s1-stac-url, or use --s1-source stac")
        return replace(self, s1_source=name)

    def check_inputs(self) -> None:
        """Before the run writes anything: the catalog's root file exists and parses."""
        if self.enabled and self.s1_catalog is not None:
            from exports.stac.catalog import read_root

            read_root(self.s1_catalog)

    def hash_fields(self) -> dict[str, Any]:
        """What decides the content of ``<CC>_S1.h5`` (paths resolved, URLs canonical)."""
        return {
            "s1": self.s1,
            "s1_max_days": self.s1_max_days if self.s1 == "closest" else None,
            "s1_orbit": self.s1_orbit,
            "s1_resampling": self.s1_resampling,
            "s1_source": self.s1_source,
            "s1_catalog": str(self.s1_catalog.resolve()) if self.s1_catalog else None,
            "s1_stac_url": self.s1_stac_url,
            "s1_collection": self.s1_collection if self.s1_stac_url else None,
        }

    def input_files(self) -> tuple[Path, ...]:
        """A static catalog's JSON files (fingerprinted: an edited catalog is noticed)."""
        if not self.enabled or self.s1_catalog is None:
            return ()
        from exports.stac.catalog import resolve_catalog_path

        root = resolve_catalog_path(self.s1_catalog).parent
        return tuple(sorted(root.rglob("*.json")))

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The config keys (and, with dashes, the flags) of the radar settings."""
        return tuple(f.name for f in fields(cls))


def _days(value: Any, where: Callable[[str], str]) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{where('s1_max_days')}: invalid value {value!r} for 's1_max_days'")
    try:
        days = float(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where('s1_max_days')}: invalid value {value!r}; give a number of "
                          "days, e.g. --s1-max-days 3") from e
    if math.isnan(days) or days < 0:
        raise ConfigError(f"{where('s1_max_days')}: {value!r} days; the gap between a "
                          "Sentinel-2 step and its Sentinel-1 pair must be >= 0 days "
                          "(e.g. --s1-max-days 3)")
    return days
