"""Stage 4, pack: the staged points of a country → ``<out>/<year>/<CC>.h5``.

Pack runs when the set of exported points differs from what the current file holds (the
ledger keeps a digest of that set), so re-running after success rewrites nothing.
"""

from __future__ import annotations

import hashlib
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipeline.config import RunConfig
from pipeline.interrupt import stop_requested
from pipeline.ledger import DONE, Ledger
from pipeline.pack import (
    country_file,
    file_attributes_for,
    pack_country,
    remove_stale_temp_files,
)
from pipeline.points import country_prefix
from pipeline.report import NoProgress, Progress, StageSummary
from pipeline.staging import staged_path, staging_dir

STAGE = "pack"


def producer_version() -> str:
    try:
        return version("sen4map-etl")
    except PackageNotFoundError:
        return "unknown"


def staged_points(cfg: RunConfig, ledger: Ledger, country: str) -> list[tuple[int, Path]]:
    """Points the ledger marks exported, with their staged files (the ledger is the truth)."""
    stage_dir = staging_dir(cfg.out, cfg.year, country)
    done = ledger.units("export", country_prefix(cfg.year, country), state=DONE)
    out = []
    for unit in done:
        pid = int(unit.key.rsplit("/", 1)[1])
        out.append((pid, staged_path(stage_dir, pid)))
    return out


def pack_digest(cfg: RunConfig, staged: list[tuple[int, Path]]) -> str:
    h = hashlib.sha256(cfg.output_hash().encode())
    for pid, _ in sorted(staged):
        h.update(f"{pid},".encode())
    return h.hexdigest()[:16]


def pack_is_current(cfg: RunConfig, ledger: Ledger, country: str) -> bool:
    unit = ledger.get(STAGE, f"{cfg.year}/{country}")
    if unit is None or unit.state != DONE or not unit.payload:
        return False
    if unit.payload.get("digest") != pack_digest(cfg, staged_points(cfg, ledger, country)):
        return False
    return unit.payload.get("points") == 0 or country_file(cfg.out, cfg.year, country).exists()


def run_pack(
    cfg: RunConfig, ledger: Ledger, source_name: str, progress: Progress | None = None
) -> tuple[StageSummary, list[Path]]:
    progress = progress or NoProgress()
    summary = StageSummary(STAGE)
    start = time.perf_counter()
    outputs = []
    for cc in cfg.countries:
        if stop_requested():  # Ctrl-C: the file in flight is finished, no new one starts
            break
        target = country_file(cfg.out, cfg.year, cc)
        if remove_stale_temp_files(target):
            summary.notes.append(f"removed the temp file of an interrupted pack ({cc})")
        if not cfg.force and pack_is_current(cfg, ledger, cc):
            summary.counts["files up to date"] += 1
            outputs.append(target)
            continue
        staged = staged_points(cfg, ledger, cc)
        missing = [pid for pid, p in staged if not p.exists()]
        if missing:
            # The ledger says done but the file is gone (deleted by hand): redo those points.
            prefix = country_prefix(cfg.year, cc)
            ledger.forget_keys("export", [f"{prefix}{pid:08d}" for pid in missing])
            summary.counts["failed"] += len(missing)
            summary.reasons["staged file missing, re-exported on the next run"] += len(missing)
            continue
        if not staged:
            summary.notes.append(f"{cc}: no point has a usable scene, no file written")
            ledger.mark(STAGE, f"{cfg.year}/{cc}", DONE,
                        payload={"digest": pack_digest(cfg, staged), "points": 0})
            continue
        attrs = file_attributes_for(
            year=cfg.year,
            country=cc,
            source=source_name,
            bands=cfg.bands,
            thresholds=cfg.thresholds(),
            config_hash=cfg.output_hash(),
            producer_version=producer_version(),
        )
        advance = progress.start(f"{STAGE} {cc}", len(staged))
        try:
            pack_country(staged, target, attrs, advance)
        finally:
            progress.stop(f"{STAGE} {cc}")
        ledger.mark(STAGE, f"{cfg.year}/{cc}", DONE,
                    payload={"digest": pack_digest(cfg, staged), "points": len(staged)})
        summary.counts["files written"] += 1
        summary.counts["points written"] += len(staged)
        outputs.append(target)
    summary.seconds = time.perf_counter() - start
    return summary, outputs
