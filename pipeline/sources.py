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
        source = with_faults(source, cfg)
    return source


def _base_source(cfg: RunConfig, ledger: Ledger | None) -> ImagerySource:
    if cfg.source == "stac":
        return _stac_source(cfg, ledger)
    if cfg.source == "gee":
        return _gee_source(cfg, ledger)
    raise ConfigError(f"unknown source '{cfg.source}' (--source): choose stac or gee")


def _stac_source(cfg: RunConfig, ledger: Ledger | None) -> ImagerySource:
    """A static catalog (``--catalog``) or a STAC API (``--stac-url``, e.g. earth-search).

    The API's searches are cached in the ledger (coordinating process); workers only read.
    """
    from exports.stac.source import StacSource

    if cfg.stac_url and cfg.catalog is not None:
        raise ConfigError("give either --catalog (a static catalog) or --stac-url (a STAC "
                          "API), not both")
    if cfg.stac_url:
        from exports.stac.api import api_source
        from pipeline.stac_cache import LedgerSearchCache

        cache = LedgerSearchCache(ledger) if ledger is not None else None
        return api_source(cfg.stac_url, cfg.collection, bands=cfg.bands, cache=cache,
                          refresh=cfg.force)
    if cfg.catalog is None:
        raise ConfigError(
            "the stac source needs --catalog PATH (a static catalog: catalog.json or its "
            "folder) or --stac-url URL (a STAC API; Earth Search: --stac-url earth-search)"
        )
    return StacSource.from_catalog(cfg.catalog, bands=cfg.bands)


def _gee_source(cfg: RunConfig, ledger: Ledger | None) -> ImagerySource:
    from exports.gee.source import GeeSource

    if cfg.mode == "batch":
        if ledger is None:  # task ids live in the ledger, which only the coordinator holds
            raise ConfigError("--mode batch runs in the coordinating process only")
        from pipeline.gee_tasks import LedgerTaskStore
        from pipeline.interrupt import stop_requested

        store = LedgerTaskStore(ledger, cfg.year)
        return GeeSource.batch_from_config(cfg, store, stop=stop_requested)
    return GeeSource.from_config(cfg)


def with_faults(source: ImagerySource, cfg: RunConfig) -> ImagerySource:
    """The source behind :class:`~exports.faults.FaultInjectingSource` (``--inject-faults``).

    Worker processes salt the transient draws with their pid, so a point retried on another
    worker meets a fresh fate; the coordinating process does not, so a run is reproducible.
    """
    import multiprocessing as mp
    import os

    from exports import faults

    salt = os.getpid() if mp.parent_process() is not None else 0
    return faults.FaultInjectingSource(source, cfg.inject_faults, seed=faults.DEFAULT_SEED,
                                       salt=salt)
