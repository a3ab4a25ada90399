"""The ``etl`` command line: one module per subcommand, shared options in :mod:`.options`."""

from __future__ import annotations

import logging
import sys
import tomllib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import click
from rich.markup import escape

from lucas.errors import EtlError
from pipeline.cli.console import console, err_console
from pipeline.version import producer_version


class EtlGroup(click.Group):
    """Turns the tool's own errors into one clear line and exit code 2, no traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except EtlError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False,
                              soft_wrap=True)
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
      etl run --country AT --lucas demo-data/lucas_harmo_uf_2018.csv \\
              --source stac --catalog demo-data/stac/catalog.json --out demo-out
      etl run --country AT --lucas demo-data/lucas_harmo_uf_2018.csv \\
              --source stac --catalog demo-data/stac/catalog.json --out demo-out \\
              --s1 closest --s1-catalog demo-data/s1/catalog.json  # + Sentinel-1
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


COMMANDS_GROUP = "etl.commands"  # the entry-point group of pyproject.toml
_SOURCE_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _commands(group: str) -> list[EntryPoint]:
    """The group's entry points: the installed ones, plus those the source tree's
    pyproject.toml declares that the installed metadata lacks (an editable install not
    redone since a subcommand was added), so a checkout never loses its subcommands."""
    installed = list(entry_points(group=group))
    names = {e.name for e in installed}
    return installed + [e for e in _declared(group) if e.name not in names]


def _declared(group: str) -> list[EntryPoint]:
    """The group as the checkout's pyproject.toml declares it (none outside a checkout)."""
    if not _SOURCE_PYPROJECT.is_file():
        return []
    try:
        project = tomllib.loads(_SOURCE_PYPROJECT.read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return []
    declared = project.get("entry-points", {}).get(group, {})
    return [EntryPoint(name, value, group) for name, value in declared.items()]


def _register(group: str = COMMANDS_GROUP) -> None:
    """Attach the subcommands the installed packages name in the entry-point ``group``.

    A command whose module cannot be imported (an optional stage such as the benchmark,
    absent from this install) is left out, so ``etl`` keeps working without it.
    """
    for entry in _commands(group):
        try:
            command = entry.load()
        except ImportError as e:
            logging.getLogger(__name__).debug("etl %s left out: %s", entry.name, e)
            continue
        main.add_command(command, entry.name)


_register()
