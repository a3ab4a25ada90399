"""Build the ``stac`` radar source of a run: ``--s1-catalog`` or ``--s1-stac-url``."""

from __future__ import annotations

from collections.abc import Sequence

from exports.registry import SourceContext
from exports.s1.options import S1Options
from exports.s1stac.api import S1ApiDiscovery, is_planetary_computer, planetary_computer_signer
from exports.s1stac.read import Signer
from exports.s1stac.source import StacRadarSource
from exports.stac.catalog import StaticCatalog
from exports.stac.http import HttpSettings
from lucas.errors import ConfigError


def build_radar_source(
    options: S1Options,
    context: SourceContext,
    *,
    http: HttpSettings | None = None,
    signer: Signer | None = None,
    allow_hosts: Sequence[str] = (),
) -> StacRadarSource:
    """The configured radar source.

    A STAC API's searches are cached in the run's durable text store (coordinating
    process; ``context.refresh`` searches again); workers, built without it, only read.
    Planetary Computer's hrefs are signed when read (``signer``: another signer, tests).
    """
    if options.s1_catalog is not None and options.s1_stac_url:
        raise ConfigError("give either --s1-catalog (a static catalog) or --s1-stac-url "
                          "(a STAC API), not both")
    if options.s1_stac_url:
        http = http or HttpSettings()
        cache = context.durable.text if context.durable is not None else None
        discovery = S1ApiDiscovery(options.s1_stac_url, options.s1_collection, http=http,
                                   cache=cache, refresh=context.refresh,
                                   allow_hosts=allow_hosts)
        if signer is None and is_planetary_computer(discovery.url):
            signer = planetary_computer_signer()
        return StacRadarSource(discovery, collection=options.s1_collection, signer=signer,
                               gdal_options=http.gdal_options())
    if options.s1_catalog is None:
        raise ConfigError("the stac radar source needs --s1-catalog PATH or --s1-stac-url URL")
    return StacRadarSource(StaticCatalog(options.s1_catalog, allow_hosts=allow_hosts),
                           collection=None, signer=signer)
