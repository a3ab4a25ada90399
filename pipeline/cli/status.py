"""``etl status``: what the ledger of an output folder says (a table, or ``--json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: ledger, counts, tasks, failures (README \"etl status\").")
def status(out: Path, limit: int, as_json: bool) -> None:
    """Counts of units per stage and state, Earth Engine export tasks by state, and the
    failures with their last error."""
    facts = status_facts(out, limit)
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    print_status(facts, limit)


def status_facts(out: Path, limit: int) -> dict[str, Any]:
    """The ledger's view as plain data: what both the table and ``--json`` show."""
    path = OutputLayout(out).ledger
    if not path.exists():
        raise LedgerError(f"no ledger in {out} ({LEDGER_NAME} missing): nothing has run there")
    with Ledger(path) as ledger:
        counts = ledger.counts()
        stages = sorted(counts, key=lambda s: (*STAGE_ORDER, s).index(s))
        failures = [u for stage in STAGE_ORDER for u in ledger.units(stage, state=FAILED)]
        return {
            "ledger": str(path),
            "counts": {stage: dict(sorted(counts[stage].items())) for stage in stages},
            "tasks": dict(ledger.task_counts()),  # --mode batch: by the state last polled
            "failures_total": len(failures),
            "failures": [
                {"stage": u.stage, "unit": u.key, "attempts": u.attempts,
                 "kind": "transient" if (u.payload or {}).get("transient") else "permanent",
                 "last_error": u.last_error or ""}
                for u in failures[:limit]
            ],
        }


def print_status(facts: dict[str, Any], limit: int) -> None:
    """The rich tables of ``etl status``."""
    console.print(f"[bold]ledger[/] {facts['ledger']}", soft_wrap=True)
    counts = facts["counts"]
    table = Table()
    states = sorted({s for c in counts.values() for s in c})
    table.add_column("stage")
    for s in states:
        table.add_column(s, justify="right")
    for stage, by_state in counts.items():
        table.add_row(stage, *(f"{by_state.get(s, 0):,}" for s in states))
    console.print(table)
    if facts["tasks"]:
        ttable = Table()
        ttable.add_column("Earth Engine export task state (last poll)")
        ttable.add_column("tasks", justify="right")
        for state, n in facts["tasks"].items():
            ttable.add_row(state, f"{n:,}")
        console.print(ttable)
    total = facts["failures_total"]
    if not total:
        console.print("No failures.")
        return
    ftable = Table(title=f"failures ({total})", title_justify="left")
    for col in ("stage", "unit", "attempts", "kind", "last error"):
        ftable.add_column(col)
    for u in facts["failures"]:
        ftable.add_row(u["stage"], u["unit"], str(u["attempts"]), u["kind"], u["last_error"])
    console.print(ftable)
    if total > limit:
        console.print(f"… and {total - limit} more (--limit).")
