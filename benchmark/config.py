"""The benchmark's one frozen config, built at the edge (CLI or a caller) and recorded whole
in ``metrics.json`` so a report says exactly how it was made."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.composites import (
    COMPOSITE_MODES,
    DEFAULT_MASK_CLASSES,
    EMPTY_MONTH_FILLS,
    CompositeRule,
)
from benchmark.models.registry import default_params, list_models
from benchmark.params import TrainParams
from benchmark.split import DEFAULT_FRACTIONS
from lucas.errors import ConfigError


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything one benchmark run depends on."""

    data_dir: Path
    out_dir: Path
    legend: str = "landcover"  # a legend name or a TOML path (lucas.legend)
    countries: tuple[str, ...] | None = None  # None = every <CC>.h5 in data_dir
    models: tuple[str, ...] = field(default_factory=list_models)  # every registered model
    split_keys: Path | None = None  # None = random 70/15/15 per country
    split_fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    mask_classes: tuple[int, ...] = DEFAULT_MASK_CLASSES
    composite: str = "masked"  # or "reader": the public Sen4Map reader's rule
    empty_months: str | None = None  # None: interpolate (masked), year-median (reader)
    cache_dir: Path | None = None  # None = no composite cache
    train: TrainParams = field(default_factory=TrainParams)
    params: Mapping[str, Any] = field(default_factory=default_params)  # name → params class

    def __post_init__(self) -> None:
        known = list_models()
        unknown = [m for m in self.models if m not in known]
        if unknown or not self.models:
            raise ConfigError(
                f"benchmark --models: unknown {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(known)}"
            )
        bad = [c for c in self.mask_classes if not 0 <= c <= 11]
        if bad:
            raise ConfigError(f"benchmark --mask-classes: {bad} are not SCL classes (0–11)")
        if self.composite not in COMPOSITE_MODES:
            raise ConfigError(f"benchmark --composite {self.composite}: choose "
                              f"{' or '.join(COMPOSITE_MODES)}")
        if self.empty_months is not None and self.empty_months not in EMPTY_MONTH_FILLS:
            raise ConfigError(f"benchmark --empty-months {self.empty_months}: choose "
                              f"{' or '.join(EMPTY_MONTH_FILLS)}")
        if self.composite == "reader" and self.empty_months == "interpolate":
            raise ConfigError("benchmark --composite reader fills an empty month with the "
                              "year's median (the reader's rule): drop --empty-months "
                              "interpolate, or use --composite masked")
        missing = [m for m in self.models if m not in self.params]
        if missing:
            raise ConfigError(f"BenchmarkConfig.params has no entry for {missing}")

    @property
    def rule(self) -> CompositeRule:
        """The composite rule these flags name."""
        if self.composite == "reader":
            return CompositeRule(mode="reader", empty_months="year-median")
        return CompositeRule(mask_classes=tuple(self.mask_classes),
                             empty_months=self.empty_months or "interpolate")

    @property
    def seed(self) -> int:
        return self.train.seed

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (paths as strings, params as dicts)."""
        return {
            "data_dir": str(self.data_dir),
            "out_dir": str(self.out_dir),
            "legend": self.legend,
            "countries": list(self.countries) if self.countries else None,
            "models": list(self.models),
            "split": str(self.split_keys) if self.split_keys else "random",
            "split_fractions": list(self.split_fractions),
            "mask_classes": list(self.mask_classes),
            "composite": self.composite,
            "empty_months": self.rule.empty_months,
            "composite_rule": self.rule.describe(),
            "cache_dir": str(self.cache_dir) if self.cache_dir else None,
            "train": dataclasses.asdict(self.train),
            "params": {m: dataclasses.asdict(self.params[m]) for m in self.models},
        }
