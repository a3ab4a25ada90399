"""``etl status``: what the ledger of an output folder says."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from lucas.errors import LedgerError
from pipeline.cli.console import console
from pipeline.dataset.layout import LEDGER_NAME, OutputLayout
from pipeline.ledger import FAILED, Ledger

STAGE_ORDER = ("ingest", "select", "export", "pack", "s1_select", "s1_export", "s1_pack",
               "ben_select", "ben_scene")


@click.command()
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The output folder of a run.")
@click.option("--limit", default=50, show_default=True, help="Failures listed at most.")
def status(out: Path, limit: int) -> None:
    """Counts of units per stage and state, Earth Engine export tasks by state, and the
    failures with their last error."""
    path = OutputLayout(out).ledger
    if not path.exists():
        raise LedgerError(f"no ledger in {out} ({LEDGER_NAME} missing): nothing has run there")
    with Ledger(path) as ledger:
        counts = ledger.counts()
        console.print(f"[bold]ledger[/] {path}", soft_wrap=True)
        table = Table()
        states = sorted({s for c in counts.values() for s in c})
        table.add_column("stage")
        for s in states:
            table.add_column(s, justify="right")
        for stage in sorted(counts, key=lambda s: (*STAGE_ORDER, s).index(s)):
            table.add_row(stage, *(f"{counts[stage].get(s, 0):,}" for s in states))
        console.print(table)
        tasks = ledger.task_counts()
        if tasks:  # --mode batch: Earth Engine export tasks, by the state last polled
            ttable = Table()
            ttable.add_column("Earth Engine export task state (last poll)")
            ttable.add_column("tasks", justify="right")
            for state, n in tasks.items():
                ttable.add_row(state, f"{n:,}")
            console.print(ttable)
        failures = [u for stage in STAGE_ORDER for u in ledger.units(stage, state=FAILED)]
        if not failures:
            console.print("No failures.")
            return
        ftable = Table(title=f"failures ({len(failures)})", title_justify="left")
        for col in ("stage", "unit", "attempts", "kind", "last error"):
            ftable.add_column(col)
        for u in failures[:limit]:
            kind = "transient" if (u.payload or {}).get("transient") else "permanent"
            ftable.add_row(u.stage, u.key, str(u.attempts), kind, u.last_error or "")
        console.print(ftable)
        if len(failures) > limit:
            console.print(f"… and {len(failures) - limit} more (--limit).")
