"""Time per point of the Sentinel-1 export next to the Sentinel-2 export, on the demo.

Builds the demo archive (``etl demo``: a year of Sentinel-2 L2A over two tiles and the
Sentinel-1 catalog of the same area), selects both for the same points, then times the
export of each: ``StacSource.fetch`` (11 bands, uint16) and ``StacRadarSource.fetch``
(VV + VH, float32 linear → dB, series of every acquisition), and the pairing of ``--s1
closest`` on top. Prints ms per point, ms per point-scene and the ratio S1 / S2.

    python bench/bench_s1.py                   # 24 demo points
    python bench/bench_s1.py --points 48 --resampling bilinear
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from exports.registry import SourceContext
from exports.s1.options import S1Options
from exports.s1.pairing import S2Step, pair_closest
from exports.s1.source import S1Filter
from exports.s1.sources import get_radar_spec
from exports.source import ALL_BANDS, PointStack, SceneFilter
from exports.stac.source import StacSource
from pipeline.demo import build_demo
from pipeline.points import point_requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=24)
    parser.add_argument("--step-days", type=int, default=5)
    parser.add_argument("--resampling", choices=("nearest", "bilinear"), default="nearest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = build_demo(Path(tmp) / "demo", n_points=args.points, step_days=args.step_days)
        table = pd.read_csv(demo.lucas_path, usecols=["point_id", "th_lat", "th_long"])
        points = point_requests(table)
        s2 = StacSource.from_catalog(demo.catalog_path, bands=ALL_BANDS)
        s2_sel = s2.find_scenes(points, 2018, SceneFilter())
        options = S1Options(s1="series", s1_catalog=demo.s1_catalog_path, s1_source="stac",
                            s1_resampling=args.resampling)
        radar = get_radar_spec("stac").build(options, SourceContext(bands=(), year=2018))
        s1_sel = radar.find_acquisitions(points, 2018, S1Filter())

        start = time.perf_counter()
        s2_out = [r for r in s2.fetch([(p, s2_sel.scenes[p.point_id]) for p in points],
                                      ALL_BANDS, 5.0) if isinstance(r, PointStack)]
        s2_seconds = time.perf_counter() - start
        start = time.perf_counter()
        s1_out = [r for r in radar.fetch([(p, s1_sel.scenes[p.point_id]) for p in points],
                                         5.0, args.resampling) if isinstance(r, PointStack)]
        s1_seconds = time.perf_counter() - start
        by_id = {r.point_id: r for r in s2_out}
        start = time.perf_counter()
        for r in s1_out:
            s2_stack = by_id.get(r.point_id)
            if s2_stack is not None:
                steps = [S2Step(i, t) for i, t in zip(s2_stack.image_ids, s2_stack.acquired,
                                                      strict=True)]
                pair_closest(r, steps, 3.0)
        pair_seconds = time.perf_counter() - start

    n = len(points)
    s2_ps = sum(len(v) for v in s2_sel.scenes.values())
    s1_ps = sum(len(v) for v in s1_sel.scenes.values())
    print(f"{n} points; Sentinel-2: {s2_ps} point-scenes, Sentinel-1: {s1_ps} point-slices "
          f"({args.resampling})")
    print(f"S2 export   {1000 * s2_seconds / n:8.1f} ms/point  "
          f"{1000 * s2_seconds / max(s2_ps, 1):6.2f} ms/point-scene  (11 bands)")
    print(f"S1 export   {1000 * s1_seconds / n:8.1f} ms/point  "
          f"{1000 * s1_seconds / max(s1_ps, 1):6.2f} ms/point-slice  (VV+VH, dB)")
    print(f"S1 pairing  {1000 * pair_seconds / n:8.1f} ms/point  (--s1 closest on top)")
    print(f"ratio S1/S2 per point: {s1_seconds / s2_seconds:.2f}")


if __name__ == "__main__":
    main()
