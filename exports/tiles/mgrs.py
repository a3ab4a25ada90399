"""MGRS tile ids (``33UUP``) as Sentinel-2 names its granules, checked and placed in UTM."""

from __future__ import annotations

import re

from lucas.errors import ConfigError

# Zone 01–60, latitude band C–X without I and O, 100 km square: column A–Z without I, O;
# row A–V without I, O.
_TILE = re.compile(r"^T?(\d{2})([C-HJ-NP-X])([A-HJ-NP-Z])([A-HJ-NP-V])$")


def parse_tile(text: str, where: str = "--tiles") -> str:
    """``33UUP`` from ``33UUP``, ``T33UUP`` or ``33uup``; anything else is refused naming it."""
    value = text.strip().upper()
    match = _TILE.match(value)
    if match is None or not 1 <= int(match.group(1)) <= 60:
        raise ConfigError(f"{where}: '{text}' is not an MGRS tile id; give the 5 characters "
                          "Sentinel-2 names its tiles with, e.g. 33UUP (zone 01-60, latitude "
                          "band C-X, 100 km square)")
    return "".join(match.groups())


def parse_tiles(text: str, where: str = "--tiles") -> tuple[str, ...]:
    """Comma-separated tile ids, each checked, duplicates dropped, order kept."""
    tiles = [parse_tile(part, where) for part in text.split(",") if part.strip()]
    if not tiles:
        raise ConfigError(f"{where}: no tile given; e.g. --tiles 33UUP,29SND")
    return tuple(dict.fromkeys(tiles))


def tile_epsg(tile: str) -> int:
    """The WGS84 UTM EPSG code of a tile (bands C–M south: 327xx; N–X north: 326xx)."""
    zone, band = int(tile[:2]), tile[2]
    return (32600 if band >= "N" else 32700) + zone
