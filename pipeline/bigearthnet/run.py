"""``etl bigearthnet``: select each tile's scenes, run every (tile, scene) unit, rebuild the
metadata tables; resumable from the ledger (``ben_select``, ``ben_scene``) at any point."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as dtime
from typing import Any

from exports.registry import Scheduling
from exports.source import Scene, SceneFilter, scene_from_dict, scene_to_dict
from exports.tiles.mgrs import tile_bbox
from exports.tiles.seasons import per_season
from exports.tiles.split import read_split_file
from lucas.errors import ConfigError, EtlError, SourceError
from lucas.safe_files import OutputLock, replace_atomically
from pipeline.bigearthnet.config import BenConfig
from pipeline.bigearthnet.layout import MAPS_DIR, S1_DIR, S2_DIR, BenLayout
from pipeline.bigearthnet.metadata import metadata_frame, write_tables
from pipeline.bigearthnet.unit import UnitResult, UnitTools, make_tools, run_unit, unit_key
from pipeline.executors.base import Cluster, Finished
from pipeline.executors.choose import export_executor
from pipeline.export.plan import needs_work
from pipeline.interrupt import graceful_interrupts, stop_requested
from pipeline.ledger import DONE, FAILED, Ledger, UnitUpdate
from pipeline.preflight import check_inputs, no_debris_on_input_error
from pipeline.report import NoProgress, Progress, RunSummary, StageSummary
from pipeline.sources import make_source
from pipeline.version import producer_version

log = logging.getLogger(__name__)

SELECT = "ben_select"
SCENES = "ben_scene"
SETTINGS_KEY = "settings_bigearthnet"


@dataclass(frozen=True)
class BenJob:
    """One (tile, scene) unit (picklable: worker processes run it)."""

    tile: str
    scene: Scene

    @property
    def key(self) -> str:
        return unit_key(self.tile, self.scene)


@dataclass
class BenOutcome:
    job: BenJob
    result: UnitResult | None
    error: str | None = None
    transient: bool = False


def run_bigearthnet(cfg: BenConfig, progress: Progress | None = None) -> RunSummary:
    """Every stage that still has work; a finished tree is left untouched."""
    progress = progress or NoProgress()
    check_inputs(cfg.run)
    cfg.s1.check_inputs()
    tools = make_tools(cfg)  # opens the CORINE source: a file without Code_18 stops here
    with no_debris_on_input_error(cfg.out):  # e.g. no scene under the threshold
        return _run_locked(cfg, tools, progress)


def _run_locked(cfg: BenConfig, tools: UnitTools, progress: Progress) -> RunSummary:
    summary = RunSummary()
    with OutputLock(cfg.out), Ledger.in_folder(cfg.out) as ledger, graceful_interrupts():
        _check_settings(cfg, ledger)
        source = make_source(cfg.run, ledger)
        select = StageSummary("select tiles")
        scenes = {tile: _tile_scenes(cfg, ledger, source, tile, select) for tile in cfg.tiles}
        summary.stages.append(select)
        summary.stages.append(_run_units(cfg, ledger, tools, scenes, progress))
        if stop_requested():
            summary.interrupted = True
            return summary
        summary.stages.append(_write_metadata(cfg, ledger, scenes))
        layout = BenLayout(cfg.out)
        write_provenance(cfg, tools, layout)
        summary.outputs = [str(layout.metadata), str(layout.metadata_flagged),
                           str(layout.provenance)]
    return summary


def write_provenance(cfg: BenConfig, tools: UnitTools, layout: BenLayout) -> None:
    """``etl_sources.json``: where the patches and labels came from (a coarse CORINE raster
    is said so: its labels are 100 m ones on a 10 m grid), the settings and their digest."""
    doc = {
        "producer": "sen4map-etl", "producer_version": producer_version(),
        "tiles": list(cfg.tiles), "start": cfg.start.isoformat(), "end": cfg.end.isoformat(),
        "s2_source": cfg.run.source, "s1_source": cfg.s1.s1_source if cfg.has_s1 else None,
        "s1_max_days": cfg.s1.s1_max_days if cfg.has_s1 else None,
        "clc": {"source": tools.clc.name, "description": tools.clc.description,
                "coarse": bool(tools.clc.coarse)},
        "max_cloud_cover": cfg.run.max_cloud_cover,
        "max_scene_nodata": cfg.run.max_scene_nodata, "per_season": cfg.per_season,
        "split": cfg.split, "seed": cfg.seed if cfg.split == "random" else None,
        "flag_threshold": cfg.flag_threshold, "require_s1": cfg.require_s1,
        "config_hash": cfg.output_hash(),
    }
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    replace_atomically(layout.provenance, lambda tmp: tmp.write_text(text),
                       layout.provenance.with_name(f".{layout.provenance.name}.tmp"))


def _check_settings(cfg: BenConfig, ledger: Ledger) -> None:
    stored = ledger.get_meta(SETTINGS_KEY)
    current = cfg.output_hash()
    if stored is not None and stored != current and not cfg.run.force:
        raise ConfigError(f"{cfg.out} holds BigEarthNet work made with other settings (tiles, "
                          "window, sources, --clc, thresholds); use --force to redo it, or "
                          "choose another --out")
    if cfg.run.force:
        for stage in (SELECT, SCENES):
            ledger.forget(stage)
        shutil.rmtree(BenLayout(cfg.out).root, ignore_errors=True)
    ledger.set_meta(SETTINGS_KEY, current)


def _tile_scenes(
    cfg: BenConfig, ledger: Ledger, source: Any, tile: str, summary: StageSummary
) -> list[Scene]:
    """The tile's scenes in the window under the thresholds (cached in the ledger)."""
    unit = ledger.get(SELECT, tile)
    if unit is not None and unit.state == DONE:
        summary.counts["already done"] += 1
        return [scene_from_dict(s) for s in unit.payload["scenes"]]
    find = getattr(source, "find_tile_scenes", None)
    if find is None:
        raise ConfigError(f"--source {cfg.run.source} cannot list the scenes of a tile; the "
                          "BigEarthNet path needs --source stac (--catalog or --stac-url)")
    start = datetime.combine(cfg.start, dtime.min, UTC)
    end = datetime.combine(cfg.end, dtime.max, UTC)
    open_filter = SceneFilter(100.0, cfg.run.max_scene_nodata, 0.0)
    found: list[Scene] = []
    for year in cfg.years:
        try:
            selection = find(tile, year, open_filter, tile_bbox(tile))
        except SourceError as e:
            raise SourceError(f"tile {tile}: the search for its {year} scenes failed: {e}",
                              transient=e.transient) from e
        found += [s for s in selection.scenes[0] if start <= s.acquired <= end]
    clear = [s for s in found if s.cloud_cover < cfg.run.max_cloud_cover]
    if not clear:
        raise ConfigError(_no_scene(cfg, tile, found))
    kept = per_season(clear, cfg.per_season)
    summary.counts["tiles"] += 1
    summary.counts["scenes in the window"] += len(found)
    summary.counts["scenes kept"] += len(kept)
    ledger.record(SELECT, [UnitUpdate(tile, DONE, payload={
        "scenes": [scene_to_dict(s) for s in kept]})])
    return kept


def _no_scene(cfg: BenConfig, tile: str, found: Sequence[Scene]) -> str:
    window = f"{cfg.start}..{cfg.end}"
    if not found:
        return (f"tile {tile}: no Sentinel-2 scene of the tile in {window} (check --tiles, "
                "--start/--end and the catalog)")
    best = min(found, key=lambda s: (s.cloud_cover, s.acquired))
    return (f"tile {tile}: no scene in {window} with cloud cover below "
            f"{cfg.run.max_cloud_cover:g} %; the least cloudy is {best.cloud_cover:g} % "
            f"({best.scene_id}, {best.acquired:%Y-%m-%d}): raise --max-cloud-cover or widen "
            "the window")


@dataclass
class BenWork:
    """The units as a :class:`~pipeline.executors.base.Work` (here or in worker processes)."""

    cfg: BenConfig
    tools: UnitTools

    def run_here(self, job: BenJob) -> Iterator[BenOutcome]:
        yield _run(self.cfg, self.tools, job)

    def worker_init(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        return _init_worker, (self.cfg,)

    def worker_run(self) -> Callable[[BenJob], list[BenOutcome]]:
        return _run_in_worker

    def on_dask(self, cluster: Cluster, jobs: Sequence[BenJob]) -> Iterator[Finished[BenJob,
                                                                                      BenOutcome]]:
        raise ConfigError("etl bigearthnet runs here or in worker processes (--workers), "
                          "not on Dask")


_WORKER: dict[str, Any] = {}  # a worker process's config and tools, built once


def _init_worker(cfg: BenConfig) -> None:
    _WORKER["cfg"], _WORKER["tools"] = cfg, make_tools(cfg)


def _run_in_worker(job: BenJob) -> list[BenOutcome]:
    return [_run(_WORKER["cfg"], _WORKER["tools"], job)]


def _run(cfg: BenConfig, tools: UnitTools, job: BenJob) -> BenOutcome:
    try:
        return BenOutcome(job, run_unit(cfg, tools, job.tile, job.scene))
    except EtlError as e:
        transient = bool(getattr(e, "transient", False))
        return BenOutcome(job, None, str(e), transient)
    except OSError:
        raise  # our disk: stop the run, the unit is redone by the next one
    except Exception as e:  # a bug must cost this unit, not the run
        log.exception("unit %s failed", job.key)
        return BenOutcome(job, None, f"{type(e).__name__}: {e}")


def _run_units(
    cfg: BenConfig, ledger: Ledger, tools: UnitTools, scenes: dict[str, list[Scene]],
    progress: Progress,
) -> StageSummary:
    summary = StageSummary("patches")
    start = time.perf_counter()
    units = {u.key: u for u in ledger.units(SCENES)}
    jobs = [BenJob(tile, s) for tile, found in scenes.items() for s in found]
    todo = [j for j in jobs if j.key not in units
            or needs_work(cfg.run.retry_failed, units[j.key].state, units[j.key].payload)]
    summary.counts["units already done"] += len(jobs) - len(todo)
    advance = progress.start("patches", len(todo))
    seconds: dict[str, float] = {}
    executor = export_executor(None, cfg.run.workers, Scheduling(), len(todo))
    try:
        for finished in executor.run(BenWork(cfg, tools), todo):
            updates = []
            for _, outcome in finished:
                if outcome.result is None:
                    summary.counts["failed"] += 1
                    summary.reasons[f"unit failed: {outcome.error}"] += 1
                    updates.append(UnitUpdate(outcome.job.key, FAILED, outcome.error,
                                              {"transient": outcome.transient}))
                    continue
                summary.counts["units done"] += 1
                summary.counts.update(outcome.result.counts)
                for phase, spent in outcome.result.seconds.items():
                    seconds[phase] = seconds.get(phase, 0.0) + spent
                updates.append(UnitUpdate(outcome.job.key, DONE, payload={
                    "rows": outcome.result.rows, "counts": dict(outcome.result.counts)}))
            ledger.record(SCENES, updates)
            advance(len(finished))
    finally:
        progress.stop("patches")
        summary.notes.extend(executor.notes)
    if seconds:
        summary.notes.append("time per phase: " + ", ".join(
            f"{k} {v:.1f} s" for k, v in seconds.items()))
    summary.seconds = time.perf_counter() - start
    return summary


def _write_metadata(cfg: BenConfig, ledger: Ledger, scenes: dict[str, list[Scene]]
                    ) -> StageSummary:
    """The tables from every finished unit of the selected scenes (the ledger is the truth)."""
    summary = StageSummary("metadata")
    layout = BenLayout(cfg.out)
    for part in (S2_DIR, S1_DIR, MAPS_DIR):  # readers (torchgeo) expect all three
        (layout.root / part).mkdir(parents=True, exist_ok=True)
    wanted = {unit_key(tile, s) for tile, found in scenes.items() for s in found}
    rows = [row for u in ledger.units(SCENES, state=DONE) if u.key in wanted
            for row in u.payload["rows"]]
    table = read_split_file(cfg.split_file) if cfg.split_file else None
    frame = metadata_frame(rows, cfg.split, cfg.seed, table)
    clean, flagged = write_tables(frame, layout.metadata, layout.metadata_flagged)
    summary.counts["patches in metadata.parquet"] = clean
    summary.counts["flagged (metadata_snow_cloud.parquet)"] = flagged
    if not frame.empty:
        for split, n in frame["split"].value_counts().items():
            summary.counts[f"split {split or '(not in --split-file)'}"] = int(n)
        summary.counts["without Sentinel-1"] = int((frame["s1_name"] == "").sum())
    return summary

