"""``etl bigearthnet``: BigEarthNet-MM / reBEN patch pairs of tiles and a time window."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.cli.console import err_console
from pipeline.cli.options import tile_source_options
from pipeline.cli.render import RichProgress, print_run
from pipeline.interrupt import stop_signal

EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


@click.command()
@click.option("--tiles", help="MGRS tile id(s): 33UUP or 33UUP,29SND.")
@click.option("--start", help="First day of the window, YYYY-MM-DD (e.g. 2017-06-01).")
@click.option("--end", help="Last day of the window, YYYY-MM-DD (e.g. 2018-05-31).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder: the tree goes to OUT/bigearthnet/.")
@click.option("--clc", help="CORINE Land Cover 2018: the vector GeoPackage "
              "(U2018_CLC2018_V2020_20u1.gpkg, field Code_18), the GeoTIFF, or "
              "gee:COPERNICUS/CORINE/V20/100m/2018 (the 100 m raster).")
@tile_source_options
@click.option("--per-season", type=int,
              help="Keep the N least cloudy scenes per meteorological season [default: all].")
@click.option("--split", type=click.Choice(["ring", "random", "file"]),
              help="ring (reBEN: by distance to the tile border, 1/2, 1/4, 1/4), random "
              "(70/15/15, --seed) or file (--split-file) [default: ring].")
@click.option("--seed", type=int, help="Seed of --split random [default: 0].")
@click.option("--split-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Parquet or CSV with columns patch_id, split (e.g. reBEN's official one).")
@click.option("--countries", type=click.Path(path_type=Path, dir_okay=False),
              help="Country polygons (any vector file); a patch's country is the one "
              "covering most of it [default: empty].")
@click.option("--country-field", help="The name field of --countries [default: name].")
@click.option("--flag-threshold", type=float,
              help="SCL share from which a patch is flagged as snow or cloud/shadow "
              "[default: 1.0: fully covered, BigEarthNet's rule].")
@click.option("--require-s1", is_flag=True, default=None,
              help="Drop patches without a Sentinel-1 pair (default: kept, s1_name empty).")
@click.option("--workers", type=int, help="Parallel processes, one unit each [default: 2].")
@click.option("--force", is_flag=True, default=None, help="Redo everything.")
@click.option("--retry-failed", is_flag=True, default=None,
              help="Retry units that failed permanently in an earlier run.")
def bigearthnet(**flags: Any) -> None:
    """Cut Sentinel-2 tiles into 1.2 km patches paired with Sentinel-1 and labelled from
    CORINE Land Cover, in reBEN's layout: OUT/bigearthnet/ (BigEarthNet-S2, BigEarthNet-S1,
    Reference_Maps, metadata.parquet). Re-running resumes; exit code 1 when a unit failed.
    """
    from pipeline.bigearthnet.config import build_ben_config
    from pipeline.bigearthnet.run import run_bigearthnet

    cfg = build_ben_config({k: v for k, v in flags.items() if v is not None})
    summary = run_bigearthnet(cfg, RichProgress())
    print_run(summary)
    if summary.interrupted:
        terminated = stop_signal() == signal.SIGTERM
        err_console.print("[yellow]Interrupted.[/] Run the same command again to resume.")
        sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
    if summary.failed:
        err_console.print(f"[red]{summary.failed} unit(s) failed.[/] See `etl status --out "
                          f"{cfg.out}`; permanent failures are retried with --retry-failed.")
        sys.exit(1)
