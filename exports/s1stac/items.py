"""STAC item -> :class:`~exports.s1.scene.S1Scene`: what the radar select stage needs of an item.

Pure functions of an item's metadata (no pixel is read): the slice's time, datatake, orbit,
platform, backscatter convention, asset hrefs and no-data value, and why an item cannot be
used at all (bad metadata, a refused href, an unknown convention). The scene filters (year,
mode, polarisations, orbit) are :func:`exports.s1.filters.drop_reason`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pystac
import shapely
from shapely.geometry import shape

from exports.s1.filters import Drop, drop_reason
from exports.s1.scene import (
    GAMMA0_DB,
    S1_BANDS,
    SIGMA0_DB,
    S1Scene,
    datatake_key,
    orbit_pass_name,
    platform_name,
)
from exports.stac.hrefs import HrefPolicy

RTC_COLLECTION = "sentinel-1-rtc"
# sar:product_type -> convention of the COG values (before the conversion to dB).
PRODUCT_CONVENTIONS: Mapping[str, str] = {"RTC": GAMMA0_DB, "GRD": SIGMA0_DB}
UNKNOWN_CONVENTION = "unknown backscatter convention (set sar:product_type RTC or GRD)"
# Asset keys of each polarisation: Planetary Computer's lower case first.
ASSET_KEYS: Mapping[str, tuple[str, ...]] = {"VV": ("vv", "VV"), "VH": ("vh", "VH")}
_MISSION = re.compile(r"^(S1[A-D])_")
# Relative orbit from absolute orbit: S1A and S1B repeat every 175 orbits, from these offsets.
_ORBIT_OFFSETS = {"sentinel-1a": 73, "sentinel-1b": 27}


class ItemMetadataError(ValueError):
    """An item lacks a property the radar select stage cannot do without."""

    def __init__(self, message: str, kind: str = "bad_metadata") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class S1CatalogItem:
    """An item as the radar select stage sees it: its slice and footprint, or why not."""

    item_id: str
    scene: S1Scene | None
    footprint: shapely.Geometry | None  # WGS84
    drop: Drop | None = None  # (kind, reason) when the item serves no point at all


def expected_convention(collection: str | None) -> str:
    """The convention a collection's items are expected to have (before any is seen)."""
    name = (collection or RTC_COLLECTION).lower()
    return SIGMA0_DB if "grd" in name and "rtc" not in name else GAMMA0_DB


def item_convention(
    item_id: str, properties: Mapping[str, Any], collection: str | None
) -> str:
    """``gamma0_db`` (RTC) or ``sigma0_db`` (GRD σ0) from ``sar:product_type``; without it,
    γ0 for Planetary Computer's sentinel-1-rtc items (collection or an ``_rtc`` id).

    Raises ItemMetadataError (kind ``unknown_convention``) when neither says."""
    product = properties.get("sar:product_type")
    if product is not None:
        convention = PRODUCT_CONVENTIONS.get(str(product).strip().upper())
        if convention is None:
            raise ItemMetadataError(
                f"sar:product_type {product}: not RTC or GRD backscatter; "
                f"{UNKNOWN_CONVENTION}", "unknown_convention")
        return convention
    if (collection or "").lower() == RTC_COLLECTION or item_id.lower().endswith("_rtc"):
        return GAMMA0_DB
    raise ItemMetadataError(UNKNOWN_CONVENTION, "unknown_convention")


def describe_items(
    items: Iterable[pystac.Item], year: int, orbit: str, hrefs: HrefPolicy | None = None
) -> list[S1CatalogItem]:
    """Each item's slice and footprint, with the first reason it cannot serve any point."""
    return [describe_item(item, year, orbit, hrefs) for item in items]


def describe_item(
    item: pystac.Item, year: int, orbit: str, hrefs: HrefPolicy | None = None
) -> S1CatalogItem:
    """One item (see :func:`describe_items`)."""
    try:
        footprint = shape(item.geometry) if item.geometry else None
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        return S1CatalogItem(item.id, None, None,
                             ("bad_metadata", f"bad metadata: item {item.id}: geometry ({e})"))
    if footprint is None or footprint.is_empty:
        return S1CatalogItem(item.id, None, None,
                             ("bad_metadata", f"bad metadata: item {item.id}: no geometry"))
    try:
        scene = scene_from_item(item, hrefs)
    except ItemMetadataError as e:
        reason = str(e) if e.kind != "bad_metadata" else f"bad metadata: {e}"
        return S1CatalogItem(item.id, None, footprint, (e.kind, reason))
    props = item.properties
    present = [pol for pol in S1_BANDS if pol in scene.assets]
    declared = props.get("sar:polarizations")
    polarisations = present if not isinstance(declared, list) else [
        str(p) for p in declared if str(p).strip().upper() in present]
    drop = drop_reason(
        acquired=scene.acquired, year=year,
        instrument_mode=_text(props.get("sar:instrument_mode")),
        polarisations=polarisations, orbit_pass=scene.orbit_pass, orbit_filter=orbit)
    if drop is not None and drop[0] == "missing_polarisation":
        drop = (drop[0], _polarisation_reason(scene, declared))
    return S1CatalogItem(item.id, scene, footprint, drop)


def scene_from_item(item: pystac.Item, hrefs: HrefPolicy | None = None) -> S1Scene:
    """The slice an item describes; ItemMetadataError names what is missing (kind
    ``refused_href`` for an href that ``hrefs`` refuses, ``unknown_convention``)."""
    props = item.properties
    acquired = _acquired(item)
    platform = _platform(item.id, props)
    relative_orbit = _relative_orbit(item.id, props, platform)
    state = _text(props.get("sat:orbit_state"))
    if state is None or orbit_pass_name(state) not in ("ASCENDING", "DESCENDING"):
        raise ItemMetadataError(f"item {item.id}: no sat:orbit_state (ascending/descending)")
    assets = polarisation_assets(item, hrefs)
    return S1Scene(
        scene_id=item.id,
        acquired=acquired,
        datatake=datatake_key(item.id, platform, acquired, relative_orbit),
        orbit_pass=orbit_pass_name(state),
        relative_orbit=relative_orbit,
        platform=platform,
        convention=item_convention(item.id, props, item.collection_id),
        epsg=item_epsg(item),
        assets=assets,
        nodata=asset_nodata(item),
    )


def polarisation_assets(item: pystac.Item, hrefs: HrefPolicy | None = None) -> dict[str, str]:
    """``{"VV": href, "VH": href}`` (absolute) of the assets present; an href ``hrefs``
    refuses raises ItemMetadataError (kind ``refused_href``)."""
    out: dict[str, str] = {}
    for pol, keys in ASSET_KEYS.items():
        for key in keys:
            asset = item.assets.get(key)
            if asset is None:
                continue
            href = asset.get_absolute_href() or asset.href
            why = hrefs.refusal(href) if hrefs is not None else None
            if why is not None:
                raise ItemMetadataError(
                    f"item {item.id}: asset {key} href {href} refused: {why}", "refused_href")
            out[pol] = href
            break
    return out


def item_epsg(item: pystac.Item) -> int | None:
    """``proj:epsg`` or ``proj:code`` (``EPSG:32633``) of the item, else of its vv asset."""
    sources: list[Mapping[str, Any]] = [item.properties]
    for key in ("vv", "VV", "vh", "VH"):
        if key in item.assets:
            sources.append(item.assets[key].extra_fields)
    for fields in sources:
        epsg = fields.get("proj:epsg")
        if isinstance(epsg, int) and not isinstance(epsg, bool):
            return epsg
        code = str(fields.get("proj:code") or "")
        if code.upper().startswith("EPSG:") and code[5:].isdigit():
            return int(code[5:])
    return None


def asset_nodata(item: pystac.Item) -> float | None:
    """``raster:bands[0].nodata`` of the vv (else vh) asset, if it is a number."""
    for key in ("vv", "VV", "vh", "VH"):
        asset = item.assets.get(key)
        if asset is None:
            continue
        bands = asset.extra_fields.get("raster:bands")
        if isinstance(bands, list) and bands and isinstance(bands[0], dict):
            value = bands[0].get("nodata")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str) and value.lower() == "nan":
                return float("nan")
    return None


def _polarisation_reason(scene: S1Scene, declared: object) -> str:
    missing = [pol for pol in S1_BANDS if pol not in scene.assets]
    if missing:
        keys = ", ".join(ASSET_KEYS[p][0] for p in missing)
        return (f"missing polarisation {', '.join(missing)}: no asset {keys} (both VV and VH "
                "are needed)")
    have = ", ".join(str(p) for p in declared) if isinstance(declared, list) else ""
    return f"missing polarisation: sar:polarizations [{have}] (both VV and VH are needed)"


def _acquired(item: pystac.Item) -> datetime:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise ItemMetadataError(f"item {item.id}: no datetime")
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _platform(item_id: str, props: Mapping[str, Any]) -> str:
    text = _text(props.get("platform"))
    if text is not None:
        return platform_name(text)
    match = _MISSION.match(item_id)
    if match:
        return platform_name(match.group(1))
    raise ItemMetadataError(f"item {item_id}: no platform (sentinel-1a, …)")


def _relative_orbit(item_id: str, props: Mapping[str, Any], platform: str) -> int:
    value = props.get("sat:relative_orbit")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    absolute = props.get("sat:absolute_orbit")
    offset = _ORBIT_OFFSETS.get(platform)
    if isinstance(absolute, int) and not isinstance(absolute, bool) and offset is not None:
        return (absolute - offset) % 175 + 1
    raise ItemMetadataError(f"item {item_id}: no sat:relative_orbit")


def _text(value: object) -> str | None:
    return str(value).strip() if isinstance(value, str) and value.strip() else None


def first_of_each(scenes: Sequence[S1Scene]) -> dict[str, str]:
    """Convention -> the id of the first slice of it (for the mixed-convention error)."""
    out: dict[str, str] = {}
    for s in sorted(scenes, key=lambda s: s.scene_id):
        out.setdefault(s.convention, s.scene_id)
    return out
