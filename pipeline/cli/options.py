"""Options shared by several subcommands, defined once.

Every option defaults to ``None`` so that only flags the user gave override the TOML file;
the real defaults live in :class:`pipeline.config.RunConfig` and are shown in the help.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import click

from exports.registry import SourceSpec
from exports.s1.options import S1Options
from exports.sources import get_source_spec, list_sources
from pipeline.config import RunConfig, build_config, load_toml

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



def _source_flag(spec: SourceSpec, f: Any) -> Callable[[F], F]:
    """A source option's flag, from its dataclass field (name, ``help``, ``choices``, ``path``,
    an ``int`` type; ``multiple``: the flag may be repeated, its values come as a tuple)."""
    kind: Any = None
    if f.metadata.get("choices"):
        kind = click.Choice(list(f.metadata["choices"]))
    elif f.metadata.get("path"):
        kind = click.Path(path_type=Path)
    elif f.type in ("int", int):
        kind = int
    return click.option(f"--{f.name.replace('_', '-')}", f.name, type=kind,
                        multiple=bool(f.metadata.get("multiple")),
                        help=f.metadata.get("help", f"{spec.name} source: {f.name}."))


def _source_flags() -> list[Callable[[F], F]]:
    """Every registered source's flags, in registration order; the account flags come just
    before the first source that is not the default (they serve Earth Engine)."""
    flags: list[Callable[[F], F]] = []
    for name in list_sources():
        spec = get_source_spec(name)
        if name != _D.source and gee_auth_options not in flags:
            flags.append(gee_auth_options)
        flags.extend(_source_flag(spec, f) for f in spec.option_fields())
    return flags


def _s1_flags(skip: tuple[str, ...] = ()) -> list[Callable[[F], F]]:
    """The Sentinel-1 flags, from :class:`exports.s1.options.S1Options`'s fields."""
    out: list[Callable[[F], F]] = []
    for f in fields(S1Options):
        if f.name in skip:
            continue
        kind: Any = None
        if f.metadata.get("choices"):
            kind = click.Choice(list(f.metadata["choices"]), case_sensitive=False)
        elif f.metadata.get("path"):
            kind = click.Path(path_type=Path)
        elif f.type in ("float", float):
            kind = float
        out.append(click.option(f"--{f.name.replace('_', '-')}", f.name, type=kind,
                                help=f.metadata.get("help", f.name)))
    return out


def _workers_help() -> str:
    per_source = "; ".join(
        f"with --source {n}, {get_source_spec(n).workers_help}" for n in list_sources()
        if n != _D.source)
    defaults = "; ".join(f"{get_source_spec(n).default_workers} for {n}" for n in list_sources()
                         if n != _D.source)
    return (f"Parallel export processes; {per_source} "
            f"[default: {get_source_spec(_D.source).default_workers}; {defaults}].")


class SourceName(click.Choice):
    """``--source``: the registered sources, read when the flag is parsed or shown, so a
    source registered after this module was imported (a plug-in, a test) is accepted."""

    def __init__(self) -> None:
        super().__init__(list(list_sources()))

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        self.choices = tuple(list_sources())
        return super().convert(value, param, ctx)


source_options = _stack(
    click.option("--source", type=SourceName(),
                 help=f"Imagery source [default: {_D.source}]."),
    *_source_flags(),
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
    *_s1_flags(),
)

# The imagery flags of `etl bigearthnet`: the Sentinel-2 source and its account, the scene
# thresholds, the Sentinel-1 source (pairing is always "closest" there: no --s1).
tile_source_options = _stack(
    click.option("--source", type=SourceName(),
                 help=f"Sentinel-2 source [default: {_D.source}]."),
    *_source_flags(),
    click.option("--max-cloud-cover", type=float,
                 help="Keep scenes with cloud cover < this % [default: 1, as BigEarthNet]."),
    click.option("--max-scene-nodata", type=float,
                 help="Keep scenes with no-data < this % of the tile [default: 100: every "
                 "scene; patches touching no-data are dropped anyway]."),
    *_s1_flags(skip=("s1",)),
)

work_options = _stack(
    click.option("--workers", type=int, help=_workers_help()),
    click.option("--batch-size", type=int,
                 help=f"Neighbouring points read together [default: {_D.batch_size}; 256 "
                      "with --stac-url]."),
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
