"""What an output file holds, without reading a pixel: the facts ``etl inspect`` prints.

Why a module of its own: ``rio info`` for the tool's outputs, as one plain dict with stable
keys (README "Inspecting an output"), so the human table and ``--json`` say the same. A
country file (``<CC>.h5``, ``<CC>_S1.h5``) is described from its file attributes and its
index (``<CC>.index.parquet``) when the index is current, else from the datasets' shapes
and per-step attributes; a BigEarthNet tree from ``metadata.parquet`` and
``etl_sources.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median
from typing import Any

import h5py
import pandas as pd
import pyarrow.parquet as pq

from exports.file_index import (
    DATASET_PREFIX,
    S1_SUFFIX,
    attribute_texts,
    index_is_current,
    index_path,
    index_problem,
    plain_attribute,
)
from exports.tiles.grid import BEN_BANDS
from lucas.errors import ConfigError, InputFormatError
from pipeline.bigearthnet.layout import METADATA, METADATA_FLAGGED, PROVENANCE

# Every key of the answer, in print order; absent facts are None (stable for --json).
KEYS = ("path", "kind", "format_version", "producer", "producer_version", "source", "year",
        "country", "counts", "time_steps", "date_range", "bands", "grid", "thresholds",
        "config_hash", "created", "index", "extra")
THRESHOLDS = ("max_cloud_cover", "max_scene_nodata", "max_patch_nodata", "buffer_m")
S1_SETTINGS = ("s1_source", "s1_mode", "s1_orbit", "s1_max_days", "s1_resampling",
               "backscatter", "units", "s2_config_hash")
BEN_THRESHOLDS = ("max_cloud_cover", "max_scene_nodata", "flag_threshold", "s1_max_days")


def inspect_output(path: Path) -> dict[str, Any]:
    """The facts of a country file or a BigEarthNet tree (its folder, or the folder above)."""
    if path.is_dir():
        root = path / "bigearthnet" if (path / "bigearthnet" / METADATA).is_file() else path
        if not (root / METADATA).is_file():
            raise ConfigError(f"{path}: not a BigEarthNet tree (no {METADATA}) and not a "
                             "country file; give OUT/<year>/<CC>.h5 or OUT/bigearthnet")
        return inspect_tree(root)
    if not path.exists():
        raise ConfigError(f"{path}: no such file; give OUT/<year>/<CC>.h5, <CC>_S1.h5 or a "
                         "BigEarthNet tree (OUT/bigearthnet)")
    return inspect_country_file(path)


def inspect_country_file(path: Path) -> dict[str, Any]:
    """``<CC>.h5`` or ``<CC>_S1.h5``: file attributes, counts, steps, dates, index state."""
    radar = path.stem.endswith(S1_SUFFIX)
    s2_file = path.with_name(path.stem.removesuffix(S1_SUFFIX) + path.suffix) if radar else path
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: plain_attribute(v) for k, v in f.attrs.items()}
            index = _index_state(s2_file)
            steps, dates = _steps_and_dates(f, s2_file, radar, index["current"])
    except OSError as e:
        raise InputFormatError(f"{path}: cannot read it as HDF5 ({e}); is it a country file of "
                         "etl run, and complete?") from e
    facts = dict.fromkeys(KEYS)
    facts.update({key: attrs.get(key) for key in ("format_version", "producer",
                                                   "producer_version", "source", "year",
                                                   "country", "config_hash", "created")})
    facts.update(
        path=str(path),
        kind="sen4map_s1" if radar else "sen4map",
        counts={"points": len(steps), "point_count_attribute": attrs.get("point_count")},
        time_steps=_spread(steps),
        date_range=_range(dates),
        bands=attrs.get("bands"),
        grid={k: attrs.get(k) for k in ("patch_size", "center_pixel", "pixel_size_m")},
        thresholds={k: attrs.get(k) for k in THRESHOLDS},
        index=index,
        extra={k: attrs[k] for k in S1_SETTINGS if k in attrs} if radar else {},
    )
    return facts


def _index_state(s2_file: Path) -> dict[str, Any]:
    """Whether ``<CC>.index.parquet`` describes the files as they are (stamps, else names)."""
    path = index_path(s2_file)
    state: dict[str, Any] = {"path": str(path), "exists": path.is_file(), "current": False,
                             "problem": None}
    if not state["exists"]:
        state["problem"] = f"no {path.name}; write it with `etl index {s2_file}`"
    elif index_is_current(s2_file):
        state["current"] = True
    elif s2_file.is_file():
        problem = index_problem(s2_file, pq.read_table(path, columns=["dataset", "steps"]))
        state["current"] = problem is None
        state["problem"] = problem
    return state


def _steps_and_dates(
    f: h5py.File, s2_file: Path, radar: bool, index_current: bool
) -> tuple[list[int], list[str]]:
    """Steps per point and the first/last acquisition of each (index, or the file)."""
    if index_current:
        table = pq.read_table(index_path(s2_file)).to_pandas()
        if not radar:
            first = table.first_acquired.dropna().map(_iso).tolist()
            last = table.last_acquired.dropna().map(_iso).tolist()
            return [int(s) for s in table.steps], first + last
        # The index knows the radar step counts, not the dates: those come from the file.
        held = table.s1_steps.dropna()
        if len(held) == sum(1 for n in f if n.startswith(DATASET_PREFIX)):
            return [int(s) for s in held], _file_dates(f, radar)
    steps = [int(f[n].shape[0]) for n in f if n.startswith(DATASET_PREFIX)]
    return steps, _file_dates(f, radar)


def _file_dates(f: h5py.File, radar: bool) -> list[str]:
    """The first and last acquisition of every point, read from per-step attributes."""
    dates: list[str] = []
    for name in (n for n in f if n.startswith(DATASET_PREFIX)):
        if radar:
            acquired = attribute_texts(f[name].attrs.get("acquired", []))
            values = sorted(_iso(t) for t in acquired if t)
        else:
            ids = attribute_texts(f[name].attrs.get("Image_ID", []))
            values = sorted(_image_id_time(s) for s in ids)
        values = [v for v in values if v]
        if values:
            dates += [values[0], values[-1]]
    return dates


def inspect_tree(root: Path) -> dict[str, Any]:
    """A BigEarthNet tree: ``metadata.parquet`` (+ the flagged table) and its provenance."""
    try:
        frames = [pd.read_parquet(root / name) for name in (METADATA, METADATA_FLAGGED)
                  if (root / name).is_file()]
    except (OSError, ValueError) as e:
        raise InputFormatError(f"{root / METADATA}: cannot read it ({e}); run `etl bigearthnet` "
                         "again to rebuild it") from e
    provenance: dict[str, Any] = {}
    if (root / PROVENANCE).is_file():
        try:
            provenance = json.loads((root / PROVENANCE).read_text())
        except (OSError, ValueError) as e:
            raise InputFormatError(f"{root / PROVENANCE}: cannot read it ({e})") from e
    table = pd.concat(frames, ignore_index=True)
    dates = sorted(_iso(d) for d in table.get("s2_datetime", pd.Series(dtype=str)).dropna())
    with_s1 = int((table.get("s1_name", pd.Series(dtype=str)).fillna("") != "").sum())
    countries = sorted({str(c) for c in table.get("country", []) if c})
    splits = ({str(k): int(v) for k, v in table.split.value_counts().sort_index().items()}
              if "split" in table else {})
    facts = dict.fromkeys(KEYS)
    facts.update(
        path=str(root),
        kind="bigearthnet",
        format_version=None,
        producer=provenance.get("producer"),
        producer_version=provenance.get("producer_version"),
        source=provenance.get("s2_source"),
        year=sorted({int(d[:4]) for d in dates}) or None,
        country=countries,
        counts={"patches": len(table), "flagged_patches": len(frames[1]) if len(frames) > 1
                else 0, "s2_scenes": int(table.get("s2_product", pd.Series()).nunique()),
                "with_s1": with_s1, "tiles": sorted(set(table.get("tile", [])))},
        date_range=_range(dates),
        bands=[*BEN_BANDS, *(("VV", "VH") if with_s1 else ())],
        grid={"patch_size": 120, "center_pixel": None, "pixel_size_m": 10.0},
        thresholds={k: provenance.get(k) for k in BEN_THRESHOLDS},
        config_hash=provenance.get("config_hash"),
        index={"path": str(root / METADATA), "exists": True, "current": True, "problem": None},
        extra={"split": splits, "clc": provenance.get("clc")},
    )
    return facts


def _spread(values: list[int]) -> dict[str, Any] | None:
    if not values:
        return None
    return {"min": min(values), "median": float(median(values)), "max": max(values),
            "total": sum(values)}


def _range(dates: list[str]) -> dict[str, str] | None:
    return {"first": min(dates), "last": max(dates)} if dates else None


def _iso(value: Any) -> str:
    return pd.Timestamp(value).tz_convert("UTC").isoformat()


def _image_id_time(image_id: str) -> str:
    """``YYYYMMDDTHHMMSS_…`` → ISO UTC, or "" for an id of another form."""
    try:
        return pd.Timestamp(image_id[:15]).tz_localize("UTC").isoformat()
    except ValueError:
        return ""
