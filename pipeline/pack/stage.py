"""Stage 4, pack: the staged points of a country → ``<out>/<year>/<CC>.h5``, via the writer.

Country files are jobs of the same executors as the export (:mod:`pipeline.executors`):
one after another here, or one Dask task each with ``--scheduler`` when there are several.
A file is written beside its target and renamed over it, so a process killed mid-pack
leaves the previous file; only this process records finished files in the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import RunConfig
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.writer import DatasetWriter, get_writer
from pipeline.executors.base import Cluster, Finished
from pipeline.executors.choose import pack_executor
from pipeline.interrupt import stop_requested
from pipeline.ledger import DONE, Ledger
from pipeline.pack.plan import (
    STAGE,
    PackJob,
    file_fingerprint,
    pack_check,
    pack_digest,
    staged_points,
)
from pipeline.points import country_prefix
from pipeline.product import Product, s2_product
from pipeline.report import NoProgress, Progress, StageSummary
from pipeline.version import producer_version


@dataclass
class PackWork:
    """Packing country files as a :class:`~pipeline.executors.base.Work`."""

    writer: DatasetWriter
    progress: Progress
    year: int

    def run_here(self, job: PackJob) -> Iterator[PackJob]:
        if stop_requested():  # Ctrl-C: the file in flight is finished, no new one starts
            return
        advance = self.progress.start(f"{STAGE} {job.country}", len(job.staged))
        try:
            self.writer.pack(job.staged, job.target, job.attributes, advance)
        finally:
            self.progress.stop(f"{STAGE} {job.country}")
        yield job

    def worker_init(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        return _no_setup, ()

    def worker_run(self) -> Callable[[PackJob], list[PackJob]]:
        return _pack_in_worker

    def on_dask(
        self, cluster: Cluster, jobs: Sequence[PackJob]
    ) -> Iterator[Finished[PackJob, PackJob]]:
        return cluster.map(_pack_in_worker_one, jobs,
                            key=lambda job: f"pack-{self.year}-{job.country}")


def _no_setup() -> None:
    return None


def _pack_in_worker_one(job: PackJob) -> PackJob:
    get_writer(job.writer_name).pack(job.staged, job.target, job.attributes)
    return job


def _pack_in_worker(job: PackJob) -> list[PackJob]:
    return [_pack_in_worker_one(job)]


def run_pack(
    cfg: RunConfig,
    ledger: Ledger,
    source_name: str,
    progress: Progress | None = None,
    product: Product | None = None,
    attributes: Mapping[str, dict[str, Any]] | None = None,
    summary_name: str = STAGE,
) -> tuple[StageSummary, list[Path]]:
    """Pack every country whose file is not current; ``product`` (default: Sentinel-2)
    says which file family, ``attributes`` (per country) go to its writer's file
    attributes."""
    progress = progress or NoProgress()
    product = product or s2_product(cfg)
    summary = StageSummary(summary_name)
    start = time.perf_counter()
    outputs: list[Path] = []
    jobs = _plan(cfg, ledger, source_name, summary, outputs, product, attributes or {})
    executor = pack_executor(cfg.scheduler, cfg.workers, len(jobs))
    if cfg.scheduler and len(jobs) > 1:
        summary.notes.append(f"{len(jobs)} country files packed in parallel on Dask")
    work = PackWork(get_writer(product.writer), progress, cfg.year)
    for finished in executor.run(work, jobs):
        for _, job in finished:
            ledger.mark(product.pack_stage, f"{cfg.year}/{job.country}", DONE,
                        payload={"digest": pack_digest(cfg, job.staged, product),
                                 "points": len(job.staged),
                                 "file": file_fingerprint(job.target)})
            summary.counts["files written"] += 1
            summary.counts["points written"] += len(job.staged)
            outputs.append(job.target)
    summary.seconds = time.perf_counter() - start
    return summary, outputs


def _plan(
    cfg: RunConfig, ledger: Ledger, source_name: str, summary: StageSummary,
    outputs: list[Path], product: Product, extra: Mapping[str, dict[str, Any]],
) -> list[PackJob]:
    writer = get_writer(product.writer)
    jobs = []
    for cc in cfg.countries:
        target = writer.output_path(OutputLayout(cfg.out), cfg.year, cc)
        if writer.remove_stale(target):
            summary.notes.append(f"removed the temp file of an interrupted pack ({cc})")
        current, damage = (False, None) if cfg.force else pack_check(cfg, ledger, cc, product)
        if current:
            writer.ensure_index(target)
            summary.counts["files up to date"] += 1
            outputs.append(target)
            continue
        if damage is not None:
            summary.notes.append(f"{target}: {damage}; packed again from the staged points")
        staged = staged_points(cfg, ledger, cc, product)
        missing = [pid for pid, p in staged if not p.exists()]
        if missing:
            # The ledger says done but the file is gone (deleted by hand): redo those points.
            prefix = country_prefix(cfg.year, cc)
            ledger.forget_keys(product.export_stage, [f"{prefix}{pid:08d}" for pid in missing])
            summary.counts["failed"] += len(missing)
            summary.reasons["staged file missing, re-exported on the next run"] += len(missing)
            continue
        if not staged:
            summary.notes.append(f"{cc}: no point has a usable scene, no file written")
            ledger.mark(product.pack_stage, f"{cfg.year}/{cc}", DONE,
                        payload={"digest": pack_digest(cfg, staged, product), "points": 0})
            continue
        attrs = writer.file_attributes(
            year=cfg.year,
            country=cc,
            source=source_name,
            bands=cfg.bands,
            thresholds=cfg.thresholds(),
            config_hash=product.output_hash,
            producer_version=producer_version(),
            **extra.get(cc, {}),
        )
        jobs.append(PackJob(cc, staged, target, attrs, writer.name))
    return jobs
