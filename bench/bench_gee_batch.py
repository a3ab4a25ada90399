"""Earth Engine batch mode for one country: group exports against one task per point.

A simulation, no network: 6,000 synthetic points on the LUCAS 2 km grid (EPSG:3035 nodes,
a block across the 12° E UTM boundary, so two zones), each with its own scene list (the
tile's dates of the year, about 60 % kept per point, as clouds would), and an in-process
Earth Engine with the default batch quota: **2 tasks run at once**, the others wait in the
queue. Task run time model (an assumption, not a measurement; change it with the flags):

    run time = fixed (queueing, start-up, writing the file; --task-fixed-s, 120 s)
             + per feature (one point × scene: load, reproject, 65×65 arrays;
               --per-feature-s, 0.05 s) × features

The new design is the project's own :class:`exports.gee.batch.BatchExporter` (grouping,
ledger records, the start calls with their real table-export expressions, polling) driven
on a simulated clock; only the read-back of the files is skipped (its decode cost per point
is measured separately, on a real 90-scene table). The old design (one GeoTIFF task per
point, up to 2,500 queued, every poll listing all of the project's operations) is replayed
on the same server and clock as the baseline.

    python bench/bench_gee_batch.py
    python bench/bench_gee_batch.py --points 6000 --group-size 256 --per-feature-s 0.1
"""

from __future__ import annotations

import argparse
import gzip
import io
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from ee import apitestcase
from pyproj import Transformer

from exports.gee.batch import BatchExporter, Group, TableTarget
from exports.gee.patch_table import GroupReader
from exports.gee.tfrecord import encode_example, read_examples, write_records
from exports.gee.throttle import Throttle
from exports.grid import patch_grid
from exports.source import ALL_BANDS, PointFailure, PointRequest, Scene

POLL_S = 60.0
OLD_MAX_QUEUED = 2500


@dataclass
class SimServer:
    """Earth Engine's batch queue: ``slots`` tasks run at once, in submission order."""

    slots: int
    fixed_s: float
    per_feature_s: float
    now: float = 0.0
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    requests: dict[str, str] = field(default_factory=dict)
    polls: list[list[tuple[str, str]]] = field(default_factory=list)  # (id, state) asked
    listed: list[int] = field(default_factory=list)  # operations per listing
    peak_unfinished: int = 0

    def submit(self, description: str, features: int, request_id: str = "") -> str:
        if request_id and request_id in self.requests:
            raise RuntimeError(f"Request ID {request_id} already exists.")
        task_id = f"T{len(self.tasks) + 1}"
        self.requests[request_id or task_id] = task_id
        self.tasks[task_id] = {"id": task_id, "state": "READY", "description": description,
                               "left": self.fixed_s + self.per_feature_s * features}
        self.order.append(task_id)
        unfinished = sum(t["state"] in ("READY", "RUNNING") for t in self.tasks.values())
        self.peak_unfinished = max(self.peak_unfinished, unfinished)
        self._dispatch()
        return task_id

    def _dispatch(self) -> None:
        running = [t for t in self.tasks.values() if t["state"] == "RUNNING"]
        for task_id in self.order:
            if len(running) >= self.slots:
                break
            task = self.tasks[task_id]
            if task["state"] == "READY":
                task["state"] = "RUNNING"
                running.append(task)

    def advance(self, seconds: float) -> None:
        """Run the queue for ``seconds`` (finishing tasks free their slot at once)."""
        end = self.now + seconds
        while True:
            running = [t for t in self.tasks.values() if t["state"] == "RUNNING"]
            if not running:
                self.now = end
                return
            step = min(t["left"] for t in running)
            if self.now + step > end:
                for t in running:
                    t["left"] -= end - self.now
                self.now = end
                return
            self.now += step
            for t in running:
                t["left"] -= step
                if t["left"] <= 1e-9:
                    t["state"] = "COMPLETED"
            self._dispatch()

    def status(self, ids: list[str]) -> list[dict[str, Any]]:
        self.polls.append([(i, self.tasks[i]["state"]) for i in ids])
        return [dict(self.tasks[i]) for i in ids]

    def listing(self) -> list[dict[str, Any]]:
        self.listed.append(len(self.tasks))
        return [dict(t) for t in self.tasks.values()]


# --- a country ------------------------------------------------------------------------


def country(n: int, seed: int = 18) -> list[tuple[PointRequest, list[Scene]]]:
    """``n`` points of the 2 km grid, a block across 12° E; scenes per 100 km tile."""
    rng = np.random.default_rng(seed)
    to_wgs84 = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)
    side = int(np.ceil(np.sqrt(n)))
    tiles: dict[tuple[int, int, int], list[Scene]] = {}
    out = []
    for k in range(n):
        e, no = 4400 + 2 * (k % side), 2650 + 2 * (k // side)
        lon, lat = to_wgs84.transform(e * 1000.0, no * 1000.0)
        grid = patch_grid(lat, lon)
        key = (grid.epsg, int(grid.x_min // 100_000), int(grid.y_max // 100_000))
        if key not in tiles:
            tiles[key] = _tile_scenes(key, rng)
        scenes = [s for s in tiles[key] if rng.random() < 0.6]  # ~90 per point
        out.append((PointRequest(int(f"{e:04d}{no:04d}"), lat, lon, grid), scenes))
    return out


def _tile_scenes(key: tuple[int, int, int], rng: np.random.Generator) -> list[Scene]:
    epsg, col, row = key
    tile = f"{epsg % 100:02d}T{chr(65 + col % 26)}{chr(65 + row % 26)}"
    start = datetime(2018, 1, 1, 10, tzinfo=UTC)
    scenes = []
    for day in range(0, 365, 2):  # S2A + S2B: about 180 passes a year over a tile
        t = start + timedelta(days=day, minutes=int(rng.integers(0, 30)))
        index = f"{t:%Y%m%dT%H%M%S}_{t:%Y%m%dT%H%M%S}_T{tile}"
        scenes.append(Scene(f"COPERNICUS/S2_SR_HARMONIZED/{index}", index, t,
                            f"GS2A_{t:%Y%m%dT%H%M%S}", tile, epsg, 10.0, 0.0, {}))
    return [s for s in scenes if rng.random() < 0.82]  # ~150 pass the scene filters


# --- the new design: the project's exporter on the simulated server -----------------


class _Store:
    def __init__(self) -> None:
        self.records: dict[int, Any] = {}

    def get(self, point_id: int) -> Any:
        return self.records.get(point_id)

    def put(self, point_id: int, record: Any) -> None:
        self.records[point_id] = record


class _SimExporter(BatchExporter):
    """The real exporter; the read-back of a finished file is not simulated."""

    sizes: list[tuple[int, int]]

    def start(self, group: Group, bands: Sequence[str]) -> list[PointFailure]:
        features = sum(len(s) for _, s in group.members)
        self.sizes.append((len(group.members), features))
        self._features[group.description] = features
        return super().start(group, bands)

    def read(self, group: Group, bands: Sequence[str], max_patch_nodata: float) -> list[Any]:
        return [PointFailure(p.point_id, "read-back skipped (simulation)")
                for p, _ in group.members]


def new_design(batch: list[Any], server: SimServer, group_size: int) -> dict[str, Any]:
    ids = iter(range(10**9))
    exporter = _SimExporter(
        _Store(), TableTarget("bench-bucket", "sen4map"),
        throttle=Throttle(2, clock=lambda: server.now, sleep=server.advance),
        group_size=group_size,
        new_request_id=lambda: f"req-{next(ids)}",
        start_export=lambda rid, task: server.submit(task.config["description"],
                                                     exporter._features[task.config["description"]],
                                                     rid),
        task_status=server.status, list_tasks=server.listing,
    )  # fmt: skip
    exporter.sizes, exporter._features = [], {}
    t0 = time.perf_counter()
    done = list(exporter.drain(batch, list(ALL_BANDS), 5.0, poll_s=POLL_S,
                               timeout_s=90 * 86400, clock=lambda: server.now,
                               sleep=server.advance))
    cpu_s = time.perf_counter() - t0
    finished_seen: set[str] = set()
    stale = 0
    for answer in server.polls:  # was a task asked for after we saw it finish?
        stale += len(finished_seen & {i for i, _ in answer})
        finished_seen |= {i for i, state in answer if state == "COMPLETED"}
    per_task = [n for n, _ in exporter.sizes]
    return {"tasks": len(exporter.sizes), "per_task": per_task, "points": len(done),
            "peak_asked": server.peak_unfinished, "polls": server.polls,
            "listings": len(server.listed), "stale": stale, "wall_s": server.now,
            "cpu_s": cpu_s, "busy_s": sum(t["left"] for t in server.tasks.values())}


# --- the old design, replayed: one task per point, polls list the whole project ------


def old_design(batch: list[Any], server: SimServer) -> dict[str, Any]:
    """The loop of the per-point exporter before groups: submit while fewer than 2,500 are
    queued, then every 60 s list all of the project's operations and collect."""
    pending = list(batch)
    running: dict[str, int] = {}
    touched: list[int] = []
    while pending or running:
        server.listing()  # getTaskList: every operation the project has
        touched.append(server.listed[-1])
        for task_id in [t for t in running if server.tasks[t]["state"] == "COMPLETED"]:
            running.pop(task_id)
        while pending and len(running) < OLD_MAX_QUEUED:
            point, scenes = pending.pop(0)
            task_id = server.submit(f"sen4map_{point.point_id:08d}", len(scenes))
            running[task_id] = point.point_id
        if pending or running:
            server.advance(POLL_S)
    return {"tasks": len(server.tasks), "per_task": [1] * len(server.tasks),
            "points": len(batch), "peak_asked": server.peak_unfinished,
            "touched": touched, "wall_s": server.now}


# --- read-back cost ---------------------------------------------------------------------


def decode_ms_per_point(scenes: list[Scene], point: PointRequest, reps: int = 3) -> float:
    """Reading one point's 90-scene part of a table (TFRecord → 64×64 u16 patches)."""
    rng = np.random.default_rng(1)
    ramp = np.add.outer(np.arange(65), np.arange(65)).ravel()  # smooth, like reflectance

    def band(b: str) -> np.ndarray:
        if b == "SCL":
            return (4 + (ramp // 40) % 3).astype("f4")
        return (800 + 5 * ramp + rng.integers(0, 60, ramp.size)).astype("f4")

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        write_records(gz, [encode_example({
            "point_id": f"{point.point_id:08d}", "image_id": s.image_id,
            **{b: band(b) for b in ALL_BANDS}}) for s in scenes])  # fmt: skip
    data = buf.getvalue()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        reader = GroupReader([(point, scenes)], ALL_BANDS, "bench")
        reader.add_all(read_examples(io.BytesIO(data)))
        reader.results(100.0)
        best = min(best, time.perf_counter() - t0)
    decode_ms_per_point.mb = len(data) / 1e6  # type: ignore[attr-defined]
    return best * 1000


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h ({seconds / 86400:,.2f} days)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=6000)
    parser.add_argument("--group-size", type=int, default=128)
    parser.add_argument("--slots", type=int, default=2, help="tasks the server runs at once")
    parser.add_argument("--task-fixed-s", type=float, default=120.0)
    parser.add_argument("--per-feature-s", type=float, default=0.05)
    args = parser.parse_args()

    batch = country(args.points)
    features = sum(len(s) for _, s in batch)
    zones = sorted({p.grid.epsg for p, _ in batch})
    print(f"country: {len(batch):,} points in EPSG {', '.join(map(str, zones))}, "
          f"{features:,} (point, scene) features, {features / len(batch):.0f} scenes per point")
    print(f"server: {args.slots} tasks at once; task time = {args.task_fixed_s:g} s + "
          f"{args.per_feature_s:g} s × features; poll every {POLL_S:g} s\n")

    case = apitestcase.ApiTestCase()
    case.setUp()  # ee against the wheel's canned algorithms: expressions built, not sent
    try:
        new = new_design(batch, SimServer(args.slots, args.task_fixed_s, args.per_feature_s),
                         args.group_size)
    finally:
        case.tearDown()
    old = old_design(batch, SimServer(args.slots, args.task_fixed_s, args.per_feature_s))

    per_task = new["per_task"]
    polled = [len(p) for p in new["polls"]]
    print(f"{'':38} {'old: 1 task/point':>20} {'new: groups':>20}")
    rows = [
        ("tasks started", f"{old['tasks']:,}", f"{new['tasks']:,}"),
        ("points per task min/median/max", "1 / 1 / 1",
         f"{min(per_task)} / {statistics.median(per_task):g} / {max(per_task)}"),
        ("peak concurrent tasks asked for", f"{old['peak_asked']:,}", f"{new['peak_asked']:,}"),
        ("operations touched per poll (max)", f"{max(old['touched']):,}", f"{max(polled):,}"),
        ("operations touched per poll (mean)", f"{statistics.mean(old['touched']):,.0f}",
         f"{statistics.mean(polled):,.1f}"),
        ("project listings", f"{len(old['touched']):,}", f"{new['listings']:,}"),
        ("estimated wall time", _hours(old["wall_s"]), _hours(new["wall_s"])),
    ]
    for name, a, b in rows:
        print(f"{name:38} {a:>20} {b:>20}")
    print(f"\nwall time ratio old / new: {old['wall_s'] / new['wall_s']:.1f}×; points per "
          f"task ≥ 100: {'yes' if min(per_task) >= 100 else 'NO'}; polls touching a task "
          f"already seen finished: {new['stale']}; points yielded {new['points']:,}")
    print(f"client CPU of the new design's drain (expressions, ledger, polls): "
          f"{new['cpu_s']:.1f} s")
    point = batch[0][0]
    t0 = datetime(2018, 1, 1, 10, tzinfo=UTC)
    ninety = [Scene(f"S2/{i}", f"{t0 + timedelta(days=4 * i):%Y%m%dT%H%M%S}_x_T33UXP",
                    t0 + timedelta(days=4 * i), f"D{i}", "33UXP", 32633, 1.0, 0.0, {})
              for i in range(90)]
    ms = decode_ms_per_point(ninety, point)
    mb = decode_ms_per_point.mb  # type: ignore[attr-defined]
    print(f"read-back decode: {ms:.0f} ms per point (90 scenes × {len(ALL_BANDS)} bands, "
          f"{mb:.1f} MB gzip'd of synthetic smooth reflectance)")


if __name__ == "__main__":
    main()
