"""sen4map-etl from Python: build a country, read it back, build a BigEarthNet tile.

The same work as the command line, with the same defaults and the same validation (every
option goes through the CLI's config builder, so a bad value raises the
:class:`~lucas.errors.ConfigError` whose one line ``etl`` would print)::

    from pathlib import Path
    from pipeline import api

    # 1. a country of LUCAS points → OUT/2018/AT.h5 (+ AT.index.parquet); resumable
    result = api.build_country(
        "AT", out=Path("out"), lucas=Path("lucas_harmo_uf_2018.csv"),
        source="stac", catalog=Path("demo-data/stac/catalog.json"),
    )
    result.files        # [Path("out/2018/AT.h5")]
    result.failed       # points that failed (in the ledger; run again to retry)

    # 2. read it: the index (no key scan), then any point as numpy
    index = api.read_index(result.files[0])         # pandas DataFrame, one row per point
    point = api.read_point(result.files[0], int(index.point_id[0]))
    point.data["B4"][:, 32, 32]                      # red at the LUCAS pixel, every step
    point.dates, point.attributes["lc1"]

    # 3. a BigEarthNet tile → OUT/bigearthnet (reBEN layout, metadata.parquet)
    api.build_bigearthnet(
        "33UUP", start="2017-06-01", end="2018-05-31", out=Path("ben-out"),
        clc=Path("clc.gpkg"), source="stac", catalog=Path("catalog.json"),
    )

For training, ``benchmark.datasets`` has PyTorch datasets over both outputs (the
``[benchmark]`` extra). Options are keyword-only and named as the flags, ``_`` for ``-``
(``max_cloud_cover=40``, ``workers=4``, ``s1="series"``); a run shows no progress bar
unless ``progress=`` is given (any :class:`pipeline.report.Progress`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from exports.file_index import attribute_texts, image_id_time, plain_attribute
from exports.file_index import read_index as _read_index
from lucas.errors import ConfigError, OutputError
from pipeline.config import build_config, known_keys
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.sen4map_format import dataset_name
from pipeline.report import Progress

__all__ = [
    "BuildResult",
    "Point",
    "build_bigearthnet",
    "build_country",
    "read_index",
    "read_point",
]


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote and what it could not."""

    files: list[Path]
    failed: int  # units (points, scenes) that failed, in this run or an earlier one
    interrupted: bool = False
    nothing_to_do: bool = False  # everything was up to date


@dataclass(frozen=True)
class Point:
    """One point of a country file, as h5py reads it."""

    point_id: int
    data: np.ndarray  # compound (T, 64, 64): SCL, B2 … B12
    dates: list[datetime]
    image_ids: list[str]
    attributes: dict[str, Any] = field(default_factory=dict)


def build_country(
    countries: str | Sequence[str],
    *,
    out: Path | str,
    year: int = 2018,
    lucas: Path | str | None = None,
    source: str = "stac",
    progress: Progress | None = None,
    **options: Any,
) -> BuildResult:
    """Ingest → select → export → pack one or more countries (``"AT"``, ``["AT", "DE"]``,
    ``"ALL"``), as ``etl run``. Raises ConfigError on bad options, before any work."""
    from pipeline.run import run

    _check_names(options, known_keys())
    names = [countries] if isinstance(countries, str) else list(countries)
    flags = {"countries": ",".join(names), "out": out, "year": year, "lucas": lucas,
             "source": source, **options}
    cfg = build_config({}, flags, None)
    summary = run(cfg, progress)
    return BuildResult(
        files=[Path(p) for p in summary.outputs],
        failed=summary.failed + summary.failed_earlier,
        interrupted=summary.interrupted,
        nothing_to_do=summary.nothing_to_do,
    )


def build_bigearthnet(
    tiles: str | Sequence[str],
    *,
    start: str,
    end: str,
    out: Path | str,
    clc: Path | str,
    source: str = "stac",
    progress: Progress | None = None,
    **options: Any,
) -> BuildResult:
    """BigEarthNet v2 patches of ``tiles`` in the window, as ``etl bigearthnet``."""
    from pipeline.bigearthnet.config import build_ben_config
    from pipeline.bigearthnet.run import run_bigearthnet

    names = [tiles] if isinstance(tiles, str) else list(tiles)
    flags = {"tiles": ",".join(names), "start": start, "end": end, "out": out, "clc": clc,
             "source": source, **options}
    cfg = build_ben_config({k: v for k, v in flags.items() if v is not None})
    summary = run_bigearthnet(cfg, progress)
    return BuildResult(files=[Path(p) for p in summary.outputs], failed=summary.failed,
                       interrupted=summary.interrupted, nothing_to_do=summary.nothing_to_do)


def _check_names(options: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(known))}")


def country_file(out: Path | str, country: str, year: int = 2018) -> Path:
    """Where ``build_country`` writes a country: ``OUT/<year>/<CC>.h5``."""
    return OutputLayout(Path(out)).country_file(year, country.upper())


def read_index(path: Path | str) -> pd.DataFrame:
    """The country file's index (one row per point), checked against the file."""
    return _read_index(Path(path)).to_pandas()


def read_point(path: Path | str, point_id: int) -> Point:
    """One point's whole series and attributes (``Image_ID`` as ``image_ids``/``dates``)."""
    path = Path(path)
    name = dataset_name(point_id)
    try:
        with h5py.File(path, "r") as f:
            if name not in f:
                raise ConfigError(f"{path}: no point {point_id:08d} (dataset {name})")
            ds = f[name]
            ids = attribute_texts(ds.attrs["Image_ID"])
            attrs = {k: plain_attribute(v) for k, v in ds.attrs.items() if k != "Image_ID"}
            data = ds[()]
    except OSError as e:
        raise OutputError(f"{path}: cannot read ({e})") from e
    dates = [image_id_time(i) for i in ids]
    if None in dates:
        raise OutputError(f"{path}: point {point_id:08d} has an Image_ID without a date")
    return Point(point_id, data, [d for d in dates if d is not None], ids, attrs)
