"""Stage 4, pack: the staged points of a country → ``<out>/<year>/<CC>.h5``.

Pack runs when the set of exported points differs from what the current file holds (the
ledger keeps a digest of that set), so re-running after success rewrites nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pipeline.config import RunConfig
from pipeline.interrupt import stop_requested
from pipeline.ledger import DONE, Ledger
from pipeline.pack import (
    country_file,
    file_attributes_for,
    pack_country,
    remove_stale_temp_files,
)
from pipeline.points import country_prefix
from pipeline.report import NoProgress, Progress, StageSummary
from pipeline.staging import staged_path, staging_dir

STAGE = "pack"


def producer_version() -> str:
    try:
        return version("sen4map-etl")
    except PackageNotFoundError:
        return "unknown"


def staged_points(cfg: RunConfig, ledger: Ledger, country: str) -> list[tuple[int, Path]]:
    """Points the ledger marks exported, with their staged files (the ledger is the truth)."""
    stage_dir = staging_dir(cfg.out, cfg.year, country)
    done = ledger.units("export", country_prefix(cfg.year, country), state=DONE)
    out = []
    for unit in done:
        pid = int(unit.key.rsplit("/", 1)[1])
        out.append((pid, staged_path(stage_dir, pid)))
    return out


def pack_digest(cfg: RunConfig, staged: list[tuple[int, Path]]) -> str:
    h = hashlib.sha256(cfg.output_hash().encode())
    for pid, _ in sorted(staged):
        h.update(f"{pid},".encode())
    return h.hexdigest()[:16]


def pack_is_current(cfg: RunConfig, ledger: Ledger, country: str) -> bool:
    unit = ledger.get(STAGE, f"{cfg.year}/{country}")
    if unit is None or unit.state != DONE or not unit.payload:
        return False
    if unit.payload.get("digest") != pack_digest(cfg, staged_points(cfg, ledger, country)):
        return False
    return unit.payload.get("points") == 0 or country_file(cfg.out, cfg.year, country).exists()


@dataclass(frozen=True)
class PackJob:
    """One country file to write (picklable: Dask workers run it with ``--scheduler``)."""

    country: str
    staged: list[tuple[int, Path]]
    target: Path
    attributes: dict[str, Any]


def run_pack(
    cfg: RunConfig, ledger: Ledger, source_name: str, progress: Progress | None = None
) -> tuple[StageSummary, list[Path]]:
    progress = progress or NoProgress()
    summary = StageSummary(STAGE)
    start = time.perf_counter()
    outputs: list[Path] = []
    jobs = _plan(cfg, ledger, source_name, summary, outputs)
    if cfg.scheduler and len(jobs) > 1:
        summary.notes.append(f"{len(jobs)} country files packed in parallel on Dask")
        finished = _pack_on_dask(cfg, jobs)
    else:
        finished = _pack_here(jobs, progress)
    for job in finished:
        ledger.mark(STAGE, f"{cfg.year}/{job.country}", DONE,
                    payload={"digest": pack_digest(cfg, job.staged), "points": len(job.staged)})
        summary.counts["files written"] += 1
        summary.counts["points written"] += len(job.staged)
        outputs.append(job.target)
    summary.seconds = time.perf_counter() - start
    return summary, outputs


def _plan(
    cfg: RunConfig, ledger: Ledger, source_name: str, summary: StageSummary, outputs: list[Path]
) -> list[PackJob]:
    jobs = []
    for cc in cfg.countries:
        target = country_file(cfg.out, cfg.year, cc)
        if remove_stale_temp_files(target):
            summary.notes.append(f"removed the temp file of an interrupted pack ({cc})")
        if not cfg.force and pack_is_current(cfg, ledger, cc):
            summary.counts["files up to date"] += 1
            outputs.append(target)
            continue
        staged = staged_points(cfg, ledger, cc)
        missing = [pid for pid, p in staged if not p.exists()]
        if missing:
            # The ledger says done but the file is gone (deleted by hand): redo those points.
            prefix = country_prefix(cfg.year, cc)
            ledger.forget_keys("export", [f"{prefix}{pid:08d}" for pid in missing])
            summary.counts["failed"] += len(missing)
            summary.reasons["staged file missing, re-exported on the next run"] += len(missing)
            continue
        if not staged:
            summary.notes.append(f"{cc}: no point has a usable scene, no file written")
            ledger.mark(STAGE, f"{cfg.year}/{cc}", DONE,
                        payload={"digest": pack_digest(cfg, staged), "points": 0})
            continue
        attrs = file_attributes_for(
            year=cfg.year,
            country=cc,
            source=source_name,
            bands=cfg.bands,
            thresholds=cfg.thresholds(),
            config_hash=cfg.output_hash(),
            producer_version=producer_version(),
        )
        jobs.append(PackJob(cc, staged, target, attrs))
    return jobs


def _pack_here(jobs: list[PackJob], progress: Progress) -> Iterator[PackJob]:
    for job in jobs:
        if stop_requested():  # Ctrl-C: the file in flight is finished, no new one starts
            return
        advance = progress.start(f"{STAGE} {job.country}", len(job.staged))
        try:
            pack_country(job.staged, job.target, job.attributes, advance)
        finally:
            progress.stop(f"{STAGE} {job.country}")
        yield job


def _pack_on_dask(cfg: RunConfig, jobs: list[PackJob]) -> Iterator[PackJob]:
    """Several countries at once, one Dask task each; only this process writes the ledger.

    A task writes its file beside the target and renames it (as here), so a worker killed
    mid-pack leaves the previous file; Dask reruns the task elsewhere.
    """
    from pipeline.dask_cluster import dask_client, parse_scheduler

    with dask_client(parse_scheduler(cfg.scheduler or ""), cfg.workers, stop_requested) as client:
        futures = {
            client.submit(_pack_job, job, key=f"pack-{cfg.year}-{job.country}", pure=False): job
            for job in jobs
        }
        from distributed import as_completed

        for future in as_completed(futures):
            future.result()  # re-raises the task's error (e.g. OutputError: disk full)
            yield futures[future]


def _pack_job(job: PackJob) -> Path:
    return pack_country(job.staged, job.target, job.attributes)
