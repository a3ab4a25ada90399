"""HTTP requests and bytes per point of the STAC API source, against the minimum.

Serves a synthetic Sentinel-2 L2A archive through the loopback STAC API of the tests
(tests/fixtures/stac_server.py), runs the ``stac`` source as ``etl run --stac-url`` does
(one select over every point, then fetches in batches of neighbouring points, each in a
fresh process state for GDAL's caches), and counts what the server sent:

- searches: ``/search`` requests and bytes (the item JSON);
- reads: ``/files`` requests (HEAD + ranged GET) and body bytes;
- the minimum: the compressed bytes of the COG blocks that the points' windows touch,
  each block counted once (read from the files' tile index), i.e. what a perfect reader
  that knew the tile index in advance would transfer.

The archive is one tile of ``--size`` 10 m pixels, COGs written by GDAL's COG driver
(DEFLATE, predictor 2, ``--block`` px tiles, overviews) with values that compress about
as real L2A reflectance does; every scene links the same files under its own URL (GDAL
cannot tell them apart, writing stays cheap). Points are random in the tile at
``--points`` per tile; the default (400 points in 72 × 72 km, 1024² blocks as Earth
Search's COGs) is the LUCAS 2018 density, about one point per 13 km², several batches.

    python bench/bench_stac_api.py                       # the pipeline's batch size (256)
    python bench/bench_stac_api.py --batch 32 128 256    # one run each
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pystac
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exports.source import ALL_BANDS, PointRequest, PointStack, Scene, SceneFilter
from exports.stac.api import api_source
from exports.stac.options import API_BATCH_SIZE
from exports.stac.window import source_window
from pipeline.points import morton_key
from tests.fixtures.stac_server import LoopbackStac
from tests.fixtures.synthetic_s2 import (
    TileSpec,
    band_resolution,
    make_item,
    pixel_centres,
    point_request,
    tile_around,
)

LUCAS_DENSITY = 1 / 13.0  # points per km²: 335k LUCAS 2018 points over ~4.4 M km²


def band_values(band: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth fields + noise (reflectance, ~70 % of raw once compressed), blocky SCL."""
    if band == "SCL":
        cls = (np.floor(x / 400) * 7 + np.floor(y / 400) * 3) % 6 + 3
        return cls.astype(np.uint8)
    k = ALL_BANDS.index(band)
    field = 1500 + 800 * np.sin(x / 900.0 + k) * np.cos(y / 1300.0)
    return np.clip(field + rng.normal(0, 120, x.shape), 1, 10000).astype(np.uint16)


def write_cog(path: Path, data: np.ndarray, transform: object, epsg: int, block: int) -> None:
    h, w = data.shape
    profile = dict(driver="GTiff", width=w, height=h, count=1, dtype=data.dtype.name,
                   crs=f"EPSG:{epsg}", transform=transform, nodata=0)  # fmt: skip
    with MemoryFile() as mem:
        with mem.open(**profile) as tmp:
            tmp.write(data, 1)
        with mem.open() as src:
            rasterio.shutil.copy(src, path, driver="COG", BLOCKSIZE=block, COMPRESS="DEFLATE",
                                 PREDICTOR=2, OVERVIEWS="AUTO")  # fmt: skip


def build(root: Path, tile: TileSpec, n_scenes: int, block: int) -> list[pystac.Item]:
    """One set of band COGs, linked under each scene's folder; one item per scene."""
    rng = np.random.default_rng(0)
    shared = root / "_bands"
    shared.mkdir(parents=True)
    for band in ALL_BANDS:
        x, y, transform = pixel_centres(tile, band_resolution(band))
        write_cog(shared / f"{band}.tif", band_values(band, x, y, rng), transform, tile.epsg,
                  block)
    items = []
    for k in range(n_scenes):
        when = datetime(2018, 3, 1, 10, 20, 30, tzinfo=UTC) + timedelta(days=5 * k)
        item_id = f"S2A_{tile.name}_{when:%Y%m%d}_0_L2A"
        folder = root / item_id
        folder.mkdir()
        for band in ALL_BANDS:
            os.link(shared / f"{band}.tif", folder / f"{band}.tif")
        items.append(make_item(item_id, tile, when, asset_dir=folder))
    return items


def random_points(tile: TileSpec, n: int, seed: int = 1) -> list[PointRequest]:
    """Points in the tile (1 km from its edges), in the pipeline's order: Morton (Z-order)
    of their kilometre grid position, as :func:`pipeline.points.point_requests` sorts."""
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    left, bottom, right, top = tile.extent()
    xs = rng.uniform(left + 1000, right - 1000, n)
    ys = rng.uniform(bottom + 1000, top - 1000, n)
    keys = [morton_key(int(x // 1000) * 10_000 + int(y // 1000) % 10_000)
            for x, y in zip(xs, ys, strict=True)]  # fmt: skip
    order = np.argsort(keys, kind="stable")
    lon, lat = Transformer.from_crs(tile.epsg, 4326, always_xy=True).transform(xs, ys)
    return [point_request(i + 1, float(lat[j]), float(lon[j])) for i, j in enumerate(order)]


def minimum_bytes(selection: dict[int, list[Scene]], points: Sequence[PointRequest],
                  root: Path) -> int:  # fmt: skip
    """Compressed bytes of the distinct COG blocks the points' windows touch, all assets."""
    by_id = {p.point_id: p for p in points}
    users: dict[tuple[str, str], list[int]] = {}
    for pid, scenes in selection.items():
        for scene in scenes:
            for band in ALL_BANDS:
                users.setdefault((scene.scene_id, band), []).append(pid)
    total = 0
    sizes: dict[tuple[str, int, int], int] = {}  # block sizes are the same in every scene
    for (scene_id, band), pids in users.items():
        with rasterio.open(root / scene_id / f"{band}.tif") as src:
            bh, bw = src.block_shapes[0]
            blocks: set[tuple[int, int]] = set()
            for pid in pids:
                w = source_window(by_id[pid].grid, src.transform, src.crs, src.crs.to_epsg())
                c0, r0 = max(int(w.col_off), 0), max(int(w.row_off), 0)
                c1 = min(int(w.col_off + w.width), src.width) - 1
                r1 = min(int(w.row_off + w.height), src.height) - 1
                blocks |= {(bx, by) for bx in range(c0 // bw, c1 // bw + 1)
                           for by in range(r0 // bh, r1 // bh + 1)}  # fmt: skip
            for bx, by in blocks:
                key = (band, bx, by)
                if key not in sizes:
                    sizes[key] = int(src.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=1))
                total += sizes[key]
    return total


def run(items: list[pystac.Item], root: Path, points: list[PointRequest], batch: int) -> dict:
    with LoopbackStac(items, root) as api:
        source = api_source(api.url)
        t0 = time.perf_counter()
        selection = source.find_scenes(points, 2018, SceneFilter())
        t_select = time.perf_counter() - t0
        search = (api.stats.by_kind["/search"] + api.stats.by_kind["/"],
                  api.stats.bytes_by_kind["/search"] + api.stats.bytes_by_kind["/"])
        t0 = time.perf_counter()
        for start in range(0, len(points), batch):
            chunk = points[start : start + batch]
            for result in source.fetch([(p, selection.scenes[p.point_id]) for p in chunk],
                                       ALL_BANDS, 100.0):  # fmt: skip
                assert isinstance(result, PointStack), result
        t_fetch = time.perf_counter() - t0
        methods = dict(api.stats.methods)
        reads = (api.stats.by_kind["/files"], api.stats.bytes_by_kind["/files"])
    return {"selection": selection.scenes, "search": search, "reads": reads,
            "methods": methods, "t_select": t_select, "t_fetch": t_fetch}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=400)
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--size", type=int, default=7200, help="tile side in 10 m pixels")
    parser.add_argument("--block", type=int, default=1024, help="COG block size (px)")
    parser.add_argument("--batch", type=int, nargs="+", default=[API_BATCH_SIZE],
                        help="points per fetch batch (several: one run each) [default: "
                             f"{API_BATCH_SIZE}, the pipeline's with --stac-url]")
    parser.add_argument("--dir", type=Path, default=None, help="keep the archive here")
    args = parser.parse_args()

    root = (args.dir or Path(tempfile.mkdtemp(prefix="bench-stac-api-"))).resolve()
    tile = tile_around("33UUP", 32633, 48.0, 12.6, args.size)
    t0 = time.perf_counter()
    items = build(root, tile, args.scenes, args.block)
    points = random_points(tile, args.points)
    km2 = (args.size / 100.0) ** 2
    print(f"archive: 1 tile {args.size}² px ({km2:.0f} km²), {args.scenes} scenes × "
          f"{len(ALL_BANDS)} bands, {args.block}² px blocks, DEFLATE; {len(points)} points "
          f"({len(points) / km2:.3f}/km², LUCAS ≈ {LUCAS_DENSITY:.3f}/km²); built in "
          f"{time.perf_counter() - t0:.1f} s in {root}")  # fmt: skip

    for batch in args.batch:
        report(run(items, root, points, batch), points, root, batch)


def report(out: dict, points: list[PointRequest], root: Path, batch: int) -> None:
    n = len(points)
    steps = sum(len(s) for s in out["selection"].values())
    windows = steps * len(ALL_BANDS)
    (s_req, s_bytes), (r_req, r_bytes) = out["search"], out["reads"]
    minimum = minimum_bytes(out["selection"], points, root)
    print(f"\npoint-scenes {steps}, windows {windows}, batches of {batch}; select "
          f"{out['t_select']:.1f} s, fetch {out['t_fetch']:.1f} s over loopback")
    print(f"searches : {s_req:6d} requests, {s_bytes / 1e6:8.2f} MB  "
          f"({s_req / n:.3f} req/point, {s_bytes / n / 1e3:.1f} kB/point)")
    print(f"reads    : {r_req:6d} requests, {r_bytes / 1e6:8.2f} MB  "
          f"({r_req / n:.1f} req/point, {r_bytes / n / 1e6:.3f} MB/point; "
          f"{r_req / windows:.2f} req/window; HEAD {out['methods'].get('HEAD', 0)}, "
          f"GET {out['methods'].get('GET', 0)})")
    print(f"minimum  : {minimum / 1e6:24.2f} MB  ({minimum / n / 1e6:.3f} MB/point: the "
          f"blocks the windows touch, each once)")
    print(f"ratio    : {r_bytes / minimum:24.2f} × the minimum "
          f"(with searches: {(r_bytes + s_bytes) / minimum:.2f} ×)")
    print(f"per point-scene (11 bands): {r_req / steps:.1f} requests, "
          f"{r_bytes / steps / 1e3:.0f} kB read, minimum {minimum / steps / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
