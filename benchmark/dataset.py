"""Pool the countries into one labelled, split dataset (the paper trains one model for all).

Composites come from the cache (or are built), labels from the legend, parts from the
random per-country split or the key files; what is left out and why is counted for the
report.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark import composites as comp
from benchmark import split as splits
from benchmark.cache import CountryData, load_country
from benchmark.config import BenchmarkConfig
from benchmark.h5read import country_files
from benchmark.legend_apply import EXCLUDED, LegendLike, apply_legend
from benchmark.paper import legend_key, load_paper_numbers
from benchmark.pool import PooledComposites

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkData:
    """All points of the run; ``parts`` is "train"/"val"/"test" or "" (not used)."""

    names: np.ndarray
    countries: np.ndarray
    points: pd.DataFrame
    composites: PooledComposites
    y: np.ndarray  # class index, legend_apply.EXCLUDED for points the legend leaves out
    classes: tuple[str, ...]
    parts: np.ndarray
    summary: dict[str, Any]

    def index(self, part: str) -> np.ndarray:
        """Indices of the labelled points of one part."""
        return np.flatnonzero((self.parts == part) & (self.y != EXCLUDED))

    def column(self, name: str) -> np.ndarray:
        if name not in self.points.columns:
            return np.full(len(self.names), "", dtype=object)
        return self.points[name].astype("string").fillna("").to_numpy(dtype=object)


def cache_folder(cache_dir: Path | None, data_dir: Path) -> Path | None:
    """One sub-folder per data folder, so years and archives never evict each other."""
    if cache_dir is None:
        return None
    tag = hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:8]
    return cache_dir / f"{data_dir.resolve().name}-{tag}"


def _pool(datas: list[CountryData]) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    names = np.concatenate([d.names for d in datas]) if datas else np.array([], dtype=str)
    countries = np.concatenate([np.full(len(d.names), d.country) for d in datas]) if datas else (
        np.array([], dtype=str)
    )
    points = pd.concat([d.points for d in datas], ignore_index=True) if datas else pd.DataFrame()
    return names, countries, points


def _split(cfg: BenchmarkConfig, names: np.ndarray, countries: np.ndarray,
           labelled: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    if cfg.split_keys is None:
        return splits.random_split(names, countries, cfg.seed, cfg.split_fractions,
                                   eligible=labelled), {}
    crop_lists = (cfg.split_keys / "crop_val_keys.txt").exists()
    prefix = "crop_" if legend_key(cfg.legend) == "crops" and crop_lists else ""
    files = splits.key_files(cfg.split_keys, prefix)
    parts = splits.keys_split(names, files, held_out=splits.held_out_keys(cfg.split_keys))
    return parts, {p: str(f) for p, f in files.items()}


def _paper_split(cfg: BenchmarkConfig, ours: dict[str, int]) -> dict[str, int]:
    """The paper's part sizes for a paper legend (and a warning when ours differ)."""
    paper = load_paper_numbers(cfg.legend)
    if paper is None or not paper.split:
        return {}
    differ = splits.compare_with_paper(ours, paper.split)
    if differ:
        log.warning("split differs from the paper's (%s legend): %s", paper.legend,
                    "; ".join(differ))
    return paper.split


# What each input kind reads of the ``*_filled`` masks (region coordinates, shift 0).
_CROP = slice(1, 1 + comp.CROP)
_FILL_VIEWS = {
    "pixel": ("monthly_filled", (slice(None), comp.HALF_REGION, comp.HALF_REGION)),
    "annual_crop": ("annual_filled", (_CROP, _CROP)),
    "monthly_crop": ("monthly_filled", (slice(None), _CROP, _CROP)),
}


def fill_shares(composites: PooledComposites, index: np.ndarray,
                chunk: int = 4096) -> dict[str, float]:
    """Per model input kind, the share of its values that were filled (no clear observation
    there), over the points ``index``; read in chunks, since the masks of the EU are GBs."""
    out: dict[str, float] = {}
    for kind, (attr, view) in _FILL_VIEWS.items():
        def cut(c: comp.Composites, i: np.ndarray, attr: str = attr,
                view: tuple[slice | int, ...] = view) -> np.ndarray:
            return np.asarray(getattr(c, attr)[i][(slice(None), *view)])

        total, filled = 0, 0
        for start in range(0, len(index), chunk):
            part = composites.select(cut, index[start:start + chunk])
            total += part.size
            filled += int(part.sum())
        out[kind] = filled / total if total else 0.0
    return out


def load(cfg: BenchmarkConfig, legend: LegendLike) -> BenchmarkData:
    """Read (or reuse) every country's composites, label, split, and count what is left out."""
    files = country_files(cfg.data_dir, cfg.countries)
    cache = cache_folder(cfg.cache_dir, cfg.data_dir)
    datas = [load_country(f, cfg.rule, cache) for f in files]
    names, countries, points = _pool(datas)
    composites = PooledComposites([d.composites for d in datas])
    labels = apply_legend(points, legend)
    parts, key_files = _split(cfg, names, countries, labels.y != EXCLUDED)
    parts = np.where(labels.y == EXCLUDED, splits.UNASSIGNED, parts)
    sizes = splits.part_sizes(parts)
    center = comp.HALF_REGION
    no_clear = composites.select_all(lambda part, i: part.annual_filled[i, center, center])
    center_filled = composites.select_all(
        lambda part, i: part.monthly_filled[i, :, center, center]
    )
    summary = {
        "files": {
            d.country: {
                "path": str(d.path),
                "sha256": d.sha256,
                "points": len(d.names),
                "bands": list(d.bands),
                "from_cache": d.from_cache,
            }
            for d in datas
        },
        "points": len(names),
        "labelled": int(np.sum(labels.y != EXCLUDED)),
        "excluded_by_legend": labels.n_excluded,
        "excluded_by_code": labels.excluded_by_code,
        "center_pixel_never_clear": int(no_clear.sum()),
        "center_month_fill_share": (
            float(center_filled.mean()) if len(names) else 0.0
        ),
        "composite_rule": cfg.rule.describe(),
        "fill_share_by_input": fill_shares(composites, np.flatnonzero(labels.y != EXCLUDED)),
        "split": splits.summary(parts, countries),
        "split_sizes": sizes,
        "paper_split_sizes": _paper_split(cfg, sizes),
        "split_key_files": key_files,
        "class_counts": {
            part: np.bincount(labels.y[(parts == part) & (labels.y != EXCLUDED)],
                              minlength=len(labels.classes)).tolist()
            for part in splits.PARTS
        },
    }
    log.info(
        "%d points in %d countries, %d labelled, %d left out by the legend",
        len(names), len(datas), summary["labelled"], labels.n_excluded,
    )
    return BenchmarkData(
        names=names, countries=countries, points=points, composites=composites,
        y=labels.y, classes=labels.classes, parts=parts, summary=summary,
    )
