"""One radar export batch, wherever it runs: fetch the series, pair it, stage it.

A point with nothing to write is skipped with its reason (no slice serves it, none within
``--s1-max-days`` of a Sentinel-2 step, every slice dropped), never written empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from exports.s1.pairing import pair_closest, pairing_candidates
from exports.s1.source import RadarSource
from exports.source import PointFailure, PointStack
from pipeline.config import RunConfig
from pipeline.dataset.writer import get_writer
from pipeline.export.batch import guarded_outcomes
from pipeline.export.jobs import ExportOutcome
from pipeline.ledger import DONE, FAILED, SKIPPED
from pipeline.s1.jobs import S1ExportJob, S1Item

NO_S1 = "no Sentinel-1 acquisition"


def export_s1_job(radar: RadarSource, job: S1ExportJob) -> Iterator[ExportOutcome]:
    """Fetch, pair and stage one batch; an outcome per point as soon as it is on disk."""
    by_id = {item.point_id: item for item in job.points}
    pending = []
    for item in job.points:
        scenes, why = _readable(job, item)
        if why:
            yield ExportOutcome(item.point_id, SKIPPED, NO_S1, {"reason": why})
        else:
            pending.append((item.request, scenes))
    yield from guarded_outcomes(
        lambda: radar.fetch(pending, job.max_patch_nodata, job.resampling),
        [req.point_id for req, _ in pending], job.stage_dir,
        lambda result: s1_outcome(job, result, by_id[result.point_id]),
    )


def _readable(job: S1ExportJob, item: S1Item) -> tuple[list[Any], str | None]:
    """The slices worth reading for a point, or why there are none."""
    if not item.scenes:
        return [], "no Sentinel-1 acquisition serves the point"
    if job.mode != "closest":
        return item.scenes, None
    if not item.steps:
        return [], "no Sentinel-2 time step to pair with"
    scenes = pairing_candidates(item.scenes, item.steps, job.max_days)
    if not scenes:
        return [], f"no Sentinel-1 acquisition within {job.max_days:g} days of a Sentinel-2 step"
    return scenes, None


def s1_outcome(job: S1ExportJob, result: PointStack | PointFailure, item: S1Item) -> ExportOutcome:
    """Pair (``closest``) and stage a fetched series; a point without any step is skipped."""
    if isinstance(result, PointFailure):
        return ExportOutcome(result.point_id, FAILED, result.message,
                             {"transient": result.transient})
    dropped = [{"scene": d.scene_id, "reason": d.reason, "kind": d.category()}
               for d in result.dropped]
    stack = result
    if job.mode == "closest":
        assert item.steps is not None
        stack = pair_closest(result, item.steps, job.max_days)
    paired = sum(1 for i in stack.image_ids if i)
    if paired == 0:
        why = ("every Sentinel-1 acquisition dropped" if len(result.image_ids) == 0 else
               f"no usable Sentinel-1 acquisition within {job.max_days:g} days")
        return ExportOutcome(result.point_id, SKIPPED, NO_S1, {"reason": why, "dropped": dropped})
    get_writer(job.writer_name).stage(job.stage_dir, stack, item.request.grid, item.attributes)
    return ExportOutcome(result.point_id, DONE, None,
                         {"steps": len(stack.image_ids), "paired": paired, "dropped": dropped})


# --- worker processes and Dask tasks ------------------------------------------------------

_WORKER_RADAR: dict[str, RadarSource] = {}


def _radar_for(cfg: RunConfig) -> RadarSource:
    """The worker's radar source, built once per settings."""
    from pipeline.sources import make_radar_source

    key = cfg.s1_output_hash()
    if key not in _WORKER_RADAR:
        _WORKER_RADAR[key] = make_radar_source(cfg)
    return _WORKER_RADAR[key]


def init_worker(cfg: RunConfig) -> None:
    """Build the worker process's radar source once (no ledger there: it only reads;
    signals and the coordinator's death: :mod:`pipeline.executors.pool`)."""
    _WORKER_RADAR.clear()
    _WORKER_RADAR["current"] = _radar_for(cfg)


def run_in_worker(job: S1ExportJob) -> list[ExportOutcome]:
    """One batch in a worker process, its outcomes returned together."""
    return list(export_s1_job(_WORKER_RADAR["current"], job))


def run_on_dask(cfg: RunConfig, job: S1ExportJob) -> list[ExportOutcome]:
    """One batch as a Dask task (the radar source is built once per worker)."""
    return list(export_s1_job(_radar_for(cfg), job))
