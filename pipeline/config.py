"""The one frozen config object, built at the edge from a TOML file and flags (flags win).

Stages receive a :class:`RunConfig` and never read the environment. Every validation error
names the key and where it came from (the TOML file or the flag).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from exports.source import ALL_BANDS
from lucas.errors import ConfigError
from lucas.gee_table import is_gee_table

SOURCES = ("stac", "gee")
GEE_DEFAULT_WORKERS = 16
MODES = ("fast", "batch")
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
    catalog: Path | None = None
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
    # stac source: a static catalog (catalog) or a STAC API (stac_url + collection)
    stac_url: str | None = None
    collection: str = "sentinel-2-l2a"
    # gee source
    project: str | None = None
    gee_key_file: Path | None = None
    mode: str = "fast"  # gee: "fast" (computePixels) or "batch" (Export tasks to GCS)
    gcs_bucket: str | None = None
    gcs_prefix: str = "sen4map-etl"
    # scale-out and fault injection (demos and tests of resilience)
    scheduler: str | None = None  # Dask: "tcp://HOST:8786" or "local[:N]"
    inject_faults: float = 0.0  # share of reads failing on purpose (transient; 1/20 permanent)

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
            "catalog": str(self.catalog.resolve()) if self.catalog else None,
            "stac_url": self.stac_url,
            "collection": self.collection if self.stac_url else None,
            "lucas": _table_name(self.lucas),
            "bands": list(self.bands),
            **self.thresholds(),
        }
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_PATH_KEYS = {"out", "lucas", "catalog", "gee_key_file"}


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


def load_toml(path: Path) -> dict[str, Any]:
    """Read a config file; keys may sit at the top level or under ``[run]``."""
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
    base = path.parent
    out = {k.replace("-", "_"): v for k, v in table.items() if not isinstance(v, dict)}
    for alias, key in _ALIASES.items():
        if alias in out:
            out[key] = out.pop(alias)
    for key in _PATH_KEYS & out.keys():
        if isinstance(out[key], str) and not is_gee_table(out[key]):  # gee:<asset> is no path
            out[key] = str((base / out[key]).expanduser()) if not Path(out[key]).is_absolute() \
                else out[key]
    return out


def build_config(
    file_values: Mapping[str, Any], flag_values: Mapping[str, Any], config_path: Path | None
) -> RunConfig:
    """Merge file and flag values (flags win; ``None`` flags are unset) and validate."""
    where_file = f"config file {config_path}" if config_path else "config"
    known = {f.name for f in fields(RunConfig)}
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in file_values.items():
        if key not in known:
            raise ConfigError(
                f"{where_file}: unknown key '{key}'; valid keys: {', '.join(sorted(known))}"
            )
        merged[key], origin[key] = value, f"{where_file}, key '{key}'"
    for key, value in flag_values.items():
        if value is not None and value != ():
            merged[key], origin[key] = value, f"flag --{key.replace('_', '-')}"
    values = {k: _coerce(k, v, origin[k]) for k, v in merged.items()}
    # Earth Engine threads share the project's quota of 40 concurrent requests; local
    # export processes share this machine's cores: different defaults for one flag.
    values.setdefault("workers", GEE_DEFAULT_WORKERS if values.get("source") == "gee" else 2)
    if "out" not in values:
        raise ConfigError("no output folder: give --out DIR (or 'out' in the config file)")
    cfg = RunConfig(**values)
    _validate(cfg, origin)
    return cfg


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
        if key == "stac_url":  # "earth-search" -> its URL, so the output hash is canonical
            from exports.stac.http import STAC_URL_ALIASES

            return STAC_URL_ALIASES.get(str(value).strip().lower(), str(value).strip())
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

    if cfg.source not in SOURCES:
        fail("source", f"unknown source '{cfg.source}'; choose one of {', '.join(SOURCES)}")
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
    if cfg.mode not in MODES:
        fail("mode", f"unknown mode '{cfg.mode}'; choose one of {', '.join(MODES)}")
    if not 0.0 <= cfg.inject_faults < 1.0:
        fail("inject_faults", "a share between 0 and 1 (e.g. 0.2)")
    if cfg.scheduler is not None:
        if cfg.source == "gee":
            fail("scheduler", "the gee source cannot run on Dask: its limit is the Earth "
                 "Engine project quota (40 concurrent requests), which one machine already "
                 "saturates (--workers threads); drop --scheduler")
        from pipeline.dask_cluster import parse_scheduler  # syntax only: Dask not imported

        parse_scheduler(cfg.scheduler, origin.get("scheduler", "--scheduler"))
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


def config_as_dict(cfg: RunConfig) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
