"""Stage 3 on Dask distributed (``--scheduler``): scene-major reads, point-major assembly.

Why this shape: the cost of an export is opening assets and decoding their blocks, so the
unit of reading is a *scene*: one task per scene reads that scene's windows for every point
of the wave that needs it (each asset opened once in the whole cluster) and writes them as
one fragment file, row i for the scene's i-th point. The unit of writing is a *point*: one
task per point depends on the scene tasks of its scenes (Dask's dependency graph, so nothing
but small status records travels between tasks), reads its rows back, assembles the stack
with the rules every source shares (:func:`exports.stack.assemble_stack`) and stages it
atomically. Pixels never pass through the client.

Memory stays bounded by waves: the points are taken in their spatial order, about a thousand
at a time (each scene is read once per wave; neighbouring points share scenes). The
fragments of a wave live in a scratch folder under the output folder, removed when the wave
is done and wiped at the start of every run (a killed run leaves them behind).

The ledger stays the single source of truth: only this (client) process yields the
outcomes (the export stage records them), after a point task returned, i.e. after its
staged file was renamed into place. A worker killed mid-task is replaced by Dask and its
tasks rerun (fragments and staged files are written
under unique temp names and renamed, so a rerun or a stray task of a dead client can never
leave a half-written file under a final name). A killed client or cluster resumes like a
killed single-machine run: whatever the ledger does not mark done is exported again.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exports.source import PointRequest, Scene
from lucas.errors import OutputError, SourceError
from pipeline.config import RunConfig
from pipeline.dataset.layout import OutputLayout
from pipeline.executors.base import Cluster, Finished
from pipeline.executors.dask_cluster import check_shared_folder
from pipeline.export.dask_tasks import PointTask, assemble_point_task, read_scene_task
from pipeline.export.jobs import NO_SCENE, ExportJob, ExportOutcome, PointItem
from pipeline.interrupt import stop_requested
from pipeline.ledger import FAILED, SKIPPED

log = logging.getLogger(__name__)

WAVE_POINTS = 1024  # points read together: about a tile of LUCAS points (~86 KB per point-scene)
POLL_S = 0.1  # how often the client looks for finished tasks and for Ctrl-C
MAX_WAVES = 2  # waves in flight: one assembling its points while the next reads scenes


# --- client side ------------------------------------------------------------------------


@dataclass
class _Wave:
    """A wave in flight: its scratch folder and what is left of it."""

    number: int
    folder: Path
    scenes_left: int
    points_left: int


@dataclass
class _Driver:
    """Submits waves, yields finished points, cleans up behind itself."""

    client: Any
    cfg: RunConfig
    scratch: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    pending: dict[Any, tuple[_Wave, tuple[ExportJob, PointItem] | None]] = field(
        default_factory=dict)
    done: Any = None  # distributed.as_completed over every pending future
    active: list[_Wave] = field(default_factory=list)  # submitted, points not all back
    launched: int = 0
    lost: int = 0  # futures the cluster cancelled (not us): scheduler gone or restarted
    fatal: OutputError | None = None  # our own output folder failed: stop the run

    def run(
        self, waves: Iterator[list[tuple[ExportJob, PointItem]]]
    ) -> Iterator[Finished[ExportJob, ExportOutcome]]:
        from distributed import as_completed

        self.done = as_completed()
        self._top_up(waves)
        while not self.done.is_empty():
            finished = self.done.next_batch(block=False)
            if not finished:
                if stop_requested():
                    break
                time.sleep(POLL_S)
                continue
            pairs: list[tuple[ExportJob, ExportOutcome]] = []
            for fut in finished:
                wave, point = self.pending.pop(fut)
                if point is None:
                    wave.scenes_left -= 1
                    continue
                outcome = self._point_outcome(fut, point[1].point_id)
                if outcome is not None:
                    pairs.append((point[0], outcome))
                wave.points_left -= 1
                if wave.points_left == 0:
                    self.active.remove(wave)
                    shutil.rmtree(wave.folder, ignore_errors=True)
            if pairs:
                yield pairs
            if self.lost or self.fatal or stop_requested():
                break
            self._top_up(waves)
        self.client.cancel(list(self.pending))
        if self.fatal:
            raise self.fatal
        if self.lost:
            raise SourceError(
                f"the Dask cluster lost {self.lost} task(s) (scheduler gone or restarted?); "
                "the points finished so far are recorded: run the same command again to "
                "resume (--scheduler)", transient=True)

    def _top_up(self, waves: Iterator[list[tuple[ExportJob, PointItem]]]) -> None:
        """Submit the next wave once the newest one has read all its scenes, so workers
        read ahead while points assemble; at most MAX_WAVES waves (their scratch) at once."""
        while not self.active or (
            len(self.active) < MAX_WAVES and self.active[-1].scenes_left == 0
        ):
            items = next(waves, None)
            if items is None:
                return
            self.active.append(self._launch(items, self.launched))
            self.launched += 1

    def _launch(self, items: list[tuple[ExportJob, PointItem]], number: int) -> _Wave:
        folder = self.scratch / f"wave{number:05d}"
        (folder / "stage").mkdir(parents=True)
        scenes, reads = wave_graph([item for _, item in items])
        wave = _Wave(number, folder, len(scenes), len(items))
        scene_futs: list[Any] = []
        point_futs: list[Any] = []
        for i, (scene, points) in enumerate(scenes):
            fut = self.client.submit(read_scene_task, self.cfg, scene, points,
                                     str(folder / f"s{i:05d}.npy"), pure=False,
                                     key=f"etl-scene-{self.run_id}-{number}-{i}")
            scene_futs.append(fut)
            self.pending[fut] = (wave, None)
        for (job, item), point_reads in zip(items, reads, strict=True):
            req = item.request
            job.stage_dir.mkdir(parents=True, exist_ok=True)
            task = PointTask(req, item.attributes, job.country, job.stage_dir, folder / "stage",
                             job.writer)
            fut = self.client.submit(
                assemble_point_task, self.cfg, task, [row for _, row in point_reads],
                [scene_futs[i] for i, _ in point_reads], pure=False, priority=1,
                key=f"etl-point-{self.run_id}-{number}-{req.point_id:08d}")
            self.pending[fut] = (wave, (job, item))
            point_futs.append(fut)
        self.done.update(scene_futs + point_futs)
        log.info("dask wave %d: %d point(s), %d scene task(s)", number, len(items), len(scenes))
        return wave

    def _point_outcome(self, fut: Any, point_id: int) -> ExportOutcome | None:
        if fut.status == "finished":
            outcome: ExportOutcome = fut.result()
            return outcome
        if fut.status == "cancelled":  # not by us: the scheduler lost it
            self.lost += 1
            return None
        exc = fut.exception()
        if isinstance(exc, OutputError):  # as on one machine: stop, record nothing for it
            self.fatal = self.fatal or exc
            return None
        message = f"Dask task failed: {type(exc).__name__}: {exc}"
        if type(exc).__name__ == "KilledWorker":
            message += (" (the workers running it died repeatedly: out of memory? see the "
                        "worker logs; --retry-failed tries again)")
        return ExportOutcome(point_id, FAILED, message, {"transient": False})


def wave_graph(
    items: Sequence[PointItem],
) -> tuple[list[tuple[Scene, list[PointRequest]]], list[list[tuple[int, int]]]]:
    """The wave's scenes in (tile, time) order, each with its points, and for each point
    its (scene index, row) pairs in that same order."""
    by_id: dict[str, tuple[Scene, list[PointRequest]]] = {}
    for item in items:
        for scene in {s.scene_id: s for s in item.scenes}.values():
            by_id.setdefault(scene.scene_id, (scene, []))[1].append(item.request)
    order = sorted(by_id.values(), key=lambda sp: (sp[0].tile, sp[0].acquired, sp[0].scene_id))
    position = {}
    for i, (scene, points) in enumerate(order):
        for row, req in enumerate(points):
            position[(scene.scene_id, req.point_id)] = (i, row)
    reads = [
        sorted(position[(sid, item.point_id)] for sid in {s.scene_id for s in item.scenes})
        for item in items
    ]
    return order, reads


def run_on_dask(
    cfg: RunConfig, executor: Cluster, jobs: Sequence[ExportJob]
) -> Iterator[Finished[ExportJob, ExportOutcome]]:
    """The export on Dask: the same outcomes as the inline and pool executors."""
    items: list[tuple[ExportJob, PointItem]] = []
    for job in jobs:
        empty = [(job, ExportOutcome(item.point_id, SKIPPED, NO_SCENE,
                                     {"reason": "no scene selected"}))
                 for item in job.points if not item.scenes]
        items.extend((job, item) for item in job.points if item.scenes)
        if empty:
            yield empty
    if not items or stop_requested():
        return
    with executor.client() as client:
        if stop_requested():
            return
        scratch = _fresh_scratch(cfg)
        try:
            check_shared_folder(client, scratch / "probe", cfg.scheduling.worker_inputs)
            n = len(client.scheduler_info(n_workers=-1)["workers"])
            spec = executor.spec
            note = (f"export ran on Dask: {spec.describe(cfg.workers)}" if spec.is_local
                    else f"export ran on Dask at {spec.address}: {n} worker(s) at start")
            if not any(x.startswith("export ran on Dask") for x in executor.notes):
                executor.notes.append(note)  # once, not once per in-run retry
            yield from _Driver(client, cfg, scratch).run(_waves(items, WAVE_POINTS))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            with contextlib.suppress(OSError):  # only if empty: leave nothing behind
                scratch.parent.rmdir()


def _waves(
    items: Sequence[tuple[ExportJob, PointItem]], size: int
) -> Iterator[list[tuple[ExportJob, PointItem]]]:
    """Consecutive points (the planner's spatial order) form a wave: they share scenes."""
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _fresh_scratch(cfg: RunConfig) -> Path:
    """This run's scratch folder; what a killed run left behind is removed first."""
    root = OutputLayout(cfg.out).dask_scratch(cfg.year)
    shutil.rmtree(root, ignore_errors=True)
    scratch = root / uuid.uuid4().hex[:12]
    scratch.mkdir(parents=True)
    return scratch
