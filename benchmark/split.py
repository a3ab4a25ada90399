"""Train / validation / test split: the paper's 70/15/15 per country, or official key files.

The random split is drawn per country from a generator seeded with (seed, country), over
the labelled points sorted by name, so it does not depend on file order nor on which other
countries are in the run (adding a country never reshuffles another one), and the parts
are 70/15/15 of the points the legend keeps (the paper's crop split is of the crop points).

With key files, no key of any validation or test list in the folder is ever trained on:
the crop lists are not subsets of the land-cover lists' complement, so a crop run without
a train list would otherwise train on land-cover validation and test points.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lucas.errors import ConfigError

log = logging.getLogger(__name__)

PARTS = ("train", "val", "test")
UNASSIGNED = ""
DEFAULT_FRACTIONS = (0.70, 0.15, 0.15)


def random_split(
    names: Sequence[str] | np.ndarray,
    countries: Sequence[str] | np.ndarray,
    seed: int,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Part name ("train"/"val"/"test") of each point, 70/15/15 within each country.

    Only ``eligible`` points (all when None; the labelled ones in a run) are drawn; the
    others are left unassigned (``""``).
    """
    if len(names) != len(countries):
        raise ValueError(f"{len(names)} names but {len(countries)} countries")
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise ConfigError(f"split fractions {fractions} must be ≥ 0 and sum to 1")
    names_arr = np.asarray(names, dtype=str)
    countries_arr = np.asarray(countries, dtype=str)
    parts = np.full(len(names_arr), UNASSIGNED, dtype=object)
    drawn = np.ones(len(names_arr), bool) if eligible is None else np.asarray(eligible, bool)
    for country in np.unique(countries_arr):
        members = np.flatnonzero((countries_arr == country) & drawn)
        members = members[np.argsort(names_arr[members], kind="stable")]
        rng = np.random.default_rng([seed, zlib.crc32(str(country).encode())])
        order = members[rng.permutation(len(members))]
        n_val = round(fractions[1] * len(order))
        n_test = round(fractions[2] * len(order))
        n_train = len(order) - n_val - n_test
        parts[order[:n_train]] = "train"
        parts[order[n_train : n_train + n_val]] = "val"
        parts[order[n_train + n_val :]] = "test"
    return parts.astype(str)


def _read_keys(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def key_files(keys_dir: Path, prefix: str = "") -> dict[str, Path]:
    """The key lists of a folder: ``[prefix]{train,val,test}_keys.txt`` (or ``….txt``)."""
    if not keys_dir.is_dir():
        raise ConfigError(f"benchmark --split-keys {keys_dir}: not a folder")
    found: dict[str, Path] = {}
    for part in PARTS:
        for candidate in (f"{prefix}{part}_keys.txt", f"{prefix}{part}.txt"):
            if (keys_dir / candidate).is_file():
                found[part] = keys_dir / candidate
                break
    if "val" not in found or "test" not in found:
        raise ConfigError(
            f"benchmark --split-keys {keys_dir}: needs {prefix}val_keys.txt and "
            f"{prefix}test_keys.txt (and optionally {prefix}train_keys.txt)"
        )
    return found


def held_out_keys(keys_dir: Path) -> set[str]:
    """Every key of every validation or test list in the folder (crop and land cover)."""
    found: set[str] = set()
    for pattern in ("*val_keys.txt", "*test_keys.txt", "*val.txt", "*test.txt"):
        for path in sorted(keys_dir.glob(pattern)):
            found |= _read_keys(path)
    return found


def keys_split(
    names: Sequence[str] | np.ndarray, files: dict[str, Path], held_out: set[str] | None = None
) -> np.ndarray:
    """Part of each point from key lists; without a train list, train = everything else.

    With a train list, points in no list are left unassigned (``""``) and not used. A key of
    ``held_out`` (other validation/test lists) that is not in this run's val or test list is
    never trained on: it is left unassigned, with a warning when a train list names it.
    """
    keys = {part: _read_keys(path) for part, path in files.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        overlap = keys.get(a, set()) & keys.get(b, set())
        if overlap:
            raise ConfigError(
                f"split keys: {len(overlap)} names in both {a} and {b} lists "
                f"(e.g. {sorted(overlap)[0]})"
            )
    default = UNASSIGNED if "train" in keys else "train"
    parts = np.full(len(names), default, dtype=object)
    names_arr = np.asarray(names, dtype=str)
    for part in PARTS:
        if part in keys:
            parts[np.isin(names_arr, list(keys[part]))] = part
    if held_out:
        leak = (parts == "train") & np.isin(names_arr, list(held_out))
        if leak.any() and "train" in keys:
            log.warning("%d keys of the train list are in another validation or test list "
                        "(e.g. %s): left out of training", int(leak.sum()), names_arr[leak][0])
        elif leak.any():
            log.info("%d points of other validation/test lists kept out of training",
                     int(leak.sum()))
        parts[leak] = UNASSIGNED
    unassigned = int(np.sum(parts == UNASSIGNED))
    if unassigned:
        log.info("%d points are in no key list and are left out", unassigned)
    return parts.astype(str)


def summary(parts: np.ndarray, countries: np.ndarray) -> dict[str, dict[str, int]]:
    """Per country, the number of points in each part."""
    out: dict[str, dict[str, int]] = {}
    for country in np.unique(countries):
        sel = parts[countries == country]
        counts = {p: int(np.sum(sel == p)) for p in PARTS}
        if np.any(sel == UNASSIGNED):
            counts["unassigned"] = int(np.sum(sel == UNASSIGNED))
        out[str(country)] = counts
    return out


def part_sizes(parts: np.ndarray) -> dict[str, int]:
    """Points per part over all countries."""
    return {p: int(np.sum(parts == p)) for p in PARTS}


def compare_with_paper(ours: dict[str, int], paper: dict[str, int]) -> list[str]:
    """One line per part whose size differs from the paper's (empty when all match)."""
    return [f"{p}: {ours.get(p, 0)} points, the paper {paper[p]}"
            for p in PARTS if p in paper and ours.get(p, 0) != paper[p]]
