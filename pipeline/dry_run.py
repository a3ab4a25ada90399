"""``etl run --dry-run``: ingest and select, then what the export would cost; no pixel read.

Why: a country is hours of reads (or of Earth Engine quota); the selection alone says how
many point-scenes there are, and the source's estimator (:mod:`exports.estimate`) turns the
export's own batches into requests, bytes and a duration. Written: the ingest's points
table and the ledger (the select cache and the run's settings, as a real run would keep
them); never a staged file, a country file or the index.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from statistics import median
from typing import Any

from exports.estimate import ExportEstimate, unique_scenes
from lucas.errors import ConfigError
from lucas.safe_files import OutputLock
from pipeline.config import RunConfig
from pipeline.export.plan import points_to_export
from pipeline.interrupt import graceful_interrupts
from pipeline.ledger import DONE, Ledger
from pipeline.points import chunked, country_prefix, point_key, point_requests
from pipeline.preflight import check_inputs, no_debris_on_input_error
from pipeline.report import NoProgress, Progress, StageSummary
from pipeline.run import check_settings
from pipeline.sources import make_source
from pipeline.stage_ingest import run_ingest
from pipeline.stage_select import run_select


@dataclass
class DryRun:
    """The forecast: points, their scenes, and the export's cost for the chosen source."""

    source: str
    points: int  # kept by the ingest
    to_export: int  # of those, the points the export would still fetch
    without_scene: int  # of those, points whose selection found no scene
    scenes_per_point: dict[str, float]  # min / median / max over the points to export
    point_scenes: int
    batches: int
    estimate: ExportEstimate | None
    stages: list[StageSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data with stable keys (``etl run --dry-run --json``)."""
        est = self.estimate
        return {
            "source": self.source, "points": self.points, "to_export": self.to_export,
            "without_scene": self.without_scene, "scenes_per_point": self.scenes_per_point,
            "point_scenes": self.point_scenes, "batches": self.batches,
            "requests": None if est is None else est.requests,
            "request_kind": None if est is None else est.request_kind,
            "bytes": None if est is None else est.bytes,
            "seconds": None if est is None else est.seconds,
            "assumptions": [] if est is None else list(est.assumptions),
            "notes": self.notes,
        }


def dry_run(cfg: RunConfig, progress: Progress | None = None) -> DryRun:
    """Ingest and select as ``etl run`` would, then forecast the export of what is left."""
    if cfg.force:
        raise ConfigError("--dry-run with --force: --force would forget the ledger's work "
                          "before anything is estimated; drop one of them")
    if not cfg.countries:
        raise ConfigError("no country: give --country CC (e.g. AT, or AT,DE, or ALL)")
    progress = progress or NoProgress()
    check_inputs(cfg)
    with no_debris_on_input_error(cfg.out), OutputLock(cfg.out), \
            Ledger.in_folder(cfg.out) as ledger, graceful_interrupts():
        check_settings(cfg, ledger)
        points, ingest_summary = run_ingest(cfg, ledger)
        cfg = replace(cfg, countries=tuple(points))
        requests = {cc: point_requests(df) for cc, df in points.items()}
        source = make_source(cfg, ledger)
        select_summary = run_select(cfg, ledger, source, requests, progress)
        return _forecast(cfg, ledger, points, [ingest_summary, select_summary])


def _forecast(
    cfg: RunConfig, ledger: Ledger, points: dict[str, Any], stages: list[StageSummary]
) -> DryRun:
    """The export's batches, cut as :func:`pipeline.export.plan.plan_jobs` cuts them, but
    without its repairs (no staged file is touched)."""
    batches = []
    total = 0
    for cc, frame in points.items():
        prefix = country_prefix(cfg.year, cc)
        selections = {u.key: u.payload for u in ledger.units("select", prefix, state=DONE)}
        exported = {u.key: (u.state, u.payload) for u in ledger.units("export", prefix)}
        reqs = point_requests(frame)
        total += len(reqs)
        keyed = [(point_key(cfg.year, cc, r.point_id), r) for r in reqs]
        todo, _ = points_to_export(keyed, selections, exported,
                                   {r.point_id: {} for r in reqs}, cfg.retry_failed)
        size = cfg.scheduling.batch_size(cfg.batch_size, cfg.workers, len(todo))
        batches += [[(item.request, item.scenes) for item in batch]
                    for batch in chunked(todo, size)]
    counts = [len(unique_scenes(scenes)) for batch in batches for _, scenes in batch]
    estimate = cfg.source_spec.estimate(cfg.source_options, batches, cfg.bands, cfg.workers)
    notes = []
    if estimate is None:
        notes.append(f"source {cfg.source} gives no estimate of its export")
    if cfg.s1_enabled:
        notes.append("Sentinel-1 (--s1) is not estimated: its selection runs after the "
                     "Sentinel-2 pack")
    return DryRun(
        source=cfg.source, points=total, to_export=len(counts),
        without_scene=sum(1 for n in counts if n == 0),
        scenes_per_point=({"min": min(counts), "median": float(median(counts)),
                           "max": max(counts)} if counts else {}),
        point_scenes=sum(counts), batches=len(batches), estimate=estimate, stages=stages,
        notes=notes,
    )
