"""Which country files need packing: the ledger keeps a digest of the set each file holds.

Pack runs when the set of exported points differs from what the current file holds, or when
the file on disk is not the one packed (its size and a digest of its head and tail, kept in
the ledger, differ, or the writer's check fails), so re-running after success rewrites
nothing and a damaged file is packed again. Staged files are checked the same way before
the export, so a damaged or lost one is exported again in the same run.
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
from pipeline.product import Product, s2_product

STAGE = "pack"
DIGEST_SPAN = 1 << 20  # bytes read at each end of a packed file for its fingerprint


@dataclass(frozen=True)
class PackJob:
    """One country file to write (picklable: Dask workers run it with ``--scheduler``)."""

    country: str
    staged: list[tuple[int, Path]]
    target: Path
    attributes: dict[str, Any]
    writer_name: str = "sen4map"


def staged_points(
    cfg: RunConfig, ledger: Ledger, country: str, product: Product | None = None
) -> list[tuple[int, Path]]:
    """Points the ledger marks exported, with their staged files (the ledger is the truth)."""
    product = product or s2_product(cfg)
    stage_dir = product.staging_dir(OutputLayout(cfg.out), cfg.year, country)
    writer = get_writer(product.writer)
    done = ledger.units(product.export_stage, country_prefix(cfg.year, country), state=DONE)
    out = []
    for unit in done:
        pid = int(unit.key.rsplit("/", 1)[1])
        out.append((pid, writer.staged_path(stage_dir, pid)))
    return out


def pack_digest(
    cfg: RunConfig, staged: list[tuple[int, Path]], product: Product | None = None
) -> str:
    """A digest of the settings and the set of points a file holds."""
    h = hashlib.sha256((product or s2_product(cfg)).output_hash.encode())
    for pid, _ in sorted(staged):
        h.update(f"{pid},".encode())
    return h.hexdigest()[:16]


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Size and sha256 of the first and last MiB: cheap at any size, and a truncated or
    replaced file (header, end-of-file metadata) no longer matches."""
    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(DIGEST_SPAN))
        if size > DIGEST_SPAN:
            f.seek(max(DIGEST_SPAN, size - DIGEST_SPAN))
            h.update(f.read())
    return {"size": size, "sha256_ends": h.hexdigest()}


def pack_check(
    cfg: RunConfig, ledger: Ledger, country: str, product: Product | None = None
) -> tuple[bool, str | None]:
    """``(current, damage)``: whether the country's file holds exactly the points exported
    so far, undamaged; if not, what is wrong with a file that holds the current set (None
    when the set itself changed). One call checks the file once."""
    product = product or s2_product(cfg)
    unit = ledger.get(product.pack_stage, f"{cfg.year}/{country}")
    if unit is None or unit.state != DONE or not unit.payload:
        return False, None
    staged = staged_points(cfg, ledger, country, product)
    if unit.payload.get("digest") != pack_digest(cfg, staged, product):
        return False, None
    problem = packed_file_problem(cfg, country, unit.payload, staged, product)
    return problem is None, problem


def pack_is_current(
    cfg: RunConfig, ledger: Ledger, country: str, product: Product | None = None
) -> bool:
    """Whether the country's file holds exactly the points exported so far, undamaged."""
    return pack_check(cfg, ledger, country, product)[0]


def packed_file_problem(
    cfg: RunConfig, country: str, payload: dict[str, Any], staged: list[tuple[int, Path]],
    product: Product | None = None,
) -> str | None:
    """Why the file on disk is not the one the ledger recorded packing (None: it is)."""
    if payload.get("points") == 0:
        return None
    writer = get_writer((product or s2_product(cfg)).writer)
    target = writer.output_path(OutputLayout(cfg.out), cfg.year, country)
    if not target.is_file():
        return "missing"
    recorded = payload.get("file")
    if recorded is not None and file_fingerprint(target) != recorded:
        return f"changed since it was packed ({target.stat().st_size:,} bytes, " \
               f"{recorded.get('size', 0):,} when packed)"
    return writer.check_packed(target, [pid for pid, _ in staged])


def damaged_staged(
    cfg: RunConfig, ledger: Ledger, country: str, product: Product | None = None
) -> dict[int, str]:
    """Points marked exported whose staged file cannot be packed, with the reason."""
    product = product or s2_product(cfg)
    writer = get_writer(product.writer)
    found = {pid: writer.check_staged(path, pid) for pid, path in
             staged_points(cfg, ledger, country, product)}
    return {pid: problem for pid, problem in found.items() if problem is not None}
