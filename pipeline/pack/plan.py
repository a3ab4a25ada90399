"""Which country files need packing: the ledger keeps a digest of the set each file holds.

Pack runs when the set of exported points differs from what the current file holds, so
re-running after success rewrites nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import RunConfig
from pipeline.dataset.layout import OutputLayout
from pipeline.dataset.writer import get_writer
from pipeline.ledger import DONE, Ledger
from pipeline.points import country_prefix

STAGE = "pack"


@dataclass(frozen=True)
class PackJob:
    """One country file to write (picklable: Dask workers run it with ``--scheduler``)."""

    country: str
    staged: list[tuple[int, Path]]
    target: Path
    attributes: dict[str, Any]
    writer_name: str = "sen4map"


def staged_points(cfg: RunConfig, ledger: Ledger, country: str) -> list[tuple[int, Path]]:
    """Points the ledger marks exported, with their staged files (the ledger is the truth)."""
    stage_dir = OutputLayout(cfg.out).staging_dir(cfg.year, country)
    writer = get_writer(cfg.writer)
    done = ledger.units("export", country_prefix(cfg.year, country), state=DONE)
    out = []
    for unit in done:
        pid = int(unit.key.rsplit("/", 1)[1])
        out.append((pid, writer.staged_path(stage_dir, pid)))
    return out


def pack_digest(cfg: RunConfig, staged: list[tuple[int, Path]]) -> str:
    """A digest of the settings and the set of points a file holds."""
    h = hashlib.sha256(cfg.output_hash().encode())
    for pid, _ in sorted(staged):
        h.update(f"{pid},".encode())
    return h.hexdigest()[:16]


def pack_is_current(cfg: RunConfig, ledger: Ledger, country: str) -> bool:
    """Whether the country's file holds exactly the points exported so far."""
    unit = ledger.get(STAGE, f"{cfg.year}/{country}")
    if unit is None or unit.state != DONE or not unit.payload:
        return False
    if unit.payload.get("digest") != pack_digest(cfg, staged_points(cfg, ledger, country)):
        return False
    target = get_writer(cfg.writer).output_path(OutputLayout(cfg.out), cfg.year, country)
    return unit.payload.get("points") == 0 or target.exists()
