"""Benchmark of the ``stac`` source's export against a plain per-point rasterio loop.

By default on the demo archive (``etl demo``: two tiles in two UTM zones, a year of scenes;
``--points``/``--step-days`` size it); ``--synthetic`` uses one synthetic tile
(tests/fixtures/synthetic_s2.py: N scenes, M points) instead. It times
``StacSource.fetch`` (scene-major: each asset opened once per batch, GDAL's block
cache shared by the points) and the baseline (for each point, each scene, each band: open,
boundless read of the same window, reproject to the patch grid), checks both give the same
pixels, and prints points/s and the ratio.

    python bench/bench_export.py                       # demo archive, 24 points
    python bench/bench_export.py --synthetic --points 40 --scenes 30
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exports.source import ALL_BANDS, PointRequest, PointStack, Scene, SceneFilter
from exports.stac.source import StacSource
from exports.stac.window import finish_patch, source_window
from tests.fixtures.synthetic_s2 import build_archive


def run_source(
    source: StacSource, batch: list[tuple[PointRequest, Sequence[Scene]]]
) -> dict[int, tuple[list[str], np.ndarray]]:
    out = {}
    for result in source.fetch(batch, ALL_BANDS, 100.0):
        assert isinstance(result, PointStack), result
        out[result.point_id] = (result.image_ids, result.data)
    return out


def same_pixels(
    ours: dict[int, tuple[list[str], np.ndarray]], theirs: dict[int, tuple[list[str], np.ndarray]]
) -> bool:
    """Every time step the source kept equals the baseline's read of the same scene."""
    for pid, (ids, data) in ours.items():
        base_ids, base = theirs[pid]
        for t, image_id in enumerate(ids):
            matches = [i for i, b in enumerate(base_ids) if b == image_id]
            if not any(np.array_equal(data[t], base[i]) for i in matches):
                return False
    return True


def run_baseline(
    batch: list[tuple[PointRequest, Sequence[Scene]]], boundless: bool = True
) -> dict[int, tuple[list[str], np.ndarray]]:
    """The naive loop: open per point per asset, read (boundless or not), reproject (nearest).

    ``boundless=False`` is only valid when no window runs off the raster (true here: the
    points are 1 km inside the tile); it isolates the cost of rasterio's boundless VRT.
    """
    dtype = np.dtype([(b, "u1" if b == "SCL" else "<u2") for b in ALL_BANDS])
    out = {}
    for point, scenes in batch:
        g = point.grid
        ordered = sorted(scenes, key=lambda s: (s.acquired, s.scene_id))
        data = np.zeros((len(ordered), g.size, g.size), dtype=dtype)
        for t, scene in enumerate(ordered):
            for band in ALL_BANDS:
                with rasterio.open(scene.assets[band]) as src:
                    window = source_window(g, src.transform, src.crs, src.crs.to_epsg())
                    raw = src.read(1, window=window, boundless=boundless, fill_value=0)
                    patch = np.zeros((g.size, g.size), dtype=raw.dtype)
                    reproject(
                        raw,
                        patch,
                        src_transform=src.window_transform(window),
                        src_crs=src.crs,
                        src_nodata=0,
                        dst_transform=g.transform,
                        dst_crs=g.crs,
                        dst_nodata=0,
                        resampling=Resampling.nearest,
                    )
                offset = 0 if band == "SCL" else scene.boa_offset
                data[band][t] = finish_patch(patch, dtype[band], offset)
        out[point.point_id] = ([s.image_id for s in ordered], data)
    return out


Result = dict[int, tuple[list[str], np.ndarray]]


def best_of(repeat: int, fn: Callable[..., Result], *args: object) -> tuple[float, Result]:
    best: float = float("inf")
    result: Result = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", action="store_true", help="one synthetic tile")
    parser.add_argument("--points", type=int, default=None, help="[demo: 24, synthetic: 40]")
    parser.add_argument("--step-days", type=float, default=5.0, help="demo: days between passes")
    parser.add_argument("--scenes", type=int, default=30, help="synthetic: scenes")
    parser.add_argument("--size", type=int, default=1200, help="tile size in 10 m pixels")
    parser.add_argument("--block", type=int, default=512, help="GeoTIFF block size")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs each")
    parser.add_argument("--dir", type=Path, default=None, help="keep the archive here")
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-s2-"))
    t0 = time.perf_counter()
    if args.synthetic:
        n_points = args.points or 40
        catalog, points = build_archive(root, n_points, args.scenes, args.size, block=args.block)
        print(f"synthetic archive: {args.scenes} scenes × {len(ALL_BANDS)} bands, {args.size}² "
              f"px tile, {args.block}² blocks, {len(points)} points "
              f"({time.perf_counter() - t0:.1f} s) in {root}")  # fmt: skip
    else:
        catalog, points = demo_archive(root / "demo", args.points or 24, args.step_days)
        print(f"demo archive: {len(points)} points, a pass every {args.step_days:g} days, "
              f"two tiles in two UTM zones ({time.perf_counter() - t0:.1f} s) in {root}")

    source = StacSource.from_catalog(catalog)
    selection = source.find_scenes(points, 2018, SceneFilter())
    batch = [(p, selection.scenes[p.point_id]) for p in points]
    n_steps = sum(len(s) for _, s in batch)

    t_src, ours = best_of(args.repeat, run_source, source, batch)
    t_base, theirs = best_of(args.repeat, run_baseline, batch, True)
    n = len(points)
    same = same_pixels(ours, theirs)
    print(f"point-scenes: {n_steps}, windows: {n_steps * len(ALL_BANDS)}, identical pixels: {same}")
    print(f"StacSource.fetch              : {n / t_src:7.2f} points/s ({t_src:6.2f} s)")
    print(f"baseline, boundless read      : {n / t_base:7.2f} points/s ({t_base:6.2f} s)"
          f"  ratio {t_base / t_src:5.1f}×")  # fmt: skip
    if args.synthetic:  # no window runs off a raster there: the in-bounds read is valid
        t_plain, plain = best_of(args.repeat, run_baseline, batch, False)
        print(f"baseline, in-bounds read      : {n / t_plain:7.2f} points/s ({t_plain:6.2f} s)"
              f"  ratio {t_plain / t_src:5.1f}×  identical: {same_pixels(ours, plain)}")


def demo_archive(root: Path, n_points: int, step_days: float) -> tuple[Path, list[PointRequest]]:
    """The demo archive and its points as the pipeline sees them."""
    import pandas as pd

    from pipeline.demo import build_demo
    from pipeline.points import point_requests

    archive = build_demo(root, n_points=n_points, step_days=step_days)
    table = pd.read_csv(archive.lucas_path, usecols=["point_id", "th_lat", "th_long"])
    return archive.catalog_path, point_requests(table)


if __name__ == "__main__":
    main()
