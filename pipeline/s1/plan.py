"""Planning the radar export: which points still need work, with what to pair them with.

The decision is pure (:func:`s1_points_to_export`) over the ledger's view read by
:func:`plan_s1_jobs`: a point needs its radar selection, and in ``closest`` mode a finished
Sentinel-2 export (the steps it pairs with: the staged ``Image_ID`` of each step, timed by
the Sentinel-2 selection).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from exports.s1.pairing import S2Step
from exports.s1.scene import s1_scene_from_dict
from exports.source import PointRequest
from lucas.errors import ConfigError
from pipeline.config import RunConfig
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.s1_format import point_attributes
from pipeline.dataset.sen4map_format import attribute_records
from pipeline.dataset.writer import get_writer
from pipeline.export.plan import needs_work, redo_damaged, why_not_now
from pipeline.ledger import DONE, SKIPPED, Ledger, UnitState
from pipeline.points import chunked, country_prefix, point_key, point_requests
from pipeline.product import Product, s1_product, s2_product
from pipeline.report import StageSummary
from pipeline.s1.jobs import S1ExportJob, S1Item

WAITING_FOR_S2 = "waiting for the Sentinel-2 export"
NOT_READY = None  # a point whose Sentinel-2 steps are not known yet


def plan_s1_jobs(
    cfg: RunConfig,
    ledger: Ledger,
    points_by_country: dict[str, pd.DataFrame],
    summary: StageSummary,
    batch_size: int,
) -> Iterator[S1ExportJob]:
    """Batches of neighbouring points of each country that still need radar work."""
    product = s1_product(cfg)
    writer = get_writer(product.writer)
    layout = OutputLayout(cfg.out)
    options = cfg.s1_options
    for cc, points in points_by_country.items():
        stage_dir = product.staging_dir(layout, cfg.year, cc)
        if writer.remove_unfinished(stage_dir):
            summary.notes.append(f"removed unfinished staged files of an interrupted run ({cc})")
        redo_damaged(cfg, ledger, cc, summary, product)
        todo = _todo(cfg, ledger, cc, points, product, summary)
        for batch in chunked(todo, batch_size):
            yield S1ExportJob(cc, stage_dir, list(batch), str(options.s1), options.s1_max_days,
                              cfg.max_patch_nodata, options.s1_resampling, product.writer)


def _todo(
    cfg: RunConfig, ledger: Ledger, cc: str, points: pd.DataFrame, product: Product,
    summary: StageSummary,
) -> list[S1Item]:
    prefix = country_prefix(cfg.year, cc)
    selections = {u.key: u.payload for u in ledger.units(product.select_stage, prefix,
                                                         state=DONE)}
    exported = {u.key: (u.state, u.payload) for u in ledger.units(product.export_stage, prefix)}
    keyed = [(point_key(cfg.year, cc, req.point_id), req) for req in point_requests(points)]
    steps: Mapping[str, list[S2Step] | None] = {}
    if cfg.s1_options.s1 == "closest":
        wanted = [k for k, _ in keyed if k in selections
                  and (k not in exported or needs_work(cfg.retry_failed, *exported[k]))]
        steps, lost = s2_steps(cfg, ledger, cc, wanted)
        if lost:
            # Marked exported, but the staged file is gone: the next run exports it again
            # (as the pack stage does), this one says so and exits non-zero.
            ledger.forget_keys(s2_product(cfg).export_stage, lost)
            summary.counts["failed"] += len(lost)
            summary.reasons["Sentinel-2 staged file missing or damaged: the point is "
                            "exported again on the next run, then paired"] += len(lost)
    attributes = {pid: point_attributes(a) for pid, a in attribute_records(points).items()}
    todo, counts = s1_points_to_export(keyed, selections, exported, steps, attributes,
                                       cfg.retry_failed, closest=cfg.s1_options.s1 == "closest")
    summary.counts.update(counts)
    return todo


def s1_points_to_export(
    requests: Sequence[tuple[str, PointRequest]],
    selections: Mapping[str, Any],
    exported: Mapping[str, tuple[UnitState, Any]],
    steps: Mapping[str, list[S2Step] | None],
    attributes: Mapping[int, dict[str, Any]],
    retry_failed: bool,
    closest: bool,
) -> tuple[list[S1Item], Counter[str]]:
    """Pure: the points that still need a radar export, in their order, and why the others
    do not (waiting for select or for the Sentinel-2 export, already done / skipped)."""
    todo: list[S1Item] = []
    counts: Counter[str] = Counter()
    for key, req in requests:
        why = why_not_now(key, selections, exported, retry_failed)
        if why is not None:
            counts[why] += 1
            continue
        point_steps = steps.get(key, NOT_READY) if closest else None
        if closest and point_steps is NOT_READY:
            counts[WAITING_FOR_S2] += 1
            continue
        scenes = [s1_scene_from_dict(s) for s in (selections.get(key) or {}).get("scenes", [])]
        todo.append(S1Item(req, scenes, point_steps, attributes[req.point_id]))
    return todo, counts


def s2_steps(
    cfg: RunConfig, ledger: Ledger, cc: str, keys: Sequence[str]
) -> tuple[dict[str, list[S2Step] | None], list[str]]:
    """The Sentinel-2 steps of each point whose S2 export is finished: the staged file's
    ``Image_ID`` in step order, timed by the S2 selection; [] for a point skipped there.
    Also the keys marked exported whose staged file cannot be read."""
    s2 = s2_product(cfg)
    prefix = country_prefix(cfg.year, cc)
    states = ledger.states(s2.export_stage, prefix)
    wanted = set(keys)
    times: dict[str, dict[str, datetime]] = {}
    for unit in ledger.units(s2.select_stage, prefix, state=DONE):
        if unit.key in wanted:
            times[unit.key] = {str(s["image_id"]): datetime.fromisoformat(str(s["acquired"]))
                               for s in (unit.payload or {}).get("scenes", [])}
    writer = get_writer(s2.writer)
    read_ids = getattr(writer, "staged_image_ids", None)
    if read_ids is None:
        raise ConfigError(f"--s1 closest pairs with the Sentinel-2 steps, which the "
                          f"'{s2.writer}' writer cannot tell; use --s1 series")
    stage_dir = s2.staging_dir(OutputLayout(cfg.out), cfg.year, cc)
    out: dict[str, list[S2Step] | None] = {}
    lost: list[str] = []
    for key in keys:
        state = states.get(key)
        if state == SKIPPED:
            out[key] = []
        elif state == DONE:
            pid = int(key.rsplit("/", 1)[1])
            found = _steps_of(read_ids, writer.staged_path(stage_dir, pid), pid,
                              times.get(key, {}))
            if found is NOT_READY:
                lost.append(key)
            out[key] = found
    return out, lost


def _steps_of(read_ids: Any, path: Path, pid: int,
              times: Mapping[str, datetime]) -> list[S2Step] | None:
    try:
        ids = read_ids(path, pid)
    except (OSError, KeyError, RuntimeError):
        return NOT_READY
    if any(i not in times for i in ids):
        return NOT_READY
    return [S2Step(i, times[i]) for i in ids]
