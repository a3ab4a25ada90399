"""Item discovery over a STAC API (Earth Search ``sentinel-2-l2a`` by default).

Searches are grouped by region, never made per point or per scene: the points of a select
chunk are binned into cells of ``cell_deg`` degrees (1° by default: about 75 × 110 km in
Europe, the size of an MGRS tile), and each cell is searched once per year and thresholds
with ``intersects`` = the cell, ``datetime`` = the year and the scene thresholds pushed to
the server (the ``query`` extension, else a CQL2 ``filter``, else none: the select stage
applies every filter again anyway). Results are paged (``limit`` items a page, ``next``
links). So the number of searches grows with the area covered, not with points × scenes.

Every item that serves a point contains the point's buffer, hence the point, hence
intersects the point's cell: searching the cells of the points loses nothing.

Each cell's result is kept in memory, and in a :class:`SearchCache` (the pipeline gives the
ledger), so a resumed run repeats no search. Cached items are trimmed to what the select
and export stages read: id, geometry, bbox, properties, datetime and the band assets'
hrefs (absolute), stored zlib-compressed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urljoin

import pystac
from pystac_client import Client, ConformanceClasses
from pystac_client.exceptions import APIError

from exports.source import EARTH_SEARCH_KEYS, PointRequest, SceneFilter
from exports.stac.catalog import BBox
from exports.stac.hrefs import EARTH_SEARCH_ASSET_HOSTS, HrefPolicy
from exports.stac.http import (
    DEFAULT_COLLECTION,
    EARTH_SEARCH_URL,
    HttpSettings,
    RetryingStacApiIO,
    describe_error,
    is_transient,
    open_client,
    resolve_stac_url,
)
from exports.stac.scene_meta import band_key_aliases
from exports.stac.source import StacSource
from lucas.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

Cell = tuple[int, int]  # (column, row) of the cell grid: lon0 = column * cell_deg
CACHE_PREFIX = "stac-search/"
MEMORY_CELLS = 64  # cells whose items stay in memory (a few hundred items each)
_BAND_KEYS = frozenset(
    k for band, es in EARTH_SEARCH_KEYS.items() for k in (es, *band_key_aliases(band))
)


class SearchCache(Protocol):
    """Where search results outlive the process (the pipeline's ledger): text by key."""

    def get(self, key: str) -> str | None:
        """The cached text, or None: then the search is sent."""

    def put(self, key: str, value: str) -> None:
        """Keep a search's result so a resumed run does not send it again."""


class StacApiDiscovery:
    """Items of a STAC API collection, searched cell by cell (an ItemDiscovery).

    A subclass for another product (the radar discovery, :mod:`exports.s1stac.api`) changes
    only the hooks: the cache prefix, how its searches and flags are named, the query added
    to every search, what it keeps of an item.
    """

    cache_prefix = CACHE_PREFIX
    kind = ""  # how messages name the searches ("Sentinel-1 ")
    flags = ("--stac-url", "--collection")  # the flags that fix a bad URL or collection

    def extra_query(self) -> dict[str, Any]:
        """Properties every search also filters on (none for Sentinel-2)."""
        return {}

    def cache_spec(self) -> dict[str, Any]:
        """What else tells this discovery's cached searches apart (none for Sentinel-2:
        the keys of earlier runs stay valid)."""
        return {}

    def trim(self, d: dict[str, Any]) -> dict[str, Any]:
        """What the stages read of an item (see :func:`trim_item`)."""
        return trim_item(d)

    def __init__(
        self,
        url: str,
        collection: str = DEFAULT_COLLECTION,
        *,
        http: HttpSettings | None = None,
        cell_deg: float = 1.0,
        page_size: int = 100,
        cache: SearchCache | None = None,
        refresh: bool = False,
        sleep: Callable[[float], None] | None = None,
        allow_hosts: Sequence[str] = (),
    ) -> None:
        """``refresh``: search again even when the cache has a result (``--force``).

        ``allow_hosts`` (``--allow-hosts``): hosts, besides the API's own (and Earth Search's
        asset bucket), that searches and asset reads may reach even over plain http or at a
        local address; see :func:`api_hrefs`."""
        if not 0.05 <= cell_deg <= 10.0:
            raise ConfigError(f"search cell size {cell_deg}° out of range (0.05 to 10)")
        if not 1 <= page_size <= 10000:
            raise ConfigError(f"search page size {page_size} out of range (1 to 10000)")
        self.url = resolve_stac_url(url)
        self.hrefs = api_hrefs(self.url, allow_hosts)
        self.collection = collection
        self.http = http or HttpSettings()
        self.cell_deg = cell_deg
        self.page_size = page_size
        self.cache = cache
        self.refresh = refresh
        self.searches = 0  # searches sent (each one or more pages)
        self.pages = 0
        self.cache_hits = 0
        self._sleep = sleep
        self._client: Client | None = None
        self._io: RetryingStacApiIO | None = None
        # The last MEMORY_CELLS cells' items: the select stage takes the points in Z-order,
        # so consecutive chunks share cells; older ones come back from the cache.
        self._memory: OrderedDict[str, list[pystac.Item]] = OrderedDict()

    # --- the ItemDiscovery / PointDiscovery interface ----------------------------------
    def items_for_points(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> list[pystac.Item]:
        """Items of ``year`` passing the scene thresholds, in the cells of ``points``."""
        cells = sorted({self.cell_of(p.lon, p.lat) for p in points})
        return self._union(cells, year, scene_filter)

    def items(self, bbox: BBox | None, year: int | None) -> list[pystac.Item]:
        """Items in the cells covering ``bbox`` (no thresholds): for generic callers."""
        if bbox is None or year is None:
            raise ConfigError("a STAC API search needs an area and a year")
        west, south, east, north = bbox
        c0, r0 = self.cell_of(west, south)
        c1, r1 = self.cell_of(east, north)
        cells = [(c, r) for c in range(c0, c1 + 1) for r in range(r0, r1 + 1)]
        return self._union(cells, year, None)

    def cell_of(self, lon: float, lat: float) -> Cell:
        """The search cell of a point: points of one cell share one search."""
        return math.floor(lon / self.cell_deg), math.floor(lat / self.cell_deg)

    def cell_bounds(self, cell: Cell) -> BBox:
        """A cell's bounds, rounded: the same cell always gives the same search and cache key."""
        d = self.cell_deg
        west, south = round(cell[0] * d, 9), round(cell[1] * d, 9)
        return west, south, round(west + d, 9), round(south + d, 9)

    # --- searching ---------------------------------------------------------------------
    def _union(
        self, cells: Sequence[Cell], year: int, scene_filter: SceneFilter | None
    ) -> list[pystac.Item]:
        found: dict[str, pystac.Item] = {}
        for cell in cells:
            for item in self._cell_items(cell, year, scene_filter):
                found.setdefault(item.id, item)  # items on cell edges come back twice
        return [found[k] for k in sorted(found)]

    def _cell_items(
        self, cell: Cell, year: int, scene_filter: SceneFilter | None
    ) -> list[pystac.Item]:
        thresholds = threshold_query(scene_filter)
        key = self.cache_key(cell, year, thresholds)
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        cached = None if self.refresh or self.cache is None else self.cache.get(key)
        dicts = _decoded(cached, key)
        if dicts is not None:
            self.cache_hits += 1
        else:
            dicts = self._search(cell, year, thresholds)
            if self.cache is not None:
                self.cache.put(key, encode_items(dicts))
        items = [pystac.Item.from_dict(d, migrate=True) for d in dicts]
        self._memory[key] = items
        while len(self._memory) > MEMORY_CELLS:
            self._memory.popitem(last=False)
        return items

    def cache_key(self, cell: Cell, year: int, thresholds: dict[str, Any]) -> str:
        """Stable across runs: the cell, the year, the query and where it was sent."""
        spec = {"url": self.url, "collection": self.collection, "cell_deg": self.cell_deg,
                "cell": list(cell), "year": year,
                "query": {**thresholds, **self.extra_query()}, **self.cache_spec()}
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        return f"{self.cache_prefix}{year}/{cell[0]},{cell[1]}/{digest}"

    def _search(self, cell: Cell, year: int, thresholds: dict[str, Any]) -> list[dict[str, Any]]:
        """One paged search of a cell; its items trimmed (see :meth:`trim`)."""
        west, south, east, north = bounds = self.cell_bounds(cell)
        what = f"cell {west:g},{south:g},{east:g},{north:g} in {year}"
        start = time.perf_counter()
        url_flag, collection_flag = self.flags
        try:
            client = self._open()
            search = client.search(
                method="POST",
                collections=[self.collection],
                intersects=_polygon(bounds),
                datetime=f"{year}-01-01T00:00:00Z/{year + 1}-01-01T00:00:00Z",
                limit=self.page_size,
                **self._threshold_args(client, {**thresholds, **self.extra_query()}),
            )
            self.searches += 1
            dicts: list[dict[str, Any]] = []
            for page in search.pages_as_dicts():
                self.pages += 1
                dicts.extend(self.trim(d) for d in page.get("features", []))
        except (APIError, OSError) as e:  # requests' errors are OSErrors
            raise SourceError(
                f"STAC API {self.url}: {self.kind}search of {what} failed: {describe_error(e)}"
                + (" (network or server trouble: the next `etl run` retries)"
                   if is_transient(e) else f" (check {url_flag} and {collection_flag})"),
                transient=is_transient(e),
            ) from e
        except (ValueError, KeyError, TypeError, pystac.STACError) as e:
            raise SourceError(
                f"STAC API {self.url}: {self.kind}search of {what}: unexpected answer ({e}); "
                f"is {url_flag} a STAC API with item search?"
            ) from e
        log.info("STAC %ssearch %s: %d item(s), %.1f s", self.kind, what, len(dicts),
                 time.perf_counter() - start)
        return dicts

    def _open(self) -> Client:
        """The client, opened on the first search (worker processes never search)."""
        if self._client is None:
            self._client, self._io = open_client(self.url, self.http, self._sleep, self.hrefs)
        return self._client

    def _threshold_args(self, client: Client, thresholds: dict[str, Any]) -> dict[str, Any]:
        if not thresholds:
            return {}
        if client.conforms_to(ConformanceClasses.QUERY):
            return {"query": thresholds}
        if client.conforms_to(ConformanceClasses.FILTER):
            return {"filter": threshold_filter(thresholds), "filter_lang": "cql2-json"}
        log.info("%s supports neither query nor filter: thresholds applied locally", self.url)
        return {}

    @property
    def requests_sent(self) -> int:
        """HTTP requests to the API (landing page, search pages, retries)."""
        return self._io.requests_sent if self._io is not None else 0


def api_hrefs(url: str, allow_hosts: Sequence[str] = ()) -> HrefPolicy:
    """Where a STAC API's requests and assets may point: the API's own host and port,
    Earth Search's asset bucket for Earth Search, ``allow_hosts``, and any public https host
    (:mod:`exports.stac.hrefs`); never a local file."""
    known = EARTH_SEARCH_ASSET_HOSTS if url == EARTH_SEARCH_URL else ()
    try:
        return HrefPolicy.build((), [url, *known, *allow_hosts])
    except ValueError as e:
        raise ConfigError(f"--stac-url {url} / --allow-hosts: {e}") from e


def threshold_query(scene_filter: SceneFilter | None) -> dict[str, Any]:
    """The ``query`` of the scene thresholds (strict ``<``; a 100 % threshold is no filter)."""
    if scene_filter is None:
        return {}
    out: dict[str, Any] = {}
    if scene_filter.filters_cloud:
        out["eo:cloud_cover"] = {"lt": scene_filter.max_cloud_cover}
    if scene_filter.filters_nodata:
        out["s2:nodata_pixel_percentage"] = {"lt": scene_filter.max_nodata_percent}
    return out


def threshold_filter(query: dict[str, Any]) -> dict[str, Any]:
    """The same thresholds as a CQL2-JSON ``filter``, for APIs without the query extension."""
    ops = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "<>"}
    args = [
        {"op": ops[op], "args": [{"property": prop}, value]}
        for prop, conditions in sorted(query.items())
        for op, value in sorted(conditions.items())
    ]
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def trim_item(d: dict[str, Any]) -> dict[str, Any]:
    """What later stages read of an item: Earth Search items are ~20 KB, this is ~3 KB."""
    self_href = next(
        (link.get("href") for link in d.get("links", []) if link.get("rel") == "self"), None
    )
    assets = {}
    for key, asset in (d.get("assets") or {}).items():
        if key in _BAND_KEYS and asset.get("href"):
            href = absolute_href(str(asset["href"]), self_href)
            assets[key] = {"href": href, **({"type": asset["type"]} if "type" in asset else {})}
    return trimmed_feature(d, assets)


def absolute_href(href: str, self_href: str | None) -> str:
    """A relative asset href resolved against the item's ``self`` link."""
    if self_href and "://" not in href and not href.startswith("/"):
        return urljoin(self_href, href)
    return href


def trimmed_feature(d: dict[str, Any], assets: dict[str, Any]) -> dict[str, Any]:
    """The item ``d`` with only ``assets``, no links: what a cached search keeps."""
    return {
        "type": "Feature",
        "stac_version": d.get("stac_version", "1.0.0"),
        "stac_extensions": d.get("stac_extensions", []),
        "id": d["id"],
        "geometry": d.get("geometry"),
        "bbox": d.get("bbox"),
        "properties": d.get("properties", {}),
        "assets": assets,
        "links": [],
        **({"collection": d["collection"]} if "collection" in d else {}),
    }


def encode_items(dicts: list[dict[str, Any]]) -> str:
    """Items as compact text for the search cache (sorted keys: the same search, the same text)."""
    blob = json.dumps(dicts, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(blob, 6)).decode("ascii")


def decode_items(text: str) -> list[dict[str, Any]]:
    """The items of :func:`encode_items`; a ValueError when the text is not such a list."""
    data = json.loads(zlib.decompress(base64.b64decode(text)))
    if not isinstance(data, list):
        raise ValueError("a cached STAC search is not a list of items")
    return data


def _decoded(cached: str | None, key: str) -> list[dict[str, Any]] | None:
    """A cached search, or None when absent or unreadable (then it is searched again)."""
    if cached is None:
        return None
    try:
        return decode_items(cached)
    except (ValueError, zlib.error, TypeError) as e:
        log.warning("cached STAC search %s unreadable (%s): searching again", key, e)
        return None


def _polygon(bounds: BBox) -> dict[str, Any]:
    w, s, e, n = bounds
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def api_source(
    url: str,
    collection: str = DEFAULT_COLLECTION,
    *,
    bands: Sequence[str] | None = None,
    http: HttpSettings | None = None,
    cache: SearchCache | None = None,
    refresh: bool = False,
    allow_hosts: Sequence[str] = (),
    **discovery_options: Any,
) -> StacSource:
    """A :class:`~exports.stac.source.StacSource` searching a STAC API, reading over HTTP."""
    http = http or HttpSettings()
    discovery = StacApiDiscovery(url, collection, http=http, cache=cache, refresh=refresh,
                                 allow_hosts=allow_hosts, **discovery_options)
    return StacSource(discovery, bands=bands, gdal_options=http.gdal_options())
