"""The paper's published scores (``paper_numbers.toml``), shown beside ours in report.md.

Tables III–V and the split sizes, transcribed from ``../shared/paper/sen4map_results.csv``
(a realdata test checks every value against it). A value marked "missing" comes back as None
and prints as "n/a"; the file's ``status`` is printed with the tables.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

MISSING = "missing"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaperNumbers:
    """Published scores for one legend, per model."""

    legend: str
    status: str
    source: str
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    split: dict[str, int] = field(default_factory=dict)  # part → points in the paper

    @staticmethod
    def _value(raw: Any) -> float | None:
        return None if raw == MISSING or raw is None else float(raw)

    def score(self, model: str, key: str) -> float | None:
        """e.g. score("rf", "overall_accuracy_center")."""
        return self._value(self.models.get(model, {}).get(key))

    def class_f1(self, model: str, where: str, class_name: str) -> float | None:
        """Per-class F1 at ``where`` ("center" or "window")."""
        table = self.models.get(model, {}).get(f"per_class_f1_{where}", {})
        return self._value(table.get(class_name))


def legend_key(legend: str) -> str | None:
    """The paper legend a ``--legend`` value refers to (None for a user's own legend)."""
    name = legend.strip().lower()
    if name in ("landcover", "land-cover", "sen4map-landcover"):
        return "landcover"
    if name in ("crops", "crop", "sen4map-crop", "crops-paper", "crops-released",
                "sen4map-crop-paper", "sen4map-crop-released"):
        return "crops"
    return None


def load_paper_numbers(legend: str) -> PaperNumbers | None:
    """The paper's numbers for a paper legend, or None for any other legend."""
    key = legend_key(legend)
    if key is None:
        return None
    try:
        text = resources.files("benchmark").joinpath("paper_numbers.toml").read_text()
    except OSError as e:  # an install without the package data: report without them
        log.warning("paper numbers unavailable (%s): report shows ours only", e)
        return None
    data = tomllib.loads(text)
    tables = dict(data.get(key, {}))
    split = {str(k): int(v) for k, v in tables.pop("split", {}).items()}
    return PaperNumbers(
        legend=key,
        status=str(data.get("status", "unknown")),
        source=str(data.get("source", "")),
        models=tables,
        split=split,
    )
