"""Stage 2, select: the candidate scenes of every point, cached in the ledger.

The ledger stores each point's scene list, so a resumed run never asks the source again and
the export stage reads exactly what was selected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from exports.source import (
    DroppedScene,
    ImagerySource,
    PointFailure,
    PointRequest,
    SceneFilter,
    scene_to_dict,
)
from lucas.errors import SourceError
from pipeline.config import RunConfig
from pipeline.interrupt import stop_requested
from pipeline.ledger import DONE, FAILED, Ledger, UnitUpdate
from pipeline.points import chunked, country_prefix, point_key
from pipeline.report import NoProgress, Progress, StageSummary

STAGE = "select"
SELECT_CHUNK = 500  # points per find_scenes call: bounded memory, frequent ledger commits


class Selection(Protocol):
    """What a finder returns (a Sentinel-2 ``SceneSelection``, a radar ``S1Selection``)."""

    @property
    def scenes(self) -> Mapping[int, Sequence[Any]]: ...

    @property
    def dropped(self) -> Sequence[DroppedScene]: ...

    @property
    def failed(self) -> Mapping[int, PointFailure]: ...


@dataclass(frozen=True)
class Finder:
    """One kind of selection: the ledger stage it records in, the search, the scene form.

    Why: the Sentinel-2 and Sentinel-1 selections differ only in these three; the chunking,
    the failure handling and the ledger records are the same code.
    """

    stage: str
    find: Callable[[list[PointRequest]], Selection]
    to_dict: Callable[[Any], dict[str, object]]


def run_select(
    cfg: RunConfig,
    ledger: Ledger,
    source: ImagerySource,
    requests_by_country: dict[str, list[PointRequest]],
    progress: Progress | None = None,
) -> StageSummary:
    """The Sentinel-2 selection (``find_scenes`` with the run's scene filter)."""
    scene_filter = SceneFilter(cfg.max_cloud_cover, cfg.max_scene_nodata, cfg.buffer_m)
    finder = Finder(STAGE, lambda reqs: source.find_scenes(reqs, cfg.year, scene_filter),
                    scene_to_dict)
    return run_selection(cfg, ledger, finder, requests_by_country, progress)


def run_selection(
    cfg: RunConfig,
    ledger: Ledger,
    finder: Finder,
    requests_by_country: dict[str, list[PointRequest]],
    progress: Progress | None = None,
    summary_name: str | None = None,
) -> StageSummary:
    """Select every point the ledger has not selected yet, chunk by chunk."""
    progress = progress or NoProgress()
    summary = StageSummary(summary_name or finder.stage)
    start = time.perf_counter()
    todo: list[tuple[str, PointRequest]] = []
    for cc, requests in requests_by_country.items():
        states = ledger.states(finder.stage, country_prefix(cfg.year, cc))
        for req in requests:
            state = states.get(point_key(cfg.year, cc, req.point_id))
            if cfg.force or state != DONE:
                todo.append((cc, req))
            else:
                summary.counts["already done"] += 1
    advance = progress.start(summary.stage, len(todo))
    dropped_scenes: dict[str, set[str]] = {}
    try:
        for chunk in chunked(todo, SELECT_CHUNK):
            if stop_requested():  # Ctrl-C: the chunk in flight is recorded, no new one starts
                break
            _select_chunk(cfg, ledger, finder, chunk, summary, dropped_scenes)
            advance(len(chunk))
    finally:
        progress.stop(summary.stage)
    for reason, scene_ids in dropped_scenes.items():
        summary.reasons[f"scene dropped: {reason}"] = len(scene_ids)
    summary.seconds = time.perf_counter() - start
    return summary


def _select_chunk(
    cfg: RunConfig,
    ledger: Ledger,
    finder: Finder,
    chunk: Sequence[tuple[str, PointRequest]],
    summary: StageSummary,
    dropped_scenes: dict[str, set[str]],
) -> None:
    try:
        selection = finder.find([req for _, req in chunk])
    except SourceError as e:
        # One bad chunk (quota, timeout) must not stop the run: its points are recorded as
        # failed, transient ones are retried by the next run.
        if cfg.fail_fast:
            raise
        summary.counts["failed"] += len(chunk)
        summary.reasons[f"selection failed: {e}"] += len(chunk)
        ledger.record(finder.stage, [
            UnitUpdate(point_key(cfg.year, cc, req.point_id), FAILED, str(e),
                       {"transient": e.transient})
            for cc, req in chunk
        ])
        return
    for drop in selection.dropped:
        dropped_scenes.setdefault(drop.category(), set()).add(drop.scene_id)
    updates = []
    for cc, req in chunk:
        failure = selection.failed.get(req.point_id)
        if failure is not None:  # this point only; the others' answers are kept
            if cfg.fail_fast:
                raise SourceError(failure.message, transient=failure.transient)
            summary.counts["failed"] += 1
            summary.reasons[f"selection failed: {failure.message}"] += 1
            updates.append(UnitUpdate(point_key(cfg.year, cc, req.point_id), FAILED,
                                      failure.message, {"transient": failure.transient}))
            continue
        scenes = selection.scenes.get(req.point_id, [])
        summary.counts["points with scenes" if scenes else "points without scene"] += 1
        summary.counts["candidate scenes"] += len(scenes)
        updates.append(
            UnitUpdate(
                point_key(cfg.year, cc, req.point_id),
                DONE,
                payload={"scenes": [finder.to_dict(s) for s in scenes]},
            )
        )
    ledger.record(finder.stage, updates)
