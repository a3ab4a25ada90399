"""The tasks of the Dask export (run in worker processes): read a scene, assemble a point.

A scene task reads one scene for many points through the source's own ``fetch`` (so the
asset handling, GDAL settings and read-error rules are the single-machine ones, and each
asset is opened once) and writes row i of one fragment file for its i-th point. A point
task gathers its rows, scenes in (tile, time) order as ``StacSource.fetch`` visits them,
and assembles and stages the stack exactly as :func:`pipeline.export.batch.export_job`
does, so a Dask run and a single-process run give the same staged files and the same
ledger payloads.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from exports.source import (
    DroppedScene,
    ImagerySource,
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    SceneFilter,
    SceneSelection,
    band_dtype,
)
from exports.stack import ScenePatch, assemble_stack
from lucas.errors import OutputError
from pipeline.config import RunConfig
from pipeline.dataset.errors import is_disk_full, staging_error
from pipeline.dataset.writer import DatasetWriter
from pipeline.export.batch import point_outcome
from pipeline.export.jobs import ExportJob, ExportOutcome, PointItem
from pipeline.ledger import DONE
from pipeline.sources import make_source, with_faults

log = logging.getLogger(__name__)

FRAGMENT_WAIT_S = 30.0  # how long a point task waits for a fragment to show up (NFS caches)


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
    writer: DatasetWriter


# --- worker side ------------------------------------------------------------------------

_SOURCES: dict[RunConfig, ImagerySource] = {}
_INJECTORS: dict[RunConfig, ImagerySource] = {}


def worker_source(cfg: RunConfig) -> ImagerySource:
    """The source of this worker process's scene reads, built once per config (like the
    process pool), without the ``--inject-faults`` wrapper: see :func:`point_faults`."""
    source = _SOURCES.get(cfg)
    if source is None:
        source = _SOURCES[cfg] = make_source(replace(cfg, inject_faults=0.0))
    return source


def point_faults(cfg: RunConfig) -> ImagerySource | None:
    """``--inject-faults`` draws a fate per *point read*; here a point is read by many scene
    tasks, so the fate is drawn once per point task instead (the injector wraps a source
    that reads nothing: it only ever answers with the injected failures)."""
    if cfg.inject_faults <= 0:
        return None
    injector = _INJECTORS.get(cfg)
    if injector is None:
        injector = _INJECTORS[cfg] = with_faults(_NoReads(), cfg)
    return injector


class _NoReads:
    """An :class:`ImagerySource` with nothing behind it (for :func:`point_faults`)."""

    name = "none"

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        raise NotImplementedError("the export stage selects nothing")

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        return iter(())


def read_scene_task(
    cfg: RunConfig, scene: Scene, points: Sequence[PointRequest], path: str
) -> SceneResult:
    """Read one scene for many points through the source's own ``fetch`` (scene-major: each
    asset opened once); write row i of the fragment file for ``points[i]``.

    A fragment that cannot be written (disk full, the folder not mounted on this host)
    raises :class:`OutputError`, which stops the run as it does on one machine.
    """
    target = Path(path)
    if not target.parent.is_dir():  # the client created it: this worker lacks the mount
        raise OutputError(f"{target.parent} not found on Dask worker host "
                          f"{socket.gethostname()}: every worker must see --out at the same "
                          "path (a shared filesystem)")
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as f:
            rows = _Rows(f, band_dtype(cfg.bands), len(points), points[0].grid.size, target)
            status = _fill_rows(worker_source(cfg), cfg, scene, points, rows)
        os.replace(tmp, target)
    except OutputError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _fragment_error(e, target) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return SceneResult(replace(scene, assets={}), path, status)


class _Rows:
    """A .npy file of ``n`` patches written row by row (plain writes, not a memory map: a
    full disk must be an ENOSPC error, not a SIGBUS that kills the worker)."""

    def __init__(self, f: BinaryIO, dtype: np.dtype, n: int, size: int, target: Path) -> None:
        self.f, self.dtype, self.target = f, dtype, target
        np.lib.format.write_array_header_2_0(f, {
            "descr": np.lib.format.dtype_to_descr(dtype),
            "fortran_order": False,
            "shape": (n, size, size),
        })
        self.offset = f.tell()
        self.row_bytes = size * size * dtype.itemsize
        f.truncate(self.offset + n * self.row_bytes)  # rows never written read as zeros

    def put(self, i: int, patch: np.ndarray) -> None:
        try:
            self.f.seek(self.offset + i * self.row_bytes)
            self.f.write(np.ascontiguousarray(patch, dtype=self.dtype).tobytes())
        except OSError as e:
            raise _fragment_error(e, self.target) from e


def _fragment_error(e: OSError, target: Path) -> OutputError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(f"disk full while writing {target}: free space there and run the "
                           "same command again (finished points are kept)")
    return OutputError(f"cannot write {target}: {e}; fix it and run the same command again "
                       "(finished points are kept)")


def _fill_rows(
    source: ImagerySource,
    cfg: RunConfig,
    scene: Scene,
    points: Sequence[PointRequest],
    rows: _Rows,
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
                rows.put(index[result.point_id], result.data[0])
            if result.dropped or not has_patch:
                status[result.point_id] = SceneStatus(has_patch, tuple(result.dropped))
    except OutputError:
        raise  # our own disk: stop the run, as export_job does
    except Exception as e:  # as export_job: a source bug costs this scene's points only
        if is_disk_full(e):
            raise _fragment_error(OSError(errno.ENOSPC, str(e)), rows.target) from e
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
    injector = point_faults(cfg)
    if injector is not None:
        batch = [(task.point, [read.scene for read in scenes])]
        injected = next(iter(injector.fetch(batch, cfg.bands, cfg.max_patch_nodata)), None)
        if injected is not None:
            return _stage(cfg, task, injected)
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
            patch = _fragment_row(read.path, row)
            if patch is None:
                result = PointFailure(pid, f"scene fragment {read.path} not found on worker "
                                      f"host {socket.gethostname()}", transient=True)
                break
            patches.append(ScenePatch.from_structured(read.scene, patch))
    if result is None:
        try:
            result = assemble_stack(task.point, patches, cfg.bands, cfg.max_patch_nodata,
                                    dropped)
        except Exception as e:
            log.exception("point %d: cannot assemble its stack", pid)
            result = PointFailure(pid, f"point {pid}: {type(e).__name__}: {e}")
    return _stage(cfg, task, result)


def _fragment_row(path: str, row: int, wait_s: float = FRAGMENT_WAIT_S) -> np.ndarray | None:
    """Row ``row`` of a fragment; None if the file stays invisible for ``wait_s`` (an NFS
    client may cache a directory's listing for some seconds after another host's rename)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fragment = np.load(path, mmap_mode="r")
        except FileNotFoundError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(1.0)
            continue
        patch = np.array(fragment[row])
        del fragment  # unmaps the file
        return patch


def _stage(cfg: RunConfig, task: PointTask, result: PointStack | PointFailure) -> ExportOutcome:
    """Stage under a unique folder, then rename into place (a rerun of this task, or a stray
    one left by a killed client, never shares a temp file with another writer)."""
    pid = task.point.point_id
    private = task.private_dir / f"{pid:08d}-{uuid.uuid4().hex}"
    try:
        private.mkdir()
        try:
            job = ExportJob(task.country, private, [], cfg.bands, cfg.max_patch_nodata,
                            task.writer)
            item = PointItem(task.point, [], task.attrs)
            outcome = point_outcome(job, result, item)
            if outcome.state == DONE:
                os.replace(task.writer.staged_path(private, pid),
                           task.writer.staged_path(task.stage_dir, pid))
        finally:
            shutil.rmtree(private, ignore_errors=True)
    except OSError as e:  # name the real staging folder, not the private one
        cause = e.__cause__ if isinstance(e.__cause__, Exception) else e
        raise staging_error(cause, task.stage_dir, pid) from cause
    return outcome
