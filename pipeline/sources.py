"""Build the imagery source a config asks for (the only place that knows every source)."""

from __future__ import annotations

from exports.source import ImagerySource
from lucas.errors import ConfigError
from pipeline.config import RunConfig
from pipeline.ledger import Ledger


def make_source(cfg: RunConfig, ledger: Ledger | None = None) -> ImagerySource:
    """The configured source, wrapped in the fault injector when ``--inject-faults`` is set.

    ``ledger`` is given in the coordinating process only (the Earth Engine batch path keeps
    its task ids there); worker processes build their source without it.
    """
    source = _base_source(cfg, ledger)
    if cfg.inject_faults > 0:
        source = _with_faults(source, cfg)
    return source


def _base_source(cfg: RunConfig, ledger: Ledger | None) -> ImagerySource:
    if cfg.source == "stac":
        return _stac_source(cfg)
    if cfg.source == "gee":
        return _gee_source(cfg, ledger)
    raise ConfigError(f"unknown source '{cfg.source}' (--source): choose stac or gee")


def _stac_source(cfg: RunConfig) -> ImagerySource:
    from exports.stac_source import StacSource

    if cfg.stac_url:
        raise ConfigError("--stac-url is not available yet; use --catalog with a static catalog")
    if cfg.catalog is None:
        raise ConfigError(
            "the stac source needs a catalog: give --catalog PATH (catalog.json or its folder)"
        )
    return StacSource.from_catalog(cfg.catalog, bands=cfg.bands)


def _gee_source(cfg: RunConfig, ledger: Ledger | None) -> ImagerySource:
    from exports.gee_source import GeeSource

    if cfg.mode == "batch":
        raise ConfigError("--mode batch is not available yet; use --mode fast")
    return GeeSource.from_config(cfg)


def _with_faults(source: ImagerySource, cfg: RunConfig) -> ImagerySource:
    raise ConfigError("--inject-faults is not available yet")
