"""Planning the export: which points still need work, batched as the source's facts say.

The decisions are pure functions (:func:`points_to_export`, :func:`needs_work`,
:func:`regroup`) over the ledger's view read by :func:`plan_jobs`; the batch size comes from
the source's :class:`~exports.registry.Scheduling`, never from its name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import pandas as pd

from exports.registry import Scheduling
from exports.source import PointRequest, scene_from_dict
from pipeline.config import RunConfig
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.sen4map_format import attribute_records
from pipeline.dataset.writer import get_writer
from pipeline.export.jobs import STAGE, ExportJob, PointItem
from pipeline.ledger import DONE, FAILED, SKIPPED, Ledger, UnitState
from pipeline.pack.plan import damaged_staged, pack_is_current
from pipeline.points import chunked, country_prefix, point_key, point_requests
from pipeline.product import Product, s2_product
from pipeline.report import StageSummary

J = TypeVar("J")  # a job dataclass with a ``points`` list (ExportJob, S1ExportJob)


def plan_jobs(
    cfg: RunConfig,
    ledger: Ledger,
    points_by_country: dict[str, pd.DataFrame],
    summary: StageSummary,
) -> Iterator[ExportJob]:
    """Batches of neighbouring points of each country that the ledger says need work."""
    writer = get_writer(cfg.writer)
    layout = OutputLayout(cfg.out)
    for cc, points in points_by_country.items():
        stage_dir = layout.staging_dir(cfg.year, cc)
        if writer.remove_unfinished(stage_dir):
            summary.notes.append(f"removed unfinished staged files of an interrupted run ({cc})")
        redo_damaged(cfg, ledger, cc, summary)
        todo = _todo(cfg, ledger, cc, points, summary)
        size = cfg.scheduling.batch_size(cfg.batch_size, cfg.workers, len(todo))
        for batch in chunked(todo, size):
            yield ExportJob(cc, stage_dir, list(batch), cfg.bands, cfg.max_patch_nodata, writer)


def redo_damaged(
    cfg: RunConfig, ledger: Ledger, cc: str, summary: StageSummary,
    product: Product | None = None,
) -> None:
    """Points marked exported whose staged file is lost (a rename undone by a power loss)
    or damaged are forgotten, so this run exports them again before packing. Checked only
    when the country is to be packed: a current country file does not need them."""
    product = product or s2_product(cfg)
    if cfg.force or pack_is_current(cfg, ledger, cc, product):
        return
    damaged = damaged_staged(cfg, ledger, cc, product)
    if not damaged:
        return
    prefix = country_prefix(cfg.year, cc)
    ledger.forget_keys(product.export_stage, [f"{prefix}{pid:08d}" for pid in damaged])
    pid, problem = next(iter(sorted(damaged.items())))
    summary.counts["staged files redone"] += len(damaged)
    summary.notes.append(f"{len(damaged)} staged {product.label}file(s) of {cc} missing or "
                         f"damaged (point {pid:08d}: {problem}): exported again")


def _todo(
    cfg: RunConfig, ledger: Ledger, cc: str, points: pd.DataFrame, summary: StageSummary
) -> list[PointItem]:
    """The ledger's view of a country, handed to the pure decision."""
    prefix = country_prefix(cfg.year, cc)
    selections = {u.key: u.payload for u in ledger.units("select", prefix, state=DONE)}
    exported = {u.key: (u.state, u.payload) for u in ledger.units(STAGE, prefix)}
    keyed = [(point_key(cfg.year, cc, req.point_id), req) for req in point_requests(points)]
    todo, counts = points_to_export(keyed, selections, exported, attribute_records(points),
                                    cfg.retry_failed)
    summary.counts.update(counts)
    return todo


def points_to_export(
    requests: Sequence[tuple[str, PointRequest]],
    selections: Mapping[str, Any],
    exported: Mapping[str, tuple[UnitState, Any]],
    attributes: Mapping[int, dict[str, Any]],
    retry_failed: bool,
) -> tuple[list[PointItem], Counter[str]]:
    """Pure: the points (ledger key, request) that still need an export, in their order,
    and why the others do not (waiting for select, already done / skipped / failed)."""
    todo: list[PointItem] = []
    counts: Counter[str] = Counter()
    for key, req in requests:
        why = why_not_now(key, selections, exported, retry_failed)
        if why is not None:
            counts[why] += 1
            continue
        scenes = [scene_from_dict(s) for s in (selections.get(key) or {}).get("scenes", [])]
        todo.append(PointItem(req, scenes, attributes[req.point_id]))
    return todo, counts


def why_not_now(
    key: str,
    selections: Mapping[str, Any],
    exported: Mapping[str, tuple[UnitState, Any]],
    retry_failed: bool,
) -> str | None:
    """Why a point's export does not run now (waiting for select, already done / skipped /
    failed), or None when it must (every product's planner asks the same)."""
    if key not in selections:
        return "waiting for select"
    unit = exported.get(key)
    if unit is not None and not needs_work(retry_failed, *unit):
        return f"already {unit[0]}"
    return None


def needs_work(retry_failed: bool, state: UnitState, payload: Any) -> bool:
    """Whether a point's export unit must run (again) in this run."""
    if state in (DONE, SKIPPED):
        return False
    if state == FAILED:
        transient = bool((payload or {}).get("transient"))
        return retry_failed or transient
    return True


def regroup(
    cfg: RunConfig, retry: Sequence[tuple[J, Any]], scheduling: Scheduling | None = None
) -> list[J]:
    """The points to try again, batched like the first attempt (each job's country and
    settings kept: a job is a dataclass whose ``points`` are replaced)."""
    scheduling = scheduling or cfg.scheduling
    jobs: list[J] = []
    for job in {id(j): j for j, _ in retry}.values():
        items = [item for j, item in retry if j is job]
        size = scheduling.batch_size(cfg.batch_size, cfg.workers, len(items))
        for batch in chunked(items, size):
            jobs.append(replace(job, points=list(batch)))  # type: ignore[type-var]
    return jobs
