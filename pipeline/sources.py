"""Build the imagery source a config asks for, through the source registry.

No source is named here: the registry (:mod:`exports.sources`) maps ``cfg.source`` to its
builder, and the run lends it what it may use (bands, workers, the ledger's durable stores in
the coordinating process, the Ctrl-C flag).
"""

from __future__ import annotations

from exports.registry import SourceContext
from exports.s1.options import NEEDS_SOURCE
from exports.s1.source import RadarSource
from exports.source import ImagerySource
from lucas.errors import ConfigError
from pipeline.config import RunConfig
from pipeline.interrupt import stop_requested
from pipeline.ledger import Ledger
from pipeline.source_stores import ledger_stores


def make_source(cfg: RunConfig, ledger: Ledger | None = None) -> ImagerySource:
    """The configured source, wrapped in the fault injector when ``--inject-faults`` is set.

    ``ledger`` is given in the coordinating process only (e.g. the Earth Engine batch path
    keeps its task ids there, the STAC API its searches); worker processes build their
    source without it.
    """
    source = cfg.source_spec.build(cfg.source_options, source_context(cfg, ledger, cfg.bands))
    if cfg.inject_faults > 0:
        source = with_faults(source, cfg)
    return source


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


def make_radar_source(cfg: RunConfig, ledger: Ledger | None = None) -> RadarSource:
    """The configured Sentinel-1 source (``--s1``), through the radar source registry."""
    from exports.s1.sources import get_radar_spec

    options = cfg.s1_options
    if options.s1_source is None:
        raise ConfigError(NEEDS_SOURCE)
    return get_radar_spec(options.s1_source).build(options, source_context(cfg, ledger, ()))


def source_context(
    cfg: RunConfig, ledger: Ledger | None, bands: tuple[str, ...]
) -> SourceContext:
    """What the run lends a source it builds (the same for optical and radar ones)."""
    return SourceContext(
        bands=bands,
        year=cfg.year,
        workers=cfg.workers,
        refresh=cfg.force,
        project=cfg.project,
        key_file=cfg.gee_key_file,
        durable=ledger_stores(ledger) if ledger is not None else None,
        stop=stop_requested,
    )
