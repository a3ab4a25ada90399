"""The sources shipped with the package: one registry line each (import this, not the registry).

Importing this module registers them; the pipeline looks sources up through the functions
re-exported here. The options modules are light (no Earth Engine, no rasterio), so listing
the sources or building a config imports neither.
"""

from __future__ import annotations

from exports.gee.options import GEE
from exports.registry import (
    SourceContext,
    SourceSpec,
    all_option_names,
    get_source_spec,
    list_sources,
    register,
)
from exports.stac.options import STAC

register(STAC)
register(GEE)

__all__ = [
    "SourceContext",
    "SourceSpec",
    "all_option_names",
    "get_source_spec",
    "list_sources",
    "register",
]
