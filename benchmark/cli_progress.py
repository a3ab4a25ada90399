"""The progress bars of ``etl benchmark``: one per model, advanced each epoch (rich).

Shown without ``-v``: the bar's columns carry the epoch's training and validation loss.
Messages of the run (``· model transformer``) print above the bars; the multilabel
trainer's own per-epoch lines are left to the bar that shows the same figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from benchmark.progress import EpochEnd, listening

_EPOCH_LINE = re.compile(r"^\S+: epoch \d+: ")  # benchmark.multilabel.train's message


class EpochBars:
    """A bar per model; ``say`` for the run's messages, the listener for epochs."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("epochs  {task.fields[losses]}"), TimeElapsedColumn(),
            console=console or Console(stderr=True), transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def say(self, message: str) -> None:
        """A message of the run, printed above the bars."""
        if not _EPOCH_LINE.match(message):
            self.progress.console.print(f"· {message}", highlight=False, soft_wrap=True)

    def on_epoch(self, end: EpochEnd) -> None:
        """Advance the model's bar to ``end.epoch`` of ``end.epochs``, losses shown."""
        task = self._tasks.get(end.model)
        losses = f"train loss {end.train_loss:.4f}  val loss {end.val_loss:.4f}"
        if task is None:
            task = self.progress.add_task(end.model or "model", total=end.epochs,
                                          losses=losses)
            self._tasks[end.model] = task
        self.progress.update(task, completed=end.epoch, total=end.epochs, losses=losses)


@contextmanager
def epoch_bars(console: Console | None = None) -> Iterator[EpochBars]:
    """Bars live for the block; every epoch of the block's trainings lands on them."""
    bars = EpochBars(console)
    with bars.progress, listening(bars.on_epoch):
        yield bars
