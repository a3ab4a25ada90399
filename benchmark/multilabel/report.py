"""The multi-label benchmark's report folder: metrics.json, report.md and its figures.

Every figure the paper has is shown next to ours ("n/a" only where the paper has none):
Table II (sample-averaged Hamming loss, one-error, recall, F2) for each model it ran, and
Table I (ResNet50's class-based F2) per class.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.multilabel.paper import TABLE_II, table_i, table_ii
from lucas.safe_files import atomic_write_text

METRICS_JSON = "metrics.json"
REPORT_MD = "report.md"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def paper_rows(model: str, ours: Mapping[str, float]) -> list[tuple[str, str, str]]:
    """(metric, ours, paper) in the paper's units, for Table II's metrics."""
    paper = table_ii(model)
    rows = []
    for _, (name, factor) in TABLE_II.items():
        mine = ours.get(name)
        rows.append((name, _fmt(None if mine is None else mine * factor, 3 if factor == 1 else 2),
                     _fmt(paper.get(name), 3 if factor == 1 else 2)))
    return rows


def write_report(out: Path, metrics: dict[str, Any], class_names: Sequence[str]) -> Path:
    """metrics.json, report.md and the PNGs (temp + rename each)."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / METRICS_JSON, json.dumps(metrics, indent=2, default=_json) + "\n")
    lines = ["# BigEarthNet-MM multi-label benchmark", "",
             f"Data: `{metrics['config']['data']}`, modality `{metrics['config']['modality']}`; "
             + ", ".join(f"{k}: {v:,}" for k, v in metrics["data"]["patches"].items()) + ".", ""]
    cfg = metrics["config"]
    if "train" in cfg:
        train = cfg["train"]
        lines += [f"Training: Adam at {train['learning_rate']:g}, batch {train['batch_size']}, "
                  f"up to {train['epochs']} epochs (patience {train['patience']}), seed "
                  f"{train['seed']}, on {cfg.get('device', train['device'])} "
                  f"({cfg.get('precision', 'fp32')}).", ""]
    excluded = metrics["data"].get("exclusions", {})
    if excluded:
        lines += ["Left out: " + "; ".join(f"{v:,} {k}" for k, v in excluded.items()) + ".", ""]
    base = metrics["baseline"]
    lines += [f"Label-frequency baseline (every patch scored with the training label "
              f"frequencies): sample F2 {base['f2'] * 100:.2f} % at 0.5, "
              f"{base['f2_tuned'] * 100:.2f} % with thresholds tuned on validation.", ""]
    for model, result in metrics["models"].items():
        lines += [f"## {model}", ""]
        if "error" in result:
            lines += [f"failed: {result['error']}", ""]
            continue
        lines += ["| metric (Table II unit) | ours, threshold 0.5 | ours, tuned | paper |",
                  "|---|---|---|---|"]
        tuned = {name: mine for name, mine, _ in paper_rows(model, result["tuned"])}
        for name, mine, paper in paper_rows(model, result["threshold_0.5"]):
            lines.append(f"| {name} | {mine} | {tuned[name]} | {paper} |")
        for name in ("coverage", "ranking_loss", "precision", "f1", "micro_f2", "macro_f2",
                     "map"):
            value = result["threshold_0.5"].get(name)
            lines.append(f"| {name} | {_fmt(value, 4)} | "
                         f"{_fmt(result['tuned'].get(name), 4)} | n/a |")
        lines.append("")
        retrieval = result.get("retrieval", {})
        if retrieval:
            lines += ["| retrieval | " + " | ".join(retrieval) + " |",
                      "|---|" + "---|" * len(retrieval)]
            keys = sorted({k for r in retrieval.values() for k in r})
            for key in keys:
                lines.append(f"| {key} | " + " | ".join(
                    _fmt(r.get(key), 4) for r in retrieval.values()) + " | (paper: n/a) |")
            lines.append("")
    lines += _table_i(metrics, class_names)
    lines += _figures(out, metrics, class_names)
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / REPORT_MD, text)
    return out / REPORT_MD


def _table_i(metrics: dict[str, Any], class_names: Sequence[str]) -> list[str]:
    """Per-class F2 of each model next to the paper's ResNet50 (from scratch)."""
    paper = table_i("from_scratch")
    runs = {m: r for m, r in metrics["models"].items() if "error" not in r}
    if not runs:
        return []
    lines = ["## Class-based F2 (%), paper Table I (ResNet50 from scratch)", "",
             "| class | " + " | ".join(runs) + " | paper |",
             "|---|" + "---|" * (len(runs) + 1)]
    for name in class_names:
        ours = [_fmt(r["threshold_0.5"]["per_class"][name]["f2"] * 100) for r in runs.values()]
        lines.append(f"| {name} | " + " | ".join(ours) + f" | {_fmt(paper.get(name))} |")
    mean = [_fmt(100 * float(np.nanmean([r["threshold_0.5"]["per_class"][n]["f2"]
                                         for n in class_names]))) for r in runs.values()]
    lines.append("| **mean** | " + " | ".join(mean) +
                 f" | {_fmt(paper.get('mean_class_f2'))} |")
    return [*lines, ""]


def _figures(out: Path, metrics: dict[str, Any], class_names: Sequence[str]) -> list[str]:
    """Per-class F2 bars beside the paper's, and the label co-occurrence heatmap."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["(figures need matplotlib: the [benchmark] extra)", ""]
    lines = []
    runs = {m: r for m, r in metrics["models"].items() if "error" not in r}
    paper = table_i("from_scratch")
    if runs:
        fig, ax = plt.subplots(figsize=(10, 6))
        y = np.arange(len(class_names))
        width = 0.8 / (len(runs) + 1)
        for i, (model, r) in enumerate(runs.items()):
            ax.barh(y + i * width, [r["threshold_0.5"]["per_class"][n]["f2"] * 100
                                    for n in class_names], width, label=model)
        ax.barh(y + len(runs) * width, [paper.get(n, np.nan) for n in class_names], width,
                label="paper ResNet50", color="grey")
        ax.set_yticks(y + 0.4, class_names, fontsize=7)
        ax.set_xlabel("class-based F2 (%)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "class_f2.png", dpi=110)
        plt.close(fig)
        lines.append("![class F2](class_f2.png)")
    co = np.asarray(metrics["data"].get("cooccurrence", []), dtype=float)
    if co.size:
        fig, ax = plt.subplots(figsize=(7, 6))
        ax.imshow(np.log1p(co), cmap="viridis")
        ax.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=6)
        ax.set_yticks(range(len(class_names)), class_names, fontsize=6)
        ax.set_title("label co-occurrence (log 1 + count), training split")
        fig.tight_layout()
        fig.savefig(out / "cooccurrence.png", dpi=110)
        plt.close(fig)
        lines.append("![co-occurrence](cooccurrence.png)")
    if (out / "retrieval_examples.png").is_file():
        lines.append("![retrieval examples: a test patch and its nearest training patches]"
                     "(retrieval_examples.png)")
    return [*lines, ""]


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")
