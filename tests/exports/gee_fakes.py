"""Offline Earth Engine test helpers: the wheel's ApiTestCase harness, crafted answers.

Nothing here reaches a network: ``offline_ee`` installs ``ee.apitestcase``'s canned
algorithm list, and the fakes stand in for ``computePixels`` / ``computeValue``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import ee
import numpy as np
from ee import apitestcase

from exports.grid import patch_grid
from exports.source import ALL_BANDS, PointRequest, Scene

COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"


@contextmanager
def offline_ee() -> Iterator[apitestcase.ApiTestCase]:
    """ee initialised against the canned algorithm list (no credentials, no HTTP)."""
    case = apitestcase.ApiTestCase()
    case.setUp()
    try:
        yield case
    finally:
        case.tearDown()


def point(point_id: int = 46802870, lat: float = 48.2, lon: float = 16.37) -> PointRequest:
    return PointRequest(point_id, lat, lon, patch_grid(lat, lon))


def image_id(day: int, tile: str = "33UXP") -> str:
    """A system:index of 2018, ``day`` = day of the year (1..365)."""
    when = datetime.fromordinal(datetime(2018, 1, 1).toordinal() + day - 1)
    stamp = when.strftime("%Y%m%d")
    return f"{stamp}T100031_{stamp}T100029_T{tile}"


def scene(day: int, tile: str = "33UXP", datatake: str | None = None) -> Scene:
    index = image_id(day, tile)
    acquired = datetime.strptime(index[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return Scene(
        scene_id=f"{COLLECTION}/{index}",
        image_id=index,
        acquired=acquired,
        datatake=datatake or f"GS2A_{index[:15]}_0{day:05d}_N02.06",
        tile=tile,
        epsg=32600 + int(tile[:2]),
        cloud_cover=10.0,
        nodata_percent=0.0,
        assets={},
    )


def marker(scene_no: int, band: str) -> int:
    """The value a fake answer puts at [32, 32] of field (scene, band).

    Unique per field for reflectance bands; SCL gets a class-like value that fits u1.
    """
    if band == "SCL":
        return 1 + scene_no % 11
    return 100 * (scene_no + 1) + ALL_BANDS.index(band)


def npy_answer(
    scenes: Sequence[Scene], bands: Sequence[str], size: int = 64, prefix: str = ""
) -> np.ndarray:
    """What computePixels returns for a toBands stack: u2 fields ``<index>_<band>``.

    Every pixel is valid (SCL 4, reflectance 1000) except [32, 32], which holds
    :func:`marker`.
    """
    names = [f"{prefix}{s.image_id}_{b}" for s in scenes for b in bands]
    array = np.zeros((size, size), dtype=[(n, "<u2") for n in names])
    for i, s in enumerate(scenes):
        for b in bands:
            field = array[f"{prefix}{s.image_id}_{b}"]
            field[...] = 4 if b == "SCL" else 1000
            field[32, 32] = marker(i, b)
    return array


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def invocations(obj: Any, name: str) -> list[dict[str, Any]]:
    """Arguments of every call of ``name`` in the serialized expression of ``obj``."""
    tree = ee.serializer.encode(obj, is_compound=False, for_cloud_api=True)
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            call = node.get("functionInvocationValue")
            if isinstance(call, dict) and call.get("functionName") == name:
                found.append(call.get("arguments", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return found


def point_ids(query: Any) -> list[int]:
    """The point ids a scene_query carries (its input features' ``point_id``)."""
    metadata = [args.get("metadata", {}) for args in invocations(query, "Feature")]
    return [int(const(m)["point_id"]) for m in metadata if "constantValue" in m]


def const(argument: dict[str, Any]) -> Any:
    """The constant held by one serialized argument."""
    return argument["constantValue"]


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
