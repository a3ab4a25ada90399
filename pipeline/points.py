"""From ingested LUCAS points to the requests the imagery sources understand."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

import pandas as pd

from exports.grid import patch_grid
from exports.source import PointRequest

T = TypeVar("T")


def point_requests(points: pd.DataFrame) -> list[PointRequest]:
    """One request per point, on its patch grid, ordered by POINT_ID.

    POINT_ID order is west→east then south→north on the LAEA grid, so consecutive points are
    neighbours and a batch of them shares most scenes (each asset is opened once per batch).
    """
    ordered = points.sort_values("point_id")
    return [
        PointRequest(int(pid), float(lat), float(lon), patch_grid(float(lat), float(lon)))
        for pid, lat, lon in zip(
            ordered["point_id"], ordered["th_lat"], ordered["th_long"], strict=True
        )
    ]


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def point_key(year: int, country: str, point_id: int) -> str:
    """Ledger key of a point unit."""
    return f"{year}/{country}/{point_id:08d}"


def country_prefix(year: int, country: str) -> str:
    return f"{year}/{country}/"
