"""The Earth Engine fast path against the default quota: points/s against the bound.

Runs the project's own fast-path code (``GeeSource.fetch``: request pool, throttle with
its token bucket, adaptive concurrency and retries, NPY decode, stack assembly) against
an in-process simulated server (tests/fixtures/ee_quota_server.py) with the default
per-project quota: 40 requests in flight, 100 starts/s, HTTP 429 "Too many concurrent
aggregations." beyond either. Every answer is realistic: 90 scenes × 11 bands on the 64×64
grid (990 uint16 fields, 8 MB, one request per point). Batches are the pipeline's
(``points_per_worker`` × ``--workers`` points, one after another).

Prints, per case (alone; a competing job holding ``--competitor`` of the 40 slots):
points/s, the bound ``min(free slots / latency, 100)``, the ratio, 429s sent, points lost
and duplicated; and the decode cost per point, the old ``np.load`` decode as baseline.
Targets: alone ≥ 90 % of the bound, with the competitor ≥ 80 %, 0 lost, 0 duplicated.

    .venv/bin/python bench/bench_gee_quota.py                   # about 2 minutes
    .venv/bin/python bench/bench_gee_quota.py --points 400      # quicker
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exports.gee.options import GeeOptions
from exports.gee.pixels import Answer, decode_answers
from exports.gee.source import GeeSettings, GeeSource
from exports.source import ALL_BANDS, PointFailure, PointRequest, PointStack, Scene, band_dtype
from exports.stack import ScenePatch, assemble_stack
from tests.exports.gee_fakes import offline_ee, point, scene
from tests.fixtures.ee_quota_server import QuotaServer, npy_stack

SCENES = 90
CONCURRENT = 40
RATE = 100.0


def points(n: int) -> list[PointRequest]:
    """``n`` points 2 km apart around Vienna (one UTM zone, distinct grids)."""
    side = int(np.ceil(np.sqrt(n)))
    return [point(10_000_000 + i, 47.8 + 0.018 * (i // side), 15.5 + 0.027 * (i % side))
            for i in range(n)]


def old_decode(data: bytes, pt: PointRequest, scenes: Sequence[Scene]) -> PointStack:
    """The decode before this bench's fix: np.load, a strided view and copy per field."""
    array = np.load(io.BytesIO(data), allow_pickle=False, max_header_size=1 << 20)
    dtype = band_dtype(ALL_BANDS)
    patches = [
        ScenePatch(s, {b: np.ascontiguousarray(array[f"{s.image_id}_{b}"], dtype=dtype[b])
                       for b in dtype.names or ()})
        for s in scenes
    ]
    return assemble_stack(pt, patches, ALL_BANDS, 100.0)


def per_call_ms(fn: Callable[[], object], repeat: int = 20) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def run_case(
    name: str, pts: Sequence[PointRequest], scenes: Sequence[Scene], answer: bytes,
    *, workers: int, reserved: int, latency: float, jitter: float,
) -> float:
    server = QuotaServer(answer, concurrent=CONCURRENT, rate=RATE, reserved=reserved,
                         latency_s=latency, jitter_s=jitter)
    source = GeeSource(GeeSettings(workers=workers), compute_pixels=server.compute_pixels)
    per_batch = GeeOptions().scheduling().batch_size(32, workers, len(pts))
    delivered: Counter[int] = Counter()
    failures: list[PointFailure] = []
    start = time.perf_counter()
    for i in range(0, len(pts), per_batch):
        batch = [(p, scenes) for p in pts[i : i + per_batch]]
        for result in source.fetch(batch, ALL_BANDS, 100.0):
            if isinstance(result, PointFailure):
                failures.append(result)
            else:
                assert result.data.shape == (len(scenes), 64, 64)
                delivered[result.point_id] += 1
    elapsed = time.perf_counter() - start
    wanted = {p.point_id for p in pts}
    lost = len(wanted - set(delivered))
    duplicated = sum(n - 1 for n in delivered.values() if n > 1)
    bound = min((CONCURRENT - reserved) / latency, RATE)
    rate = len(delivered) / elapsed
    print(f"{name:<28} {len(pts):>6} {elapsed:8.1f} {rate:9.1f} {bound:7.1f} "
          f"{rate / bound:6.1%} {server.refused:6d} {lost:5d} {duplicated:5d} "
          f"{server.peak_in_flight:5d} {source.throttle.limiter.limit:6d}")
    for failure in failures[:3]:
        print(f"    failed: {failure.point_id}: {failure.message}")
    return rate / bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1200, help="points of the lone case")
    parser.add_argument("--workers", type=int, default=CONCURRENT)
    parser.add_argument("--latency", type=float, default=1.0, help="mean seconds per request")
    parser.add_argument("--jitter", type=float, default=0.25, help="± seconds, uniform")
    parser.add_argument("--competitor", type=int, default=20, help="slots another job holds")
    args = parser.parse_args()

    with offline_ee():
        scenes = [scene(1 + 4 * d) for d in range(SCENES)]
        answer = npy_stack([s.image_id for s in scenes], ALL_BANDS)
        pts = points(args.points)
        def new_decode() -> PointStack:
            patches, dropped = decode_answers(pts[0], [Answer(scenes, answer, "bench")],
                                              ALL_BANDS)
            return assemble_stack(pts[0], patches, ALL_BANDS, 100.0, dropped)

        assert np.array_equal(new_decode().data, old_decode(answer, pts[0], scenes).data)
        new = per_call_ms(new_decode)
        old = per_call_ms(lambda: old_decode(answer, pts[0], scenes), repeat=5)
        fields = SCENES * len(ALL_BANDS)
        print(f"answer: {SCENES} scenes × {len(ALL_BANDS)} bands = {fields} u2 fields, "
              f"{len(answer) / 1e6:.1f} MB")
        print(f"decode + stack per point: {new:.1f} ms (np.load baseline {old:.1f} ms, "
              f"{old / new:.1f}× faster)")
        print(f"quota: {CONCURRENT} in flight, {RATE:g} starts/s; latency {args.latency:g} s "
              f"± {args.jitter:g}; --workers {args.workers}")
        print(f"{'case':<28} {'points':>6} {'wall s':>8} {'points/s':>9} {'bound':>7} "
              f"{'ratio':>6} {'429s':>6} {'lost':>5} {'dupl':>5} {'peak':>5} {'limit':>6}")
        alone = run_case("alone", pts, scenes, answer, workers=args.workers, reserved=0,
                         latency=args.latency, jitter=args.jitter)
        share = (CONCURRENT - args.competitor) / CONCURRENT
        shared = run_case(f"competitor holds {args.competitor}", pts[: int(len(pts) * share)],
                          scenes, answer, workers=args.workers, reserved=args.competitor,
                          latency=args.latency, jitter=args.jitter)
    print(f"targets: alone {alone:.1%} ≥ 90 % {'ok' if alone >= 0.9 else 'MISSED'}; "
          f"with competitor {shared:.1%} ≥ 80 % {'ok' if shared >= 0.8 else 'MISSED'}")


if __name__ == "__main__":
    main()
