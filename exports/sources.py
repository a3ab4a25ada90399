"""The sources shipped with the package: one registry line each (import this, not the registry).

Importing this module registers them; the pipeline looks sources up through the functions
re-exported here. The options modules are light (no Earth Engine, no rasterio), so listing
the sources or building a config imports neither.
"""

from __future__ import annotations

from exports.gee.options import DEFAULT_WORKERS, MAX_CONCURRENT, GeeOptions
from exports.registry import (
    SourceContext,
    SourceSpec,
    all_option_names,
    get_source_spec,
    list_sources,
    register,
)
from exports.stac.options import StacOptions

register(SourceSpec(
    "stac", StacOptions, "exports.stac.build:build_source",
    help="a static STAC catalog of COGs (--catalog) or a STAC API (--stac-url)",
    estimator="exports.stac.estimate:estimate",
))
register(SourceSpec(
    "gee", GeeOptions, "exports.gee.build:build_source",
    help="Earth Engine's COPERNICUS/S2_SR_HARMONIZED (--project)",
    default_workers=DEFAULT_WORKERS,
    workers_help=f"concurrent Earth Engine requests (at most {MAX_CONCURRENT})",
    estimator="exports.gee.estimate:estimate",
))

__all__ = [
    "SourceContext",
    "SourceSpec",
    "all_option_names",
    "get_source_spec",
    "list_sources",
    "register",
]
