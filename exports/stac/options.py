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
API_BATCH_SIZE = 256  # points per batch over a STAC API (see StacOptions.scheduling)


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
    asset_root: tuple[Path, ...] = field(default=(), metadata={
        "path": True, "multiple": True,
        "help": "A folder outside the static catalog's own that its asset and item hrefs may "
                "point into (repeatable or comma-separated) [default: the catalog's folder "
                "only]."})
    allow_hosts: tuple[str, ...] = field(default=(), metadata={
        "multiple": True,
        "help": "Hosts (HOST or HOST:PORT, repeatable or comma-separated) that items and assets "
                "may be read from even over plain http or at a local or private address "
                "[default: the STAC API's host, Earth Search's bucket, public https hosts; "
                "link-local and metadata addresses are never read]."})

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
        if "asset_root" in kept:
            kept["asset_root"] = tuple(coerce_path(v, "asset_root", where)
                                       for v in _several(kept["asset_root"], "asset_root", where))
        if "allow_hosts" in kept:
            kept["allow_hosts"] = _hosts(_several(kept["allow_hosts"], "allow_hosts", where),
                                         where)
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
        """Where the scenes come from (a catalog by absolute path, an API by URL); the href
        policy (asset_root, allow_hosts) only refuses reads, it changes no pixel."""
        return {
            "catalog": str(self.catalog.resolve()) if self.catalog else None,
            "stac_url": self.stac_url,
            "collection": self.collection if self.stac_url else None,
        }

    def input_files(self) -> tuple[Path, ...]:
        """A static catalog's JSON files (the catalog, its collections and items)."""
        if self.catalog is None:
            return ()
        from exports.stac.catalog import resolve_catalog_path

        root = resolve_catalog_path(self.catalog).parent
        return tuple(sorted(root.rglob("*.json")))

    def scheduling(self) -> Scheduling:
        """Reads are local or HTTP range reads: processes and Dask workers scale them. Over
        HTTP, batches of 256 neighbouring points: a COG block of a 20 m band holds about 30
        LUCAS points, so smaller batches download the blocks they share again (bench/
        bench_stac_api.py: 1.8× the minimum bytes at 128, 1.3× at 256)."""
        roots = tuple(str(r) for r in self.asset_root)
        inputs = (str(self.catalog), *roots) if self.catalog else ()
        return Scheduling(worker_inputs=inputs,
                          default_batch_size=API_BATCH_SIZE if self.stac_url else 32)


def _several(value: Any, key: str, where: Callable[[str], str]) -> list[Any]:
    """A list from a list (TOML), a tuple (a repeated flag) or comma-separated text."""
    items = list(value) if isinstance(value, list | tuple) else [value]
    out: list[Any] = []
    for item in items:
        if isinstance(item, str):
            out.extend(part.strip() for part in item.split(",") if part.strip())
        elif isinstance(item, Path):
            out.append(item)
        else:
            raise ConfigError(f"{where(key)}: invalid value {item!r} for '{key}'")
    return out


def _hosts(values: list[Any], where: Callable[[str], str]) -> tuple[str, ...]:
    """Host entries, each checked now so a typo is one clear line, not a refused scene."""
    from exports.stac.hrefs import parse_host

    for value in values:
        try:
            parse_host(str(value))
        except ValueError as e:
            raise ConfigError(f"{where('allow_hosts')}: {e}; give HOST or HOST:PORT, e.g. "
                              "--allow-hosts 127.0.0.1:8080") from e
    return tuple(str(v) for v in values)

