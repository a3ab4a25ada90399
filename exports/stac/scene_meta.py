"""STAC item -> :class:`~exports.source.Scene`: the Sentinel-2 metadata every later step needs.

Earth Search items carry the ESA product identifiers (``s2:datatake_id``, ``s2:product_uri``,
``s2:granule_id``, ``s2:datastrip_id``, ``s2:processing_baseline``); catalogs made by other
tools often do not. Each derived field therefore has a documented fallback, and every use of
a fallback is counted in a :class:`MetaNotes` so the caller can log it once per run instead
of once per item.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pystac

from exports.source import EARTH_SEARCH_KEYS, Scene
from exports.stac.hrefs import HrefPolicy
from lucas.errors import InputFormatError

MetaNotes = Counter[str]  # fallback name -> number of items that used it

BOA_OFFSET = 1000  # added to L2A reflectance from processing baseline 04.00 on (Jan 2022)

_STAMP = r"(\d{8}T\d{6})"
_DATATAKE_ID = re.compile(rf"^G?(S2[A-D])_{_STAMP}_")
_PRODUCT_URI = re.compile(rf"^(S2[A-D])_MSIL\w+?_{_STAMP}_N(\d{{2}})(\d{{2}})_")
_SENSING = re.compile(rf"_S{_STAMP}(?:_|$|\.)")
_BASELINE_TEXT = re.compile(r"^(\d{1,2})\.(\d{2})$")
_BASELINE_SUFFIX = re.compile(r"_N(\d{2})\.(\d{2})$")
_TILE = re.compile(r"^(\d{1,2})([C-X])([A-Z]{2})$")
_URI_TILE = re.compile(r"_T(\d{2}[C-X][A-Z]{2})_")


class SceneMetadataError(InputFormatError):
    """An item lacks a property the select stage cannot do without (a "bad metadata" drop)."""


class RefusedHrefError(SceneMetadataError):
    """An asset href the run's :class:`HrefPolicy` refuses (a "refused_href" drop)."""


def scene_from_item(
    item: pystac.Item, notes: MetaNotes | None = None, hrefs: HrefPolicy | None = None
) -> Scene:
    """Describe one STAC item as a Scene; raises SceneMetadataError naming the missing
    property (RefusedHrefError: an asset href that ``hrefs`` refuses)."""
    props = item.properties
    notes = notes if notes is not None else Counter()
    acquired = _acquired(item)
    tile = _tile(props)
    if tile is None:
        raise SceneMetadataError(f"item {item.id}: no MGRS tile (s2:mgrs_tile, grid:code, mgrs:*)")
    return Scene(
        scene_id=item.id,
        image_id=image_id(props, acquired, tile, notes),
        acquired=acquired,
        datatake=datatake_key(props, acquired, notes),
        tile=tile,
        epsg=_epsg(item, tile),
        cloud_cover=_percent(item, "eo:cloud_cover"),
        nodata_percent=_percent(item, "s2:nodata_pixel_percentage"),
        assets=band_assets(item, hrefs),
        boa_offset=boa_offset(props, notes),
        product_id=product_id(props),
    )


_PRODUCT_NAME = re.compile(r"^(S2[A-D]_MSIL2A_\d{8}T\d{6}_N\d{4}_R\d{3}_T\d{2}[C-X][A-Z]{2})")


def product_id(props: Mapping[str, Any]) -> str:
    """The ESA product name without its generation time (``S2A_MSIL2A_20170613T101031_N0205_
    R022_T33UUP``, from ``s2:product_uri``): BigEarthNet's patch ids start with it."""
    match = _PRODUCT_NAME.match(str(props.get("s2:product_uri") or ""))
    return match.group(1) if match else ""


def image_id(props: Mapping[str, Any], acquired: datetime, tile: str, notes: MetaNotes) -> str:
    """Earth Engine ``system:index``: datatake start _ granule sensing start _ T<tile>."""
    start = _datatake_start(props)
    if start is None:
        notes["Image_ID datatake time from item datetime"] += 1
        start = _stamp(acquired)
    sensing = None
    for key in ("s2:granule_id", "s2:datastrip_id"):
        match = _SENSING.search(str(props.get(key) or ""))
        if match:
            sensing = match.group(1)
            break
    if sensing is None:
        notes["Image_ID granule time from item datetime"] += 1
        sensing = _stamp(acquired)
    return f"{start}_{sensing}_T{tile}"


def datatake_key(props: Mapping[str, Any], acquired: datetime, notes: MetaNotes) -> str:
    """Key shared by the tiles of one datatake: s2:datatake_id without its processing baseline
    (a reprocessed copy, ``…_N05.00`` beside ``…_N02.06``, is the same acquisition), else
    platform + start time."""
    datatake_id = props.get("s2:datatake_id")
    if datatake_id:
        return _BASELINE_SUFFIX.sub("", str(datatake_id))
    uri = _PRODUCT_URI.match(str(props.get("s2:product_uri") or ""))
    if uri:
        return f"{uri.group(1)}_{uri.group(2)}"
    notes["datatake key from platform + item datetime"] += 1
    rounded = (acquired + timedelta(milliseconds=500)).replace(microsecond=0)
    return f"{_platform(props)}_{_stamp(rounded)}"


def boa_offset(props: Mapping[str, Any], notes: MetaNotes) -> int:
    """1000 for baseline >= 04.00 unless the catalog says it already removed it, else 0."""
    if props.get("earthsearch:boa_offset_applied") is True:
        return 0
    baseline = processing_baseline(props)
    if baseline is None:
        notes["no processing baseline, BOA offset assumed 0"] += 1
        return 0
    return BOA_OFFSET if baseline >= (4, 0) else 0


def processing_baseline(props: Mapping[str, Any]) -> tuple[int, int] | None:
    """(major, minor) from s2:processing_baseline, the product URI's N0xxx or the datatake id."""
    text = _BASELINE_TEXT.match(str(props.get("s2:processing_baseline") or "").strip())
    if text:
        return int(text.group(1)), int(text.group(2))
    uri = _PRODUCT_URI.match(str(props.get("s2:product_uri") or ""))
    if uri:
        return int(uri.group(3)), int(uri.group(4))
    suffix = _BASELINE_SUFFIX.search(str(props.get("s2:datatake_id") or ""))
    if suffix:
        return int(suffix.group(1)), int(suffix.group(2))
    return None


def band_assets(item: pystac.Item, hrefs: HrefPolicy | None = None) -> dict[str, str]:
    """Band name -> absolute href: Earth Search keys, else keys named like the band (B04, B4).

    With ``hrefs``, an href it refuses (outside the catalog, a host not allowed) raises
    RefusedHrefError naming the item, the asset, the href and the flag that allows it.
    """
    out: dict[str, str] = {}
    for band, es_key in EARTH_SEARCH_KEYS.items():
        for key in (es_key, *band_key_aliases(band)):
            asset = item.assets.get(key)
            if asset is not None:
                href = asset.get_absolute_href() or asset.href
                why = hrefs.refusal(href) if hrefs is not None else None
                if why is not None:
                    raise RefusedHrefError(f"item {item.id}: asset {key} href {href} "
                                           f"refused: {why}")
                out[band] = href
                break
    return out


def band_key_aliases(band: str) -> tuple[str, ...]:
    """Asset keys that name a band directly: "B4", "B04", "b04", "SCL", "scl"."""
    if band == "SCL":
        return ("SCL", "scl")
    digits = band[1:]
    padded = digits.zfill(2) if digits[-1].isdigit() else digits.zfill(3)
    names = {band, f"B{padded}"}
    return tuple(sorted(names | {n.lower() for n in names}))


def _acquired(item: pystac.Item) -> datetime:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise SceneMetadataError(f"item {item.id}: no datetime")
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _tile(props: Mapping[str, Any]) -> str | None:
    candidates = [
        str(props.get("s2:mgrs_tile") or ""),
        str(props.get("grid:code") or "").removeprefix("MGRS-"),
        "{}{}{}".format(
            props.get("mgrs:utm_zone", ""),
            props.get("mgrs:latitude_band", ""),
            props.get("mgrs:grid_square", ""),
        ),
    ]
    uri = _URI_TILE.search(str(props.get("s2:product_uri") or ""))
    if uri:
        candidates.append(uri.group(1))
    for text in candidates:
        match = _TILE.match(text.strip().upper().removeprefix("T"))
        if match:
            return f"{int(match.group(1)):02d}{match.group(2)}{match.group(3)}"
    return None


def _epsg(item: pystac.Item, tile: str) -> int:
    """proj:epsg (projection ext v1) or proj:code (v2, what pystac migrates to), else the tile."""
    props = item.properties
    if isinstance(props.get("proj:epsg"), int):
        return int(props["proj:epsg"])
    code = str(props.get("proj:code") or "")
    if code.upper().startswith("EPSG:") and code[5:].isdigit():
        return int(code[5:])
    zone, band = int(tile[:2]), tile[2]
    return (32600 if band >= "N" else 32700) + zone


def _percent(item: pystac.Item, key: str) -> float:
    value = item.properties.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SceneMetadataError(f"item {item.id}: no numeric {key}")
    return float(value)


def _datatake_start(props: Mapping[str, Any]) -> str | None:
    match = _DATATAKE_ID.match(str(props.get("s2:datatake_id") or ""))
    if match:
        return match.group(2)
    uri = _PRODUCT_URI.match(str(props.get("s2:product_uri") or ""))
    return uri.group(2) if uri else None


def _platform(props: Mapping[str, Any]) -> str:
    platform = str(props.get("platform") or "").lower()
    if platform.startswith("sentinel-2") and len(platform) == 11:
        return f"S2{platform[-1].upper()}"
    for key, pattern in (("s2:datatake_id", _DATATAKE_ID), ("s2:product_uri", _PRODUCT_URI)):
        match = pattern.match(str(props.get(key) or ""))
        if match:
            return match.group(1)
    return platform or "S2"


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%S")
