"""The ``etl`` command line: one module per subcommand, shared options in :mod:`.options`."""

from __future__ import annotations

import logging
import sys

import click

from lucas.errors import EtlError
from pipeline.cli.console import console, err_console
from pipeline.version import producer_version


class EtlGroup(click.Group):
    """Turns the tool's own errors into one clear line and exit code 2, no traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except EtlError as e:
            err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                raise
            sys.exit(2)


@click.group(cls=EtlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(producer_version(), "--version", prog_name="sen4map-etl")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", count=True, help="Less output: warnings and errors only.")
def main(verbose: int, quiet: int) -> None:
    """Build Sen4Map-style Sentinel-2 + LUCAS datasets: one HDF5 file of 64×64 L2A time
    series per country, and benchmark classifiers on them.

    \b
    Typical use:
      etl demo --out demo-data                     # a small offline archive to try
      etl run --country AT --lucas demo-data/lucas_demo_2018.csv \\
              --catalog demo-data/catalog.json --out demo-out
      etl status --out demo-out
    """
    level = logging.WARNING + 10 * (quiet - verbose)
    level = max(logging.DEBUG, min(logging.ERROR, level))
    if verbose:
        level = logging.INFO if verbose == 1 else logging.DEBUG
    from rich.logging import RichHandler

    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )
    console.quiet = quiet > 0


def _register() -> None:
    from pipeline.cli.demo import demo
    from pipeline.cli.ingest import ingest
    from pipeline.cli.run import run
    from pipeline.cli.status import status

    for command in (ingest, run, status, demo):
        main.add_command(command)
    try:
        from benchmark.cli import benchmark
    except ImportError:  # the benchmark stage is optional and may be absent
        return
    main.add_command(benchmark)


_register()
