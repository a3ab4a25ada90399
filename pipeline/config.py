"""The one frozen config object, built at the edge from a TOML file and flags (flags win).

Stages receive a :class:`RunConfig` and never read the environment. Every validation error
names the key and where it came from (the TOML file or the flag). The imagery source's own
settings are its options dataclass (:mod:`exports.registry`), kept in ``source_options``:
their keys may sit at the top level like every other key or under ``[run.<source>]``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from exports.registry import Scheduling, SourceOptions, SourceSpec
from exports.s1.options import S1Options
from exports.source import ALL_BANDS
from exports.sources import all_option_names, get_source_spec, list_sources
from lucas.errors import ConfigError
from lucas.gee_table import is_gee_table
from pipeline.dataset.writer import get_writer

DEFAULT_WRITER = "sen4map"
FIRST_S2_YEAR = 2015  # Sentinel-2A's first images (June 2015); L2A archives start then or later


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; the fields that change the output make up ``output_hash``."""

    out: Path
    countries: tuple[str, ...] = ()
    year: int = 2018
    lucas: Path | None = None
    lucas_format: str | None = None
    source: str = "stac"
    source_options: Any = None  # the source's options dataclass; None: its defaults
    bands: tuple[str, ...] = ALL_BANDS
    max_cloud_cover: float = 40.0
    max_scene_nodata: float = 5.0
    max_patch_nodata: float = 5.0
    buffer_m: float = 650.0
    workers: int = 2
    batch_size: int = 32
    force: bool = False
    retry_failed: bool = False
    fail_fast: bool = False
    retries: int = 3  # in-run attempts of a point whose failure is transient
    # the cloud account: Earth Engine tables (--lucas gee:…) and the gee source
    project: str | None = None
    gee_key_file: Path | None = None
    # scale-out and fault injection (demos and tests of resilience)
    scheduler: str | None = None  # Dask: "tcp://HOST:8786" or "local[:N]"
    inject_faults: float = 0.0  # share of reads failing on purpose (transient; 1/20 permanent)
    writer: str = DEFAULT_WRITER  # the output format (pipeline.dataset.writer registry)
    # Sentinel-1 beside Sentinel-2 (--s1 …): off by default; never part of output_hash, so
    # <CC>.h5 is the same file with and without it (its own digest: s1_output_hash)
    s1_options: S1Options = field(default_factory=S1Options)

    def __post_init__(self) -> None:
        if self.source_options is None:
            object.__setattr__(self, "source_options", get_source_spec(self.source).options())

    @property
    def s1_enabled(self) -> bool:
        """Whether the run also writes ``<CC>_S1.h5``."""
        return self.s1_options.enabled

    def s1_output_hash(self) -> str:
        """A digest of what decides ``<CC>_S1.h5``: the Sentinel-2 settings (the points,
        and the steps ``closest`` pairs with) plus the radar settings."""
        relevant = {"s2": self.output_hash(), **self.s1_options.hash_fields()}
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def source_spec(self) -> SourceSpec:
        """The registry entry of the configured source."""
        return get_source_spec(self.source)

    @property
    def scheduling(self) -> Scheduling:
        """How the export stage schedules the source with these options."""
        options: SourceOptions = self.source_options
        return options.scheduling()

    def thresholds(self) -> dict[str, float]:
        return {
            "max_cloud_cover": self.max_cloud_cover,
            "max_scene_nodata": self.max_scene_nodata,
            "max_patch_nodata": self.max_patch_nodata,
            "buffer_m": self.buffer_m,
        }

    def output_hash(self) -> str:
        """A digest of what decides the output's content (not paths, workers or flags)."""
        relevant = {
            "year": self.year,
            "source": self.source,
            **self.source_options.hash_fields(),
            "lucas": _table_name(self.lucas),
            "bands": list(self.bands),
            **self.thresholds(),
        }
        if self.writer != DEFAULT_WRITER:  # absent for the default: older hashes stay valid
            relevant["writer"] = self.writer
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_PATH_KEYS = {"out", "lucas", "gee_key_file"}  # and the sources' Path fields


def _table_name(lucas: Path | None) -> str | None:
    """The LUCAS input in the output hash: a file's absolute path, or ``gee:<asset id>``."""
    if lucas is None:
        return None
    return str(lucas) if is_gee_table(lucas) else str(lucas.resolve())
_FLOAT_KEYS = {"max_cloud_cover", "max_scene_nodata", "max_patch_nodata", "buffer_m",
               "inject_faults"}
_INT_KEYS = {"year", "workers", "batch_size", "retries"}
_BOOL_KEYS = {"force", "retry_failed", "fail_fast"}
_ALIASES = {"country": "countries"}  # the flag's name works in the file too


TABLE_SEP = "."  # load_toml's key of a source table's value: "<source>.<key>"


def load_toml(path: Path) -> dict[str, Any]:
    """Read a config file; keys may sit at the top level or under ``[run]``, and a source's
    own keys also under ``[run.<source>]`` (e.g. ``[run.stac] catalog = "…"``).

    A source table's keys come back as ``"<source>.<key>"``: :func:`build_config` uses the
    table of the chosen source and ignores the others (kept in the file for later use)."""
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(f"config file {path} not found (--config)") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
    table = raw.get("run", raw)
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [run] must be a table")
    out = {k.replace("-", "_"): v for k, v in table.items() if not isinstance(v, dict)}
    for name in list_sources():
        tabled = _source_table(path, name, table.get(name), out)
        out.update({f"{name}{TABLE_SEP}{k}": v for k, v in tabled.items()})
    for alias, key in _ALIASES.items():
        if alias in out:
            out[key] = out.pop(alias)
    paths = _path_keys()
    for key in out:
        value = out[key]
        if key.rpartition(TABLE_SEP)[2] not in paths:
            continue
        if isinstance(value, list):  # a key that takes several folders (asset_root)
            out[key] = [_relative_to(path, v) if isinstance(v, str) else v for v in value]
        elif isinstance(value, str) and not is_gee_table(value):  # gee:<asset>: no path
            out[key] = _relative_to(path, value)
    return out


def _relative_to(config_path: Path, value: str) -> str:
    """A relative path of a config file, relative to the file's folder."""
    return value if Path(value).is_absolute() else str((config_path.parent / value).expanduser())


def _source_table(
    path: Path, name: str, table: Any, flat: Mapping[str, Any]
) -> dict[str, Any]:
    """The keys of a ``[run.<source>]`` table, each one an option of that source."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [run.{name}] must be a table")
    valid = get_source_spec(name).option_names()
    values = {k.replace("-", "_"): v for k, v in table.items()}
    for key in values:
        if key not in valid:
            raise ConfigError(f"config file {path}, [run.{name}]: unknown key '{key}'; valid "
                              f"keys: {', '.join(sorted(valid))}")
        if key in flat:
            raise ConfigError(f"config file {path}: '{key}' is given both at the top level "
                              f"and under [run.{name}]; keep one")
    return values


def _path_keys() -> set[str]:
    """Keys whose relative values are relative to the config file's folder."""
    keys = set(_PATH_KEYS) | {f.name for f in fields(S1Options) if f.metadata.get("path")}
    for name, spec in all_option_names().items():
        if any(f.name == name and f.metadata.get("path") for f in spec.option_fields()):
            keys.add(name)
    return keys


def known_keys() -> set[str]:
    """Every key a config file (or the Python API) may set: the run's, every source's and
    the radar settings' names."""
    return (({f.name for f in fields(RunConfig)} - {"source_options", "s1_options"})
            | all_option_names().keys() | set(S1Options.option_names()))


def build_config(
    file_values: Mapping[str, Any], flag_values: Mapping[str, Any], config_path: Path | None
) -> RunConfig:
    """Merge file and flag values (flags win; ``None`` flags are unset) and validate."""
    where_file = f"config file {config_path}" if config_path else "config"
    source_keys = all_option_names()
    s1_keys = set(S1Options.option_names())
    known = known_keys()
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    chosen = str(flag_values.get("source") or file_values.get("source") or RunConfig.source)
    for key, value in _chosen_tables(file_values, chosen).items():
        if key not in known:
            raise ConfigError(
                f"{where_file}: unknown key '{key}'; valid keys: {', '.join(sorted(known))}"
            )
        merged[key], origin[key] = value, f"{where_file}, key '{key}'"
    for key, value in flag_values.items():
        if value is not None and value != ():
            merged[key], origin[key] = value, f"flag --{key.replace('_', '-')}"
    spec = _source_spec(merged, origin)
    _refuse_other_sources_keys(merged, origin, spec, source_keys)
    values = {k: _coerce(k, v, origin[k]) for k, v in merged.items()
              if k not in source_keys and k not in s1_keys}
    values["source_options"] = spec.options.from_values(
        {k: merged[k] for k in spec.option_names() if k in merged},
        lambda key: origin.get(key, key),
    )
    values["s1_options"] = _s1_options(merged, origin, spec.name)
    # Earth Engine threads share the project's quota of 40 concurrent requests; local
    # export processes share this machine's cores: each source has its own default.
    values.setdefault("workers", spec.default_workers)
    # A STAC API reads fewer bytes per point in larger batches (README, Earth Search).
    values.setdefault("batch_size", values["source_options"].scheduling().default_batch_size)
    if "out" not in values:
        raise ConfigError("no output folder: give --out DIR (or 'out' in the config file)")
    cfg = RunConfig(**values)
    _validate(cfg, origin)
    return cfg


def _s1_options(merged: Mapping[str, Any], origin: Mapping[str, str], source: str) -> S1Options:
    """The radar settings, their source decided and known to the radar registry."""
    from exports.s1.sources import get_radar_spec, list_radar_sources

    options = S1Options.from_values({k: merged[k] for k in S1Options.option_names()
                                     if k in merged}, lambda key: origin.get(key, key))
    if options.s1_source is not None and options.s1_source not in list_radar_sources():
        raise ConfigError(f"{origin.get('s1_source', 's1_source')}: unknown Sentinel-1 source "
                          f"'{options.s1_source}'; choose one of "
                          f"{', '.join(list_radar_sources())}")
    options = options.resolved(source)
    if options.s1_source is not None:
        get_radar_spec(options.s1_source)
    return options


def _chosen_tables(file_values: Mapping[str, Any], chosen: str) -> dict[str, Any]:
    """The file's values with the chosen source's table merged in and other tables dropped.

    Why other sources' tables are allowed: one file can then serve both sources by changing
    ``source`` alone; a flat key or a flag of another source is refused instead (it was
    meant for this run, and would be silently ignored)."""
    out: dict[str, Any] = {}
    for key, value in file_values.items():
        table, sep, name = key.rpartition(TABLE_SEP)
        if not sep:
            out[key] = value
        elif table == chosen:
            out[name] = value
    return out


def _refuse_other_sources_keys(
    merged: Mapping[str, Any], origin: Mapping[str, str], spec: SourceSpec,
    owners: Mapping[str, SourceSpec],
) -> None:
    """A flag or flat key that only another source reads would be ignored: refuse it."""
    mine = set(spec.option_names())
    for key in merged:
        owner = owners.get(key)
        if owner is not None and key not in mine:
            default = " (the default)" if "source" not in merged else ""
            raise ConfigError(
                f"{origin[key]} applies to --source {owner.name}, not {spec.name}{default}: "
                f"drop it, or choose --source {owner.name}"
            )


def _source_spec(merged: Mapping[str, Any], origin: Mapping[str, str]) -> SourceSpec:
    name = str(merged.get("source", RunConfig.source))
    if name not in list_sources():
        raise ConfigError(f"{origin.get('source', 'source')}: unknown source '{name}'; "
                          f"choose one of {', '.join(list_sources())}")
    return get_source_spec(name)


def _coerce(key: str, value: Any, where: str) -> Any:
    try:
        if key in _PATH_KEYS:
            return Path(str(value)).expanduser()
        if key in _FLOAT_KEYS:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if key in _INT_KEYS:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if key in ("countries", "bands"):
            items = value.split(",") if isinstance(value, str) else list(value)
            names = tuple(str(i).strip().upper() for i in items if str(i).strip())
            return tuple(_band_alias(n) for n in names) if key == "bands" else names
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: invalid value {value!r} for '{key}'") from e
    return value


def _band_alias(name: str) -> str:
    """Accept Sentinel-2 file names (B02, B08) for the HDF5 field names (B2, B8)."""
    match = re.fullmatch(r"B0(\d)", name)
    return f"B{match.group(1)}" if match else name


def _validate(cfg: RunConfig, origin: Mapping[str, str]) -> None:
    def fail(key: str, msg: str) -> None:
        raise ConfigError(f"{origin.get(key, key)}: {msg}")

    for key in ("max_cloud_cover", "max_scene_nodata", "max_patch_nodata"):
        if not 0.0 <= getattr(cfg, key) <= 100.0:
            fail(key, "a percentage between 0 and 100 is expected")
    if cfg.buffer_m < 0:
        fail("buffer_m", "the buffer must be >= 0 metres")
    if not 1 <= cfg.workers <= 64:
        fail("workers", "between 1 and 64 workers")
    if cfg.batch_size < 1:
        fail("batch_size", "at least 1 point per batch")
    if not 1 <= cfg.retries <= 20:
        fail("retries", "between 1 and 20 attempts")
    if not 0.0 <= cfg.inject_faults < 1.0:
        fail("inject_faults", "a share between 0 and 1 (e.g. 0.2)")
    if cfg.scheduler is not None:
        if cfg.scheduling.not_distributable:
            fail("scheduler", cfg.scheduling.not_distributable)
        if cfg.s1_enabled:
            _check_s1_distributable(cfg, fail)
        from pipeline.executors.dask_cluster import (
            parse_scheduler,  # syntax only: Dask not imported
        )

        parse_scheduler(cfg.scheduler, origin.get("scheduler", "--scheduler"))
    try:
        get_writer(cfg.writer)
    except ConfigError as e:
        fail("writer", str(e))
    bad = [b for b in cfg.bands if b not in ALL_BANDS]
    if bad:
        fail("bands", f"unknown band(s) {', '.join(bad)}; valid: {', '.join(ALL_BANDS)}")
    if not cfg.bands:
        fail("bands", "at least one band is needed")
    if cfg.year < FIRST_S2_YEAR:
        fail(
            "year",
            f"{cfg.year} is before Sentinel-2 imagery exists ({FIRST_S2_YEAR} onwards); "
            "LUCAS surveys with Sentinel-2 imagery: 2015 (from July), 2018, 2022 and later",
        )


def _check_s1_distributable(cfg: RunConfig, fail: Any) -> None:
    from exports.s1.sources import get_radar_spec

    assert cfg.s1_options.s1_source is not None  # resolved in build_config
    why = get_radar_spec(cfg.s1_options.s1_source).scheduling.not_distributable
    if why:
        fail("scheduler", f"--s1-source {cfg.s1_options.s1_source}: {why}")
