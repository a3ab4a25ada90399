"""Stage 3, export: each point's stack fetched, cropped, filtered and staged on disk.

Work goes out in batches of neighbouring points (the source reads scene-major inside a
batch); each finished point is staged atomically by the worker, and only then does the
coordinating process mark it done in the ledger.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from exports.source import (
    ImagerySource,
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    scene_from_dict,
)
from lucas.errors import OutputError
from pipeline.config import RunConfig
from pipeline.h5format import attribute_records
from pipeline.interrupt import stop_requested
from pipeline.ledger import DONE, FAILED, SKIPPED, Ledger, UnitUpdate
from pipeline.points import chunked, country_prefix, point_key, point_requests
from pipeline.report import NoProgress, Progress, StageSummary
from pipeline.sources import make_source
from pipeline.staging import remove_temp_files, stage_point, staging_dir, staging_error

log = logging.getLogger(__name__)

STAGE = "export"
NO_SCENE = "no usable scene"


PointItem = tuple[PointRequest, list[Scene], dict[str, Any]]


@dataclass
class ExportJob:
    """A batch of neighbouring points of one country, picklable for worker processes."""

    country: str
    stage_dir: Path
    points: list[PointItem]
    bands: tuple[str, ...]
    max_patch_nodata: float


@dataclass
class ExportOutcome:
    point_id: int
    state: str
    error: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def export_job(source: ImagerySource, job: ExportJob) -> Iterator[ExportOutcome]:
    """Fetch and stage one batch; yields an outcome per point as soon as it is on disk."""
    by_id = {req.point_id: (req, attrs) for req, _, attrs in job.points}
    pending = [(req, scenes) for req, scenes, _ in job.points if scenes]
    for req, scenes, _ in job.points:
        if not scenes:
            yield ExportOutcome(req.point_id, SKIPPED, NO_SCENE, {"reason": "no scene selected"})
    seen: set[int] = set()
    try:
        for result in source.fetch(pending, job.bands, job.max_patch_nodata):
            seen.add(result.point_id)
            yield point_outcome(job, result, *by_id[result.point_id])
    except OutputError:
        raise  # our own disk is full or unwritable: stop the run, nothing to record per point
    except Exception as e:  # a source bug must not lose the batch's other points silently
        log.exception("export of a batch of %d points failed", len(pending))
        for req, _ in pending:
            if req.point_id not in seen:
                yield ExportOutcome(req.point_id, FAILED, f"{type(e).__name__}: {e}",
                                    {"transient": False})


def point_outcome(
    job: ExportJob, result: PointStack | PointFailure, req: PointRequest, attrs: dict[str, Any]
) -> ExportOutcome:
    if isinstance(result, PointFailure):
        return ExportOutcome(result.point_id, FAILED, result.message,
                             {"transient": result.transient})
    dropped = [{"scene": d.scene_id, "reason": d.reason, "kind": d.category()}
               for d in result.dropped]
    if len(result.image_ids) == 0:
        return ExportOutcome(result.point_id, SKIPPED, NO_SCENE,
                             {"reason": "every scene dropped", "dropped": dropped})
    try:
        stage_point(job.stage_dir, result, req.grid, attrs)
    except OSError as e:
        raise staging_error(e, job.stage_dir, result.point_id) from e
    return ExportOutcome(result.point_id, DONE, None,
                         {"steps": len(result.image_ids), "dropped": dropped})


# --- worker processes -------------------------------------------------------------------

_WORKER_SOURCE: ImagerySource | None = None


def _init_worker(cfg: RunConfig) -> None:
    global _WORKER_SOURCE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when to stop
    _WORKER_SOURCE = make_source(cfg)


def _run_in_worker(job: ExportJob) -> list[ExportOutcome]:
    assert _WORKER_SOURCE is not None
    return list(export_job(_WORKER_SOURCE, job))


# --- the stage --------------------------------------------------------------------------


def run_export(
    cfg: RunConfig,
    ledger: Ledger,
    source: ImagerySource,
    points_by_country: dict[str, pd.DataFrame],
    progress: Progress | None = None,
) -> StageSummary:
    progress = progress or NoProgress()
    summary = StageSummary(STAGE)
    start = time.perf_counter()
    jobs = list(_plan_jobs(cfg, ledger, points_by_country, summary))
    advance = progress.start(STAGE, sum(len(j.points) for j in jobs))
    try:
        for attempt in range(1, cfg.retries + 1):
            retry = _run_jobs(cfg, ledger, source, jobs, summary, advance)
            if not retry or stop_requested():
                break
            if attempt == cfg.retries:
                summary.counts["failed"] += len(retry)
                summary.reasons["point failed: transient errors on every attempt"] += len(retry)
                summary.notes.append(
                    f"{len(retry)} point(s) still failing after {cfg.retries} attempts; "
                    "the next run retries them"
                )
                break
            summary.counts["retried"] += len(retry)
            time.sleep(min(2.0 ** attempt, 30.0))  # let a throttled or flaky service recover
            jobs = _regroup(cfg, retry)
    finally:
        progress.stop(STAGE)
    summary.seconds = time.perf_counter() - start
    return summary


def _run_jobs(
    cfg: RunConfig,
    ledger: Ledger,
    source: ImagerySource,
    jobs: Sequence[ExportJob],
    summary: StageSummary,
    advance: Any,
) -> list[tuple[ExportJob, PointItem]]:
    """Run the jobs; return the points whose failure was transient, to try again."""
    outcomes: list[tuple[ExportJob, ExportOutcome]] = []
    # Earth Engine's limit is the project quota, which one process's thread pool already
    # saturates (cfg.workers are its threads): it always runs in this process.
    if cfg.scheduler is not None and source.name != "gee":  # gee: refused by the config
        from pipeline.dask_export import run_on_dask  # Dask is loaded only with --scheduler

        run_on_dask(cfg, ledger, jobs, summary, advance, outcomes)
    elif cfg.workers <= 1 or len(jobs) <= 1 or source.name == "gee":
        _run_inline(cfg, ledger, source, jobs, summary, advance, outcomes)
    else:
        _run_pool(cfg, ledger, jobs, summary, advance, outcomes)
    retry = []
    for job, outcome in outcomes:
        if outcome.state == FAILED and outcome.payload.get("transient"):
            item = next(p for p in job.points if p[0].point_id == outcome.point_id)
            retry.append((job, item))
    return retry


def _regroup(cfg: RunConfig, retry: Sequence[tuple[ExportJob, PointItem]]) -> list[ExportJob]:
    jobs = []
    for job in {id(j): j for j, _ in retry}.values():
        items = [item for j, item in retry if j is job]
        size = len(items) if cfg.source == "gee" and cfg.mode == "batch" else cfg.batch_size
        for batch in chunked(items, size):  # gee batch: one drain per country, as planned
            jobs.append(ExportJob(job.country, job.stage_dir, list(batch), job.bands,
                                  job.max_patch_nodata))
    return jobs


def _plan_jobs(
    cfg: RunConfig,
    ledger: Ledger,
    points_by_country: dict[str, pd.DataFrame],
    summary: StageSummary,
) -> Iterator[ExportJob]:
    for cc, points in points_by_country.items():
        prefix = country_prefix(cfg.year, cc)
        stage_dir = staging_dir(cfg.out, cfg.year, cc)
        if remove_temp_files(stage_dir):
            summary.notes.append(f"removed unfinished staged files of an interrupted run ({cc})")
        selections = {u.key: u.payload for u in ledger.units("select", prefix, state=DONE)}
        exported = {u.key: u for u in ledger.units(STAGE, prefix)}
        attrs = attribute_records(points)
        todo: list[PointItem] = []
        for req in point_requests(points):
            key = point_key(cfg.year, cc, req.point_id)
            if key not in selections:
                summary.counts["waiting for select"] += 1
                continue
            unit = exported.get(key)
            if unit is not None and not needs_work(cfg, unit.state, unit.payload):
                summary.counts[f"already {unit.state}"] += 1
                continue
            scenes = [scene_from_dict(s) for s in (selections.get(key) or {}).get("scenes", [])]
            todo.append((req, scenes, attrs[req.point_id]))
        batch_size = cfg.batch_size if cfg.source != "gee" else max(cfg.batch_size, 4 * cfg.workers)
        if cfg.source == "gee" and cfg.mode == "batch":
            # One job per country: its drain keeps the task queue full (up to 2,500 tasks)
            # instead of waiting for the slowest task of every small batch.
            batch_size = max(len(todo), 1)
        for batch in chunked(todo, batch_size):
            yield ExportJob(cc, stage_dir, list(batch), cfg.bands, cfg.max_patch_nodata)


def needs_work(cfg: RunConfig, state: str, payload: Any) -> bool:
    if state in (DONE, SKIPPED):
        return False
    if state == FAILED:
        transient = bool((payload or {}).get("transient"))
        return cfg.retry_failed or transient
    return True


def _run_inline(
    cfg: RunConfig,
    ledger: Ledger,
    source: ImagerySource,
    jobs: Sequence[ExportJob],
    summary: StageSummary,
    advance: Any,
    outcomes: list[tuple[ExportJob, ExportOutcome]],
) -> None:
    for job in jobs:
        for outcome in export_job(source, job):
            record_outcomes(cfg, ledger, job.country, [outcome], summary)
            outcomes.append((job, outcome))
            advance(1)
            if stop_requested():
                return


def _run_pool(
    cfg: RunConfig,
    ledger: Ledger,
    jobs: Sequence[ExportJob],
    summary: StageSummary,
    advance: Any,
    outcomes: list[tuple[ExportJob, ExportOutcome]],
) -> None:
    ctx = mp.get_context("forkserver")
    with ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(cfg,)) as pool:
        queue = iter(jobs)
        running: dict[Future[list[ExportOutcome]], ExportJob] = {}

        def submit_next() -> None:
            job = next(queue, None)
            if job is not None and not stop_requested():
                running[pool.submit(_run_in_worker, job)] = job

        for _ in range(cfg.workers * 2):  # keep every worker busy, little queued work
            submit_next()
        while running:
            finished, _ = wait(running, return_when="FIRST_COMPLETED")
            for fut in finished:
                job = running.pop(fut)
                done = fut.result()
                record_outcomes(cfg, ledger, job.country, done, summary)
                outcomes.extend((job, o) for o in done)
                advance(len(done))
                submit_next()


def record_outcomes(
    cfg: RunConfig,
    ledger: Ledger,
    country: str,
    outcomes: Iterable[ExportOutcome],
    summary: StageSummary,
) -> None:
    updates = []
    for o in outcomes:
        transient = o.state == FAILED and bool(o.payload.get("transient"))
        # A transient failure is tried again in this run: counted as failed only at the end.
        summary.counts["transient errors" if transient else o.state] += 1
        if o.state == DONE:
            summary.counts["time steps"] += int(o.payload.get("steps", 0))
        if o.state == SKIPPED:
            summary.reasons[f"point skipped: {o.payload.get('reason', o.error)}"] += 1
        if o.state == FAILED and not transient:
            summary.reasons[f"point failed: {o.error}"] += 1
            if cfg.fail_fast:
                ledger.record(STAGE, [UnitUpdate(point_key(cfg.year, country, o.point_id),
                                                 o.state, o.error, o.payload)])
                from lucas.errors import SourceError

                raise SourceError(f"point {o.point_id:08d} failed (--fail-fast): {o.error}")
        for d in o.payload.get("dropped", []):
            summary.reasons[f"time step dropped: {d['kind']}"] += 1
        updates.append(UnitUpdate(point_key(cfg.year, country, o.point_id), o.state, o.error,
                                  o.payload))
    ledger.record(STAGE, updates)
