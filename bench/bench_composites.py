"""Composites per second: the vectorised ``benchmark.composites`` against a per-point,
per-month loop (the way the public Sen4Map reader computes them).

Both compute the same thing from the same in-memory stacks (the 17×17 region the models
need, SCL-masked, monthly medians, empty months interpolated, annual median), and the
script checks that their outputs agree before printing the rates and their ratio.

    python bench/bench_composites.py            # 10,000 points
    python bench/bench_composites.py --points 2000 --io-points 300

``--io-points N`` also times the whole path from an HDF5 file (read + composite) on N
points written by the test fixture generator.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark import composites as comp
from benchmark.cache import build_country
from benchmark.h5read import image_months
from tests.fixtures.synthetic_h5 import compound_dtype, random_country

YEAR = 2018


def make_points(n_distinct: int, seed: int) -> list[tuple[np.ndarray, list[str]]]:
    """Random region stacks (T in 10..40, ~35 % masked pixels) with their Image_IDs."""
    rng = np.random.default_rng(seed)
    dtype = compound_dtype()
    points = []
    for _ in range(n_distinct):
        t = int(rng.integers(10, 41))
        stack = np.zeros((t, comp.REGION_SIZE, comp.REGION_SIZE), dtype=dtype)
        stack["SCL"] = rng.choice([4, 5, 6, 3, 8, 9, 10], p=[.4, .15, .1, .05, .1, .1, .1],
                                  size=stack.shape)
        for band in comp.BANDS:
            stack[band] = rng.integers(1, 6000, size=stack.shape)
        days = sorted(rng.choice(365, size=t, replace=False))
        ids = [
            (date(YEAR, 1, 1) + timedelta(days=int(d))).strftime("%Y%m%d") + "T101401_x_T32UQU"
            for d in days
        ]
        points.append((stack, ids))
    return points


def loop_composites(stack: np.ndarray, ids: list[str], mask: tuple[int, ...]) -> tuple[
    np.ndarray, np.ndarray
]:
    """Baseline: one point, a Python loop over the 12 months, Image_ID substring matching."""
    values = comp.masked_values(stack, mask)
    monthly = np.full((12, *values.shape[1:]), np.nan, dtype=np.float32)
    for m in range(1, 13):
        steps = [i for i, s in enumerate(ids) if f"{YEAR}{m:02d}" in s]
        if steps:
            monthly[m - 1] = np.nanmedian(values[steps], axis=0)
    filled, _ = comp.fill_months(np.moveaxis(monthly, 0, -1))  # months last
    annual = np.nan_to_num(np.nanmedian(values, axis=0), nan=0.0)
    return np.moveaxis(filled, -1, 0), annual


def time_loop(points: list[tuple[np.ndarray, list[str]]], n: int,
              keep: set[int]) -> tuple[float, dict[int, tuple[np.ndarray, np.ndarray]]]:
    kept = {}
    start = time.perf_counter()
    for i in range(n):
        stack, ids = points[i % len(points)]
        result = loop_composites(stack, ids, comp.DEFAULT_MASK_CLASSES)
        if i in keep:
            kept[i] = result
    return time.perf_counter() - start, kept


def time_vectorised(points: list[tuple[np.ndarray, list[str]]], n: int, batch: int,
                    keep: set[int]) -> tuple[float, dict[int, tuple[np.ndarray, np.ndarray]]]:
    months = [image_months(ids) for _, ids in points]  # parsed once per point, as on read
    kept = {}
    start = time.perf_counter()
    for lo in range(0, n, batch):
        idx = [i % len(points) for i in range(lo, min(lo + batch, n))]
        part = comp.composite_batch([points[i][0] for i in idx], [months[i] for i in idx])
        for i in keep.intersection(range(lo, lo + len(idx))):
            kept[i] = (part.monthly[i - lo], part.annual[i - lo])
    return time.perf_counter() - start, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--distinct", type=int, default=500, help="distinct stacks, cycled")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--io-points", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    warnings.simplefilter("ignore", RuntimeWarning)  # nanmedian of all-NaN slices (baseline)
    points = make_points(args.distinct, args.seed)
    print(f"{args.points} points ({args.distinct} distinct stacks, T 10-40, 17x17 px, 10 bands)")
    keep = set(range(0, args.points, max(1, args.points // 50)))  # compared below
    t_vec, vec = time_vectorised(points, args.points, args.batch, keep)
    t_loop, loop = time_loop(points, args.points, keep)
    for i in keep:  # the two must agree
        np.testing.assert_allclose(vec[i][0], loop[i][0], rtol=1e-6)
        np.testing.assert_allclose(vec[i][1], loop[i][1], rtol=1e-6)
    rate_vec, rate_loop = args.points / t_vec, args.points / t_loop
    print(f"per-point, per-month loop: {t_loop:8.2f} s  {rate_loop:10.0f} composites/s")
    print(f"vectorised (batch {args.batch}):    {t_vec:8.2f} s  {rate_vec:10.0f} composites/s")
    print(f"ratio: {rate_vec / rate_loop:.1f}x (outputs identical)")

    if args.io_points:
        with tempfile.TemporaryDirectory() as tmp:
            path = random_country(Path(tmp) / "AT.h5", "AT", args.io_points, seed=args.seed,
                                  steps=(10, 40))
            start = time.perf_counter()
            build_country(path, comp.DEFAULT_MASK_CLASSES)
            t_io = time.perf_counter() - start
        print(f"from HDF5 (read + composite), {args.io_points} points: {t_io:.2f} s  "
              f"{args.io_points / t_io:.0f} composites/s")


if __name__ == "__main__":
    main()
