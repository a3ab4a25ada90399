"""The fast path: a point's whole time series in one ``computePixels`` call (or a few).

The request is the stack ``ImageCollection.toBands()`` of the point's scenes on the point's
:class:`~exports.grid.PatchGrid` (64×64 at 10 m in its UTM zone; Earth Engine reprojects
scenes of another zone and upsamples 20 m bands, nearest neighbour by default), as NPY:
a structured array with one field per ``<system:index>_<band>``. ``unmask(0).toUint16()``
gives every field one dtype and encodes no-data as 0 (the project's convention).

A request holds at most 1024 bands and 48 MB (the computePixels limits), so long series
are split into several requests. The call itself is injected (``compute_pixels``), as in
Xee, so tests replace it.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import ee
import numpy as np
from affine import Affine

from exports.gee.npy import NpyAnswer, match_columns, read_npy
from exports.gee.select import COLLECTION
from exports.gee.throttle import Throttle
from exports.grid import PatchGrid
from exports.source import DroppedScene, PointRequest, Scene, band_dtype
from exports.stack import ScenePatch
from lucas.errors import SourceError

log = logging.getLogger(__name__)

MAX_BANDS = 1024
MAX_BYTES = 48 * 1024 * 1024
BYTES_PER_VALUE = 2  # every field is sent as uint16
NPY_MAX_HEADER = 1 << 20

ComputePixels = Callable[[dict[str, Any]], Any]


def scenes_per_request(
    n_bands: int, grid: PatchGrid, bytes_per_value: int = BYTES_PER_VALUE
) -> int:
    """How many scenes of ``n_bands`` bands fit in one request under both limits."""
    per_scene = grid.size * grid.size * bytes_per_value * n_bands
    return max(1, min(MAX_BANDS // n_bands, MAX_BYTES // per_scene))


def time_ordered(scenes: Sequence[Scene]) -> list[Scene]:
    """Scenes in the order of the stack's time axis, so band ``i`` of a request is scene ``i``."""
    return sorted(scenes, key=lambda s: (s.acquired, s.image_id))


def plan_requests(
    scenes: Sequence[Scene], bands: Sequence[str], grid: PatchGrid
) -> list[list[Scene]]:
    """The scenes of a point in time order, cut into groups that each fit one request."""
    ordered = time_ordered(scenes)
    step = scenes_per_request(len(bands), grid)
    return [ordered[i : i + step] for i in range(0, len(ordered), step)]


def stack_image(point: PointRequest, scenes: Sequence[Scene], bands: Sequence[str]) -> ee.Image:
    """The scenes' bands as one image, fields named ``<system:index>_<band>``."""
    images = point_images(COLLECTION, point, [s.image_id for s in scenes],
                          [s.acquired for s in scenes], bands)
    return images.toBands().unmask(0, False).toUint16()


def point_images(
    collection: str,
    point: PointRequest,
    ids: Sequence[str],
    times: Sequence[datetime],
    bands: Sequence[str],
) -> ee.ImageCollection:
    """The images ``ids`` (``system:index``) of ``collection`` over the point, ``bands``
    selected (every Earth Engine source's stack, before it is typed).

    The spatial and date filters come first so the ``system:index`` filter only scans the
    few images over the point.
    """
    # Whole seconds around the span: float timestamps must not shave off an edge image.
    start = math.floor(min(times).timestamp()) - 1
    end = math.ceil(max(times).timestamp()) + 1
    return (
        ee.ImageCollection(collection)
        .filterBounds(ee.Geometry.Point([point.lon, point.lat]))
        .filterDate(start * 1000, end * 1000)
        .filter(ee.Filter.inList("system:index", ids))
        .select(list(bands))
    )


def grid_spec(grid: PatchGrid) -> dict[str, Any]:
    """The computePixels ``grid`` of a patch: its size, affine transform and CRS."""
    transform = Affine(grid.pixel, 0.0, grid.x_min, 0.0, -grid.pixel, grid.y_max)
    return affine_grid(grid.crs, transform, grid.size, grid.size)


def affine_grid(crs: str, transform: Affine, width: int, height: int) -> dict[str, Any]:
    """The computePixels ``grid`` of any raster: ``width`` × ``height`` pixels of
    ``transform`` (its upper-left corner and pixel size) in ``crs`` (``EPSG:…``)."""
    return {
        "dimensions": {"width": width, "height": height},
        "affineTransform": {
            "scaleX": transform.a,
            "shearX": transform.b,
            "translateX": transform.c,
            "shearY": transform.d,
            "scaleY": transform.e,
            "translateY": transform.f,
        },
        "crsCode": crs,
    }


def pixel_request(
    point: PointRequest, scenes: Sequence[Scene], bands: Sequence[str]
) -> dict[str, Any]:
    """The ``ee.data.computePixels`` parameters of one group of scenes."""
    return {
        "expression": stack_image(point, scenes, bands),
        "fileFormat": "NPY",
        "grid": grid_spec(point.grid),
    }


def load_array(data: Any) -> np.ndarray:
    """NPY bytes (fileFormat NPY) or an already decoded array (NUMPY_NDARRAY), as numpy
    reads it: for small answers (a block, a label map); a point's stack uses
    :func:`~exports.gee.npy.read_npy`."""
    if isinstance(data, np.ndarray):
        return data
    # 1024 fields named "<system:index>_<band>" make a ~60 kB header, above numpy's default
    # 10 kB guard (which would refuse every full-size answer); still bounded, no pickles.
    return np.load(io.BytesIO(data), allow_pickle=False, max_header_size=NPY_MAX_HEADER)


def split_fields(
    answer: NpyAnswer | np.ndarray | bytes,
    scenes: Sequence[Scene],
    bands: Sequence[str],
    what: str = "computePixels",
) -> tuple[list[ScenePatch], list[DroppedScene]]:
    """Per-scene patches (band -> 2-D array, SCL as u1) from one computePixels answer.

    A field ``<prefix>_<band>`` belongs to the scene whose ``system:index`` is the prefix
    (or ends it, should the server prepend a collection index). Scenes missing a band in
    the answer are dropped with the reason; unknown fields are ignored. Each band of every
    scene is gathered in one numpy operation (the patches are views of it).
    """
    if not isinstance(answer, NpyAnswer):
        answer = read_npy(answer, what)
    columns = match_columns(answer.names, [s.image_id for s in scenes], bands)
    dtype = band_dtype(bands)
    names = dtype.names or ()
    complete: list[Scene] = []
    dropped: list[DroppedScene] = []
    for scene in scenes:
        fields = columns.get(scene.image_id, {})
        missing = [b for b in names if b not in fields]
        if missing:
            reason = f"Earth Engine returned no {', '.join(missing)} for this scene"
            dropped.append(DroppedScene(scene.scene_id, reason, kind="gee_missing_band"))
        else:
            complete.append(scene)
    if not complete:
        return [], dropped
    by_band = {
        b: answer.gather([columns[s.image_id][b] for s in complete]).astype(dtype[b], copy=False)
        for b in names
    }
    patches = [
        ScenePatch(scene, {b: by_band[b][t] for b in names}) for t, scene in enumerate(complete)
    ]
    return patches, dropped


@dataclass(frozen=True)
class Answer:
    """One request's raw answer with what it asked for: decoded later, off the request pool."""

    scenes: Sequence[Scene]
    data: Any  # NPY bytes (or an array, NUMPY_NDARRAY)
    what: str  # names the point and the group in errors


def request_answers(
    point: PointRequest,
    scenes: Sequence[Scene],
    bands: Sequence[str],
    *,
    compute_pixels: ComputePixels,
    throttle: Throttle,
) -> list[Answer]:
    """The raw answers of every request of one point (no decoding: the request thread is
    free for the next point as soon as the bytes are in).

    Errors of a request (after the throttle's retries) propagate: the caller turns them
    into a :class:`~exports.source.PointFailure`.
    """
    answers: list[Answer] = []
    groups = plan_requests(scenes, bands, point.grid)
    for n, group in enumerate(groups, start=1):
        params = pixel_request(point, group, bands)
        what = f"gee pixels point {point.point_id:08d} ({n}/{len(groups)}, {len(group)} scenes)"
        answers.append(Answer(group, throttle.call(partial(compute_pixels, params), what=what),
                              what))
    return answers


def decode_answers(
    point: PointRequest, answers: Sequence[Answer], bands: Sequence[str]
) -> tuple[list[ScenePatch], list[DroppedScene]]:
    """Every scene's patch from a point's answers, and the scenes the answers lacked."""
    patches: list[ScenePatch] = []
    dropped: list[DroppedScene] = []
    for answer in answers:
        fields = read_npy(answer.data, answer.what)
        if fields.shape != (point.grid.size, point.grid.size):
            raise SourceError(f"{answer.what}: computePixels returned shape {fields.shape}")
        got, lost = split_fields(fields, answer.scenes, bands, answer.what)
        patches.extend(got)
        dropped.extend(lost)
    return patches, dropped


def fetch_patches(
    point: PointRequest,
    scenes: Sequence[Scene],
    bands: Sequence[str],
    *,
    compute_pixels: ComputePixels,
    throttle: Throttle,
) -> tuple[list[ScenePatch], list[DroppedScene]]:
    """Request and decode in one go (one point at a time: tests, single reads)."""
    answers = request_answers(point, scenes, bands, compute_pixels=compute_pixels,
                              throttle=throttle)
    return decode_answers(point, answers, bands)
