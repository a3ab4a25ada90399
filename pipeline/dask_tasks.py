"""The tasks of the Dask export (run in worker processes): read a scene, assemble a point.

A scene task reads one scene for many points through the source's own ``fetch`` (so the
asset handling, GDAL settings and read-error rules are the single-machine ones, and each
asset is opened once) and writes row i of one fragment file for its i-th point. A point
task gathers its rows, scenes in (tile, time) order as ``StacSource.fetch`` visits them,
and assembles and stages the stack exactly as ``export_job`` does, so a Dask run and a
single-process run give the same staged files and the same ledger payloads.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from exports.source import (
    DroppedScene,
    ImagerySource,
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    band_dtype,
)
from exports.stack import ScenePatch, assemble_stack
from pipeline.config import RunConfig
from pipeline.ledger import DONE
from pipeline.sources import make_source
from pipeline.stage_export import ExportJob, ExportOutcome, _outcome
from pipeline.staging import staged_path

log = logging.getLogger(__name__)


# --- what travels between tasks ---------------------------------------------------------


@dataclass(frozen=True)
class SceneStatus:
    """What a scene gave one point when it was not simply a patch (the rare case)."""

    has_patch: bool
    dropped: tuple[DroppedScene, ...] = ()
    failure: tuple[str, bool] | None = None  # (message, transient)


@dataclass(frozen=True)
class SceneResult:
    """A scene task's answer: its fragment file and the points it did not simply serve."""

    scene: Scene  # without asset hrefs: the point tasks need only its identity and time
    path: str
    status: dict[int, SceneStatus]


@dataclass(frozen=True)
class PointTask:
    """A point's side of the graph: where its stack goes once assembled."""

    point: PointRequest
    attrs: dict[str, Any]
    country: str
    stage_dir: Path
    private_dir: Path  # scratch folder for unique temp names (same filesystem as stage_dir)


# --- worker side ------------------------------------------------------------------------

_SOURCES: dict[RunConfig, ImagerySource] = {}


def worker_source(cfg: RunConfig) -> ImagerySource:
    """The source of this worker process, built once per config (like the process pool)."""
    source = _SOURCES.get(cfg)
    if source is None:
        source = _SOURCES[cfg] = make_source(cfg)
    return source


def read_scene_task(
    cfg: RunConfig, scene: Scene, points: Sequence[PointRequest], path: str
) -> SceneResult:
    """Read one scene for many points through the source's own ``fetch`` (scene-major: each
    asset opened once); write row i of the fragment file for ``points[i]``."""
    target = Path(path)
    if not target.parent.is_dir():  # the client created it: this worker lacks the mount
        raise FileNotFoundError(f"{target.parent} not found on worker host "
                                f"{socket.gethostname()}: Dask workers must share --out")
    size = points[0].grid.size
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    rows = np.lib.format.open_memmap(tmp, mode="w+", dtype=band_dtype(cfg.bands),
                                     shape=(len(points), size, size))
    try:
        status = _fill_rows(worker_source(cfg), cfg, scene, points, rows)
        rows.flush()
        del rows
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return SceneResult(replace(scene, assets={}), path, status)


def _fill_rows(
    source: ImagerySource,
    cfg: RunConfig,
    scene: Scene,
    points: Sequence[PointRequest],
    rows: np.ndarray,
) -> dict[int, SceneStatus]:
    index = {p.point_id: i for i, p in enumerate(points)}
    status: dict[int, SceneStatus] = {}
    seen: set[int] = set()
    try:  # no patch filter here: the point task applies it across all time steps
        for result in source.fetch([(p, [scene]) for p in points], cfg.bands, 100.0):
            seen.add(result.point_id)
            if isinstance(result, PointFailure):
                status[result.point_id] = SceneStatus(False, failure=(result.message,
                                                                     result.transient))
                continue
            has_patch = len(result.image_ids) == 1
            if has_patch:
                rows[index[result.point_id]] = result.data[0]
            if result.dropped or not has_patch:
                status[result.point_id] = SceneStatus(has_patch, tuple(result.dropped))
    except Exception as e:  # as export_job: a source bug costs this scene's points only
        log.exception("export of scene %s failed", scene.scene_id)
        failure = SceneStatus(False, failure=(f"{type(e).__name__}: {e}", False))
        status.update({p.point_id: failure for p in points if p.point_id not in seen})
    lost = [p.point_id for p in points if p.point_id not in seen and p.point_id not in status]
    for pid in lost:
        status[pid] = SceneStatus(False, failure=(
            f"scene {scene.scene_id}: the source returned nothing for point {pid:08d}", False))
    return status


def assemble_point_task(
    cfg: RunConfig, task: PointTask, rows: Sequence[int], scenes: Sequence[SceneResult]
) -> ExportOutcome:
    """Gather a point's time steps (scenes in (tile, time) order), assemble, stage."""
    pid = task.point.point_id
    patches: list[ScenePatch] = []
    dropped: list[DroppedScene] = []
    result: PointStack | PointFailure | None = None
    for row, read in zip(rows, scenes, strict=True):
        st = read.status.get(pid)
        if st is not None and st.failure is not None:  # as fetch: the first failure wins
            result = PointFailure(pid, *st.failure)
            break
        if st is not None:
            dropped.extend(st.dropped)
        if st is None or st.has_patch:
            fragment = np.load(read.path, mmap_mode="r")
            patches.append(ScenePatch.from_structured(read.scene, np.array(fragment[row])))
            del fragment
    if result is None:
        try:
            result = assemble_stack(task.point, patches, cfg.bands, cfg.max_patch_nodata,
                                    dropped)
        except Exception as e:
            log.exception("point %d: cannot assemble its stack", pid)
            result = PointFailure(pid, f"point {pid}: {type(e).__name__}: {e}")
    return _stage(cfg, task, result)


def _stage(cfg: RunConfig, task: PointTask, result: PointStack | PointFailure) -> ExportOutcome:
    """Stage under a unique folder, then rename into place (a rerun of this task, or a stray
    one left by a killed client, never shares a temp file with another writer)."""
    pid = task.point.point_id
    private = task.private_dir / f"{pid:08d}-{uuid.uuid4().hex}"
    private.mkdir()
    try:
        job = ExportJob(task.country, private, [], cfg.bands, cfg.max_patch_nodata)
        outcome = _outcome(job, result, task.point, task.attrs)
        if outcome.state == DONE:
            os.replace(staged_path(private, pid), staged_path(task.stage_dir, pid))
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return outcome
