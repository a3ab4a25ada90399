"""Run jobs on Dask distributed (``--scheduler tcp://HOST:8786`` or ``local[:N]``).

Only this (client) process yields results, so only the stage records them. A work with its
own task graph (the scene-major export waves) builds it in ``Work.on_dask``; others use
:meth:`DaskExecutor.map`, one task per job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from pipeline.executors.base import Finished, J, R, Work
from pipeline.executors.dask_cluster import SchedulerSpec, dask_client
from pipeline.interrupt import stop_requested


@dataclass
class DaskExecutor:
    """A Dask cluster, connected to (or started) only when a work runs on it."""

    spec: SchedulerSpec
    workers: int  # processes of a local cluster
    notes: list[str] = field(default_factory=list)

    def run(self, work: Work[J, R], jobs: Sequence[J]) -> Iterator[Finished[J, R]]:
        yield from work.on_dask(self, jobs)

    def client(self) -> AbstractContextManager[Any]:
        """The cluster's client (a local cluster lives as long as the context)."""
        return dask_client(self.spec, self.workers, stop_requested)

    def map(
        self, run_job: Callable[[J], R], jobs: Sequence[J], key: Callable[[J], str]
    ) -> Iterator[Finished[J, R]]:
        """One task per job; a task's error is re-raised here (e.g. OutputError: disk full)."""
        with self.client() as client:
            futures = {client.submit(run_job, job, key=key(job), pure=False): job
                       for job in jobs}
            from distributed import as_completed

            for future in as_completed(futures):
                yield [(futures[future], future.result())]
