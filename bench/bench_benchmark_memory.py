"""Memory of the benchmark's data path: memory-mapped composite cache vs everything in RAM.

The baseline is what a straightforward implementation does (and what this project did
before): compute every country's composites in memory and concatenate them into one
array set. The measured path streams each country into its cache file and then maps it
(``benchmark.cache.load_country`` + ``benchmark.pool.PooledComposites``).

Each variant runs in its own process and does the same work: load the countries, cut the
random forest's inputs (center pixel, 12 months × 10 bands, every point) and one epoch
of ViViT inputs (15×15×12 crops, batches of 64 in random order). Printed per variant:
wall time, peak resident memory (VmHWM, includes mapped file pages the kernel may drop)
and peak anonymous memory (RssAnon, sampled; what really has to fit in RAM).

    python bench/bench_benchmark_memory.py                 # 2 countries × 2,500 points
    python bench/bench_benchmark_memory.py --points 1000
    python bench/bench_benchmark_memory.py --data out/2018   # existing <CC>.h5 files
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark import composites as comp
from benchmark.cache import build_country, load_country
from benchmark.h5read import country_files
from benchmark.inputs import LazyInputs
from benchmark.pool import PooledComposites

MODES = ("in-memory", "cache-build", "cache-reuse")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class AnonPeak:
    """Peak of RssAnon over the moments ``sample`` is called."""

    def __init__(self) -> None:
        self.peak = _status_mb("RssAnon")

    def sample(self) -> None:
        self.peak = max(self.peak, _status_mb("RssAnon"))


def worker(mode: str, data: Path, cache: Path) -> dict[str, float]:
    anon = AnonPeak()
    start = time.perf_counter()
    files = country_files(data)
    if mode == "in-memory":
        datas = [build_country(f, comp.DEFAULT_MASK_CLASSES) for f in files]
        anon.sample()
        pool = PooledComposites([comp.concat([d.composites for d in datas])])
    else:
        datas = [load_country(f, comp.DEFAULT_MASK_CLASSES, cache) for f in files]
        pool = PooledComposites([d.composites for d in datas])
    anon.sample()
    loaded = time.perf_counter() - start
    everything = np.arange(len(pool))
    rf_inputs = LazyInputs("rf", pool, everything)[everything]
    anon.sample()
    order = np.random.default_rng(0).permutation(len(pool))
    checksum = float(rf_inputs.sum())
    for k, lo in enumerate(range(0, len(order), 64)):
        batch = LazyInputs("vivit", pool, order)[np.arange(lo, min(lo + 64, len(order)))]
        checksum += float(batch[:, 5, 2, 7, 7].sum())
        if k % 10 == 0:
            anon.sample()
    anon.sample()
    return {
        "points": len(pool),
        "load_s": loaded,
        "total_s": time.perf_counter() - start,
        "peak_rss_mb": _status_mb("VmHWM"),
        "peak_anon_mb": anon.peak,
        "checksum": checksum,
    }


def run_worker(mode: str, data: Path, cache: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, "--data", str(data), "--cache", str(cache)],
        check=True, capture_output=True, text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2500, help="points per country")
    parser.add_argument("--countries", default="AT,DE")
    parser.add_argument("--data", type=Path, help="existing year folder (skips generation)")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.cache)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from tests.fixtures.synthetic_h5 import random_country

            data = Path(tmp) / "2018"
            for k, cc in enumerate(args.countries.split(",")):
                random_country(data / f"{cc}.h5", cc, args.points, seed=k, steps=(6, 12))
        cache = Path(tmp) / "cache"
        results = {mode: run_worker(mode, data, cache) for mode in MODES}

    sums = {r["checksum"] for r in results.values()}
    n = int(results["in-memory"]["points"])
    print(f"{n} points; same inputs in every variant: {len(sums) == 1}")
    print(f"{'variant':<12} {'load s':>8} {'total s':>8} {'peak RSS MB':>12} {'peak anon MB':>13}")
    for mode, r in results.items():
        print(f"{mode:<12} {r['load_s']:8.1f} {r['total_s']:8.1f} {r['peak_rss_mb']:12.0f} "
              f"{r['peak_anon_mb']:13.0f}")
    base, reuse = results["in-memory"], results["cache-reuse"]
    print(f"peak anonymous memory, in-memory / cache-reuse: "
          f"{base['peak_anon_mb'] / reuse['peak_anon_mb']:.1f}x (in-memory grows with the data, "
          f"{base['peak_anon_mb'] * 1024 / n:.0f} KB per point here; the cached path holds one "
          f"batch and the RF's center pixels)")
    print(f"time, in-memory / cache-reuse: {base['total_s'] / reuse['total_s']:.1f}x")


if __name__ == "__main__":
    main()
