"""Radar slice selection on the Earth Engine server: many points per call.

As :mod:`exports.gee.select` does for Sentinel-2 (and through its chunk runner): for a chunk
of points one expression maps over a FeatureCollection of the points, each feature becoming
``{point_id, scenes: [[system:index, time, pass, relative orbit, platform], …]}``: the
``COPERNICUS/S1_GRD`` slices of the year in IW mode with both VV and VH at 10 m (and of the
``--s1-orbit`` pass) whose footprint contains the point's buffer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

import ee

from exports.gee.select import DEFAULT_CHUNK, Evaluate, points_query, select_in_chunks
from exports.gee.throttle import Throttle
from exports.s1.filters import INSTRUMENT_MODE, ORBIT_FILTERS, drop_reason
from exports.s1.scene import (
    S1_BANDS,
    SIGMA0_DB,
    S1Scene,
    datatake_key,
    orbit_pass_name,
    platform_name,
)
from exports.s1.source import S1Filter, S1Selection
from exports.source import DroppedScene, PointRequest

log = logging.getLogger(__name__)

COLLECTION = "COPERNICUS/S1_GRD"
RESOLUTION_M = 10  # S1_GRD also holds 25 m and 40 m (EW, medium resolution) products
POLARISATIONS_PROPERTY = "transmitterReceiverPolarisation"

# Required first; the last may be missing on a few images (Reducer.toList numOptional):
# the platform then comes from the product id (S1A_…).
REQUIRED_PROPS = (
    "system:index",
    "system:time_start",
    "orbitProperties_pass",
    "relativeOrbitNumber_start",
)
OPTIONAL_PROPS = ("platform_number",)
PROPS = REQUIRED_PROPS + OPTIONAL_PROPS

PointAnswer = tuple[list[S1Scene], list[DroppedScene]]


def asset_id(index: str) -> str:
    """The Earth Engine asset id of a slice (``COPERNICUS/S1_GRD/<system:index>``)."""
    return f"{COLLECTION}/{index}"


def year_collection(year: int, orbit: str) -> ee.ImageCollection:
    """The year's IW slices with VV and VH at 10 m, of one pass unless ``orbit`` is both."""
    if orbit not in ORBIT_FILTERS:
        raise ValueError(f"unknown orbit filter {orbit!r}; choose one of {ORBIT_FILTERS}")
    images = (
        ee.ImageCollection(COLLECTION)
        .filterDate(f"{year}-01-01", f"{year + 1}-01-01")
        .filter(ee.Filter.eq("instrumentMode", INSTRUMENT_MODE))
        .filter(ee.Filter.listContains(POLARISATIONS_PROPERTY, "VV"))
        .filter(ee.Filter.listContains(POLARISATIONS_PROPERTY, "VH"))
        .filter(ee.Filter.eq("resolution_meters", RESOLUTION_M))
    )
    if orbit != "both":
        images = images.filter(ee.Filter.eq("orbitProperties_pass", orbit.upper()))
    return images


def acquisition_query(
    points: Sequence[PointRequest], year: int, s1_filter: S1Filter
) -> ee.FeatureCollection:
    """One feature per point, property ``scenes``: the matching slices' metadata rows."""
    return points_query(points, year_collection(year, s1_filter.orbit), s1_filter.buffer_m,
                        PROPS, len(OPTIONAL_PROPS))


def scene_from_row(row: Sequence[Any]) -> S1Scene:
    """An :class:`S1Scene` from one ``PROPS`` row of the server's answer."""
    values = dict(zip(PROPS, row, strict=False))
    index = str(values["system:index"])
    acquired = datetime.fromtimestamp(int(values["system:time_start"]) / 1000.0, tz=UTC)
    relative_orbit = int(values["relativeOrbitNumber_start"])
    platform = platform_name(str(values.get("platform_number") or index[:3]))
    return S1Scene(
        scene_id=index,
        acquired=acquired,
        datatake=datatake_key(index, platform, acquired, relative_orbit),
        orbit_pass=orbit_pass_name(str(values["orbitProperties_pass"])),
        relative_orbit=relative_orbit,
        platform=platform,
        convention=SIGMA0_DB,
        epsg=None,  # Earth Engine reprojects onto the patch grid
        assets={band: asset_id(index) for band in S1_BANDS},
    )


def parse_answer(answer: Mapping[str, Any], year: int, orbit: str) -> dict[int, PointAnswer]:
    """Point id → (its slices, time-ordered; the slices the shared filters drop).

    The server applied the filters already; :func:`exports.s1.filters.drop_reason` states
    them again (year, orbit), so both radar sources drop the same slices for the same
    reasons should the server's metadata disagree with the filter (e.g. a time stamp at
    the year's edge).
    """
    out: dict[int, PointAnswer] = {}
    for feature in answer.get("features", []):
        props = feature.get("properties") or {}
        kept: list[S1Scene] = []
        dropped: list[DroppedScene] = []
        for row in props.get("scenes") or []:
            scene = scene_from_row(row)
            drop = drop_reason(
                acquired=scene.acquired,
                year=year,
                instrument_mode=None,  # filtered on the server, not in the answer
                polarisations=S1_BANDS,  # idem: both are in every slice of the answer
                orbit_pass=scene.orbit_pass,
                orbit_filter=orbit,
            )
            if drop is None:
                kept.append(scene)
            else:
                dropped.append(DroppedScene(scene.scene_id, drop[1], kind=drop[0]))
        kept.sort(key=lambda s: (s.acquired, s.scene_id))
        out[int(props["point_id"])] = (kept, dropped)
    return out


def select_acquisitions(
    points: Sequence[PointRequest],
    year: int,
    s1_filter: S1Filter,
    *,
    evaluate: Evaluate,
    throttle: Throttle,
    chunk_size: int = DEFAULT_CHUNK,
    executor: Executor | None = None,
) -> S1Selection:
    """The radar select stage for Earth Engine: candidate slices of every point, in few calls.

    Points of a chunk that failed even after retries and splitting are in ``failed``
    (``transient`` when a later run may help), as in the Sentinel-2 selection: the
    pipeline records them as failed and keeps the others.
    """
    results = select_in_chunks(
        points,
        query=lambda chunk: acquisition_query(chunk, year, s1_filter),
        parse=lambda answer: parse_answer(answer, year, s1_filter.orbit),
        evaluate=evaluate,
        throttle=throttle,
        chunk_size=chunk_size,
        executor=executor,
        what="gee Sentinel-1 selection",
    )
    found = results.found
    scenes = {pid: kept for pid, (kept, _) in found.items()}
    dropped: dict[str, DroppedScene] = {}
    for _, lost in found.values():
        for d in lost:
            dropped.setdefault(d.scene_id, d)
    seen = {s.scene_id for kept in scenes.values() for s in kept} | set(dropped)
    log.info("gee s1 select: %d points, %d distinct slices", len(scenes), len(seen))
    return S1Selection(scenes=scenes, dropped=list(dropped.values()), scenes_seen=len(seen),
                       failed=results.failed)
