"""Train / validation / test splits of patches: reBEN's rings, a seeded random draw, a file.

``ring`` (reBEN): by the patch centroid's distance d to the nearest tile border, side s:
train if d < s(2−√2)/4, validation if d < s(2−√2)/4 + s(√2−1)/4, else test; the three
areas are 1/2, 1/4 and 1/4 of the tile, and neighbouring patches of two tiles' borders
are both in train, so no validation or test patch touches another tile's training patch.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from exports.tiles.grid import TILE_SIDE_M, border_distance
from lucas.errors import InputFormatError

SPLITS: tuple[str, ...] = ("train", "validation", "test")
TRAIN_EDGE = TILE_SIDE_M * (2 - math.sqrt(2)) / 4
VALIDATION_EDGE = TRAIN_EDGE + TILE_SIDE_M * (math.sqrt(2) - 1) / 4
RANDOM_SHARES = (0.70, 0.15, 0.15)


def ring_split(x: int, y: int) -> str:
    """reBEN's split of patch (x, y) of any tile."""
    d = border_distance(x, y)
    if d < TRAIN_EDGE:
        return "train"
    return "validation" if d < VALIDATION_EDGE else "test"


def random_split(patch_id: str, seed: int) -> str:
    """70 / 15 / 15 from a hash of (seed, patch id): the same patch gets the same split in
    every run and resumed run, whatever else is in the dataset."""
    digest = hashlib.sha256(f"{seed}:{patch_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < RANDOM_SHARES[0]:
        return "train"
    return "validation" if u < RANDOM_SHARES[0] + RANDOM_SHARES[1] else "test"


def read_split_file(path: Path) -> dict[str, str]:
    """patch_id → split from a parquet or CSV (columns ``patch_id`` and ``split``; ``val``
    is read as ``validation``); a bad file is one line naming it and what it lacks."""
    import pandas as pd

    try:
        table = (pd.read_parquet(path, columns=None) if path.suffix.lower() == ".parquet"
                 else pd.read_csv(path, dtype=str))
    except FileNotFoundError:
        raise InputFormatError(f"--split-file {path}: no such file") from None
    except Exception as e:  # pyarrow, pandas parser errors
        raise InputFormatError(f"--split-file {path}: not a readable parquet or CSV ({e})") from e
    missing = [c for c in ("patch_id", "split") if c not in table.columns]
    if missing:
        raise InputFormatError(f"--split-file {path}: no column {', '.join(missing)} (found: "
                               f"{', '.join(map(str, table.columns))})")
    names = table["split"].astype(str).str.strip().str.lower().replace({"val": "validation"})
    bad = sorted(set(names) - set(SPLITS))
    if bad:
        raise InputFormatError(f"--split-file {path}: unknown split value(s) {bad}; use "
                               "train, validation (or val), test")
    return dict(zip(table["patch_id"].astype(str), names, strict=True))


def assign(
    patches: Iterable[tuple[str, int, int]], method: str, seed: int = 0,
    table: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Split of each (patch id, x, y); with a split file, a patch it does not list is
    left out (the empty string), never guessed."""
    out: dict[str, str] = {}
    for pid, x, y in patches:
        if method == "ring":
            out[pid] = ring_split(x, y)
        elif method == "random":
            out[pid] = random_split(pid, seed)
        else:
            out[pid] = (table or {}).get(pid, "")
    return out
