"""Run jobs in a pool of local worker processes (``--workers N``)."""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from pipeline.executors.base import Finished, J, R, Work
from pipeline.executors.lifeline import die_with
from pipeline.interrupt import STOP_SIGNALS, stop_requested


@dataclass
class PoolExecutor:
    """``workers`` forkserver processes, each built once by the work's initializer.

    Two jobs per worker are queued at most (every worker busy, little queued work); after
    Ctrl-C or SIGTERM no job is submitted and the running ones are still yielded. Workers
    exit with the coordinator however it dies (:mod:`pipeline.executors.lifeline`).
    """

    workers: int
    notes: list[str] = field(default_factory=list)

    def run(self, work: Work[J, R], jobs: Sequence[J]) -> Iterator[Finished[J, R]]:
        init, args = work.worker_init()
        run_job = work.worker_run()
        ctx = mp.get_context("forkserver")
        start_forkserver()
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=start_worker,
                                 initargs=(os.getpid(), init, args)) as pool:
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


def start_worker(coordinator: int, init: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Every worker's first code: tied to the coordinator's life, deaf to the signals it
    handles (a terminal's Ctrl-C and a scheduler's SIGTERM reach the whole process group:
    the coordinator decides when to stop), then the work's own initializer."""
    die_with(coordinator)
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    init(*args)


def start_forkserver() -> None:
    """Start this process's forkserver (once) with Ctrl-C and SIGTERM blocked.

    The forkserver ignores SIGINT but not SIGTERM: a SIGTERM sent to the whole process group
    (as batch schedulers do) killed it, and with it the pool (``BrokenProcessPool``), before
    the coordinator could stop cleanly. A blocked mask survives fork and exec, so the
    forkserver never acts on them; here they only wait until unblocked. The resource tracker
    is started first: its own start unblocks both (it ignores them itself).
    """
    multiprocessing.resource_tracker.ensure_running()
    before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
