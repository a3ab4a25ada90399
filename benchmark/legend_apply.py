"""Turn the points' LUCAS ``lc1`` codes into class indices with a legend (code → class).

The legends themselves (paper Tables I and II, or a user's TOML file) live in
``lucas.legend``; the benchmark only needs their ``classify``/``classes`` interface, so it
is typed here as a Protocol and tests can pass a stand-in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from lucas.errors import ConfigError, LegendError

log = logging.getLogger(__name__)

EXCLUDED = -1


class LegendLike(Protocol):
    """What the benchmark uses of ``lucas.legend.Legend``."""

    @property
    def classes(self) -> Sequence[str]: ...

    def classify(self, codes: pd.Series) -> pd.Series: ...


@dataclass(frozen=True)
class Labels:
    """Class index per point (``EXCLUDED`` = code not in the legend) and the class names."""

    y: np.ndarray  # (N,) int64
    classes: tuple[str, ...]
    excluded_by_code: dict[str, int]

    @property
    def n_excluded(self) -> int:
        return int(np.sum(self.y == EXCLUDED))


# Short names the CLI accepts for the paper's legends (lucas.legend's built-in names).
ALIASES = {"landcover": "sen4map-landcover", "crops": "sen4map-crop-released",
           "crops-paper": "sen4map-crop-paper", "crops-released": "sen4map-crop-released"}
# What ``--legend`` takes, in its help and in its errors alike.
ACCEPTED = f"{' | '.join(ALIASES)} | PATH.toml"


def load(name_or_path: str) -> LegendLike:
    """A legend by name (``landcover``, ``crops``, or a built-in name of ``lucas.legend``)
    or by TOML path."""
    from lucas.legend import ALIASES as OLD_NAMES
    from lucas.legend import BUILTIN, load_legend

    name = ALIASES.get(name_or_path.strip().lower(), name_or_path)
    name = OLD_NAMES.get(name, name)
    if name not in BUILTIN and not Path(name).is_file():
        raise ConfigError(f"benchmark --legend {name_or_path}: no such legend name or file; "
                          f"choose {ACCEPTED} (a TOML file of LC1 code → class)")
    try:
        return load_legend(name if name in BUILTIN else Path(name))
    except OSError as e:
        raise ConfigError(f"benchmark --legend {name_or_path}: cannot read it ({e})") from e


def apply_legend(points: pd.DataFrame, legend: LegendLike, column: str = "lc1") -> Labels:
    """Class index of every point from its ``column`` code; points left out are counted."""
    classes = tuple(legend.classes)
    if len(set(classes)) != len(classes):
        raise LegendError(f"legend has duplicate class names: {classes}")
    if column not in points.columns:
        codes = pd.Series([pd.NA] * len(points), index=points.index, dtype="string")
    else:
        codes = points[column].astype("string").str.strip()
        codes = codes.mask(codes == "")  # an empty code is a missing one
    names = legend.classify(codes)
    index = {name: i for i, name in enumerate(classes)}
    # Anything that is not one of the legend's classes (NA, or "nan" from a str cast) is
    # "left out"; codes.isna() guards against a legend that maps a missing code to a class.
    y = np.array(
        [index.get(n, EXCLUDED) if isinstance(n, str) else EXCLUDED for n in names],
        dtype=np.int64,
    )
    y[codes.isna().to_numpy()] = EXCLUDED
    excluded_codes = codes[y == EXCLUDED].fillna("<missing>")
    excluded = {str(k): int(v) for k, v in excluded_codes.value_counts().sort_index().items()}
    if excluded:
        log.info(
            "legend leaves out %d of %d points (%d distinct %s codes)",
            int(np.sum(y == EXCLUDED)), len(y), len(excluded), column,
        )
    return Labels(y=y, classes=classes, excluded_by_code=excluded)
