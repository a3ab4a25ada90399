"""``etl index``: write ``<CC>.index.parquet`` again, or check it (``--check``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pyarrow.parquet as pq

from exports.file_index import S1_SUFFIX, IndexMismatch, read_index, write_index
from lucas.errors import ConfigError, OutputError
from pipeline.cli.console import console, err_console

EXIT_MISMATCH = 1  # the index disagrees with its file: a finding, not bad input


@click.command("index")
@click.argument("country_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--check", is_flag=True,
              help="Only verify: exit 1 with the disagreement when the index is stale.")
def index(country_file: Path, check: bool) -> None:
    """Rebuild the index beside OUT/<year>/<CC>.h5 (one row per point), or verify it."""
    if country_file.stem.endswith(S1_SUFFIX):
        twin = country_file.with_name(country_file.stem.removesuffix(S1_SUFFIX) + ".h5")
        raise ConfigError(f"{country_file}: the index belongs to its Sentinel-2 twin (it "
                          f"holds the S1 step counts too); give {twin}")
    if not country_file.is_file():
        raise ConfigError(f"{country_file}: no such country file; give OUT/<year>/<CC>.h5")
    if check:
        try:
            table = read_index(country_file)
        except IndexMismatch as e:
            err_console.print(f"[bold red]index mismatch:[/] {e}", highlight=False,
                              soft_wrap=True)
            sys.exit(EXIT_MISMATCH)
        except OutputError:
            raise
        except OSError as e:
            raise _unreadable(country_file, e) from e
        console.print(f"[green]index agrees:[/] {country_file} ({table.num_rows:,} points)",
                      soft_wrap=True)
        return
    try:
        path = write_index(country_file)
    except OutputError:
        raise
    except OSError as e:
        raise _unreadable(country_file, e) from e
    rows = pq.read_metadata(path).num_rows
    console.print(f"[green]wrote[/] {path} ({rows:,} points)", soft_wrap=True)


def _unreadable(country_file: Path, e: OSError) -> ConfigError:
    """h5py's errors (a damaged or foreign file) as one line."""
    return ConfigError(f"{country_file}: cannot read it as a country file ({e}); is it "
                       "OUT/<year>/<CC>.h5 of etl run, and complete?")
