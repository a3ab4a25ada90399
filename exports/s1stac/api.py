"""Sentinel-1 items from a STAC API (``--s1-stac-url``; Planetary Computer's sentinel-1-rtc).

The Sentinel-2 API discovery (:class:`exports.stac.api.StacApiDiscovery`) with the radar
collection: the same 1° search cells, year ``datetime``, paging, retries and search cache
(keys of their own, ``s1-stac-search/``), no cloud threshold, and the instrument mode pushed
to the server where it takes a ``query`` or a CQL2 ``filter``. Cached items keep what the
radar select stage and the reads need: the ``vv``/``vh`` assets with ``raster:bands`` and
``proj:*``, never a signature.

Planetary Computer's assets are private blobs read with a SAS token that expires within
hours. Tokens are therefore added at read time (:func:`planetary_computer_signer`, the
``planetary_computer`` package's ``sign_inplace``), never at search time: pystac-client's
``modifier`` signs the pages a search returns, which would put tokens into the cached
searches and the ledger's selections, stale in a resumed run. A signature that an API
wrote into its answers anyway is stripped before caching (:func:`unsigned_href`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pystac

from exports.s1.filters import INSTRUMENT_MODE
from exports.s1.options import DEFAULT_COLLECTION
from exports.s1stac.read import Signer
from exports.source import PointRequest
from exports.stac.api import StacApiDiscovery, absolute_href, trimmed_feature

log = logging.getLogger(__name__)

CACHE_PREFIX = "s1-stac-search/"
PLANETARY_COMPUTER_HOST = "planetarycomputer.microsoft.com"
_ASSET_KEYS = frozenset({"vv", "vh", "VV", "VH"})
_ASSET_FIELDS = ("type", "raster:bands", "proj:epsg", "proj:code", "proj:shape",
                 "proj:transform")
# Query parameters of an Azure SAS token (``sig`` marks one).
_SAS_PARAMS = frozenset({"st", "se", "sp", "sv", "sr", "sig", "skoid", "sktid", "skt", "ske",
                         "sks", "skv", "spr", "sip", "ss", "srt", "sdd", "sduoid", "scid"})


def is_planetary_computer(url: str) -> bool:
    """Whether ``url`` is Microsoft Planetary Computer's STAC API (its assets need signing)."""
    host = (urlsplit(url).hostname or "").lower()
    return host == PLANETARY_COMPUTER_HOST or host.endswith("." + PLANETARY_COMPUTER_HOST)


def planetary_computer_signer() -> Signer:
    """An href -> the href with a Planetary Computer SAS token (fetched and cached by the
    ``planetary_computer`` package; hrefs outside its blob storage stay as they are)."""
    import planetary_computer

    def sign(href: str) -> str:
        return str(planetary_computer.sign_inplace(href))

    return sign


def unsigned_href(href: str) -> str:
    """``href`` without the query parameters of a SAS token (other parameters are kept)."""
    parts = urlsplit(href)
    if not parts.query:
        return href
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k == "sig" for k, _ in query):
        return href
    kept = [(k, v) for k, v in query if k not in _SAS_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def trim_s1_item(d: dict[str, Any]) -> dict[str, Any]:
    """What the radar stages read of an item: its VV/VH assets (absolute, unsigned hrefs,
    no-data and projection fields), properties, geometry, collection."""
    self_href = next(
        (link.get("href") for link in d.get("links", []) if link.get("rel") == "self"), None
    )
    assets = {}
    for key, asset in (d.get("assets") or {}).items():
        if key in _ASSET_KEYS and asset.get("href"):
            href = absolute_href(str(asset["href"]), self_href)
            kept = {k: asset[k] for k in _ASSET_FIELDS if k in asset}
            assets[key] = {"href": unsigned_href(href), **kept}
    return trimmed_feature(d, assets)


class S1ApiDiscovery(StacApiDiscovery):
    """Sentinel-1 items of a STAC API collection, searched cell by cell."""

    cache_prefix = CACHE_PREFIX
    kind = "Sentinel-1 "
    flags = ("--s1-stac-url", "--s1-collection")

    def __init__(
        self,
        url: str,
        collection: str = DEFAULT_COLLECTION,
        *,
        instrument_mode: str | None = INSTRUMENT_MODE,
        **options: Any,
    ) -> None:
        """``instrument_mode``: pushed to the server as ``sar:instrument_mode`` (None: not
        sent; the select stage checks it anyway). ``options``: those of the Sentinel-2
        discovery (``http``, ``cell_deg``, ``page_size``, ``cache``, ``refresh``, …)."""
        super().__init__(url, collection, **options)
        self.query: dict[str, Any] = (
            {"sar:instrument_mode": {"eq": instrument_mode}} if instrument_mode else {})

    def items_near(self, points: Sequence[PointRequest], year: int) -> list[pystac.Item]:
        """Items of ``year`` in the search cells of ``points``."""
        cells = sorted({self.cell_of(p.lon, p.lat) for p in points})
        return self._union(cells, year, None)

    def extra_query(self) -> dict[str, Any]:
        """The instrument mode, where the server takes it."""
        return dict(self.query)

    def cache_spec(self) -> dict[str, Any]:
        """Radar searches never share a cache key with Sentinel-2 ones."""
        return {"kind": "s1"}

    def trim(self, d: dict[str, Any]) -> dict[str, Any]:
        """The VV/VH assets, unsigned (see :func:`trim_s1_item`)."""
        return trim_s1_item(d)

