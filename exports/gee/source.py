"""The Earth Engine imagery source (``--source gee``): scene selection, fast and batch paths.

:class:`GeeSource` implements :class:`~exports.source.ImagerySource`. Selection runs on the
server, many points per call (:mod:`exports.gee.select`); export fetches each point's stack
with ``computePixels`` (:mod:`exports.gee.pixels`), points in parallel on a bounded thread
pool, every call under one :class:`~exports.gee.throttle.Throttle` (rate, adaptive
concurrency, retries). Connecting (credentials, project, endpoint) is :mod:`exports.gee.auth`.
:class:`GeeBatchSource` (``--mode batch``) selects the same way and fetches through export
tasks (:mod:`exports.gee.batch`).

One process should own one ``GeeSource``: the quota (40 concurrent requests, 100 req/s) is
per Cloud project, and the throttle only sees its own process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import ee

from exports.gee import endpoint
from exports.gee.auth import GeeAuth, gcs_gdal_options, initialize
from exports.gee.batch import (
    DEFAULT_POLL_S,
    DEFAULT_TIMEOUT_S,
    BatchExporter,
    BatchTarget,
    ReadRaster,
    TaskStore,
    read_geotiff,
)
from exports.gee.pipelined import decode_behind
from exports.gee.pixels import Answer, ComputePixels, decode_answers, request_answers
from exports.gee.select import DEFAULT_CHUNK, Evaluate, select_scenes
from exports.gee.throttle import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    DEFAULT_WORKERS,
    MAX_WORKERS,
    ErrorKind,
    RetryPolicy,
    Throttle,
    classify,
)
from exports.gee.tiles import DEFAULT_BLOCK, BBox, TileBand, TileReader, find_tile_scenes
from exports.source import (
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    SceneFilter,
    SceneSelection,
)
from exports.stack import assemble_stack
from lucas.errors import ConfigError

log = logging.getLogger(__name__)

A = TypeVar("A")
R = TypeVar("R")
_END = object()


@dataclass(frozen=True)
class GeeSettings:
    """Tuning of the source; the defaults fit one project's default quota."""

    workers: int = DEFAULT_WORKERS  # concurrent requests (threads), at most MAX_WORKERS
    rate: float = DEFAULT_RATE  # request starts per second
    burst: int = DEFAULT_BURST
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    select_chunk: int = DEFAULT_CHUNK  # points per scene-selection call
    batch_poll_s: float = DEFAULT_POLL_S  # batch path: seconds between two looks at the tasks
    batch_timeout_s: float = DEFAULT_TIMEOUT_S  # batch path: longest wait of one run
    tile_block_px: int = DEFAULT_BLOCK  # whole bands: pixels a side of one computePixels block


class GeeConfig(Protocol):
    """What :meth:`GeeSource.from_config` reads from the run config (``pipeline`` owns it)."""

    @property
    def project(self) -> str | None:
        """The Cloud project billed; ``None`` lets the credentials pick it."""

    @property
    def gee_key_file(self) -> Path | None:
        """A service-account key; ``None`` uses the user's stored credentials."""

    @property
    def workers(self) -> int:
        """The run's workers, read as threads: one process owns the project's quota."""


class GeeBatchConfig(GeeConfig, Protocol):
    """What :meth:`GeeSource.batch_from_config` reads on top of :class:`GeeConfig`."""

    @property
    def gcs_bucket(self) -> str | None:
        """Where export tasks write; ``None`` is refused, batch mode cannot run without it."""

    @property
    def gcs_prefix(self) -> str:
        """A folder in the bucket, so several runs can share one bucket."""


def _compute_pixels(params: dict[str, Any]) -> Any:
    return ee.data.computePixels(params)  # looked up per call: tests may patch ee.data


def _compute_value(obj: Any) -> Any:
    return endpoint.compute_value(obj)  # selection is an aggregation: the standard endpoint


def completion_order(
    items: Iterable[A], work: Callable[[A], R], workers: int, *, thread_name_prefix: str
) -> Iterator[R]:
    """``work(item)`` of every item on ``workers`` threads, each result as soon as it is
    ready (completion order), with a bounded look-ahead so a long batch is not all queued;
    leaving early (the consumer stops) cancels what has not started."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix=thread_name_prefix)
    todo = iter(items)
    running: set[Future[R]] = set()

    def submit_next() -> None:
        item = next(todo, _END)
        if item is not _END:
            running.add(pool.submit(work, item))  # type: ignore[arg-type]

    try:
        for _ in range(2 * workers):  # bounded look-ahead
            submit_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                running.discard(fut)
                submit_next()
                yield fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def point_failure(point: PointRequest, error: Exception) -> PointFailure:
    """A point's failed computePixels as a record: transient unless retrying cannot help."""
    kind = classify(error)
    log.warning("gee point %08d failed (%s): %s", point.point_id, kind.value, error)
    return PointFailure(
        point.point_id,
        f"Earth Engine computePixels: {error}",
        transient=kind is not ErrorKind.DETERMINISTIC,
    )


class GeeService:
    """What every Earth Engine source holds: its settings, the throttle, the two calls.

    ``compute_pixels`` and ``compute_value`` are the two server calls (defaults:
    ``ee.data.computePixels`` on the endpoint the client was initialised on, the
    high-volume one; ``ee.data.computeValue`` on the standard endpoint,
    :mod:`exports.gee.endpoint`), injected so tests fake them;
    ``clock`` and ``sleep`` drive the throttle.
    """

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
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def connect(cls, auth: GeeAuth, settings: GeeSettings | None = None) -> Self:
        """Initialise Earth Engine (raises ConfigError when credentials are missing)."""
        initialize(auth)
        return cls(settings)


class GeeSource(GeeService):
    """Sentinel-2 L2A from Earth Engine's ``COPERNICUS/S2_SR_HARMONIZED``."""

    name = "gee"

    @classmethod
    def from_config(cls, cfg: GeeConfig) -> GeeSource:
        """The source of a run: ``--project``, ``--gee-key-file``, ``--workers`` (threads)."""
        auth = GeeAuth(project=cfg.project, key_file=cfg.gee_key_file)
        return cls.connect(auth, GeeSettings(workers=min(max(cfg.workers, 1), MAX_WORKERS)))

    @classmethod
    def batch_from_config(
        cls, cfg: GeeBatchConfig, store: TaskStore, *, stop: Callable[[], bool] | None = None
    ) -> GeeBatchSource:
        """``--mode batch``: exports to ``--gcs-bucket``/``--gcs-prefix``, task records in
        ``store`` (the run's ledger); GCS is read with the Earth Engine account; ``stop``
        (the run's Ctrl-C flag) ends the waiting early."""
        if not cfg.gcs_bucket:
            raise ConfigError(
                "--mode batch exports to Cloud Storage: give --gcs-bucket BUCKET (a bucket "
                "the Earth Engine account can write and read)"
            )
        auth = GeeAuth(project=cfg.project, key_file=cfg.gee_key_file)
        source = cls.from_config(cfg)
        target = BatchTarget(cfg.gcs_bucket, cfg.gcs_prefix)
        read = partial(read_geotiff, gdal_options=gcs_gdal_options(auth))
        return source.batch_source(store, target, read_raster=read, stop=stop)

    def batch_exporter(
        self, store: TaskStore, target: BatchTarget, *, read_raster: ReadRaster | None = None
    ) -> BatchExporter:
        """The batch path (Export tasks to Cloud Storage), sharing this source's throttle."""
        return BatchExporter(store, target, throttle=self.throttle, read_raster=read_raster)

    def batch_source(
        self,
        store: TaskStore,
        target: BatchTarget,
        *,
        read_raster: ReadRaster | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> GeeBatchSource:
        """This source with the batch path as its ``fetch``."""
        exporter = self.batch_exporter(store, target, read_raster=read_raster)
        return GeeBatchSource(self, exporter, clock=self._clock, sleep=self._sleep, stop=stop)

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        """Selection on the server, chunks in parallel: one call per point would hit the quota."""
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

    def find_tile_scenes(
        self, tile: str, year: int, scene_filter: SceneFilter, bbox: BBox | None
    ) -> SceneSelection:
        """The scenes of one MGRS tile in ``year`` (the BigEarthNet unit), key 0 of
        ``scenes``, time-ordered, every filter passed; the others in ``dropped`` with the
        reason. One server call; ``bbox`` (WGS84) only narrows the search."""
        return find_tile_scenes(tile, year, scene_filter, bbox,
                                evaluate=self._compute_value, throttle=self.throttle)

    def read_band_whole(self, scene: Scene, key: str) -> TileBand:
        """Band ``key`` (B1 … B12, B8A, SCL) of a scene whole, at its native resolution on
        the tile's grid, masked pixels 0; blocks fetched in parallel. Raises SourceError
        naming the scene and band when Earth Engine fails (``transient`` as classified)."""
        return self._tile_reader.read(scene, key)

    @cached_property
    def _tile_reader(self) -> TileReader:
        def run(items: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[Any]:
            return completion_order(items, work, self.settings.workers,
                                    thread_name_prefix="gee-tile")

        return TileReader(compute_pixels=self._compute_pixels,
                          compute_value=self._compute_value, throttle=self.throttle, run=run,
                          block_px=self.settings.tile_block_px)

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        """Each point's stack as soon as it is ready (completion order, not batch order).

        Requests run on ``workers`` threads, decoding on a pool of its own
        (:mod:`exports.gee.pipelined`), so every request thread is always in flight.
        """

        def run_requests(items: Iterable[Any], work: Callable[[Any], Any]) -> Iterator[Any]:
            return completion_order(items, work, self.settings.workers,
                                    thread_name_prefix="gee-pixels")

        yield from decode_behind(
            batch,
            lambda item: self._request_one(item, bands),
            lambda raw: self._decode_one(raw, bands, max_patch_nodata),
            run_requests=run_requests,
        )

    def _request_one(
        self, item: tuple[PointRequest, Sequence[Scene]], bands: Sequence[str]
    ) -> tuple[PointRequest, list[Answer] | PointFailure]:
        point, scenes = item
        try:
            answers = request_answers(point, scenes, bands, compute_pixels=self._compute_pixels,
                                      throttle=self.throttle)
        except Exception as e:  # recorded per point, never the end of the batch
            return point, point_failure(point, e)
        return point, answers

    def _decode_one(
        self,
        raw: tuple[PointRequest, list[Answer] | PointFailure],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> PointStack | PointFailure:
        point, answers = raw
        if isinstance(answers, PointFailure):
            return answers
        try:
            patches, dropped = decode_answers(point, answers, bands)
            return assemble_stack(point, patches, bands, max_patch_nodata, dropped)
        except Exception as e:  # a malformed answer fails its point only
            return point_failure(point, e)


class GeeBatchSource:
    """``--mode batch``: the fast path's server-side selection, stacks from export tasks.

    One object serves one run: its wait is bounded run-wide (``batch_timeout_s`` from the
    first ``fetch``), so the export stage's in-run retries of unfinished points poll once
    more instead of waiting another full timeout. Runs inline in the coordinating process
    (``name == "gee"``), which owns the ledger the task records go to.
    """

    name = "gee"

    def __init__(
        self,
        source: GeeSource,
        exporter: BatchExporter,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self.source = source
        self.exporter = exporter
        self._clock = clock
        self._sleep = sleep
        self._stop = stop or (lambda: False)
        self._deadline: float | None = None

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        """The fast path's selection: only fetching differs between the two modes."""
        return self.source.find_scenes(points, year, scene_filter)

    def find_tile_scenes(
        self, tile: str, year: int, scene_filter: SceneFilter, bbox: BBox | None
    ) -> SceneSelection:
        """The fast path's tile search (BigEarthNet reads whole bands, never export tasks)."""
        return self.source.find_tile_scenes(tile, year, scene_filter, bbox)

    def read_band_whole(self, scene: Scene, key: str) -> TileBand:
        """A whole band through the fast path's computePixels blocks."""
        return self.source.read_band_whole(scene, key)

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        """Each point's stack once its task completed and its file was read (poll order)."""
        settings = self.source.settings
        if self._deadline is None:
            self._deadline = self._clock() + settings.batch_timeout_s
        yield from self.exporter.drain(
            batch,
            bands,
            max_patch_nodata,
            poll_s=settings.batch_poll_s,
            deadline=self._deadline,
            clock=self._clock,
            sleep=self._wait,
            stop=self._stop,
        )

    def _wait(self, seconds: float) -> None:
        """Sleep between polls in slices of at most 1 s, so Ctrl-C is seen within a second."""
        end = self._clock() + seconds
        while not self._stop():
            left = end - self._clock()
            if left <= 0:
                return
            self._sleep(min(left, 1.0))
