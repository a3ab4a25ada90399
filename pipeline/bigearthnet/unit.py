"""One unit of work: a (tile, Sentinel-2 scene) read whole and cut into labelled patches.

Files are written into the unit's staging folder with the tree's own relative paths, then
each patch folder is moved into the tree (a rename; a folder left by a crashed earlier try
is replaced), and only then does the coordinating process mark the unit done with the
patches' metadata rows. A unit redone after a crash writes the same files.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from exports.s1.scene import sensing_start
from exports.s1.source import RadarSource
from exports.source import Scene
from exports.tiles.grid import BAND_RESOLUTION, BEN_BANDS, patch_id, s1_name
from lucas.errors import SceneReadError
from lucas.safe_files import fsync_file
from pipeline.bigearthnet.config import BenConfig
from pipeline.bigearthnet.countries import Countries
from pipeline.bigearthnet.layout import BenLayout, map_dir, s1_patch_dir, s2_patch_dir
from pipeline.bigearthnet.patches import cut, flags, scl_fractions, touches_nodata
from pipeline.bigearthnet.read import BandReader, read_scene
from pipeline.bigearthnet.s1pair import S1Pair, pair_patches
from pipeline.bigearthnet.write import write_band

UNCOVERED = 999


@dataclass
class UnitResult:
    """What a unit wrote (a metadata row per patch) and why it left patches out."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)  # read, cut, labels, s1, write


@dataclass
class UnitTools:
    """What a process builds once and every unit uses: CORINE, radar, countries."""

    clc: Any  # exports.clc.source.ClcSource
    radar: RadarSource | None
    countries: Countries | None
    reader: BandReader | None = None  # the S2 source's whole-band reader (default: COGs)
    areas: dict[tuple[str, tuple[float, ...]], Any] = field(default_factory=dict)


def make_tools(cfg: BenConfig) -> UnitTools:
    """The tools of a process (the coordinator's or a worker's)."""
    from exports.clc.open import open_clc

    radar = None
    if cfg.has_s1:
        from pipeline.sources import make_radar_source

        radar = make_radar_source(replace(cfg.run, s1_options=cfg.s1))
    countries = Countries(cfg.countries, cfg.country_field) if cfg.countries else None
    clc = open_clc(cfg.clc, project=cfg.run.project, key_file=cfg.run.gee_key_file)
    from pipeline.sources import make_source

    # A source without files (Earth Engine) hands whole bands over itself; COGs are read here.
    reader = getattr(make_source(cfg.run), "read_band_whole", None)
    return UnitTools(clc, radar, countries, reader)


def unit_key(tile: str, scene: Scene) -> str:
    return f"{tile}/{scene.scene_id}"


def run_unit(cfg: BenConfig, tools: UnitTools, tile: str, scene: Scene) -> UnitResult:
    """Read, cut, label, pair and write one scene's patches."""
    from exports.clc.labels import keeps, patch_labels

    if not scene.product_id:
        raise SceneReadError(f"scene {scene.scene_id}: no ESA product name (the STAC item's "
                             "s2:product_uri, Earth Engine's PRODUCT_ID), which the patch ids "
                             "start with (S2A_MSIL2A_<time>_N…_R…_T<tile>)")
    clock = time.perf_counter()
    result = UnitResult()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.seconds[phase] = result.seconds.get(phase, 0.0) + now - clock
        clock = now

    raster = read_scene(scene, tools.reader)
    lap("read")
    grid = raster.grid
    bounds = (grid.x_min, grid.y_max - raster.height_m, grid.x_min + raster.width_m, grid.y_max)
    key = (tile, bounds)
    if key not in tools.areas:
        tools.areas.clear()  # one tile's area at a time: it can be 241 MB
        tools.areas[key] = tools.clc.for_area(grid.epsg, bounds)
    area = tools.areas[key]
    kept: list[tuple[Any, Any, float, float]] = []
    for patch in cut(raster):
        result.counts["patches cut"] += 1
        if touches_nodata(patch):
            result.counts["dropped: touches no-data"] += 1
            continue
        lap("cut")
        reference = area.reference_map(grid.patch_grid(patch.x, patch.y, 10))
        labels = patch_labels(reference)
        lap("labels")
        if not keeps(labels):
            result.counts["dropped: UNLABELED >= 25 %"] += 1
            continue
        snow, cloud = scl_fractions(patch.bands["SCL"])
        kept.append((patch, (reference, labels), snow, cloud))
    pairs: dict[tuple[int, int], S1Pair] = {}
    if tools.radar is not None and kept:
        pairs, errors = pair_patches(tools.radar, grid, [(p.x, p.y) for p, *_ in kept],
                                     scene.acquired, cfg.s1.s1_max_days, cfg.s1.s1_orbit,
                                     cfg.s1.s1_resampling)
        if errors:
            raise SceneReadError(f"scene {scene.scene_id}: Sentinel-1 failed for "
                                 f"{len(errors)} patch(es): {errors[0]}",
                                 transient=True)
    lap("s1")
    staging = BenLayout(cfg.out).unit_staging(unit_key(tile, scene))
    shutil.rmtree(staging, ignore_errors=True)
    moves: list[Path] = []
    for patch, (reference, labels), snow, cloud in kept:
        pid = patch_id(scene.product_id, patch.x, patch.y)
        pair = pairs.get((patch.x, patch.y))
        if pair is None:
            result.counts["patches without Sentinel-1"] += 1
            if cfg.require_s1:
                result.counts["dropped: no Sentinel-1 (--require-s1)"] += 1
                continue
        moves += _write_patch(staging, grid, scene.product_id, pid, patch, reference, pair,
                              tile)
        box = grid.patch_grid(patch.x, patch.y, 10).bounds
        result.rows.append(_row(cfg, tools, scene, tile, pid, patch.x, patch.y, labels, pair,
                                snow, cloud, grid.epsg, box))
        result.counts["patches written"] += 1
    _move_into(staging, BenLayout(cfg.out).root, moves)
    lap("write")
    return result


def _write_patch(
    staging: Path, grid: Any, product: str, pid: str, patch: Any, reference: np.ndarray,
    pair: S1Pair | None, tile: str,
) -> list[Path]:
    s2 = s2_patch_dir(staging, product, pid)
    for band in BEN_BANDS:
        res = BAND_RESOLUTION[band]
        write_band(s2 / f"{pid}_{band}.tif", np.ascontiguousarray(patch.bands[band]),
                   grid.patch_grid(patch.x, patch.y, res), nodata=0)
    ref = map_dir(staging, product, pid)
    write_band(ref / f"{pid}_reference_map.tif", reference.astype(np.uint16),
               grid.patch_grid(patch.x, patch.y, 10), nodata=None)
    dirs = [s2, ref]
    if pair is not None:
        name = s1_name(pair.scene.platform, sensing_start(pair.scene), tile, patch.x, patch.y)
        s1 = s1_patch_dir(staging, name)
        g10 = grid.patch_grid(patch.x, patch.y, 10)
        write_band(s1 / f"{name}_VV.tif", pair.vv.astype(np.float32), g10, nodata=float("nan"))
        write_band(s1 / f"{name}_VH.tif", pair.vh.astype(np.float32), g10, nodata=float("nan"))
        dirs.append(s1)
    return dirs


def _row(
    cfg: BenConfig, tools: UnitTools, scene: Scene, tile: str, pid: str, x: int, y: int,
    labels: Any, pair: S1Pair | None, snow: float, cloud: float, epsg: int,
    box: tuple[float, float, float, float],
) -> dict[str, Any]:
    country = tools.countries.name(epsg, box) if tools.countries else ""
    has_snow, has_cloud = flags(snow, cloud, cfg.flag_threshold)
    return {
        "patch_id": pid,
        "labels": list(labels.labels),
        "country": country,
        "s1_name": (s1_name(pair.scene.platform, sensing_start(pair.scene), tile, x, y)
                    if pair else ""),
        "contains_seasonal_snow": has_snow,
        "contains_cloud_or_shadow": has_cloud,
        "labels_43": list(labels.labels_43),
        "tile": tile,
        "x": x,
        "y": y,
        "s2_product": scene.product_id,
        "s2_datetime": scene.acquired.isoformat(),
        "s1_datetime": pair.scene.acquired.isoformat() if pair else "",
        "delta_hours": pair.delta_hours if pair else float("nan"),
        "unlabeled_fraction": float(labels.unlabeled_fraction),
        "snow_fraction": snow,
        "cloud_shadow_fraction": cloud,
    }


def _move_into(staging: Path, root: Path, dirs: list[Path]) -> None:
    """Each staged patch folder renamed into the tree (replacing a folder an earlier,
    crashed try left), the tree's folders flushed, the staging folder removed.

    One ``sync`` for the unit's thousands of files before the renames: a file per fsync
    would cost a disk flush each."""
    os.sync()
    parents: set[Path] = set()
    for src in dirs:
        target = root / src.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(src, target)
        parents.add(target.parent)
    for parent in parents:
        fsync_file(parent)
    shutil.rmtree(staging, ignore_errors=True)
