"""The Earth Engine imagery source (``--source gee``): scene selection and the fast path.

:class:`GeeSource` implements :class:`~exports.source.ImagerySource`. Selection runs on the
server, many points per call (:mod:`exports.gee_select`); export fetches each point's stack
with ``computePixels`` (:mod:`exports.gee_pixels`), points in parallel on a bounded thread
pool, every call under one :class:`~exports.gee_throttle.Throttle` (rate, adaptive
concurrency, retries). Connecting (credentials, project, endpoint) is :mod:`exports.gee_auth`.

One process should own one ``GeeSource``: the quota (40 concurrent requests, 100 req/s) is
per Cloud project, and the throttle only sees its own process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ee

from exports.gee_auth import GeeAuth, initialize
from exports.gee_batch import BatchExporter, BatchTarget, TaskStore
from exports.gee_pixels import ComputePixels, fetch_patches
from exports.gee_select import DEFAULT_CHUNK, Evaluate, select_scenes
from exports.gee_throttle import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    DEFAULT_WORKERS,
    MAX_WORKERS,
    ErrorKind,
    RetryPolicy,
    Throttle,
    classify,
)
from exports.source import (
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    SceneFilter,
    SceneSelection,
)
from exports.stack import assemble_stack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeeSettings:
    """Tuning of the source; the defaults fit one project's default quota."""

    workers: int = DEFAULT_WORKERS  # concurrent requests (threads), at most MAX_WORKERS
    rate: float = DEFAULT_RATE  # request starts per second
    burst: int = DEFAULT_BURST
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    select_chunk: int = DEFAULT_CHUNK  # points per scene-selection call


class GeeConfig(Protocol):
    """What :meth:`GeeSource.from_config` reads from the run config (``pipeline`` owns it)."""

    @property
    def project(self) -> str | None: ...
    @property
    def gee_key_file(self) -> Path | None: ...
    @property
    def workers(self) -> int: ...


def _compute_pixels(params: dict[str, Any]) -> Any:
    return ee.data.computePixels(params)  # looked up per call: tests may patch ee.data


def _compute_value(obj: Any) -> Any:
    return ee.data.computeValue(obj)


class GeeSource:
    """Sentinel-2 L2A from Earth Engine's ``COPERNICUS/S2_SR_HARMONIZED``.

    ``compute_pixels`` and ``compute_value`` are the two server calls (defaults:
    ``ee.data.computePixels`` / ``ee.data.computeValue``), injected so tests fake them;
    ``clock`` and ``sleep`` drive the throttle.
    """

    name = "gee"

    def __init__(
        self,
        settings: GeeSettings | None = None,
        *,
        compute_pixels: ComputePixels | None = None,
        compute_value: Evaluate | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or GeeSettings()
        s = self.settings
        self.throttle = Throttle(s.workers, s.rate, s.burst, s.retry, clock=clock, sleep=sleep)
        self._compute_pixels = compute_pixels or _compute_pixels
        self._compute_value = compute_value or _compute_value

    @classmethod
    def connect(cls, auth: GeeAuth, settings: GeeSettings | None = None) -> GeeSource:
        """Initialise Earth Engine (raises ConfigError when credentials are missing)."""
        initialize(auth)
        return cls(settings)

    @classmethod
    def from_config(cls, cfg: GeeConfig) -> GeeSource:
        """The source of a run: ``--project``, ``--gee-key-file``, ``--workers`` (threads)."""
        auth = GeeAuth(project=cfg.project, key_file=cfg.gee_key_file)
        return cls.connect(auth, GeeSettings(workers=min(max(cfg.workers, 1), MAX_WORKERS)))

    def batch_exporter(self, store: TaskStore, target: BatchTarget) -> BatchExporter:
        """The batch path (Export tasks to Cloud Storage), sharing this source's throttle."""
        return BatchExporter(store, target, throttle=self.throttle)

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="gee-select") as pool:
            return select_scenes(
                points,
                year,
                scene_filter,
                evaluate=self._compute_value,
                throttle=self.throttle,
                chunk_size=self.settings.select_chunk,
                executor=pool,
            )

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        """Each point's stack as soon as it is ready (completion order, not batch order)."""
        pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="gee-pixels")
        todo = iter(batch)
        running: set[Future[PointStack | PointFailure]] = set()

        def submit_next() -> None:
            item = next(todo, None)
            if item is not None:
                point, scenes = item
                running.add(pool.submit(self._fetch_one, point, scenes, bands, max_patch_nodata))

        try:
            for _ in range(2 * self.settings.workers):  # bounded look-ahead
                submit_next()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    running.discard(fut)
                    submit_next()
                    yield fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_one(
        self,
        point: PointRequest,
        scenes: Sequence[Scene],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> PointStack | PointFailure:
        try:
            patches, dropped = fetch_patches(
                point,
                scenes,
                bands,
                compute_pixels=self._compute_pixels,
                throttle=self.throttle,
            )
            return assemble_stack(point, patches, bands, max_patch_nodata, dropped)
        except Exception as e:  # recorded per point, never the end of the batch
            kind = classify(e)
            log.warning("gee point %08d failed (%s): %s", point.point_id, kind.value, e)
            return PointFailure(
                point.point_id,
                f"Earth Engine computePixels: {e}",
                transient=kind is not ErrorKind.DETERMINISTIC,
            )
