"""The one executor interface every stage runs its units through (inline, processes, Dask).

A stage describes a kind of work once (:class:`Work`: how to run a job here, in a worker
process, on Dask) and hands its jobs to whichever :class:`Executor` the policy picks
(:mod:`pipeline.executors.choose`). Executors *yield* finished results in batches; the stage
is the only place that records and counts them. Executors watch the Ctrl-C flag themselves:
no new job starts once it is raised, and what is in flight is still yielded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

J = TypeVar("J")
R = TypeVar("R")
Finished = Sequence[tuple[J, R]]  # a batch of (job, result) pairs


class Cluster(Protocol):
    """What a work running on Dask gets from the executor (:mod:`pipeline.executors.dask`)."""

    spec: Any  # the --scheduler it connects to (SchedulerSpec)
    notes: list[str]

    def client(self) -> AbstractContextManager[Any]:
        """A connected ``distributed.Client`` (a local cluster lives as long as it)."""
        ...

    def map(
        self, run_job: Callable[[J], R], jobs: Sequence[J], key: Callable[[J], str]
    ) -> Iterator[Finished[J, R]]:
        """One task per job, results yielded as tasks finish."""
        ...


class Work(Protocol[J, R]):
    """A kind of job the executors can run (export batches, country packs)."""

    def run_here(self, job: J) -> Iterator[R]:
        """Run one job in this process, yielding each result as soon as it is final."""
        ...

    def worker_init(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        """The initializer (and its arguments) of a worker process (picklable)."""
        ...

    def worker_run(self) -> Callable[[J], list[R]]:
        """The function a worker process runs a job with (picklable)."""
        ...

    def on_dask(self, cluster: Cluster, jobs: Sequence[J]) -> Iterator[Finished[J, R]]:
        """Run the jobs on Dask (the work decides the task graph)."""
        ...


class Executor(Protocol):
    """Runs jobs of one kind of work; yields batches of finished (job, result) pairs."""

    notes: list[str]  # what the stage summary should tell (e.g. where the work ran)

    def run(self, work: Work[J, R], jobs: Sequence[J]) -> Iterator[Finished[J, R]]:
        """Run every job (until Ctrl-C), yielding results as they finish."""
        ...
