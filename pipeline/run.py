"""``etl run``: ingest → select → export → pack, resumable from the ledger at any point."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from exports.registry import source_input_files
from exports.source import PointRequest
from lucas.errors import ConfigError
from lucas.safe_files import OutputLock
from pipeline import input_fingerprint as inputs
from pipeline.config import RunConfig
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.writer import get_writer
from pipeline.export.plan import needs_work
from pipeline.export.stage import run_export
from pipeline.interrupt import graceful_interrupts, stop_requested
from pipeline.ledger import Ledger
from pipeline.pack.plan import pack_is_current
from pipeline.pack.stage import run_pack
from pipeline.points import country_prefix, point_key, point_requests
from pipeline.preflight import check_inputs, no_debris_on_input_error
from pipeline.report import NoProgress, Progress, RunSummary
from pipeline.s1.run import check_s1_settings, run_s1, s1_is_current
from pipeline.sources import make_source
from pipeline.stage_ingest import run_ingest
from pipeline.stage_select import run_select

log = logging.getLogger(__name__)

STAGES = ("ingest", "select", "export", "pack", "s1_select", "s1_export", "s1_pack")


def run(cfg: RunConfig, progress: Progress | None = None) -> RunSummary:
    """Run every stage that still has work; a finished output folder is left untouched."""
    progress = progress or NoProgress()
    if not cfg.countries:
        raise ConfigError("no country: give --country CC (e.g. AT, or AT,DE, or ALL)")
    check_inputs(cfg)
    with no_debris_on_input_error(cfg.out):
        return _run(cfg, progress)


def _run(cfg: RunConfig, progress: Progress) -> RunSummary:
    summary = RunSummary()
    started = time.time()  # units recorded before this are earlier runs' (RunSummary)
    with OutputLock(cfg.out), Ledger.in_folder(cfg.out) as ledger, graceful_interrupts():
        check_settings(cfg, ledger)
        points, ingest_summary = run_ingest(cfg, ledger)
        summary.stages.append(ingest_summary)
        cfg = replace(cfg, countries=tuple(points))
        requests = {cc: point_requests(df) for cc, df in points.items()}
        if not cfg.force and _all_current(cfg, ledger, requests):
            summary.nothing_to_do = True
            summary.failed_earlier = _failed_earlier(cfg, ledger, started)
            layout, writer = OutputLayout(cfg.out), get_writer(cfg.writer)
            summary.outputs = [str(writer.output_path(layout, cfg.year, cc))
                               for cc in cfg.countries]
            if cfg.s1_enabled:
                summary.outputs += [str(layout.s1_file(cfg.year, cc)) for cc in cfg.countries
                                    if layout.s1_file(cfg.year, cc).exists()]
            return summary
        source = make_source(cfg, ledger)
        summary.stages.append(run_select(cfg, ledger, source, requests, progress))
        if stop_requested():
            summary.interrupted = True
            return summary
        summary.stages.append(run_export(cfg, ledger, source, points, progress))
        if stop_requested():
            summary.interrupted = True
            return summary
        pack_summary, outputs = run_pack(cfg, ledger, source.name, progress)
        summary.stages.append(pack_summary)
        summary.outputs = [str(p) for p in outputs]
        if cfg.s1_enabled and not stop_requested():
            s1_summaries, s1_outputs = run_s1(cfg, ledger, requests, points, progress)
            summary.stages.extend(s1_summaries)
            summary.outputs.extend(str(p) for p in s1_outputs)
        summary.interrupted = stop_requested()  # Ctrl-C during pack: still exit code 130
        summary.failed_earlier = _failed_earlier(cfg, ledger, started)
    return summary


def _failed_earlier(cfg: RunConfig, ledger: Ledger, started: float) -> int:
    """Units of the run's countries left failed by earlier runs and not retried in this one:
    their points are missing from the files this run reports."""
    return sum(ledger.count_failed(country_prefix(cfg.year, cc), before=started)
               for cc in cfg.countries)


def check_settings(cfg: RunConfig, ledger: Ledger) -> None:
    """Refuse to mix outputs of different settings in one folder (unless --force)."""
    key = f"settings/{cfg.year}"
    stored = ledger.get_meta(key)
    current = cfg.output_hash()
    if stored is not None and stored != current and not cfg.force:
        raise ConfigError(
            f"{cfg.out} holds {cfg.year} work made with other settings (source, catalog, "
            "LUCAS table, bands or thresholds changed); use --force to redo it with the "
            "new settings, or choose another --out"
        )
    _check_inputs(cfg, ledger)
    if cfg.s1_enabled:
        check_s1_settings(cfg, ledger)
    if cfg.force:
        for stage in STAGES:
            ledger.forget(stage, f"{cfg.year}/")
    ledger.set_meta(key, current)


def _check_inputs(cfg: RunConfig, ledger: Ledger) -> None:
    """Refuse work whose inputs changed content since it was made (unless --force)."""
    key = inputs.META_KEY.format(year=cfg.year)
    previous = inputs.decode(ledger.get_meta(key))
    files = inputs.input_files(cfg.lucas, source_input_files(cfg.source_options))
    current = inputs.fingerprint(files, previous)
    changed = inputs.changes(previous, current) if previous else []
    if changed and not cfg.force:
        raise inputs.refusal(cfg.out, cfg.year, changed)
    if current != previous:
        ledger.set_meta(key, inputs.encode(current))


def _all_current(cfg: RunConfig, ledger: Ledger, requests: dict[str, list[PointRequest]]) -> bool:
    for cc, reqs in requests.items():
        prefix = country_prefix(cfg.year, cc)
        selected = ledger.states("select", prefix)
        exported = {u.key: u for u in ledger.units("export", prefix)}
        for req in reqs:
            key = point_key(cfg.year, cc, req.point_id)
            if key not in selected:
                return False
            unit = exported.get(key)
            if unit is None or needs_work(cfg.retry_failed, unit.state, unit.payload):
                return False
        if not pack_is_current(cfg, ledger, cc):
            return False
    return not cfg.s1_enabled or s1_is_current(cfg, ledger, requests)
