"""Run jobs in a pool of local worker processes (``--workers N``)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from pipeline.executors.base import Finished, J, R, Work
from pipeline.interrupt import stop_requested


@dataclass
class PoolExecutor:
    """``workers`` forkserver processes, each built once by the work's initializer.

    Two jobs per worker are queued at most (every worker busy, little queued work); after
    Ctrl-C no job is submitted and the running ones are still yielded.
    """

    workers: int
    notes: list[str] = field(default_factory=list)

    def run(self, work: Work[J, R], jobs: Sequence[J]) -> Iterator[Finished[J, R]]:
        init, args = work.worker_init()
        run_job = work.worker_run()
        ctx = mp.get_context("forkserver")
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init,
                                 initargs=args) as pool:
            queue = iter(jobs)
            running: dict[Future[list[R]], J] = {}

            def submit_next() -> None:
                job = next(queue, None)
                if job is not None and not stop_requested():
                    running[pool.submit(run_job, job)] = job

            for _ in range(self.workers * 2):
                submit_next()
            while running:
                finished, _ = wait(running, return_when="FIRST_COMPLETED")
                for fut in finished:
                    job = running.pop(fut)
                    yield [(job, result) for result in fut.result()]
                    submit_next()
