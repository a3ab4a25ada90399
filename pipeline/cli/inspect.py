"""``etl inspect``: what an output holds (like ``rio info``), as a table or one JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from pipeline.cli.console import console
from pipeline.dataset.inspect import inspect_output


@click.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object (keys in README \"Inspecting an output\").")
def inspect_command(path: Path, as_json: bool) -> None:
    """Format, producer, counts, time steps, dates, bands, grid, thresholds and config hash
    of a country file (<CC>.h5, <CC>_S1.h5) or a BigEarthNet tree; no pixel is read."""
    facts = inspect_output(path)
    if as_json:
        click.echo(json.dumps(facts, indent=2, default=str))
        return
    console.print(facts_table(facts))
    index = facts["index"]
    if not index["current"]:
        console.print(f"[yellow]index not current:[/] {index['problem']}", soft_wrap=True)


def facts_table(facts: dict[str, Any]) -> Table:
    """The facts as two columns, nested ones flattened to ``key: value`` text."""
    table = Table(title=f"[bold]{facts['path']}[/]", title_justify="left", show_header=False,
                  box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in facts.items():
        if key == "path" or value in (None, {}, []):
            continue
        table.add_row(key.replace("_", " "), _text(key, value))
    return table


def _text(key: str, value: Any) -> str:
    if key == "index":
        state = "current" if value["current"] else "NOT current"
        return f"{value['path']} ({state})"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(k, v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if key != "center_pixel" else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
