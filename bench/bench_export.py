"""Benchmark of the ``stac`` source's export against a plain per-point rasterio loop.

Builds a synthetic archive (tests/fixtures/synthetic_s2.py: one tile, N scenes, M points),
then times ``StacSource.fetch`` (scene-major: each asset opened once per batch, GDAL's block
cache shared by the points) and the baseline (for each point, each scene, each band: open,
boundless read of the same window, reproject to the patch grid), checks both give the same
pixels, and prints points/s and the ratio.

    /work/venv/bin/python bench/bench_export.py --points 40 --scenes 30
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
from exports.stac_source import StacSource
from exports.window_read import finish_patch, source_window
from tests.fixtures.synthetic_s2 import build_archive


def run_source(
    source: StacSource, batch: list[tuple[PointRequest, Sequence[Scene]]]
) -> dict[int, np.ndarray]:
    out = {}
    for result in source.fetch(batch, ALL_BANDS, 100.0):
        assert isinstance(result, PointStack), result
        out[result.point_id] = result.data
    return out


def run_baseline(
    batch: list[tuple[PointRequest, Sequence[Scene]]], boundless: bool = True
) -> dict[int, np.ndarray]:
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
        out[point.point_id] = data
    return out


def best_of(
    repeat: int, fn: Callable[..., dict[int, np.ndarray]], *args: object
) -> tuple[float, dict[int, np.ndarray]]:
    best, result = float("inf"), {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=40)
    parser.add_argument("--scenes", type=int, default=30)
    parser.add_argument("--size", type=int, default=1200, help="tile size in 10 m pixels")
    parser.add_argument("--block", type=int, default=512, help="GeoTIFF block size")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs each")
    parser.add_argument("--dir", type=Path, default=None, help="keep the archive here")
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-s2-"))
    t0 = time.perf_counter()
    catalog, points = build_archive(root, args.points, args.scenes, args.size, block=args.block)
    print(f"archive: {args.scenes} scenes × {len(ALL_BANDS)} bands, {args.size}² px tile, "
          f"{args.block}² blocks, {len(points)} points ({time.perf_counter() - t0:.1f} s) "
          f"in {root}")  # fmt: skip

    source = StacSource.from_catalog(catalog)
    selection = source.find_scenes(points, 2018, SceneFilter())
    batch = [(p, selection.scenes[p.point_id]) for p in points]
    n_steps = sum(len(s) for _, s in batch)

    t_src, ours = best_of(args.repeat, run_source, source, batch)
    t_base, theirs = best_of(args.repeat, run_baseline, batch, True)
    t_plain, plain = best_of(args.repeat, run_baseline, batch, False)
    same = all(np.array_equal(ours[k], theirs[k]) and np.array_equal(ours[k], plain[k])
               for k in theirs)  # fmt: skip
    n = len(points)
    print(f"point-scenes: {n_steps}, windows: {n_steps * len(ALL_BANDS)}, identical pixels: {same}")
    print(f"StacSource.fetch              : {n / t_src:7.2f} points/s ({t_src:6.2f} s)")
    print(f"baseline, boundless read      : {n / t_base:7.2f} points/s ({t_base:6.2f} s)"
          f"  ratio {t_base / t_src:5.1f}×")  # fmt: skip
    print(f"baseline, in-bounds read      : {n / t_plain:7.2f} points/s ({t_plain:6.2f} s)"
          f"  ratio {t_plain / t_src:5.1f}×")  # fmt: skip


if __name__ == "__main__":
    main()
