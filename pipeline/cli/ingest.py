"""``etl ingest``: a LUCAS table → normalised points per country (GeoParquet)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from pipeline.cli.console import console
from pipeline.cli.options import (
    config_from_flags,
    config_option,
    gee_auth_options,
    survey_options,
)
from pipeline.cli.render import stage_table


@click.command()
@config_option
@survey_options
@gee_auth_options
def ingest(config_path: Path | None, **flags: Any) -> None:
    """Read, validate and normalise a LUCAS table; write OUT/<year>/points/<CC>.parquet,
    rejects.csv (row, point id, reason) and a summary."""
    from lucas.gee_table import is_gee_table
    from lucas.ingest import ingest_table
    from lucas.output import write_points
    from lucas.safe_files import check_output_folder
    from pipeline.dataset.layout import OutputLayout
    from pipeline.preflight import check_readable_file
    from pipeline.stage_ingest import ALL, connect_for_table, ingest_summary, require_points

    cfg = config_from_flags(config_path, **flags)
    if cfg.lucas is None:
        raise click.UsageError("--lucas PATH is required")
    if not cfg.countries:
        raise click.UsageError("--country is required (AT, AT,DE or ALL)")
    check_output_folder(cfg.out)
    if not is_gee_table(cfg.lucas):
        check_readable_file(cfg.lucas, "--lucas", "the LUCAS table (CSV)")
    connect_for_table(cfg)
    start = time.perf_counter()
    everything = cfg.countries == (ALL,)
    result = ingest_table(cfg.lucas, None if everything else list(cfg.countries), cfg.year,
                          cfg.lucas_format)
    require_points(result, cfg.countries, cfg.year)
    paths = write_points(result, OutputLayout(cfg.out).points_dir(cfg.year))
    console.print(stage_table(ingest_summary(result, time.perf_counter() - start)))
    console.print(f"format: {result.format}")
    for path in paths:
        console.print(f"[green]output:[/] {path}")
