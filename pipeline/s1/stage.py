"""The radar export stage: plan, run through the executors, record in ``s1_export``."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from exports.s1.source import RadarSource
from exports.s1.sources import get_radar_spec
from pipeline.config import RunConfig
from pipeline.executors.base import Cluster, Finished
from pipeline.export.jobs import ExportOutcome
from pipeline.export.stage import run_with_retries
from pipeline.ledger import Ledger
from pipeline.product import s1_product
from pipeline.report import NoProgress, Progress, StageSummary
from pipeline.s1 import batch
from pipeline.s1.jobs import S1ExportJob
from pipeline.s1.plan import plan_s1_jobs

SUMMARY = "s1 export"


@dataclass
class S1ExportWork:
    """Radar export batches as a :class:`~pipeline.executors.base.Work`."""

    cfg: RunConfig
    radar: RadarSource  # the coordinating process's own source

    def run_here(self, job: S1ExportJob) -> Iterator[ExportOutcome]:
        return batch.export_s1_job(self.radar, job)

    def worker_init(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        return batch.init_worker, (self.cfg,)

    def worker_run(self) -> Callable[[S1ExportJob], list[ExportOutcome]]:
        return batch.run_in_worker

    def on_dask(
        self, cluster: Cluster, jobs: Sequence[S1ExportJob]
    ) -> Iterator[Finished[S1ExportJob, ExportOutcome]]:
        if not jobs:
            return
        from distributed import as_completed

        from pipeline.executors.dask_cluster import check_shared_folder

        catalog = self.cfg.s1_options.s1_catalog
        with cluster.client() as client:  # workers write staged files: they must see them
            jobs[0].stage_dir.mkdir(parents=True, exist_ok=True)
            check_shared_folder(client, jobs[0].stage_dir / ".probe",
                                [str(catalog)] if catalog else [])
            note = f"ran on Dask ({cluster.spec.address or 'a local cluster'})"
            if note not in cluster.notes:
                cluster.notes.append(note)
            run = functools.partial(batch.run_on_dask, self.cfg)
            futures = {client.submit(run, job, key=_task_key(self.cfg.year, job), pure=False):
                       job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                yield [(job, outcome) for outcome in future.result()]


def _task_key(year: int, job: S1ExportJob) -> str:
    return f"s1-export-{year}-{job.country}-{job.points[0].point_id:08d}"


def run_s1_export(
    cfg: RunConfig,
    ledger: Ledger,
    radar: RadarSource,
    points_by_country: dict[str, pd.DataFrame],
    progress: Progress | None = None,
) -> StageSummary:
    """Export every point that still needs radar work; outcomes recorded as they come."""
    progress = progress or NoProgress()
    summary = StageSummary(SUMMARY)
    start = time.perf_counter()
    assert cfg.s1_options.s1_source is not None
    scheduling = get_radar_spec(cfg.s1_options.s1_source).scheduling
    size = max(cfg.batch_size, scheduling.points_per_worker * cfg.workers)
    jobs = list(plan_s1_jobs(cfg, ledger, points_by_country, summary, size))
    advance = progress.start(SUMMARY, sum(len(j.points) for j in jobs))
    try:
        run_with_retries(cfg, ledger, S1ExportWork(cfg, radar), jobs, summary, advance,
                         scheduling, s1_product(cfg).export_stage)
    finally:
        progress.stop(SUMMARY)
    summary.seconds = time.perf_counter() - start
    return summary
