"""Which executor runs a stage's jobs: pure policy over the config and the source's facts."""

from __future__ import annotations

from exports.registry import Scheduling
from pipeline.executors.base import Executor
from pipeline.executors.inline import InlineExecutor
from pipeline.executors.pool import PoolExecutor


def export_executor(
    scheduler: str | None, workers: int, scheduling: Scheduling, n_jobs: int
) -> Executor:
    """A source that brings its own concurrency runs here; else Dask with ``--scheduler``,
    a process pool with several workers and jobs, this process otherwise."""
    if scheduling.in_process:
        return InlineExecutor()
    if scheduler is not None:
        return _dask(scheduler, workers)
    if workers <= 1 or n_jobs <= 1:
        return InlineExecutor()
    return PoolExecutor(workers)


def pack_executor(scheduler: str | None, workers: int, n_jobs: int) -> Executor:
    """Several country files at once on Dask (one task each); one after another here else."""
    if scheduler is not None and n_jobs > 1:
        return _dask(scheduler, workers)
    return InlineExecutor()


def _dask(scheduler: str, workers: int) -> Executor:
    from pipeline.executors.dask import DaskExecutor  # Dask is loaded only with --scheduler
    from pipeline.executors.dask_cluster import parse_scheduler

    return DaskExecutor(parse_scheduler(scheduler), workers)
