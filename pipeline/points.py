"""From ingested LUCAS points to the requests the imagery sources understand."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

import pandas as pd

from exports.grid import patch_grid
from exports.source import PointRequest

T = TypeVar("T")


def point_requests(points: pd.DataFrame) -> list[PointRequest]:
    """One request per point, on its patch grid, in spatial (UTM zone, Morton) order.

    Consecutive points are then neighbours on the LAEA grid, so a batch of them shares most
    scenes and COG blocks (each asset is opened once per batch, its blocks read once).
    """
    requests = [
        PointRequest(int(pid), float(lat), float(lon), patch_grid(float(lat), float(lon)))
        for pid, lat, lon in zip(
            points["point_id"], points["th_lat"], points["th_long"], strict=True
        )
    ]
    return sorted(requests, key=lambda r: (r.grid.epsg, morton_key(r.point_id), r.point_id))


def morton_key(point_id: int) -> int:
    """Z-order of a POINT_ID's LAEA grid position (XXXX km east, YYYY km north)."""
    x, y = divmod(int(point_id), 10_000)
    key = 0
    for bit in range(14):
        key |= ((x >> bit) & 1) << (2 * bit + 1) | ((y >> bit) & 1) << (2 * bit)
    return key


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def point_key(year: int, country: str, point_id: int) -> str:
    """Ledger key of a point unit."""
    return f"{year}/{country}/{point_id:08d}"


def country_prefix(year: int, country: str) -> str:
    return f"{year}/{country}/"
