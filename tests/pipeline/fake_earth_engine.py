"""A fake Earth Engine behind the functions of ``ee`` the product calls, serving the demo.

Why this boundary: the product reaches Earth Engine only through ``ee.Initialize``,
``ee.data.computeValue`` (scene selection), ``ee.data.computePixels`` (the fast path),
``ee.data.computeFeatures`` (LUCAS from the catalog),
``ee.data.exportTable`` / ``getTaskStatus`` / ``listOperations`` (the batch path) and Cloud
Storage's JSON API (reading the exported tables; ``getTaskList`` is refused: polls must not
list the project). The fake replaces exactly those, so everything from the
CLI down to building the ee expressions runs as in production; expressions are built
against ``ee.apitestcase``'s canned algorithm list.

What it answers, decoded from the requests themselves:

- selection: the points (ids, coordinates), the year, the two thresholds and the buffer
  are read from the serialized ``scene_query``; the matching scenes are the demo catalog's,
  chosen by the stac source's selection (so both sources see the same scenes);
- pixels: the image ids and bands of the request, on the grid *of the request body*
  (crsCode + affineTransform), read from the demo's COGs by the project's COG reader
  (harmonised: the BOA offset removed, as ``S2_SR_HARMONIZED`` does), as NPY with
  ``<system:index>_<band>`` u16 fields, like ``toBands().toUint16()``;
- exports: for every (point, scene) the table expression samples, the 65×65 window around
  the point's pixel on the 10 m lattice, read the same way, written as a GZIP'd TFRecord
  under a local folder served by a loopback HTTP server once the task completes.
"""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import ee
import numpy as np
import pandas as pd
import pytest
from google.auth.credentials import AnonymousCredentials

from exports.gdal_env import gdal_env
from exports.gee import gcs
from exports.grid import PatchGrid, patch_grid
from exports.source import PointRequest, Scene, SceneFilter
from exports.stac.source import StacSource
from exports.stac.window_read import read_scene
from pipeline.demo import DemoArchive
from tests.exports.gee_fakes import const, export_samples, invocations, offline_ee, table_bytes

COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


class FakeEarthEngine:
    """The server side: selection, pixels, tasks and the bucket, from one demo archive."""

    def __init__(self, demo: DemoArchive, bucket_dir: Path) -> None:
        self.stac = StacSource.from_catalog(demo.catalog_path)
        self.bucket_dir = bucket_dir
        self.scenes: dict[str, Scene] = {}  # system:index -> the demo's scene
        self.calls: Counter[str] = Counter()
        self.initialized: list[dict[str, Any]] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.requests: dict[str, str] = {}  # request id -> task id
        self.exports: dict[str, dict[str, Any]] = {}  # task id -> its config
        self.finish_tasks = True  # False: tasks stay RUNNING until complete_all()
        self.lucas_features = _features(demo.lucas_path)
        self._lock = threading.Lock()

    # --- ee.Initialize and credentials -------------------------------------------------

    def initialize(self, credentials: Any = None, url: str | None = None,
                   project: str | None = None, **_: Any) -> None:
        self.initialized.append({"url": url, "project": project})

    # --- selection: ee.data.computeValue ------------------------------------------------

    def compute_value(self, query: Any) -> dict[str, Any]:
        self.calls["computeValue"] += 1
        points = _query_points(query)
        year, scene_filter = _query_filter(query)
        selection = self.stac.find_scenes(points, year, scene_filter)
        features = []
        for point in points:
            found = selection.scenes.get(point.point_id, [])
            with self._lock:
                self.scenes.update((s.image_id, s) for s in found)
            features.append({"type": "Feature", "geometry": None, "properties": {
                "point_id": point.point_id, "scenes": [_row(s) for s in found]}})
        return {"type": "FeatureCollection", "features": features}

    # --- LUCAS from the catalog: ee.data.computeFeatures --------------------------------

    def compute_features(self, params: dict[str, Any]) -> dict[str, Any]:
        """The demo's LUCAS table as the catalog's features (geometry = the theoretical
        point, no th_lat/th_long properties), paged by pageSize/pageToken."""
        self.calls["computeFeatures"] += 1
        start = int(params.get("pageToken") or 0)
        end = start + int(params.get("pageSize") or 1000)
        page: dict[str, Any] = {"type": "FeatureCollection",
                                "features": self.lucas_features[start:end]}
        if end < len(self.lucas_features):
            page["nextPageToken"] = str(end)
        return page

    # --- fast path: ee.data.computePixels ------------------------------------------------

    def compute_pixels(self, params: dict[str, Any]) -> bytes:
        self.calls["computePixels"] += 1
        assert params["fileFormat"] == "NPY"
        image = params["expression"]
        (listed,) = invocations(image, "Filter.listContains")
        ids = const(listed["leftValue"])
        (select,) = invocations(image, "Image.select")
        bands = const(select["bandSelectors"])
        grid = _request_grid(params["grid"])
        fields = {}
        for image_id in ids:
            for band, values in self._pixels(image_id, bands, grid).items():
                fields[f"{image_id}_{band}"] = values
        array = np.zeros((grid.size, grid.size), dtype=[(n, "<u2") for n in fields])
        for name, values in fields.items():
            array[name] = values
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        return buf.getvalue()

    def _pixels(self, image_id: str, bands: list[str], grid: PatchGrid) -> dict[str, Any]:
        """Every band of one scene on ``grid``; none when the demo cannot serve it."""
        scene = self.scenes[image_id]
        with gdal_env():
            read = read_scene(scene, bands, {0: grid})
        return {b: a.astype("<u2") for b, a in read.patches.get(0, {}).items()}

    # --- batch path: ee.data.exportTable, getTaskStatus, listOperations -----------------

    def export_table(self, request_id: str, config: dict[str, Any]) -> dict[str, Any]:
        self.calls["exportTable"] += 1
        with self._lock:
            if request_id in self.requests:
                raise ee.EEException(f"Request id {request_id} already exists.")
            task_id = f"FAKETASK{len(self.tasks) + 1:04d}"
            self.requests[request_id] = task_id
            self.exports[task_id] = config
            self.tasks[task_id] = {"id": task_id, "state": "READY",
                                   "description": config["description"]}
        if self.finish_tasks:
            self._complete(task_id)
        else:
            self.tasks[task_id]["state"] = "RUNNING"
        return {"name": f"projects/demo-project/operations/{task_id}"}

    def list_operations(self, project: str | None = None) -> list[dict[str, Any]]:
        self.calls["listOperations"] += 1
        return [{"name": f"projects/demo-project/operations/{t['id']}", "done": False,
                 "metadata": {"state": "RUNNING", "description": t["description"]}}
                for t in self.tasks.values()]

    def task_status(self, ids: list[str]) -> list[dict[str, Any]]:
        self.calls["getTaskStatus"] += 1
        self.calls["operations touched"] += len(ids)
        return [dict(self.tasks.get(i, {"id": i, "state": "UNKNOWN"})) for i in ids]

    def complete_all(self) -> None:
        for task_id, task in self.tasks.items():
            if task["state"] != "COMPLETED":
                self._complete(task_id)

    def _complete(self, task_id: str) -> None:
        """Write the export's table (GZIP'd TFRecord) where it is read, then say COMPLETED:
        every (point, scene) the expression samples, its 65×65 window read from the demo's
        COGs on the lattice, like computePixels on the point's grid."""
        config = self.exports[task_id]
        samples = export_samples(config)
        assert config["fileExportOptions"]["fileFormat"] == "TF_RECORD_TABLE"

        def pixels(image_id: str, band: str, x0: float, y0: float, w: int, h: int,
                   crs: str) -> Any:
            grid = PatchGrid(int(crs.split(":")[1]), x0, y0, size=w)
            return self._pixels(image_id, [band], grid)[band]

        data = table_bytes(samples, pixels)
        dest = config["fileExportOptions"]["cloudStorageDestination"]
        path = self.bucket_dir / dest["bucket"] / f"{dest['filenamePrefix']}.tfrecord.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.tasks[task_id]["state"] = "COMPLETED"


@contextmanager
def fake_earth_engine(
    demo: DemoArchive, bucket_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeEarthEngine]:
    """Install the fake: ee's offline harness, the patched calls, the loopback bucket."""
    fake = FakeEarthEngine(demo, bucket_dir)
    bucket_dir.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _bucket_handler(bucket_dir))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with offline_ee():
            monkeypatch.setattr(ee, "Initialize", fake.initialize)
            monkeypatch.setattr(ee.data, "computeValue", fake.compute_value)
            monkeypatch.setattr(ee.data, "computePixels", fake.compute_pixels)
            monkeypatch.setattr(ee.data, "computeFeatures", fake.compute_features)
            monkeypatch.setattr(ee.data, "get_persistent_credentials", AnonymousCredentials)
            monkeypatch.setattr(ee.data, "exportTable", fake.export_table)
            monkeypatch.setattr(ee.data, "listOperations", fake.list_operations)
            monkeypatch.setattr(ee.data, "getTaskStatus", fake.task_status)
            monkeypatch.setattr(ee.data, "getTaskList", _refused("getTaskList"))
            # Cloud Storage's JSON API (the table read-back) at the loopback bucket.
            monkeypatch.setattr(gcs, "GCS_API", f"http://127.0.0.1:{server.server_port}")
            yield fake
    finally:
        server.shutdown()
        server.server_close()


def _refused(name: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"ee.data.{name}: the batch path must not list the project")

    return refuse


def _features(lucas_csv: Path) -> list[dict[str, Any]]:
    """A LUCAS CSV's rows as Earth Engine features: typed properties, a Point geometry."""
    table = pd.read_csv(lucas_csv, dtype=str, keep_default_na=False)
    features = []
    for row in table.to_dict("records"):
        geometry = {"type": "Point",
                    "coordinates": [float(row.pop("th_long")), float(row.pop("th_lat"))]}
        props = {k: _typed(v) for k, v in row.items()}
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return features


def _typed(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _query_points(query: Any) -> list[PointRequest]:
    """The input points of a scene_query: each Feature's point_id and Point coordinates."""
    points = []
    for args in invocations(query, "Feature"):
        meta = args.get("metadata", {})
        geometry = args.get("geometry", {}).get("functionInvocationValue", {})
        if "constantValue" not in meta or geometry.get("functionName") != (
            "GeometryConstructors.Point"
        ):
            continue
        lon, lat = const(geometry["arguments"]["coordinates"])
        points.append(PointRequest(int(const(meta)["point_id"]), lat, lon, patch_grid(lat, lon)))
    return points


def _query_filter(query: Any) -> tuple[int, SceneFilter]:
    """The year and the scene thresholds a scene_query carries (100 % when a filter is off)."""
    (span,) = invocations(query, "DateRange")
    year = int(str(const(span["start"]))[:4])
    less = {const(a["leftField"]): const(a["rightValue"])
            for a in invocations(query, "Filter.lessThan")}
    (distance,) = {const(a["distance"]) for a in invocations(query, "Geometry.buffer")}
    return year, SceneFilter(
        max_cloud_cover=float(less.get("CLOUDY_PIXEL_PERCENTAGE", 100.0)),
        max_nodata_percent=float(less.get("NODATA_PIXEL_PERCENTAGE", 100.0)),
        buffer_m=float(distance),
    )


def _row(scene: Scene) -> list[Any]:
    """One ``gee_select.PROPS`` row, as reduceColumns(toList) gives it."""
    return [scene.image_id, round(scene.acquired.timestamp() * 1000), scene.tile,
            scene.cloud_cover, scene.nodata_percent, scene.datatake, None, None]


def _request_grid(grid: dict[str, Any]) -> PatchGrid:
    affine = grid["affineTransform"]
    assert affine["shearX"] == affine["shearY"] == 0.0
    assert affine["scaleX"] == -affine["scaleY"]
    size = grid["dimensions"]["width"]
    assert grid["dimensions"]["height"] == size
    epsg = int(grid["crsCode"].split(":")[1])
    return PatchGrid(epsg, affine["translateX"], affine["translateY"], size=size,
                     pixel=affine["scaleX"])


def _object_path(url_path: str) -> str:
    """``/storage/v1/b/<bucket>/o/<object, %-quoted>?alt=media`` → ``<bucket>/<object>``."""
    path = url_path.split("?")[0]
    match = re.fullmatch(r"/storage/v1/b/([^/]+)/o/(.+)", path)
    if match:
        return f"{unquote(match.group(1))}/{unquote(match.group(2))}"
    return path.lstrip("/")


def _bucket_handler(root: Path) -> type[BaseHTTPRequestHandler]:
    """GET (with a single Range) and HEAD of the files under ``root``, by the JSON API's
    media path (what :mod:`exports.gee.gcs` asks for)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _data(self) -> bytes | None:
            path = root / _object_path(self.path)
            if not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return path.read_bytes()

        def do_HEAD(self) -> None:
            data = self._data()
            if data is not None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()

        def do_GET(self) -> None:
            data = self._data()
            if data is None:
                return
            match = _RANGE.match(self.headers.get("Range", ""))
            if match:
                start = int(match.group(1))
                end = min(int(match.group(2) or len(data) - 1), len(data) - 1)
                body = data[start : end + 1]
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            else:
                body = data
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
