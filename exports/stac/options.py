"""The stac source's settings (light: neither pystac nor rasterio is imported)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from exports.registry import Scheduling
from exports.source_options import coerce_path, coerce_text, known_values
from lucas.errors import ConfigError

DEFAULT_COLLECTION = "sentinel-2-l2a"


@dataclass(frozen=True)
class StacOptions:
    """A static catalog on disk (``catalog``) or a STAC API (``stac_url`` + ``collection``)."""

    catalog: Path | None = field(default=None, metadata={
        "path": True, "help": "Static STAC catalog: its catalog.json or the folder holding it."})
    stac_url: str | None = field(default=None, metadata={
        "help": "A STAC API to search instead of --catalog: its URL, or earth-search for "
                "https://earth-search.aws.element84.com/v1."})
    collection: str = field(default=DEFAULT_COLLECTION, metadata={
        "help": f"STAC API collection [default: {DEFAULT_COLLECTION}]."})

    @classmethod
    def from_values(cls, values: Mapping[str, Any], where: Callable[[str], str]) -> Self:
        """Paths expanded; ``earth-search`` (any case) becomes its URL, so the hash is canonical."""
        kept = known_values(cls, values)
        if "catalog" in kept:
            kept["catalog"] = coerce_path(kept["catalog"], "catalog", where)
        if "stac_url" in kept:
            from exports.stac.http import STAC_URL_ALIASES

            url = coerce_text(kept["stac_url"], "stac_url", where).strip()
            kept["stac_url"] = STAC_URL_ALIASES.get(url.lower(), url)
        if "collection" in kept:
            kept["collection"] = coerce_text(kept["collection"], "collection", where)
        return cls(**kept)

    def check_inputs(self) -> None:
        """Before the run writes anything: one of ``catalog`` / ``stac_url``, and a catalog
        whose root file exists and parses (its items are read later: a damaged item costs
        its scene, not the run)."""
        self.check_choice()
        if self.catalog is not None:
            from exports.stac.catalog import read_root

            read_root(self.catalog)

    def check_choice(self) -> None:
        """Exactly one of ``catalog`` (a static catalog) and ``stac_url`` (a STAC API)."""
        if self.stac_url and self.catalog is not None:
            raise ConfigError("give either --catalog (a static catalog) or --stac-url (a "
                              "STAC API), not both")
        if not self.stac_url and self.catalog is None:
            raise ConfigError(
                "the stac source needs --catalog PATH (a static catalog: catalog.json or its "
                "folder) or --stac-url URL (a STAC API; Earth Search: --stac-url earth-search)"
            )

    def hash_fields(self) -> dict[str, Any]:
        """Where the scenes come from (a catalog by absolute path, an API by URL)."""
        return {
            "catalog": str(self.catalog.resolve()) if self.catalog else None,
            "stac_url": self.stac_url,
            "collection": self.collection if self.stac_url else None,
        }

    def scheduling(self) -> Scheduling:
        """Reads are local or HTTP range reads: processes and Dask workers scale them."""
        return Scheduling(worker_inputs=(str(self.catalog),) if self.catalog else ())

