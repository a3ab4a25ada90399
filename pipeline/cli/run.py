"""``etl run``: the whole chain for one or more countries, resumable."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.cli.console import console, err_console
from pipeline.cli.options import (
    config_from_flags,
    config_option,
    source_options,
    survey_options,
    work_options,
)
from pipeline.cli.render import RichProgress, print_run
from pipeline.interrupt import stop_signal

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports after Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM, what batch schedulers expect of a pre-empted job


@click.command()
@config_option
@survey_options
@source_options
@work_options
@click.option("--dry-run", is_flag=True,
              help="Ingest and select only, then print the export's points, scenes, requests, "
                   "bytes and time; no pixel is read or written.")
@click.option("--json", "as_json", is_flag=True,
              help="With --dry-run: one JSON object (keys in README \"Dry run\").")
def run(config_path: Path | None, dry_run: bool, as_json: bool, **flags: Any) -> None:
    """Ingest → select → export → pack: write OUT/<year>/<CC>.h5 (and <CC>_S1.h5 with --s1).

    Re-running continues from the ledger after any interruption; re-running after success
    does nothing. Exit code 1 when any point failed, in this run or an earlier one, and is
    missing from the file (see `etl status`), 130 on Ctrl-C, 143 on SIGTERM (both stop
    after the work in flight; run again to resume).
    """
    cfg = config_from_flags(config_path, **flags)
    if as_json and not dry_run:
        raise click.UsageError("--json goes with --dry-run")
    if dry_run:
        from pipeline.cli.dry_run import print_dry_run
        from pipeline.dry_run import dry_run as forecast

        print_dry_run(forecast(cfg, RichProgress()), as_json)
        return
    from pipeline.run import run as run_pipeline

    summary = run_pipeline(cfg, RichProgress())
    if summary.nothing_to_do:
        for path in summary.outputs:
            console.print(f"[green]up to date:[/] {path}")
        console.print("Nothing to do (use --force to redo, --retry-failed to retry failures).")
        _report_earlier(summary.failed_earlier, cfg.out)
        if summary.failed_earlier:
            sys.exit(1)
        return
    print_run(summary)
    if summary.interrupted:
        terminated = stop_signal() == signal.SIGTERM
        err_console.print(
            f"[yellow]{'Terminated (SIGTERM)' if terminated else 'Interrupted'}.[/] Work done "
            "so far is saved in the ledger; run the same command again to resume."
        )
        sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
    if summary.failed:
        err_console.print(
            f"[red]{summary.failed} unit(s) failed.[/] See `etl status --out {cfg.out}`; "
            "permanent failures are retried with --retry-failed."
        )
    _report_earlier(summary.failed_earlier, cfg.out)
    if summary.failed or summary.failed_earlier:
        sys.exit(1)


def _report_earlier(failed_earlier: int, out: Path) -> None:
    """Failures of earlier runs still missing from the files: exit code 1 even when this
    run did other work, so a script never mistakes an incomplete file for a complete one."""
    if failed_earlier:
        err_console.print(
            f"[red]{failed_earlier} unit(s) failed in earlier runs[/] and are not in the "
            f"file: see `etl status --out {out}`, retry with --retry-failed."
        )
