"""Build the imagery source a config asks for (the only place that knows every source)."""

from __future__ import annotations

from exports.source import ImagerySource
from lucas.errors import ConfigError
from pipeline.config import RunConfig


def make_source(cfg: RunConfig) -> ImagerySource:
    if cfg.source == "stac":
        if cfg.catalog is None:
            raise ConfigError(
                "the stac source needs a catalog: give --catalog PATH (catalog.json or its folder)"
            )
        from exports.stac_source import StacSource

        return StacSource.from_catalog(cfg.catalog, bands=cfg.bands)
    if cfg.source == "gee":
        from exports.gee_source import GeeSource

        return GeeSource.from_config(cfg)
    raise ConfigError(f"unknown source '{cfg.source}' (--source): choose stac or gee")
