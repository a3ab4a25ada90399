"""One export batch, wherever it runs (here, a worker process, a Dask task): fetch, stage.

Each finished point is staged atomically by whoever fetched it, and only then does the
coordinating process mark it done in the ledger (:mod:`pipeline.export.record`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from exports.source import ImagerySource, PointFailure, PointStack
from lucas.errors import OutputError
from pipeline.config import RunConfig
from pipeline.dataset.errors import export_disk_full, is_disk_full
from pipeline.export.jobs import NO_SCENE, ExportJob, ExportOutcome, PointItem
from pipeline.ledger import DONE, FAILED, SKIPPED
from pipeline.sources import make_source

log = logging.getLogger(__name__)


def export_job(source: ImagerySource, job: ExportJob) -> Iterator[ExportOutcome]:
    """Fetch and stage one batch; yields an outcome per point as soon as it is on disk."""
    by_id = {item.point_id: item for item in job.points}
    pending = [(item.request, item.scenes) for item in job.points if item.scenes]
    for item in job.points:
        if not item.scenes:
            yield ExportOutcome(item.point_id, SKIPPED, NO_SCENE, {"reason": "no scene selected"})
    yield from guarded_outcomes(
        lambda: source.fetch(pending, job.bands, job.max_patch_nodata),
        [req.point_id for req, _ in pending], job.stage_dir,
        lambda result: point_outcome(job, result, by_id[result.point_id]),
    )


def guarded_outcomes(
    fetch: Callable[[], Iterable[PointStack | PointFailure]],
    point_ids: Sequence[int],
    stage_dir: Path,
    outcome: Callable[[PointStack | PointFailure], ExportOutcome],
) -> Iterator[ExportOutcome]:
    """The outcome of each fetched point; a source's crash fails only the points it had not
    yielded yet (recorded, not lost), while a full or unwritable disk of ours stops the run."""
    seen: set[int] = set()
    try:
        for result in fetch():
            seen.add(result.point_id)
            yield outcome(result)
    except OutputError:
        raise  # our own disk is full or unwritable: stop the run, nothing to record per point
    except Exception as e:  # a source bug must not lose the batch's other points silently
        if is_disk_full(e):  # not a property of any point: stop, record nothing as failed
            raise export_disk_full(e, stage_dir, len(point_ids)) from e
        log.exception("export of a batch of %d points failed", len(point_ids))
        for pid in point_ids:
            if pid not in seen:
                yield ExportOutcome(pid, FAILED, f"{type(e).__name__}: {e}", {"transient": False})


def point_outcome(
    job: ExportJob, result: PointStack | PointFailure, item: PointItem
) -> ExportOutcome:
    """Stage a fetched stack through the job's writer; an empty one is skipped."""
    if isinstance(result, PointFailure):
        return ExportOutcome(result.point_id, FAILED, result.message,
                             {"transient": result.transient})
    dropped = [{"scene": d.scene_id, "reason": d.reason, "kind": d.category()}
               for d in result.dropped]
    if len(result.image_ids) == 0:
        return ExportOutcome(result.point_id, SKIPPED, NO_SCENE,
                             {"reason": "every scene dropped", "dropped": dropped})
    job.writer.stage(job.stage_dir, result, item.request.grid, item.attributes)
    return ExportOutcome(result.point_id, DONE, None,
                         {"steps": len(result.image_ids), "dropped": dropped})


# --- worker processes -------------------------------------------------------------------

_WORKER_SOURCE: ImagerySource | None = None


def init_worker(cfg: RunConfig) -> None:
    """Build the worker's source once (signals and the coordinator's death are handled
    for every worker by :func:`pipeline.executors.pool.start_worker`)."""
    global _WORKER_SOURCE
    _WORKER_SOURCE = make_source(cfg)


def run_in_worker(job: ExportJob) -> list[ExportOutcome]:
    """One batch in a worker process, its outcomes returned together."""
    assert _WORKER_SOURCE is not None
    return list(export_job(_WORKER_SOURCE, job))
