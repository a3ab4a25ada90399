"""The BigEarthNet-MM paper's figures (package data, ``benchmark/data``), for the report.

Table I: class-based F2 (%) of ResNet50 from scratch and fine-tuned from ImageNet; Table II:
sample-averaged Hamming loss (fraction), one-error, recall and F2 (%) of five networks
trained from scratch. Our report puts each next to the same figure of our run.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

# Table II's metric names → ours (and the factor from our fractions to the paper's unit).
TABLE_II: dict[str, tuple[str, float]] = {
    "hamming_loss": ("hamming_loss", 1.0),
    "one_error_percent": ("one_error", 100.0),
    "recall_percent": ("recall", 100.0),
    "f2_percent": ("f2", 100.0),
}


@lru_cache(maxsize=1)
def paper_table() -> pd.DataFrame:
    """The published rows: table, model, training, metric, class, value."""
    with resources.files("benchmark").joinpath("data/bigearthnet_mm_results.csv").open() as f:
        frame = pd.read_csv(f, dtype={"class": str}, keep_default_na=False)
    return frame.rename(columns={"value_percent_or_fraction": "value"})


def table_ii(model: str) -> dict[str, float]:
    """Table II of ``model`` (trained from scratch) by our metric name, in the paper's unit;
    empty for a model the paper did not run."""
    rows = paper_table()
    rows = rows[(rows["table"] == "II") & (rows["model"] == model)]
    return {TABLE_II[m][0]: float(v) for m, v in zip(rows["metric"], rows["value"],
                                                        strict=True) if m in TABLE_II}


def table_i(training: str = "from_scratch") -> dict[str, float]:
    """Table I: class name → ResNet50's F2 in %, and ``mean_class_f2``."""
    rows = paper_table()
    rows = rows[(rows["table"] == "I") & (rows["training"] == training)]
    return {(c or m): float(v) for m, c, v in zip(rows["metric"], rows["class"], rows["value"],
                                                  strict=True)}
