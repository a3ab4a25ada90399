"""Offline Earth Engine test helpers: the wheel's ApiTestCase harness, crafted answers.

Nothing here reaches a network: ``offline_ee`` installs ``ee.apitestcase``'s canned
algorithm list, and the fakes stand in for ``computePixels`` / ``computeValue``, the task
list and the GCS reads of the batch path.
"""

from __future__ import annotations

import gzip
import io
import math
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ee
import numpy as np
from ee import apitestcase

from exports.gee.tfrecord import encode_example, write_records
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
    return calls_in(tree, name)


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


def calls_in(node: Any, name: str) -> list[dict[str, Any]]:
    """Arguments of every call of ``name`` in an already encoded (sub)tree."""
    found: list[dict[str, Any]] = []

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            call = n.get("functionInvocationValue")
            if isinstance(call, dict) and call.get("functionName") == name:
                found.append(call.get("arguments", {}))
            for value in n.values():
                walk(value)
        elif isinstance(n, list):
            for value in n:
                walk(value)

    walk(node)
    return found


# --- pixels both paths serve: a function of the 10 m lattice cell ----------------------


def lattice_pixels(
    image_id: str, band: str, x0: float, y0: float, width: int, height: int, crs: str = ""
) -> np.ndarray:
    """Every pixel's value of (scene, band) on a window of the 10 m lattice whose upper-left
    corner is (x0, y0): a function of the cell only, so the fast path (a 64×64 grid) and the
    batch path (65×65 arrays around a point) see the same values wherever they look."""
    col0, row0 = round(x0 / 10.0), round(-y0 / 10.0)
    cols = col0 + np.arange(width)[None, :]
    rows = row0 + np.arange(height)[:, None]
    salt = zlib.crc32(f"{image_id}/{band}".encode()) % 1000
    if band == "SCL":
        return (1 + (cols + 3 * rows + salt) % 10).astype(np.uint16)
    return (1 + (7 * cols + 13 * rows + salt) % 9000).astype(np.uint16)


def lattice_compute_pixels(params: dict[str, Any]) -> bytes:
    """computePixels of a fast-path request (``pixel_request``) from :func:`lattice_pixels`,
    on the request's own grid."""
    image = params["expression"]
    (listed,) = invocations(image, "Filter.listContains")
    ids = const(listed["leftValue"])
    (select,) = invocations(image, "Image.select")
    bands = const(select["bandSelectors"])
    grid = params["grid"]
    affine, size = grid["affineTransform"], grid["dimensions"]
    names = [f"{i}_{b}" for i in ids for b in bands]
    array = np.zeros((size["height"], size["width"]), dtype=[(n, "<u2") for n in names])
    for i in ids:
        for b in bands:
            array[f"{i}_{b}"] = lattice_pixels(i, b, affine["translateX"], affine["translateY"],
                                               size["width"], size["height"])
    return npy_bytes(array)


# --- the batch path: table exports ----------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One feature a table export asks for: a point's patch of one scene."""

    point_id: str  # as exported: 8 digits, text
    image_id: str
    bands: tuple[str, ...]
    crs: str
    x0: float  # upper-left corner of the (2r+1)² window, on the lattice
    y0: float
    side: int


def export_samples(config: dict[str, Any]) -> list[Sample]:
    """What a group's table export asks for, decoded from its expression (checked first)."""
    expression = config["expression"]
    check_expression(expression)
    if isinstance(expression, dict):  # as sent (compound): expand references into one tree
        tree = _expand(expression["values"][expression["result"]], expression["values"])
    else:
        tree = ee.serializer.encode(expression, is_compound=False, for_cloud_api=True)
    samples: list[Sample] = []
    for mapped in calls_in(tree, "Collection.map"):
        (regions,) = calls_in(mapped["collection"], "Image.sampleRegions")
        (tag,) = calls_in(mapped["baseAlgorithm"], "Element.set")
        assert const(tag["key"]) == "image_id"
        image_id = const(tag["value"])
        (load,) = calls_in(regions["image"], "Image.load")
        assert const(load["id"]).endswith(f"/{image_id}")
        (select,) = calls_in(regions["image"], "Image.select")
        bands = tuple(const(select["bandSelectors"]))
        (reproject,) = calls_in(regions["image"], "Image.reproject")
        assert const(reproject["crsTransform"]) == [10.0, 0.0, 0.0, 0.0, -10.0, 0.0]
        (crs_call,) = calls_in(reproject["crs"], "Projection")
        crs = const(crs_call["crs"])
        (kernel,) = calls_in(regions["image"], "Kernel.square")
        radius = const(kernel["radius"])
        assert const(kernel["units"]) == "pixels"
        assert const(regions["properties"]) == ["point_id"]
        (wanted,) = calls_in(regions["collection"], "Filter.listContains")
        ids = set(const(wanted["leftValue"]))
        for feature in calls_in(regions["collection"], "Feature"):
            pid = const(feature["metadata"])["point_id"]
            if pid not in ids:
                continue
            (point_call,) = calls_in(feature["geometry"], "GeometryConstructors.Point")
            x, y = const(point_call["coordinates"])
            (point_crs,) = calls_in(point_call["crs"], "Projection")
            assert const(point_crs["crs"]) == crs
            col, row = math.floor(x / 10.0), math.floor(-y / 10.0)
            samples.append(Sample(pid, image_id, bands, crs, 10.0 * (col - radius),
                                  -10.0 * (row - radius), 2 * radius + 1))
    return samples


def _expand(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "valueReference" in node:
            return _expand(values[node["valueReference"]], values)
        return {k: _expand(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, values) for v in node]
    return node


def table_bytes(samples: Sequence[Sample], pixels: Any = lattice_pixels) -> bytes:
    """The GZIP'd TFRecord Earth Engine writes for these samples: per feature the text
    properties point_id and image_id and one float list (row-major) per band."""
    records = []
    for smp in samples:
        features: dict[str, Any] = {"point_id": smp.point_id, "image_id": smp.image_id}
        for band in smp.bands:
            window = pixels(smp.image_id, band, smp.x0, smp.y0, smp.side, smp.side, smp.crs)
            features[band] = np.asarray(window, dtype=np.float32)
        records.append(encode_example(features))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        write_records(gz, records)  # type: ignore[arg-type]
    return buf.getvalue()


class FakeTasks:
    """The project's tasks and bucket as the batch path sees them, counting what is touched.

    ``status`` answers by id (one ``operations.get`` each) and records the ids asked;
    ``listing`` is the project-wide listing (counted: polls must not use it). A task's table
    is written when it completes, from its own expression, with :func:`lattice_pixels`.
    """

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.started: list[Any] = []
        self.hidden: set[str] = set()  # ids the listing does not show (yet)
        self.requests: dict[str, str] = {}  # request id -> task id (the server's dedup)
        self.ids_drawn = 0
        self.polls: list[list[str]] = []  # the ids of every status call
        self.listings = 0
        self.files: dict[tuple[str, str], bytes] = {}

    def new_id(self) -> str:
        self.ids_drawn += 1
        return f"req-{self.ids_drawn}"

    def start(self, request_id: str, task: Any) -> str:
        if request_id in self.requests:
            raise ee.EEException(f"Request ID {request_id} already exists.")
        task_id = f"T{len(self.tasks) + 1}"
        self.requests[request_id] = task_id
        self.started.append(task)
        self.configs[task_id] = dict(task.config)
        self.add(task_id, "READY", task.config["description"])
        return task_id

    def add(self, task_id: str, state: str, description: str = "", error: str = "") -> None:
        self.tasks[task_id] = {"id": task_id, "state": state, "description": description,
                               "error_message": error}

    def complete(self, task_id: str) -> None:
        """Write the task's table where its destination says, then say COMPLETED."""
        config = self.configs[task_id]
        dest = config["fileExportOptions"]["cloudStorageDestination"]
        assert config["fileExportOptions"]["fileFormat"] == "TF_RECORD_TABLE"
        name = f"{dest['filenamePrefix']}.tfrecord.gz"
        self.files[(dest["bucket"], name)] = table_bytes(export_samples(config))
        self.tasks[task_id]["state"] = "COMPLETED"

    def fail(self, task_id: str, error: str = "Internal error.") -> None:
        self.tasks[task_id].update(state="FAILED", error_message=error)

    def members(self, task_id: str) -> list[int]:
        """The point ids a task exports (decoded from its expression)."""
        return sorted({int(s.point_id) for s in export_samples(self.configs[task_id])})

    def listing(self) -> list[dict[str, Any]]:
        self.listings += 1
        return [dict(t) for i, t in self.tasks.items() if i not in self.hidden]

    def status(self, ids: list[str]) -> list[dict[str, Any]]:
        self.polls.append(list(ids))
        return [dict(self.tasks.get(i, {"id": i, "state": "UNKNOWN"})) for i in ids]

    def open(self, bucket: str, name: str) -> io.BytesIO:
        if (bucket, name) not in self.files:
            raise OSError(f"gs://{bucket}/{name}: HTTP 404 Not Found")
        return io.BytesIO(self.files[(bucket, name)])


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
