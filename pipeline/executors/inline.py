"""Run jobs one after another in this process (one worker, one job, or an in-process source)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pipeline.executors.base import Finished, J, R, Work
from pipeline.interrupt import stop_requested


@dataclass
class InlineExecutor:
    """Every result is yielded (and so recorded) before the next one is computed."""

    notes: list[str] = field(default_factory=list)

    def run(self, work: Work[J, R], jobs: Sequence[J]) -> Iterator[Finished[J, R]]:
        for job in jobs:
            for result in work.run_here(job):
                yield [(job, result)]
                if stop_requested():
                    return
