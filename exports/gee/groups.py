"""Which points share one batch export task: neighbours of one patch-grid CRS.

Why groups: Earth Engine runs about 2 batch tasks of a project at once (the default
quota), so one task per point would take months for a continent; a task per group of a
hundred or more points divides the fixed cost of a task (queueing, start-up, writing) by
the group's size. Why neighbours: the points of a group share most of their scenes, so the
task loads each scene once for many points. Why one CRS: every point's patch is sampled on
its own UTM zone's 10 m lattice, and a group is sampled in one projection.

Order within a CRS is the Z-order (Morton) of 1 km cells of the patch's upper-left corner,
which keeps consecutive points close together; the ordered list is then cut into
``ceil(n / size)`` groups of near-equal size (e.g. 300 points at most 256 a group: 150 +
150, not 256 + 44).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from exports.gee.options import DEFAULT_GROUP_SIZE
from exports.source import PointRequest, Scene

CELL_M = 1000.0  # LUCAS points are 2 km apart: one point per cell, neighbours in Z-order

Item = TypeVar("Item", bound=tuple[PointRequest, Sequence[Scene]])


def morton(col: int, row: int) -> int:
    """The Z-order key of a cell: the bits of column and row interleaved."""
    key = 0
    for bit in range(32):
        key |= ((col >> bit) & 1) << (2 * bit) | ((row >> bit) & 1) << (2 * bit + 1)
    return key


def _key(point: PointRequest) -> tuple[int, int]:
    grid = point.grid
    col = int(grid.x_min // CELL_M) & 0xFFFFFFFF
    row = int(-grid.y_max // CELL_M) & 0xFFFFFFFF  # rows grow southwards
    return morton(col, row), point.point_id


def even_chunks(items: Sequence[Item], size: int) -> list[list[Item]]:
    """``items`` cut in order into the fewest chunks of at most ``size``, sizes within 1."""
    if not items:
        return []
    count = math.ceil(len(items) / max(size, 1))
    base, extra = divmod(len(items), count)
    chunks, start = [], 0
    for i in range(count):
        end = start + base + (1 if i < extra else 0)
        chunks.append(list(items[start:end]))
        start = end
    return chunks


def group_points(items: Sequence[Item], size: int = DEFAULT_GROUP_SIZE) -> list[list[Item]]:
    """The points of ``items`` in groups of at most ``size`` neighbours of one CRS each,
    deterministic (the same points always give the same groups)."""
    by_crs: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        by_crs[item[0].grid.epsg].append(item)
    groups: list[list[Item]] = []
    for epsg in sorted(by_crs):
        ordered = sorted(by_crs[epsg], key=lambda item: _key(item[0]))
        groups.extend(even_chunks(ordered, size))
    return groups
