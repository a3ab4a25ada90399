"""Item discovery: where the STAC items of a run come from, kept apart from pixel reading.

:class:`ItemDiscovery` is the seam between "which items exist" and everything after it. A
static catalog on disk (:class:`StaticCatalog`) is one implementation; a STAC API search
(``pystac-client``, bbox + datetime pushed to the server) will be another. Discovery may
pre-filter by area and year but need not: the select stage re-checks every filter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pystac
from shapely.geometry import box, shape

from lucas.errors import InputFormatError

log = logging.getLogger(__name__)

BBox = tuple[float, float, float, float]  # WGS84 (west, south, east, north)

_CATALOG_NAMES = ("catalog.json", "collection.json")


class ItemDiscovery(Protocol):
    """Finds the STAC items that may cover an area in a year."""

    def items(self, bbox: BBox | None, year: int | None) -> Sequence[pystac.Item]:
        """Items that may intersect ``bbox`` in ``year`` (``None``: no restriction)."""
        ...


def resolve_catalog_path(path: str | Path) -> Path:
    """The catalog file: ``path`` itself, or the catalog.json / collection.json in a folder."""
    p = Path(path).expanduser()
    if p.is_dir():
        for name in _CATALOG_NAMES:
            if (p / name).is_file():
                return p / name
        raise InputFormatError(
            f"{p}: no catalog.json or collection.json in this folder (--catalog takes the "
            "catalog file or the folder that holds it)"
        )
    if not p.is_file():
        raise InputFormatError(f"{p}: no such STAC catalog (check --catalog)")
    return p


def load_items(path: str | Path) -> list[pystac.Item]:
    """Every item of a static catalog, with absolute asset hrefs, in a stable (id) order."""
    catalog_path = resolve_catalog_path(path)
    try:
        root = pystac.read_file(str(catalog_path))
    except Exception as e:  # pystac raises many types (JSON, STACTypeError, KeyError...)
        raise InputFormatError(f"{catalog_path}: not a readable STAC catalog: {e}") from e
    if isinstance(root, pystac.Item):
        items = [root]
    elif isinstance(root, pystac.Catalog):
        try:
            items = list(root.get_items(recursive=True))
        except Exception as e:
            raise InputFormatError(f"{catalog_path}: cannot read an item: {e}") from e
    else:
        raise InputFormatError(f"{catalog_path}: a {type(root).__name__}, not a STAC catalog")
    items.sort(key=lambda it: it.id)
    log.info("static STAC catalog %s: %d item(s)", catalog_path, len(items))
    return items


class StaticCatalog:
    """A static catalog on disk; its items are read once, then filtered in memory."""

    def __init__(self, path: str | Path) -> None:
        self.path = resolve_catalog_path(path)
        self._items: list[pystac.Item] | None = None

    def all_items(self) -> list[pystac.Item]:
        if self._items is None:
            self._items = load_items(self.path)
        return self._items

    def items(self, bbox: BBox | None, year: int | None) -> Sequence[pystac.Item]:
        """Items whose geometry intersects ``bbox``; items without geometry are kept (and
        dropped later as "bad metadata"). ``year`` is not applied: wrong-year items are
        reported by the select stage."""
        items = self.all_items()
        if bbox is None:
            return items
        area = box(*bbox)
        return [it for it in items if it.geometry is None or shape(it.geometry).intersects(area)]

    def __iter__(self) -> Iterator[pystac.Item]:
        return iter(self.all_items())
