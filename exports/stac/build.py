"""Build the stac source of a run: a static catalog (``--catalog``) or a STAC API (--stac-url)."""

from __future__ import annotations

from exports.registry import SourceContext
from exports.stac.api import api_source
from exports.stac.dataset_pool import dataset_pool
from exports.stac.options import StacOptions
from exports.stac.source import StacSource


def build_source(options: StacOptions, context: SourceContext) -> StacSource:
    """The configured stac source.

    The API's searches are cached in the run's durable text store (coordinating process);
    workers, built without it, only read scenes. A run starts with none of the datasets an
    earlier run of this process left open (its files may have changed since).
    """
    options.check_choice()
    dataset_pool().clear()
    if options.stac_url:
        cache = context.durable.text if context.durable is not None else None
        return api_source(options.stac_url, options.collection, bands=context.bands,
                          cache=cache, refresh=context.refresh,
                          allow_hosts=options.allow_hosts)
    assert options.catalog is not None  # check_choice: one of the two
    return StacSource.from_catalog(options.catalog, bands=context.bands,
                                   asset_roots=options.asset_root,
                                   allow_hosts=options.allow_hosts)
