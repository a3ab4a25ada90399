"""Stage 3, export: each point's stack fetched, cropped, filtered and staged on disk.

Work goes out in batches of neighbouring points (the source reads scene-major inside a
batch) through the executor the policy picks (:mod:`pipeline.executors.choose`); this stage
is the only place that records and counts the outcomes they yield. Points whose failure was
transient are tried again in this run, ``--retries`` attempts in all, with a backoff.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from exports.registry import Scheduling
from exports.source import ImagerySource
from lucas.errors import OutputError
from lucas.safe_files import fsync_file
from pipeline.config import RunConfig
from pipeline.executors.base import Cluster, Finished, Work
from pipeline.executors.choose import export_executor
from pipeline.export import batch
from pipeline.export.jobs import STAGE, ExportJob, ExportOutcome
from pipeline.export.plan import plan_jobs, regroup
from pipeline.export.record import record_outcomes
from pipeline.interrupt import stop_requested
from pipeline.ledger import DONE, Ledger
from pipeline.report import NoProgress, Progress, StageSummary


@dataclass
class ExportWork:
    """Export batches as a :class:`~pipeline.executors.base.Work` (here, in workers, Dask)."""

    cfg: RunConfig
    source: ImagerySource  # the coordinating process's own source

    def run_here(self, job: ExportJob) -> Iterator[ExportOutcome]:
        return batch.export_job(self.source, job)

    def worker_init(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        return batch.init_worker, (self.cfg,)

    def worker_run(self) -> Callable[[ExportJob], list[ExportOutcome]]:
        return batch.run_in_worker

    def on_dask(
        self, cluster: Cluster, jobs: Sequence[ExportJob]
    ) -> Iterator[Finished[ExportJob, ExportOutcome]]:
        from pipeline.export.dask_waves import run_on_dask

        return run_on_dask(self.cfg, cluster, jobs)


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
    jobs = list(plan_jobs(cfg, ledger, points_by_country, summary))
    advance = progress.start(STAGE, sum(len(j.points) for j in jobs))
    try:
        run_with_retries(cfg, ledger, ExportWork(cfg, source), jobs, summary, advance,
                         cfg.scheduling, STAGE)
    finally:
        progress.stop(STAGE)
    summary.seconds = time.perf_counter() - start
    return summary


def run_with_retries(
    cfg: RunConfig,
    ledger: Ledger,
    work: Work[Any, ExportOutcome],
    jobs: Sequence[Any],
    summary: StageSummary,
    advance: Callable[[int], None],
    scheduling: Scheduling,
    stage: str,
) -> None:
    """Run the jobs, then the points whose failure was transient again (``--retries``
    attempts in all, with a backoff), recording every outcome in ``stage``."""
    for attempt in range(1, cfg.retries + 1):
        retry = run_jobs(cfg, ledger, work, jobs, summary, advance, scheduling, stage)
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
        jobs = regroup(cfg, retry, scheduling)


def sync_staging(stage_dir: Path) -> None:
    """Fsync the staging folder once per batch, before the ledger marks its points done: a
    power loss can otherwise undo the renames of files the ledger already trusts (one folder
    fsync per batch, not per point: the renames of a batch share it)."""
    try:
        fsync_file(stage_dir)
    except OSError as e:
        raise OutputError(f"cannot flush the staging folder {stage_dir}: {e}; free space or "
                          "fix it and run the same command again (finished points are kept)"
                          ) from e


def run_jobs(
    cfg: RunConfig,
    ledger: Ledger,
    work: Work[Any, ExportOutcome],
    jobs: Sequence[Any],
    summary: StageSummary,
    advance: Callable[[int], None],
    scheduling: Scheduling,
    stage: str = STAGE,
) -> list[tuple[Any, Any]]:
    """Run the jobs, recording every outcome; return the points to try again."""
    executor = export_executor(cfg.scheduler, cfg.workers, scheduling, len(jobs))
    retry: list[tuple[Any, Any]] = []
    try:
        for finished in executor.run(work, jobs):
            by_country: dict[str, list[ExportOutcome]] = defaultdict(list)
            stage_dirs = {}
            for job, outcome in finished:
                by_country[job.country].append(outcome)
                stage_dirs[job.country] = job.stage_dir
                if outcome.transient:
                    retry.append((job, job.item(outcome.point_id)))
            for country, outcomes in by_country.items():
                if any(o.state == DONE for o in outcomes):
                    sync_staging(stage_dirs[country])
                record_outcomes(cfg, ledger, country, outcomes, summary, stage)
            advance(len(finished))
    finally:
        summary.notes.extend(n for n in executor.notes if n not in summary.notes)
    return retry
