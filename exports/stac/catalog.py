"""Item discovery: where the STAC items of a run come from, kept apart from pixel reading.

:class:`ItemDiscovery` is the seam between "which items exist" and everything after it. A
static catalog on disk (:class:`StaticCatalog`) is one implementation; a STAC API search
(:mod:`exports.stac.api`: regions, datetime and thresholds pushed to the server) is another.
Discovery may pre-filter by area and year but need not: the select stage re-checks every
filter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import pystac
from shapely.geometry import box, shape

from exports.source import DroppedScene, PointRequest, SceneFilter
from exports.stac.hrefs import HrefPolicy
from lucas.errors import InputFormatError

log = logging.getLogger(__name__)

BBox = tuple[float, float, float, float]  # WGS84 (west, south, east, north)

_CATALOG_NAMES = ("catalog.json", "collection.json")


class ItemDiscovery(Protocol):
    """Finds the STAC items that may cover an area in a year."""

    def items(self, bbox: BBox | None, year: int | None) -> Sequence[pystac.Item]:
        """Items that may intersect ``bbox`` in ``year`` (``None``: no restriction)."""
        ...


@runtime_checkable
class PointDiscovery(Protocol):
    """A discovery that searches around the points themselves, thresholds pushed to it.

    A STAC API (:class:`exports.stac.api.StacApiDiscovery`) groups the points into regions
    and filters scenes server-side; the source prefers this method when it exists.
    """

    def items_for_points(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> Sequence[pystac.Item]:
        """Items of ``year`` that may serve ``points`` and may pass ``scene_filter``."""
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


def read_root(path: str | Path) -> tuple[Path, pystac.Catalog | pystac.Item]:
    """The catalog's root file, read and parsed (its children are not): a cheap check of
    ``--catalog`` before a run writes anything, and the start of :func:`load_items`."""
    catalog_path = resolve_catalog_path(path)
    try:
        root = pystac.read_file(str(catalog_path))
    except Exception as e:  # pystac raises many types (JSON, STACTypeError, KeyError...)
        raise InputFormatError(f"{catalog_path}: not a readable STAC catalog: {e}") from e
    if not isinstance(root, pystac.Item | pystac.Catalog):
        raise InputFormatError(f"{catalog_path}: a {type(root).__name__}, not a STAC catalog")
    return catalog_path, root


def load_items(
    path: str | Path,
    unreadable: list[DroppedScene] | None = None,
    hrefs: HrefPolicy | None = None,
) -> list[pystac.Item]:
    """Every item of a static catalog, with absolute asset hrefs, in a stable (id) order.

    An unreadable catalog file is an error naming it; an item (or sub-catalog) file that
    cannot be read is skipped with a warning and listed in ``unreadable``: one damaged file
    among thousands costs its scene, not the run. So is an item or child link that
    ``hrefs`` refuses (default: the catalog's folder and public https hosts only): it is
    never opened.
    """
    catalog_path, root = read_root(path)
    if hrefs is None:
        hrefs = HrefPolicy.build([catalog_path.parent])
    if isinstance(root, pystac.Item):
        items = [root]
    elif isinstance(root, pystac.Catalog):
        bad: list[DroppedScene] = [] if unreadable is None else unreadable
        items = list(_walk(root, root, bad, hrefs))
        for drop in bad:
            log.warning("%s; that item is left out", drop.reason)
    items.sort(key=lambda it: it.id)
    log.info("static STAC catalog %s: %d item(s)", catalog_path, len(items))
    return items


def _walk(
    catalog: pystac.Catalog,
    root: pystac.Catalog,
    unreadable: list[DroppedScene],
    hrefs: HrefPolicy,
) -> Iterator[pystac.Item]:
    """The items under ``catalog``, each link resolved on its own so a bad file costs one.

    ``root`` is the catalog the user named, never a ``root`` link read from a file (pystac
    would fetch it wherever it points).
    """
    for link in catalog.get_links():
        if link.rel not in (pystac.RelType.ITEM, pystac.RelType.CHILD):
            continue
        href = str(link.get_absolute_href() or link.href)
        why = hrefs.refusal(href)
        if why is not None:
            reason = f"refused {link.rel} link {href} (catalog {catalog.id}): {why}"
            unreadable.append(DroppedScene(href, reason, kind="refused_href"))
            continue
        try:
            target = link.resolve_stac_object(root=root).target
        except Exception as e:  # JSON, STACTypeError, KeyError, OSError...
            reason = f"unreadable item file {href}: {type(e).__name__}: {e}"
            unreadable.append(DroppedScene(href, reason, kind="unreadable_item"))
            continue
        if isinstance(target, pystac.Item):
            yield target
        elif isinstance(target, pystac.Catalog):
            yield from _walk(target, root, unreadable, hrefs)


class StaticCatalog:
    """A static catalog on disk; its items are read once, then filtered in memory."""

    def __init__(
        self,
        path: str | Path,
        *,
        asset_roots: Sequence[Path] = (),
        allow_hosts: Sequence[str] = (),
    ) -> None:
        """``path``: the catalog.json or its folder; nothing is read before the first use.

        Hrefs (item links, assets) must lie in the catalog's folder or ``asset_roots``
        (``--asset-root``), or be https URLs of public hosts or hosts of ``allow_hosts``
        (``--allow-hosts``): see :mod:`exports.stac.hrefs`.
        """
        self.path = resolve_catalog_path(path)
        self.hrefs = HrefPolicy.build([self.path.parent, *asset_roots], allow_hosts)
        self._items: list[pystac.Item] | None = None
        self.unreadable: list[DroppedScene] = []  # item files skipped, with the reason

    def all_items(self) -> list[pystac.Item]:
        """Every item of the catalog, read on first use and kept: each batch filters in memory."""
        if self._items is None:
            self._items = load_items(self.path, self.unreadable, self.hrefs)
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
        """Every item, for callers that want the whole catalog."""
        return iter(self.all_items())
