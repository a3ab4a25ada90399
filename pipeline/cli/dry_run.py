"""How ``etl run --dry-run`` shows its forecast: a rich table, or one JSON object."""

from __future__ import annotations

import json

import click
from rich.table import Table

from pipeline.cli.console import console
from pipeline.cli.render import stage_table
from pipeline.dry_run import DryRun


def print_dry_run(forecast: DryRun, as_json: bool) -> None:
    """The select summary, then the export's forecast with its assumptions."""
    if as_json:
        click.echo(json.dumps(forecast.as_dict(), indent=2))
        return
    for stage in forecast.stages:
        console.print(stage_table(stage))
        console.print()
    console.print(forecast_table(forecast))
    if forecast.estimate is not None:
        console.print("[bold]assumptions[/]")
        for line in forecast.estimate.assumptions:
            console.print(f"  - {line}", soft_wrap=True, highlight=False)
    for note in forecast.notes:
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)
    console.print("Dry run: nothing exported; the selection is kept in the ledger for the "
                  "real run.")


def forecast_table(f: DryRun) -> Table:
    table = Table(title=f"[bold]export forecast[/] ({f.source})", title_justify="left",
                  show_header=False, box=None, pad_edge=False, min_width=48)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("points", f"{f.points:,}")
    table.add_row("points to export", f"{f.to_export:,}")
    table.add_row("  without any scene", f"{f.without_scene:,}")
    if f.scenes_per_point:
        s = f.scenes_per_point
        table.add_row("scenes per point (min / median / max)",
                      f"{s['min']:,} / {s['median']:g} / {s['max']:,}")
    table.add_row("point-scenes", f"{f.point_scenes:,}")
    table.add_row("batches", f"{f.batches:,}")
    est = f.estimate
    if est is not None:
        table.add_row(est.request_kind, f"{est.requests:,}")
        table.add_row("bytes", _size(est.bytes))
        table.add_row("estimated time", "not estimated" if est.seconds is None
                      else _duration(est.seconds))
    return table


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} B"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"
