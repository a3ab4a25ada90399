"""The settings of ``etl bigearthnet`` (one frozen object, built at the edge from flags)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from exports.s1.options import S1Options
from exports.tiles.mgrs import parse_tiles
from exports.tiles.split import read_split_file
from lucas.errors import ConfigError
from pipeline.config import RunConfig, build_config

SPLITS = ("ring", "random", "file")
DEFAULT_MAX_CLOUD = 1.0  # BigEarthNet's scene filter


@dataclass(frozen=True)
class BenConfig:
    """Everything a BigEarthNet run needs; ``output_hash`` covers what decides the output."""

    run: RunConfig  # the Sentinel-2 source, account, workers, --force, thresholds, out
    tiles: tuple[str, ...]
    start: date
    end: date
    clc: str  # a CLC file or gee:<asset>
    s1: S1Options = field(default_factory=S1Options)  # s1 == "closest" when a source is given
    per_season: int | None = None
    split: str = "ring"
    seed: int = 0
    split_file: Path | None = None
    countries: Path | None = None
    country_field: str = "name"
    flag_threshold: float = 1.0
    require_s1: bool = False

    @property
    def out(self) -> Path:
        return self.run.out

    @property
    def years(self) -> tuple[int, ...]:
        """The calendar years the window spans (sources are searched year by year)."""
        return tuple(range(self.start.year, self.end.year + 1))

    @property
    def has_s1(self) -> bool:
        return self.s1.enabled

    def output_hash(self) -> str:
        """What decides the tree's content (not paths of the output, workers or --force)."""
        relevant = {
            "s2": self.run.output_hash(),
            "s1": self.s1.hash_fields() if self.has_s1 else None,
            "tiles": list(self.tiles), "start": self.start.isoformat(),
            "end": self.end.isoformat(), "clc": _input_name(self.clc),
            "per_season": self.per_season, "flag_threshold": self.flag_threshold,
            "require_s1": self.require_s1,
            "countries": str(self.countries.resolve()) if self.countries else None,
            "country_field": self.country_field,
        }
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def split_hash(self) -> str:
        """The split settings: they change only the metadata, never a patch file."""
        spec = {"split": self.split, "seed": self.seed,
                "file": str(self.split_file.resolve()) if self.split_file else None}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _input_name(spec: str) -> str:
    return spec if spec.startswith("gee:") else str(Path(spec).resolve())


S1_FLAGS = ("s1_max_days", "s1_orbit", "s1_resampling", "s1_source", "s1_catalog",
            "s1_stac_url", "s1_collection")


def build_ben_config(flags: Mapping[str, Any]) -> BenConfig:
    """Validate the flags of ``etl bigearthnet``; every error names its flag."""
    values = dict(flags)
    tiles_text = values.pop("tiles", None)
    if not tiles_text:
        raise ConfigError("no tile: give --tiles 33UUP (or 33UUP,29SND)")
    tiles = parse_tiles(tiles_text)
    start, end = _date(values.pop("start", None), "--start"), _date(values.pop("end", None),
                                                                     "--end")
    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}")
    clc = values.pop("clc", None)
    if not clc:
        raise ConfigError("no CORINE Land Cover source: give --clc PATH (the CLC 2018 "
                          "GeoPackage or GeoTIFF) or --clc gee:COPERNICUS/CORINE/V20/100m/2018")
    ben = {k: values.pop(k) for k in ("per_season", "split", "seed", "split_file",
                                      "countries", "country_field", "flag_threshold",
                                      "require_s1") if values.get(k) is not None}
    s1_values = {k: values.pop(k) for k in S1_FLAGS if k in values}
    values.setdefault("max_cloud_cover", DEFAULT_MAX_CLOUD)
    values.setdefault("max_scene_nodata", 100.0)  # patches touching no-data are dropped
    values.setdefault("year", start.year)
    run = build_config({}, values, None)
    s1 = _s1(s1_values, run.source)
    cfg = BenConfig(run=run, tiles=tiles, start=start, end=end, clc=str(clc), s1=s1,
                    **{k: _coerce(k, v) for k, v in ben.items()})
    _validate(cfg)
    return cfg


def _s1(values: Mapping[str, Any], source: str) -> S1Options:
    """The Sentinel-1 settings: ``closest`` pairing whenever a radar source is given."""
    given = {k: v for k, v in values.items() if v is not None}
    has_source = any(k in given for k in ("s1_catalog", "s1_stac_url", "s1_source"))
    if not has_source:
        extra = sorted(given)
        if extra:
            raise ConfigError(f"flag --{extra[0].replace('_', '-')} has no effect without a "
                              "Sentinel-1 source (--s1-catalog, --s1-stac-url or --s1-source "
                              "gee)")
        return S1Options()
    options = S1Options.from_values({"s1": "closest", **given},
                                    lambda key: f"flag --{key.replace('_', '-')}")
    return options.resolved(source)


def _date(value: Any, flag: str) -> date:
    if value is None:
        raise ConfigError(f"no {flag}: give the window as --start 2017-06-01 --end 2018-05-31")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{flag} {value}: not a date; give YYYY-MM-DD") from None


def _coerce(key: str, value: Any) -> Any:
    if key in ("split_file", "countries"):
        return Path(str(value)).expanduser()
    if key == "flag_threshold":
        return float(value)
    return value


def _validate(cfg: BenConfig) -> None:
    if cfg.split not in SPLITS:
        raise ConfigError(f"--split {cfg.split}: choose one of {', '.join(SPLITS)}")
    if cfg.split == "file" and cfg.split_file is None:
        raise ConfigError("--split file needs --split-file PATH (patch_id, split)")
    if cfg.split_file is not None:
        read_split_file(cfg.split_file)  # checked before anything is written
    if cfg.per_season is not None and cfg.per_season < 1:
        raise ConfigError("--per-season: at least 1 scene per season")
    if not 0.0 < cfg.flag_threshold <= 1.0:
        raise ConfigError("--flag-threshold: a fraction in (0, 1], e.g. 1.0 (fully covered)")
    if cfg.countries is not None and not cfg.countries.is_file():
        raise ConfigError(f"--countries {cfg.countries}: no such file")
    if not cfg.clc.startswith("gee:") and not Path(cfg.clc).exists():
        raise ConfigError(f"--clc {cfg.clc}: no such file; give the CLC 2018 GeoPackage "
                          "(U2018_CLC2018_V2020_20u1.gpkg) or GeoTIFF, or gee:<asset id>")
    if cfg.s1.s1_max_days < 0:
        raise ConfigError("flag --s1-max-days: must be >= 0 days")
