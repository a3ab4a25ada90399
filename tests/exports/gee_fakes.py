"""Offline Earth Engine test helpers: the wheel's ApiTestCase harness, crafted answers.

Nothing here reaches a network: ``offline_ee`` installs ``ee.apitestcase``'s canned
algorithm list, and the fakes stand in for ``computePixels`` / ``computeValue``, the task
list and the GCS reads of the batch path.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ee
import numpy as np
from affine import Affine
from ee import apitestcase

from exports.gee.batch import Raster, band_names
from exports.grid import patch_grid
from exports.s1.scene import S1_BANDS, S1Scene
from exports.source import ALL_BANDS, PointRequest, Scene
from tests.exports.ee_expression_check import check_expression

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
    """Arguments of every call of ``name`` in the serialized expression of ``obj``.

    Every fake decodes its requests through here, so here the expression is first checked
    as the real server would (:func:`tests.exports.ee_expression_check.check_expression`).
    """
    check_expression(obj)
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


class FakeTasks:
    """The project's task list, as ee.data.getTaskList / getTaskStatus would give it."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.started: list[Any] = []
        self.hidden: set[str] = set()  # ids the listing no longer shows
        self.requests: dict[str, str] = {}  # request id -> task id (the server's dedup)
        self.ids_drawn = 0

    def new_id(self) -> str:
        self.ids_drawn += 1
        return f"req-{self.ids_drawn}"

    def start(self, request_id: str, task: Any) -> str:
        if request_id in self.requests:
            raise ee.EEException(f"Request ID {request_id} already exists.")
        task_id = f"T{len(self.tasks) + 1}"
        self.requests[request_id] = task_id
        self.started.append(task)
        self.add(task_id, "READY", task.config["description"])
        return task_id

    def add(self, task_id: str, state: str, description: str = "", error: str = "") -> None:
        self.tasks[task_id] = {
            "id": task_id,
            "state": state,
            "description": description,
            "error_message": error,
        }

    def listing(self) -> list[dict[str, Any]]:
        return [t for i, t in self.tasks.items() if i not in self.hidden]

    def status(self, ids: list[str]) -> list[dict[str, Any]]:
        return [self.tasks.get(i, {"id": i, "state": "UNKNOWN"}) for i in ids]


def fake_reader(
    bands: Sequence[str], batch: Sequence[tuple[PointRequest, Sequence[Scene]]], margin: int = 0
) -> Any:
    """A ReadRaster giving each point's export as Earth Engine writes it: georeferenced, no
    band descriptions, every band 4 except [32, 32] (10 + the band's index in the file)."""

    def read(path: str) -> Raster:
        pid = int(Path(path).stem.split("_")[1])
        pt, scenes = next((p, s) for p, s in batch if p.point_id == pid)
        names = band_names(scenes, bands)
        size = 64 + 2 * margin
        array = np.full((len(names), size, size), 4, dtype=np.uint16)
        for i in range(len(names)):
            array[i, 32 + margin, 32 + margin] = 10 + i
        g = pt.grid
        transform = Affine(10.0, 0.0, g.x_min - 10 * margin, 0.0, -10.0, g.y_max + 10 * margin)
        return Raster(array, [None] * len(names), transform, g.crs)

    return read


# --- Sentinel-1 (COPERNICUS/S1_GRD) ---------------------------------------------------

S1_COLLECTION = "COPERNICUS/S1_GRD"
S1_FILL = {"VV": -12.5, "VH": -19.5}  # the dB value of every pixel of a fake S1 answer


def s1_index(
    day: int, slice_no: int = 0, mission: str = "S1A", datatake: str | None = None
) -> str:
    """A 2018 S1_GRD system:index (an ESA product id): ``day`` = day of the year; slices
    ``slice_no`` 0, 1, … of one datatake follow each other by 25 s and share its id."""
    start = datetime(2018, 1, 1, 16, 50, 50, tzinfo=UTC) + timedelta(
        days=day - 1, seconds=25 * slice_no)
    stop = start + timedelta(seconds=25)
    orbit = 20000 + day
    take = datatake or f"{0x020000 + day:06X}"
    unique = f"{(day * 16 + slice_no) % 0x10000:04X}"
    return (f"{mission}_IW_GRDH_1SDV_{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
            f"{orbit:06d}_{take}_{unique}")


def s1_acquired(index: str) -> datetime:
    """The sensing start a :func:`s1_index` encodes (UTC)."""
    return datetime.strptime(index.split("_")[4], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def s1_row(
    day: int,
    slice_no: int = 0,
    orbit_pass: str = "ASCENDING",
    relative_orbit: int = 73,
    mission: str = "S1A",
) -> list[Any]:
    """One slice's row of an S1 selection answer (``exports.s1gee.select.PROPS``)."""
    index = s1_index(day, slice_no, mission)
    ms = int(s1_acquired(index).timestamp()) * 1000
    return [index, ms, orbit_pass, relative_orbit, mission[-1]]


def s1_scene(
    day: int,
    slice_no: int = 0,
    orbit_pass: str = "ASCENDING",
    relative_orbit: int = 73,
    mission: str = "S1A",
) -> S1Scene:
    """The S1Scene the gee radar source makes of :func:`s1_row` (same arguments)."""
    from exports.s1gee.select import scene_from_row

    return scene_from_row(s1_row(day, slice_no, orbit_pass, relative_orbit, mission))


def s1_marker(slice_no: int, band: str) -> float:
    """The dB value a fake S1 answer puts at [32, 32] of field (slice, band): exact in f4."""
    return -10.0 - slice_no - (0.25 if band == "VH" else 0.0)


def s1_npy_answer(scenes: Sequence[S1Scene], size: int = 64, prefix: str = "") -> np.ndarray:
    """What computePixels returns for the S1 toBands stack: f4 fields ``<index>_<band>``,
    every pixel :data:`S1_FILL` except [32, 32], which holds :func:`s1_marker`."""
    names = [f"{prefix}{s.scene_id}_{b}" for s in scenes for b in S1_BANDS]
    array = np.zeros((size, size), dtype=[(n, "<f4") for n in names])
    for i, s in enumerate(scenes):
        for b in S1_BANDS:
            field = array[f"{prefix}{s.scene_id}_{b}"]
            field[...] = S1_FILL[b]
            field[32, 32] = s1_marker(i, b)
    return array


def s1_answer(rows_by_point: dict[int, list[list[Any]]]) -> dict[str, Any]:
    """A computed S1 selection (FeatureCollection) holding these rows per point."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": None, "properties": {"point_id": pid, "scenes": rows}}
            for pid, rows in rows_by_point.items()
        ],
    }
