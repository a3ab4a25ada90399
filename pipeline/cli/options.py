"""Options shared by several subcommands, defined once.

Every option defaults to ``None`` so that only flags the user gave override the TOML file;
the real defaults live in :class:`pipeline.config.RunConfig` and are shown in the help.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline.config import GEE_DEFAULT_WORKERS, RunConfig, build_config, load_toml

F = TypeVar("F", bound=Callable[..., Any])

_D = RunConfig(out=Path("."))


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="TOML file with any of the options below (top level or under [run]); flags win.",
)

survey_options = _stack(
    click.option("--country", "countries", help="NUTS0 code(s) as LUCAS writes them: AT, "
                 "AT,DE, or ALL."),
    click.option("--year", type=int, help=f"Survey year [default: {_D.year}]."),
    click.option("--lucas", type=click.Path(path_type=Path),
                 help="The LUCAS table (CSV), or an Earth Engine table: "
                 "gee:JRC/LUCAS_HARMO/THLOC/V1 (2006-2018), gee:JRC/LUCAS/THLOC/V1/2022."),
    click.option(
        "--lucas-format",
        type=click.Choice(["eurostat2018", "harmonised", "lucas2022"]),
        help="Table format [default: detected from the header].",
    ),
    click.option("--out", type=click.Path(path_type=Path, file_okay=False),
                 help="Output folder (holds the ledger; files go to OUT/<year>/)."),
)

gee_auth_options = _stack(
    click.option("--project", help="Earth Engine cloud project (--source gee, --lucas gee:…)."),
    click.option("--gee-key-file", type=click.Path(path_type=Path, dir_okay=False),
                 help="Service-account key file for Earth Engine (default: the credentials "
                 "of `earthengine authenticate`)."),
)

source_options = _stack(
    click.option("--source", type=click.Choice(["stac", "gee"]),
                 help=f"Imagery source [default: {_D.source}]."),
    click.option("--catalog", type=click.Path(path_type=Path),
                 help="Static STAC catalog: its catalog.json or the folder holding it."),
    click.option("--stac-url", help="A STAC API to search instead of --catalog: its URL, "
                 "or earth-search for https://earth-search.aws.element84.com/v1."),
    click.option("--collection", help="STAC API collection [default: sentinel-2-l2a]."),
    gee_auth_options,
    click.option("--mode", type=click.Choice(["fast", "batch"]),
                 help="Earth Engine path: fast (computePixels) or batch (Export tasks) "
                 "[default: fast]."),
    click.option("--gcs-bucket", help="Cloud Storage bucket of batch exports (--mode batch)."),
    click.option("--gcs-prefix", help="Object prefix of batch exports [default: sen4map-etl]."),
    click.option("--bands", help="Bands to export, comma-separated [default: all: "
                 f"{','.join(_D.bands)}]."),
    click.option("--max-cloud-cover", type=float,
                 help=f"Keep scenes with cloud cover < this % [default: {_D.max_cloud_cover:g}]."),
    click.option("--max-scene-nodata", type=float,
                 help="Keep scenes with no-data < this % of the scene "
                 f"[default: {_D.max_scene_nodata:g}]."),
    click.option("--max-patch-nodata", type=float,
                 help="Drop time steps whose 64×64 patch has more no-data than this % "
                 f"[default: {_D.max_patch_nodata:g}]."),
    click.option("--buffer-m", type=float,
                 help="The scene footprint must contain this buffer around the point, metres "
                 f"[default: {_D.buffer_m:g}]."),
)

work_options = _stack(
    click.option("--workers", type=int,
                 help=f"Parallel export processes; with --source gee, concurrent Earth Engine "
                 f"requests (at most 40) [default: {_D.workers}; {GEE_DEFAULT_WORKERS} for gee]."),
    click.option("--batch-size", type=int,
                 help=f"Neighbouring points read together [default: {_D.batch_size}]."),
    click.option("--retries", type=int,
                 help=f"Attempts per point when failures are transient [default: {_D.retries}]."),
    click.option("--scheduler", help="Run the export on Dask: tcp://HOST:8786 or local[:N]."),
    click.option("--inject-faults", type=float,
                 help="Make this share of reads fail on purpose (resilience demos), e.g. 0.2."),
    click.option("--force", is_flag=True, default=None, help="Redo everything for this year."),
    click.option("--retry-failed", is_flag=True, default=None,
                 help="Retry points that failed permanently in an earlier run."),
    click.option("--fail-fast", is_flag=True, default=None,
                 help="Stop at the first failed point (for debugging)."),
)


def config_from_flags(config_path: Path | None, **flags: Any) -> RunConfig:
    """Build the run config from the TOML file (if any) and the given flags."""
    file_values = load_toml(config_path) if config_path else {}
    return build_config(file_values, flags, config_path)
