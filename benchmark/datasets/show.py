"""``etl show``: one PNG quicklook of a LUCAS point of a run, or of a BigEarthNet patch.

``etl show --out OUT --point ID`` finds the point through the country files' indexes
(``OUT/<year>/<CC>.index.parquet``), reads its series (and its S1 series when
``<CC>_S1.h5`` holds it) and draws :func:`benchmark.datasets.plots.plot_point`;
``etl show --out TREE --patch ID`` draws a patch of a BigEarthNet tree (``TREE`` holds
``metadata.parquet``). The PNG goes to ``--png`` (default ``<ID>.png`` here).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click
import h5py
import pyarrow.parquet as pq

from benchmark.datasets.ben_files import patch_view
from benchmark.datasets.plots import (
    PointSeries,
    plot_patch,
    plot_point,
    save,
)
from benchmark.h5read import grid_facts
from exports.file_index import INDEX_SUFFIX, read_index, s1_twin
from lucas.errors import ConfigError

POINT_PREFIX = "Lucas_Point_"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def find_point(out: Path, point_id: int, year: int | None = None) -> Path:
    """The country file holding ``point_id`` under ``out`` (its indexes, no key scan)."""
    pattern = f"{year}/*{INDEX_SUFFIX}" if year else f"*/*{INDEX_SUFFIX}"
    indexes = sorted(out.glob(pattern))
    if not indexes:
        raise ConfigError(f"{out}: no country file index (<year>/<CC>{INDEX_SUFFIX}); is it "
                          "the --out of an etl run?")
    for index in indexes:
        ids = pq.read_table(index, columns=["point_id"]).column("point_id").to_numpy()
        if point_id in ids:
            country_file = index.with_name(index.name.removesuffix(INDEX_SUFFIX) + ".h5")
            read_index(country_file)  # the index must still describe its file
            return country_file
    raise ConfigError(f"point {point_id:08d} is in none of {len(indexes)} country file(s) "
                      f"under {out}")


def point_series(country_file: Path, point_id: int) -> PointSeries:
    """A point's whole 64×64 series (and its radar series) from the files."""
    name = f"{POINT_PREFIX}{point_id:08d}"
    with h5py.File(country_file, "r") as f:
        ds = f[name]
        grid = grid_facts(f)
        stack = ds[()]
        dates = [datetime.strptime(_text(v)[:8], "%Y%m%d").date() for v in ds.attrs["Image_ID"]]
        series = PointSeries(point_id, _text(ds.attrs.get("lc1", "")), dates, stack,
                             (int(grid.center_pixel[0]), int(grid.center_pixel[1])))
    twin = s1_twin(country_file)
    if twin.is_file():
        with h5py.File(twin, "r") as f:
            if name in f:
                ds = f[name]
                series.s1 = ds[()]
                series.s1_dates = [date.fromisoformat(_text(v)[:10])
                                   for v in ds.attrs["acquired"]]
    return series


@click.command()
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, exists=True,
              file_okay=False), help="An etl run's --out, or a BigEarthNet tree.")
@click.option("--point", "point_id", type=int, help="A LUCAS point id of the run.")
@click.option("--patch", "patch_id", help="A BigEarthNet patch id of the tree.")
@click.option("--year", type=int, help="The survey year (when OUT holds several).")
@click.option("--png", type=click.Path(path_type=Path, dir_okay=False),
              help="Where the PNG goes [default: <ID>.png].")
def show(out: Path, point_id: int | None, patch_id: str | None, year: int | None,
         png: Path | None) -> None:
    """One quicklook PNG: a point's true-colour series (SCL clouds and snow marked, the
    LUCAS pixel marked), its NDVI and S1 curves; or a BigEarthNet patch (S2, S1 VV/VH,
    the reference map)."""
    if (point_id is None) == (patch_id is None):
        raise ConfigError("etl show: give exactly one of --point ID (an etl run's --out) or "
                          "--patch ID (a BigEarthNet tree)")
    if point_id is not None:
        country_file = find_point(out, point_id, year)
        fig = plot_point(point_series(country_file, point_id))
        target = png or Path(f"{point_id:08d}.png")
    else:
        fig = plot_patch(patch_view(out, str(patch_id)))
        target = png or Path(f"{patch_id}.png")
    save(fig, target)
    click.echo(f"wrote {target}")
