"""``--s1``: the radar product's stages after the Sentinel-2 ones, and what is current.

Settings and inputs are checked like Sentinel-2's, under their own ledger keys, so adding
``--s1`` to a finished folder adds radar work without touching ``<CC>.h5`` and a change of
radar settings is refused (``--force`` redoes the year).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from exports.registry import source_input_files
from exports.s1.scene import s1_scene_to_dict
from exports.s1.source import RadarSource, S1Filter
from exports.source import PointRequest
from lucas.errors import ConfigError, InputFormatError
from pipeline import input_fingerprint as inputs
from pipeline.config import RunConfig
from pipeline.export.plan import needs_work
from pipeline.interrupt import stop_requested
from pipeline.ledger import DONE, Ledger
from pipeline.pack.plan import pack_is_current
from pipeline.pack.stage import run_pack
from pipeline.points import country_prefix, point_key
from pipeline.product import Product, s1_product
from pipeline.report import Progress, StageSummary
from pipeline.s1.stage import run_s1_export
from pipeline.sources import make_radar_source
from pipeline.stage_select import Finder, run_selection

SETTINGS_KEY = "settings_s1/{year}"
INPUTS_KEY = "inputs_s1/{year}"


def check_s1_settings(cfg: RunConfig, ledger: Ledger) -> None:
    """Refuse radar work of other settings or other input content in the folder."""
    key = SETTINGS_KEY.format(year=cfg.year)
    stored = ledger.get_meta(key)
    current = cfg.s1_output_hash()
    if stored is not None and stored != current and not cfg.force:
        raise ConfigError(
            f"{cfg.out} holds {cfg.year} Sentinel-1 work made with other settings (--s1 mode, "
            "--s1-orbit, --s1-max-days, --s1-resampling, the Sentinel-1 source, or the "
            "Sentinel-2 settings it pairs with); use --force to redo the year, or choose "
            "another --out"
        )
    ledger.set_meta(key, current)
    ikey = INPUTS_KEY.format(year=cfg.year)
    previous = inputs.decode(ledger.get_meta(ikey))
    stamps = inputs.fingerprint(source_input_files(cfg.s1_options), previous)
    changed = inputs.changes(previous, stamps) if previous else []
    if changed and not cfg.force:
        raise inputs.refusal(cfg.out, cfg.year, changed)
    if stamps != previous:
        ledger.set_meta(ikey, inputs.encode(stamps))


def run_s1(
    cfg: RunConfig,
    ledger: Ledger,
    requests: dict[str, list[PointRequest]],
    points: dict[str, pd.DataFrame],
    progress: Progress,
) -> tuple[list[StageSummary], list[Path]]:
    """Radar select → export → pack; stops between stages on Ctrl-C."""
    radar = make_radar_source(cfg, ledger)
    product = s1_product(cfg)
    s1_filter = S1Filter(cfg.s1_options.s1_orbit, cfg.buffer_m)
    finder = Finder(product.select_stage,
                    lambda reqs: radar.find_acquisitions(reqs, cfg.year, s1_filter),
                    s1_scene_to_dict)
    summaries = [run_selection(cfg, ledger, finder, requests, progress, "s1 select")]
    if stop_requested():
        return summaries, []
    summaries.append(run_s1_export(cfg, ledger, radar, points, progress))
    if stop_requested():
        return summaries, []
    attributes = {cc: _file_attributes(cfg, ledger, cc, product, radar) for cc in cfg.countries}
    pack, outputs = run_pack(cfg, ledger, cfg.source, progress, product=product,
                             attributes=attributes, summary_name="s1 pack")
    summaries.append(pack)
    return summaries, outputs


def _file_attributes(
    cfg: RunConfig, ledger: Ledger, cc: str, product: Product, radar: RadarSource
) -> dict[str, Any]:
    """The radar settings a country file records; its backscatter convention is the one of
    the slices selected for it (never two: refused with the items that differ)."""
    options = cfg.s1_options
    return {
        "s1_mode": str(options.s1),
        "s1_orbit": options.s1_orbit,
        "s1_max_days": options.s1_max_days,
        "s1_resampling": options.s1_resampling,
        "s1_source": radar.name,
        "backscatter": country_convention(cfg, ledger, cc, product, radar.convention),
        "s2_config_hash": cfg.output_hash(),
    }


def country_convention(
    cfg: RunConfig, ledger: Ledger, cc: str, product: Product, default: str
) -> str:
    """The one convention of a country's selected slices (``default`` when none)."""
    seen: dict[str, str] = {}
    for unit in ledger.units(product.select_stage, country_prefix(cfg.year, cc), state=DONE):
        for scene in (unit.payload or {}).get("scenes", []):
            seen.setdefault(str(scene["convention"]), str(scene["scene_id"]))
    if len(seen) > 1:
        listed = ", ".join(f"{c} (e.g. {sid})" for c, sid in sorted(seen.items()))
        raise InputFormatError(
            f"the Sentinel-1 slices selected for {cc} mix backscatter conventions: {listed}; "
            "σ0 and γ0 are never mixed in one file: use a catalog of one kind")
    return next(iter(seen), default)


def s1_is_current(
    cfg: RunConfig, ledger: Ledger, requests: Mapping[str, Sequence[PointRequest]]
) -> bool:
    """Whether every point's radar work is finished and every radar file current."""
    product = s1_product(cfg)
    for cc, reqs in requests.items():
        prefix = country_prefix(cfg.year, cc)
        selected = ledger.states(product.select_stage, prefix)
        exported = {u.key: u for u in ledger.units(product.export_stage, prefix)}
        for req in reqs:
            key = point_key(cfg.year, cc, req.point_id)
            if selected.get(key) != DONE:
                return False
            unit = exported.get(key)
            if unit is None or needs_work(cfg.retry_failed, unit.state, unit.payload):
                return False
        if not pack_is_current(cfg, ledger, cc, product):
            return False
    return True
