"""How the CLI shows stage summaries and progress (rich), kept out of the library."""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pipeline.cli.console import console, err_console
from pipeline.report import RunSummary, StageSummary

MAX_REASONS = 12


class RichProgress:
    """Progress bars on stderr, one per long stage."""

    def __init__(self) -> None:
        self._bars: dict[str, Progress] = {}

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        if total == 0 or console.quiet:
            return lambda n: None
        bar = Progress(
            TextColumn(f"[bold]{stage:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        task = bar.add_task(stage, total=total)
        bar.start()
        self._bars[stage] = bar
        return lambda n: bar.advance(task, n)

    def stop(self, stage: str) -> None:
        bar = self._bars.pop(stage, None)
        if bar is not None:
            bar.stop()


def stage_table(summary: StageSummary) -> Table:
    table = Table(title=f"[bold]{summary.stage}[/]  ({summary.seconds:.1f} s)",
                  title_justify="left", show_header=False, box=None, pad_edge=False,
                  min_width=48)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, n in summary.counts.items():
        table.add_row(name, f"{n:,}")
    reasons = sorted(summary.reasons.items(), key=lambda kv: -kv[1])
    for reason, n in reasons[:MAX_REASONS]:
        table.add_row(f"  {reason}", f"{n:,}", style="yellow")
    if len(reasons) > MAX_REASONS:
        rest = sum(n for _, n in reasons[MAX_REASONS:])
        table.add_row(f"  … {len(reasons) - MAX_REASONS} more reasons (etl status)", f"{rest:,}",
                      style="yellow")
    for note in summary.notes:
        table.add_row(f"  note: {note}", "", style="dim")
    return table


def print_run(summary: RunSummary) -> None:
    for stage in summary.stages:
        console.print(stage_table(stage))
        console.print()
    for path in summary.outputs:
        console.print(f"[green]output:[/] {path}")
