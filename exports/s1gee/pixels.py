"""A point's radar slices in one ``computePixels`` call (or a few), as float32 dB patches.

The request mirrors the Sentinel-2 fast path (:mod:`exports.gee.pixels`, whose grid,
limits and NPY decoding it reuses): the slices' VV and VH stacked with
``ImageCollection.toBands()`` on the point's :class:`~exports.grid.PatchGrid`, fields
``<system:index>_VV`` / ``<system:index>_VH``. Earth Engine resamples onto the grid,
nearest neighbour by default, bilinear with ``--s1-resampling bilinear``
(``Image.resample``). Masked pixels (the swath's edge, beyond the footprint) are filled
with :data:`NODATA_DB`, a value no backscatter in dB takes, and become NaN here; the
values themselves are σ0 dB as Earth Engine computed them, unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import ee
import numpy as np

from exports.gee.npy import NpyAnswer, match_columns, read_npy
from exports.gee.pixels import (
    ComputePixels,
    grid_spec,
    point_images,
    scenes_per_request,
)
from exports.gee.throttle import Throttle
from exports.grid import PatchGrid
from exports.s1.db import db_patch
from exports.s1.options import RESAMPLINGS
from exports.s1.scene import S1_BANDS, S1Scene
from exports.s1.stack import S1Patch
from exports.s1gee.select import COLLECTION
from exports.source import DroppedScene, PointRequest
from lucas.errors import SourceError

log = logging.getLogger(__name__)

NODATA_DB = -9999.0  # masked pixels in the answer; σ0 in dB lies within about -60 .. +40
BYTES_PER_VALUE = 4  # every field is sent as float32


def slices_per_request(grid: PatchGrid) -> int:
    """How many slices (VV + VH each) fit in one request under the computePixels limits."""
    return scenes_per_request(len(S1_BANDS), grid, BYTES_PER_VALUE)


def time_ordered(scenes: Sequence[S1Scene]) -> list[S1Scene]:
    """Slices in the order of the series' time axis."""
    return sorted(scenes, key=lambda s: (s.acquired, s.scene_id))


def plan_requests(scenes: Sequence[S1Scene], grid: PatchGrid) -> list[list[S1Scene]]:
    """The slices of a point in time order, cut into groups that each fit one request."""
    ordered = time_ordered(scenes)
    step = slices_per_request(grid)
    return [ordered[i : i + step] for i in range(0, len(ordered), step)]


def stack_image(point: PointRequest, scenes: Sequence[S1Scene], resampling: str) -> ee.Image:
    """The slices' VV and VH as one float32 image, fields ``<system:index>_<band>``.

    A slice gone from the archive since the selection is missing from the answer (dropped
    with a reason), not the failure of the point.
    """
    if resampling not in RESAMPLINGS:
        raise ValueError(f"unknown resampling {resampling!r}; choose one of {RESAMPLINGS}")
    collection = point_images(COLLECTION, point, [s.scene_id for s in scenes],
                              [s.acquired for s in scenes], S1_BANDS)
    if resampling == "bilinear":
        collection = collection.map(lambda image: ee.Image(image).resample("bilinear"))
    return collection.toBands().unmask(NODATA_DB, False).toFloat()


def pixel_request(
    point: PointRequest, scenes: Sequence[S1Scene], resampling: str
) -> dict[str, Any]:
    """The ``ee.data.computePixels`` parameters of one group of slices."""
    return {
        "expression": stack_image(point, scenes, resampling),
        "fileFormat": "NPY",
        "grid": grid_spec(point.grid),
    }


def split_fields(
    answer: NpyAnswer | np.ndarray | bytes, scenes: Sequence[S1Scene], what: str = "computePixels"
) -> tuple[list[S1Patch], list[DroppedScene]]:
    """Per-slice VV/VH patches (float32 dB, NaN no data) from one computePixels answer.

    A slice missing VV or VH in the answer is dropped with the reason; unknown fields are
    ignored.
    """
    if not isinstance(answer, NpyAnswer):
        answer = read_npy(answer, what)
    columns = match_columns(answer.names, [s.scene_id for s in scenes], S1_BANDS)
    patches: list[S1Patch] = []
    dropped: list[DroppedScene] = []
    for scene in scenes:
        fields = columns.get(scene.scene_id, {})
        missing = [b for b in S1_BANDS if b not in fields]
        if missing:
            reason = f"Earth Engine returned no {', '.join(missing)} for this slice"
            dropped.append(DroppedScene(scene.scene_id, reason, kind="gee_missing_band"))
            continue
        patches.append(S1Patch(
            scene,
            vv=db_patch(answer.column(fields["VV"]), nodata=NODATA_DB),
            vh=db_patch(answer.column(fields["VH"]), nodata=NODATA_DB),
        ))
    return patches, dropped


def fetch_slices(
    point: PointRequest,
    scenes: Sequence[S1Scene],
    resampling: str,
    *,
    compute_pixels: ComputePixels,
    throttle: Throttle,
) -> tuple[list[S1Patch], list[DroppedScene]]:
    """Every slice's patch of one point, and the slices the answer lacked.

    Errors of a request (after the throttle's retries) propagate: the caller turns them
    into a :class:`~exports.source.PointFailure`.
    """
    patches: list[S1Patch] = []
    dropped: list[DroppedScene] = []
    groups = plan_requests(scenes, point.grid)
    for n, group in enumerate(groups, start=1):
        params = pixel_request(point, group, resampling)
        what = f"gee s1 pixels point {point.point_id:08d} ({n}/{len(groups)}, {len(group)} slices)"
        answer = read_npy(throttle.call(partial(compute_pixels, params), what=what), what)
        if answer.shape != (point.grid.size, point.grid.size):
            raise SourceError(f"{what}: computePixels returned shape {answer.shape}")
        got, lost = split_fields(answer, group, what)
        patches.extend(got)
        dropped.extend(lost)
    return patches, dropped
