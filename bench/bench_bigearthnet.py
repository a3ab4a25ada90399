"""Patches per second of one BigEarthNet unit (a tile scene), and where the time goes.

Writes a synthetic tile scene (tests/fixtures/synthetic_tile.py: the 12 bands + SCL on the
tile grid, ``--km`` a side from the tile corner) and a CORINE GeoPackage of random
polygons over it, then runs the unit (read whole → cut → rasterise labels → write the
GeoTIFFs → move into the tree) and prints patches per second, the time per phase, and the
ratio of the whole unit to reading alone (the floor: every byte read once).

    python bench/bench_bigearthnet.py              # 12 km: 100 patches
    python bench/bench_bigearthnet.py --km 36      # 900 patches
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import numpy as np
from shapely.geometry import box

from pipeline.bigearthnet.config import build_ben_config
from pipeline.bigearthnet.read import read_scene
from pipeline.bigearthnet.unit import make_tools, run_unit
from tests.fixtures.synthetic_tile import EPSG, ORIGIN, write_scene

CODES = ("211", "231", "311", "312", "512", "112")


def clc_file(path: Path, km: float, seed: int = 0) -> Path:
    """Squares of 300 m with random CORINE codes over the area, in EPSG:3035."""
    rng = np.random.default_rng(seed)
    side = 300.0
    n = int(km * 1000 / side) + 1
    cells = [box(ORIGIN[0] + i * side, ORIGIN[1] - (j + 1) * side,
                 ORIGIN[0] + (i + 1) * side, ORIGIN[1] - j * side)
             for i in range(n) for j in range(n)]
    frame = gpd.GeoDataFrame({"Code_18": rng.choice(CODES, len(cells))}, geometry=cells,
                             crs=f"EPSG:{EPSG}").to_crs(3035)
    frame.to_file(path, driver="GPKG")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--km", type=float, default=12.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scene = write_scene(root / "s2", size_m=args.km * 1000 + 300)
        clc = clc_file(root / "clc.gpkg", args.km + 0.3)
        import pystac

        catalog = pystac.Catalog("bench", "the unit is handed its scene directly")
        catalog.normalize_and_save(str(root / "stac"), pystac.CatalogType.SELF_CONTAINED)
        cfg = build_ben_config({"tiles": "33UUP", "start": "2017-06-01", "end": "2017-06-30",
                                "out": root / "out", "clc": str(clc), "source": "stac",
                                "catalog": str(root / "stac" / "catalog.json")})
        start = time.perf_counter()
        read_scene(scene)
        read_only = time.perf_counter() - start
        tools = make_tools(cfg)
        start = time.perf_counter()
        result = run_unit(cfg, tools, "33UUP", scene)
        seconds = time.perf_counter() - start
    n = result.counts["patches written"]
    print(f"one tile scene of {args.km:g} km a side: {n} patches written "
          f"({result.counts['patches cut']} cut)")
    print(f"unit: {seconds:.2f} s, {n / seconds:.1f} patches/s "
          f"(a whole 91×91 tile: ~{91 * 91 / (n / seconds) / 60:.1f} min on this machine)")
    for phase, spent in result.seconds.items():
        print(f"  {phase:7s} {spent:6.2f} s  {100 * spent / seconds:5.1f} %")
    print(f"ratio unit / read alone: {seconds / read_only:.1f}")


if __name__ == "__main__":
    main()
