"""Scene selection on the Earth Engine server: many points per call, one row per scene.

For a chunk of points, one expression maps over a FeatureCollection of the points: each
feature becomes ``{point_id, scenes: [[system:index, time, tile, …], …]}`` listing the
``COPERNICUS/S2_SR_HARMONIZED`` images of the year, under the scene thresholds, whose
footprint contains the point's buffer. One ``computeValue`` per chunk keeps the number of
requests small, and a bounded chunk keeps each answer within the interactive limits
(5000 elements, the response size, the 5-minute deadline).

Why small chunks and splitting at once: a chunk the server finds too heavy ("Computation
timed out.", a memory limit, a client read timeout at the deadline) fails the same way when
retried, and each try may cost the whole 5-minute deadline; so it is split in halves at once
(down to single points) instead of going through the throttle's retries. A chunk that still
fails (a single point too heavy, or any error left after the throttle's retries) becomes
per-point :class:`~exports.source.PointFailure` records, and the rest of the selection is
kept: the pipeline records those points as failed, and the next run tries them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import ee

from exports.gee.datatake import datatake_key
from exports.gee.throttle import ErrorKind, Throttle, classify
from exports.source import PointFailure, PointRequest, Scene, SceneFilter, SceneSelection

log = logging.getLogger(__name__)

COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"
# Points per call: 16 × ~100 scenes × 8 values → ~0.1 MB answers, seconds of server time;
# small enough that a chunk rarely times out, and one that does loses little work.
DEFAULT_CHUNK = 16
MAX_CHUNK = 5000  # interactive collection-size limit

# Required first; the last ones may be missing on a few images (Reducer.toList numOptional).
REQUIRED_PROPS = (
    "system:index",
    "system:time_start",
    "MGRS_TILE",
    "CLOUDY_PIXEL_PERCENTAGE",
    "NODATA_PIXEL_PERCENTAGE",
)
OPTIONAL_PROPS = ("DATATAKE_IDENTIFIER", "SPACECRAFT_NAME", "PROCESSING_BASELINE")
PROPS = REQUIRED_PROPS + OPTIONAL_PROPS

# Errors that say "this request is too heavy", which a smaller chunk may avoid. The real
# server's time-out answer is HTTP 400 "Computation timed out." (an EEException); a plain
# "timed out" may be the network ("Connection timed out"), which the throttle retries.
_TOO_HEAVY = (
    "computation timed out",
    "memory limit",
    "computation was aborted",
    "too many values accumulating",
    "response size",
)

Evaluate = Callable[[Any], Any]
T = TypeVar("T")


def year_collection(year: int, scene_filter: SceneFilter) -> ee.ImageCollection:
    """The year's S2 L2A (harmonised) images under the scene-level thresholds."""
    images = ee.ImageCollection(COLLECTION).filterDate(f"{year}-01-01", f"{year + 1}-01-01")
    if scene_filter.filters_cloud:
        images = images.filter(
            ee.Filter.lt("CLOUDY_PIXEL_PERCENTAGE", scene_filter.max_cloud_cover)
        )
    if scene_filter.filters_nodata:
        images = images.filter(
            ee.Filter.lt("NODATA_PIXEL_PERCENTAGE", scene_filter.max_nodata_percent)
        )
    return images


def scene_query(
    points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
) -> ee.FeatureCollection:
    """One feature per point, property ``scenes``: the matching images' metadata rows."""
    return points_query(points, year_collection(year, scene_filter), scene_filter.buffer_m,
                        PROPS, len(OPTIONAL_PROPS))


def points_query(
    points: Sequence[PointRequest],
    base: ee.ImageCollection,
    buffer_m: float,
    props: Sequence[str],
    optional: int,
) -> ee.FeatureCollection:
    """One feature per point, property ``scenes``: the ``props`` rows (the last ``optional``
    may be missing) of the images of ``base`` whose footprint contains the point's buffer.
    Every Earth Engine source selects this way (Sentinel-2 scenes, Sentinel-1 slices)."""
    features = [
        ee.Feature(ee.Geometry.Point([p.lon, p.lat]), {"point_id": p.point_id}) for p in points
    ]

    def match(feature: Any) -> ee.Feature:
        # Buffer server side, 1 m error: a geodesic circle around the theoretical point;
        # ".geo" of an image is its footprint (system:footprint).
        buffer = ee.Feature(feature).geometry().buffer(buffer_m, 1)
        hits = base.filterBounds(buffer).filter(
            ee.Filter.contains(leftField=".geo", rightValue=buffer)
        )
        rows = hits.reduceColumns(ee.Reducer.toList(len(props), optional), list(props)).get("list")
        return ee.Feature(None, {"point_id": ee.Feature(feature).get("point_id"), "scenes": rows})

    return ee.FeatureCollection(features).map(match)


def utm_epsg_of_tile(tile: str) -> int:
    """EPSG of an MGRS tile's UTM zone ("33UVP" → 32633; bands C–M are south)."""
    zone, band = int(tile[:2]), tile[2].upper()
    return (32600 if band >= "N" else 32700) + zone


def scene_from_row(row: Sequence[Any]) -> Scene:
    """A :class:`Scene` from one ``PROPS`` row of the server's answer."""
    return scene_from_values(dict(zip(PROPS, row, strict=False)))


def scene_from_values(values: Mapping[str, Any]) -> Scene:
    """A :class:`Scene` from an image's properties (at least ``REQUIRED_PROPS``)."""
    index = str(values["system:index"])
    tile = str(values["MGRS_TILE"])
    acquired = datetime.fromtimestamp(int(values["system:time_start"]) / 1000.0, tz=UTC)
    return Scene(
        scene_id=f"{COLLECTION}/{index}",
        image_id=index,
        acquired=acquired,
        datatake=datatake_key(values, acquired),
        tile=tile,
        epsg=utm_epsg_of_tile(tile),
        cloud_cover=float(values["CLOUDY_PIXEL_PERCENTAGE"]),
        nodata_percent=float(values["NODATA_PIXEL_PERCENTAGE"]),
        assets={},
        boa_offset=0,  # the harmonised collection already removed the baseline-04.00 offset
    )


def parse_answer(answer: Mapping[str, Any]) -> dict[int, list[Scene]]:
    """Point id → its scenes (time-ordered) from a computed ``scene_query`` collection."""
    out: dict[int, list[Scene]] = {}
    for feature in answer.get("features", []):
        props = feature.get("properties") or {}
        scenes = [scene_from_row(row) for row in props.get("scenes") or []]
        out[int(props["point_id"])] = sorted(scenes, key=lambda s: (s.acquired, s.image_id))
    return out


def chunks(points: Sequence[PointRequest], size: int) -> Iterator[list[PointRequest]]:
    """Chunks of nearby points (sorted by UTM zone then position) so each call stays local."""
    ordered = sorted(points, key=lambda p: (p.grid.epsg, p.grid.x_min, p.grid.y_max))
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def select_scenes(
    points: Sequence[PointRequest],
    year: int,
    scene_filter: SceneFilter,
    *,
    evaluate: Evaluate,
    throttle: Throttle,
    chunk_size: int = DEFAULT_CHUNK,
    executor: Executor | None = None,
) -> SceneSelection:
    """The select stage for Earth Engine: candidate scenes of every point, in few calls.

    Chunks run on ``executor`` when given (the throttle bounds the concurrency). Points of
    a chunk that failed even after retries and splitting are in ``failed``, never raised.
    """
    results = select_in_chunks(
        points,
        query=lambda chunk: scene_query(chunk, year, scene_filter),
        parse=parse_answer,
        evaluate=evaluate,
        throttle=throttle,
        chunk_size=chunk_size,
        executor=executor,
    )
    found = results.found
    seen = {s.scene_id for scenes in found.values() for s in scenes}
    log.info("gee select: %d points, %d distinct scenes, %d failed",
             len(found), len(seen), len(results.failed))
    return SceneSelection(scenes=found, scenes_seen=len(seen), failed=results.failed)


@dataclass
class ChunkResults(Generic[T]):
    """What :func:`select_in_chunks` gives: every point is in exactly one of the two."""

    found: dict[int, T] = field(default_factory=dict)
    failed: dict[int, PointFailure] = field(default_factory=dict)

    def update(self, other: ChunkResults[T]) -> None:
        """Take in a sub-chunk's results (a split chunk's halves, the chunks of a run)."""
        self.found.update(other.found)
        self.failed.update(other.failed)


@dataclass(frozen=True)
class _TooHeavy:
    """A too-heavy answer handed back as a value, so the throttle does not retry it."""

    error: Exception


def too_heavy(error: Exception) -> bool:
    """Whether a smaller chunk may succeed where this one failed (retrying never would).

    A client ``TimeoutError`` is the read time-out at the deadline (the client turns
    connection failures into ``ConnectionError``): the server was still computing.
    """
    return isinstance(error, TimeoutError) or any(
        m in str(error).lower() for m in _TOO_HEAVY
    )


def select_in_chunks(
    points: Sequence[PointRequest],
    *,
    query: Callable[[list[PointRequest]], Any],
    parse: Callable[[Mapping[str, Any]], dict[int, T]],
    evaluate: Evaluate,
    throttle: Throttle,
    chunk_size: int = DEFAULT_CHUNK,
    executor: Executor | None = None,
    what: str = "gee scene selection",
) -> ChunkResults[T]:
    """Point id → ``parse``'s value for every point, one ``evaluate(query(chunk))`` per chunk.

    The machinery of every server-side selection (Sentinel-2 scenes, Sentinel-1 slices):
    chunks of nearby points, run on ``executor`` when given, each call under the throttle's
    retries; a chunk the server finds too heavy is split in halves at once; points that
    still fail, or that the answer lacks, are per-point failures (``transient`` when a
    later run may help), and the other points' answers are kept.
    """
    size = max(1, min(chunk_size, MAX_CHUNK))

    def one(chunk: list[PointRequest]) -> ChunkResults[T]:
        return _select_chunk(chunk, query, parse, evaluate, throttle, what)

    parts = list(chunks(points, size))
    answers = executor.map(one, parts) if executor is not None else map(one, parts)
    results: ChunkResults[T] = ChunkResults()
    for answer in answers:
        results.update(answer)
    for p in points:
        if p.point_id not in results.found and p.point_id not in results.failed:
            results.failed[p.point_id] = PointFailure(
                p.point_id,
                f"{what}: Earth Engine's answer lacked point {p.point_id:08d}; the next run "
                "asks again",
                transient=True,
            )
    return results


def _select_chunk(
    chunk: list[PointRequest],
    query: Callable[[list[PointRequest]], Any],
    parse: Callable[[Mapping[str, Any]], dict[int, T]],
    evaluate: Evaluate,
    throttle: Throttle,
    what: str,
) -> ChunkResults[T]:
    ids = f"{chunk[0].point_id:08d}…{chunk[-1].point_id:08d} ({len(chunk)} points)"

    def attempt() -> Any:
        try:
            return evaluate(expression)
        except Exception as e:
            if too_heavy(e):
                return _TooHeavy(e)
            raise

    try:
        expression = query(chunk)
        answer = throttle.call(attempt, what=f"{what} {ids}")
    except Exception as e:
        return _failed(chunk, what, e, transient=classify(e) is not ErrorKind.DETERMINISTIC)
    if isinstance(answer, _TooHeavy):
        if len(chunk) == 1:  # nothing left to split; the server may be less busy next run
            return _failed(chunk, what, answer.error, transient=True)
        log.info("%s %s too heavy (%s): splitting in halves", what, ids, answer.error)
        half = len(chunk) // 2
        results = _select_chunk(chunk[:half], query, parse, evaluate, throttle, what)
        results.update(_select_chunk(chunk[half:], query, parse, evaluate, throttle, what))
        return results
    try:
        return ChunkResults(found=parse(answer))
    except (KeyError, TypeError, ValueError, IndexError) as e:
        return _failed(chunk, what, e, transient=False, doing="reading the answer")


def _failed(
    chunk: Sequence[PointRequest],
    what: str,
    error: Exception,
    *,
    transient: bool,
    doing: str = "",
) -> ChunkResults[Any]:
    """Every point of ``chunk`` as a failure naming the error; logged once per chunk."""
    message = f"{what} failed{' ' + doing if doing else ''}: {error}"
    advice = "the next `etl run` tries again" if transient else "retrying will not help"
    ids = [f"{p.point_id:08d}" for p in chunk]
    log.warning("%s for point(s) %s (%s)", message, ", ".join(ids[:10]), advice)
    return ChunkResults(failed={
        p.point_id: PointFailure(p.point_id, f"{message} ({advice})", transient=transient)
        for p in chunk
    })
