"""The ``stac`` export's cost, counted from its batches (``etl run --dry-run``).

Reading is scene-major (:mod:`exports.stac.window_read`): every asset is opened once per
worker process and kept open (:mod:`exports.stac.dataset_pool`, up to its capacity), and
one window per point is cut from block-merged reads of it. On a catalog on disk the count
is *asset opens + windows*: each distinct asset once per worker (every batch again when
the run's assets exceed the pool), one window per point, scene and band. Over HTTP, GDAL
turns opens and windows into ranged GETs of the COG blocks, which depends on the block
size and how many neighbours a batch holds: there the figures of
``bench/bench_stac_api.py`` (README "How much traffic a country takes", 1024-px blocks at
LUCAS density) are used per point-scene.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from exports.estimate import Batches, ExportEstimate, unique_scenes
from exports.source import ALL_BANDS, BANDS_10M
from exports.stac.dataset_pool import default_capacity
from exports.stac.window import is_remote

# bench/bench_stac_api.py, 1024² blocks, 400 points at LUCAS density, the reader of issue 19.
# (smallest batch size, (requests, MB) per point-scene), README "How much traffic a country takes"
HTTP_BY_BATCH = ((256, (0.6, 1.38)), (128, (1.0, 1.86)), (0, (1.5, 2.85)))
HTTP_MB_PER_S = 50.0  # the low end of what an EC2 machine next to the bucket gets
# bench/bench_s1.py on the demo (2-core machine, one process, local COGs):
LOCAL_MS_PER_POINT_SCENE = 7.6  # 475 ms per point of 62.5 point-scenes (README)
PATCH_M = 640.0  # 64 pixels of 10 m


def estimate(options: Any, batches: Batches, bands: Sequence[str], workers: int
             ) -> ExportEstimate:
    """Opens and window reads of a static catalog, or HTTP requests and bytes over a network."""
    wanted = [b for b in ALL_BANDS if b in bands]
    opens = reads = point_scenes = window_bytes = 0
    remote = False
    assets: set[tuple[str, str]] = set()
    per_batch_opens = 0
    for batch in batches:
        seen: set[str] = set()
        for _point, scenes in batch:
            for scene in unique_scenes(scenes):
                present = [b for b in wanted if b in scene.assets]
                if len(present) < len(wanted):
                    continue  # fetch drops a scene lacking a band before any read
                point_scenes += 1
                reads += len(present)
                window_bytes += sum(_window_bytes(b) for b in present)
                remote = remote or any(is_remote(scene.assets[b]) for b in present)
                if scene.scene_id not in seen:
                    seen.add(scene.scene_id)
                    per_batch_opens += len(present)
                    assets.update((scene.scene_id, b) for b in present)
    fits = len(assets) <= default_capacity()
    opens = min(len(assets) * max(1, workers), per_batch_opens) if fits else per_batch_opens
    size = max((len(b) for b in batches), default=0)
    if remote:
        return _over_http(point_scenes, size, len(wanted), workers)
    seconds = point_scenes * LOCAL_MS_PER_POINT_SCENE / 1000 / max(1, workers)
    return ExportEstimate(
        requests=opens + reads, bytes=window_bytes, seconds=seconds,
        request_kind="file opens + windows",
        assumptions=(
            f"catalog on disk: {opens:,} asset opens (each asset once per worker process, kept "
            f"open; once per batch when the run's assets exceed the pool) + {reads:,} windows "
            "(one per point, scene and band, cut from block-merged reads)",
            "bytes: the decoded windows (patch + 1 source pixel of margin); the disk reads "
            "are the compressed blocks they touch",
            f"time: {LOCAL_MS_PER_POINT_SCENE} ms per point-scene per worker "
            "(bench/bench_s1.py on the demo, 2 cores)",
        ))


def _over_http(point_scenes: int, batch_size: int, n_bands: int, workers: int
               ) -> ExportEstimate:
    per_request, per_mb = next(f for size, f in HTTP_BY_BATCH if batch_size >= size)
    share = n_bands / len(ALL_BANDS)
    mb = point_scenes * per_mb * share
    return ExportEstimate(
        requests=round(point_scenes * per_request * share),
        bytes=round(mb * 1e6), seconds=mb / HTTP_MB_PER_S,
        request_kind="HTTP requests (ranged GETs)",
        assumptions=(
            f"COGs with 1024-px blocks at LUCAS density, batches of {batch_size}: "
            f"{per_request} requests and {per_mb} MB per point-scene of 11 bands "
            "(bench/bench_stac_api.py; README \"How much traffic a country takes\")",
            f"time: {HTTP_MB_PER_S:g} MB/s (an EC2 machine next to the bucket; days over a "
            "home connection), whatever --workers",
        ))


def _window_bytes(band: str) -> int:
    """Decoded bytes of one point's window of ``band`` (10 or 20 m, 1 pixel of margin)."""
    resolution = 10.0 if band in BANDS_10M else 20.0
    side = math.ceil(PATCH_M / resolution) + 2
    return side * side * (1 if band == "SCL" else 2)
