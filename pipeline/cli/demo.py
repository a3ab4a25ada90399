"""``etl demo``: build the bundled offline demo archive (STAC catalog + LUCAS table)."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.console import console


@click.command()
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write the demo archive into.")
@click.option("--points", "n_points", default=96, show_default=True,
              help="Number of LUCAS points.")
@click.option("--step-days", default=2.5, show_default=True,
              help="Days between acquisitions (both orbits together).")
@click.option("--year", default=2018, show_default=True,
              help="2015 to 2024; from 2022 on, scenes of processing baseline 04.00 "
              "(+1000 offset) and a LUCAS table in the 2022 layout.")
@click.option("--seed", default=0, show_default=True)
@click.option("--lucas-format", type=click.Choice(["harmonised", "lucas2022"]),
              help="Layout of the LUCAS table [default: lucas2022 from 2022 on, else "
              "harmonised].")
@click.option("--bigearthnet", is_flag=True,
              help="Instead: the BigEarthNet demo (a corner of tile 33UUP, Sentinel-1, a "
              "CORINE-like land cover GeoPackage) for `etl bigearthnet`; uses --out and --seed.")
def demo(
    out: Path, n_points: int, step_days: float, year: int, seed: int, lucas_format: str | None,
    bigearthnet: bool,
) -> None:
    """A deterministic synthetic Sentinel-2 L2A archive at the UTM 32/33 boundary in Austria
    (two tiles, a year of scenes, clouds, a no-data wedge), a Sentinel-1 RTC catalog of the same
    area (s1/catalog.json) and a matching LUCAS table."""
    if bigearthnet:
        _bigearthnet(out, seed)
        return
    from pipeline.demo import build_demo

    archive = build_demo(out, n_points=n_points, step_days=step_days, year=year, seed=seed,
                         lucas_format=lucas_format)  # fmt: skip
    console.print(f"[green]catalog:[/] {archive.catalog_path}")
    console.print(f"[green]LUCAS table:[/] {archive.lucas_path} ({archive.lucas_format})")
    if archive.s1_catalog_path is not None:
        console.print(f"[green]Sentinel-1 catalog:[/] {archive.s1_catalog_path}")
    console.print(f"{archive.points} points, {archive.scenes} scenes, "
                  f"{archive.s1_scenes} Sentinel-1 slices")


def _bigearthnet(out: Path, seed: int) -> None:
    """``etl demo --bigearthnet``: build the BigEarthNet demo, say what it wrote and what to run."""
    from pipeline.demo.bigearthnet import build_bigearthnet_demo

    ben = build_bigearthnet_demo(out, seed=seed)
    console.print(f"[green]Sentinel-2 catalog:[/] {ben.catalog_path} "
                  f"({len(ben.scene_ids)} scenes of tile {ben.tile})")
    console.print(f"[green]Sentinel-1 catalog:[/] {ben.s1_catalog_path} "
                  f"({len(ben.s1_item_ids)} slices)")
    console.print(f"[green]CORINE-like land cover:[/] {ben.clc_path}")
    console.print(f"[green]countries:[/] {ben.countries_path}")
    console.print(f"[green]manifest:[/] {ben.manifest_path}")
    console.print("run:", markup=False)
    console.print(f"  {ben.command(str(out.parent / 'ben-out'))}", markup=False, soft_wrap=True)
