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


# The MGRS 100 km square letters: columns in three sets by zone, rows A–V (offset by five
# letters in even zones), latitude bands of 8° from 80°S.
_COLUMNS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
_ROWS = "ABCDEFGHJKLMNPQRSTUV"
_BANDS = "CDEFGHJKLMNPQRSTUVWX"
SQUARE_M = 100_000.0


def square_origin(tile: str) -> tuple[float, float]:
    """(west, south) of a tile's 100 km MGRS square in its UTM zone, metres.

    Why: a STAC API is searched by area; the Sentinel-2 tile is this square grown by
    9.8 km to the east and south (its exact corner comes from its rasters)."""
    from pyproj import Transformer

    zone, band, column, row = int(tile[:2]), tile[2], tile[3], tile[4]
    west = (_COLUMNS[(zone - 1) % 3].index(column) + 1) * SQUARE_M
    offset = 5 if zone % 2 == 0 else 0
    south = ((_ROWS.index(row) - offset) % 20) * SQUARE_M
    lat_min = -80.0 + 8.0 * _BANDS.index(band)
    central = -183.0 + 6.0 * zone
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{tile_epsg(tile)}", always_xy=True)
    _, band_south = to_utm.transform(central, lat_min)
    while south + SQUARE_M < band_south:  # the 2,000 km row cycle the band falls in
        south += 2_000_000.0
    return west, south


def tile_bbox(tile: str, margin_m: float = 10_000.0) -> tuple[float, float, float, float]:
    """WGS84 (west, south, east, north) around the tile's square plus ``margin_m``."""
    from pyproj import Transformer

    west, south = square_origin(tile)
    to_wgs84 = Transformer.from_crs(f"EPSG:{tile_epsg(tile)}", "EPSG:4326", always_xy=True)
    xs = [west - margin_m, west + SQUARE_M + margin_m]
    ys = [south - margin_m, south + SQUARE_M + margin_m]
    lons, lats = zip(*(to_wgs84.transform(x, y) for x in xs for y in ys), strict=True)
    return (min(lons), min(lats), max(lons), max(lats))
