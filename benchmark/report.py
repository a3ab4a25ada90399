"""The report folder: ``metrics.json`` (everything, machine-readable), ``report.md`` (the
paper's tables with its published numbers beside ours) and PNG figures.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import plots
from benchmark.deps import MissingExtraError
from benchmark.paper import PaperNumbers, load_paper_numbers
from lucas.errors import OutputError
from lucas.safe_files import atomic_write_text

log = logging.getLogger(__name__)

_HINT = "check free space there, or use another --out"

def json_ready(value: Any) -> Any:
    """Strict JSON: NaN/inf → null, numpy scalars → Python."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _ok_models(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m: r for m, r in data["models"].items() if "error" not in r}


def _sizes_line(d: dict[str, Any]) -> str:
    ours = d.get("split_sizes", {})
    paper = d.get("paper_split_sizes") or {}
    parts = " / ".join(str(ours.get(p, 0)) for p in ("train", "val", "test"))
    if not paper:
        return f"Split (train / val / test): {parts}."
    theirs = " / ".join(str(paper[p]) for p in ("train", "val", "test"))
    same = all(ours.get(p, 0) == paper[p] for p in paper)
    return (f"Split (train / val / test): {parts}; the paper's: {theirs}"
            + ("." if same else " (**differs**: scores are not on the paper's test set)."))


_INPUT_NAMES = {"pixel": "center pixel × 12 months (RF, transformer)",
                "annual_crop": "15×15 annual composite (ViT)",
                "monthly_crop": "15×15 × 12 months (ViViT)"}


def _data_section(data: dict[str, Any]) -> list[str]:
    d = data["data"]
    lines = [
        "## Data",
        "",
        "| Country | points | train | val | test | not used |",
        "|---|---|---|---|---|---|",
    ]
    for country, counts in d["split"].items():
        total = d["files"].get(country, {}).get("points", "")
        lines.append(
            f"| {country} | {total} | {counts['train']} | {counts['val']} | {counts['test']} "
            f"| {counts.get('unassigned', 0)} |"
        )
    lines += [
        "",
        f"{d['points']} points, {d['labelled']} labelled by the legend, "
        f"{d['excluded_by_legend']} left out by it; center pixel never clear in the year: "
        f"{d['center_pixel_never_clear']}.",
        _sizes_line(d),
    ]
    shares = d.get("fill_share_by_input") or {}
    if shares:
        lines.append("Filled values per model input (no clear observation there; "
                     f"{d.get('composite_rule', '')}): " + "; ".join(
                         f"{_INPUT_NAMES.get(k, k)} {100 * v:.1f} %" for k, v in shares.items())
                     + ".")
    if d["excluded_by_code"]:
        top = sorted(d["excluded_by_code"].items(), key=lambda kv: -kv[1])[:15]
        lines.append("Left out by code: " + ", ".join(f"{c} ({n})" for c, n in top) + ".")
    return [*lines, ""]


def _cell(ours: float | None, theirs: float | None) -> str:
    return f"{_fmt(ours, 2)} · {_fmt(theirs, 2)}"


def _paper_table(data: dict[str, Any], paper: PaperNumbers | None) -> list[str]:
    """Classes × models × (center, 3×3), as the paper's Tables IV (land cover) and V (crops),
    with the weighted F1 and overall accuracy rows at the bottom."""
    models = _ok_models(data)
    which = "V" if paper is not None and paper.legend == "crops" else "IV"
    lines = [
        f"## Per-class F1 (layout of paper Table {which})",
        "",
        "Each cell: ours · paper. " + (
            f"Paper numbers: {paper.status} ({paper.source})." if paper
            else "No published numbers for this legend."
        ),
        "",
        "| Class | test support | " + " | ".join(
            f"{m} center | {m} 3×3" for m in models) + " |",
        "|---" * (2 * len(models) + 2) + "|",
    ]
    support = next(iter(models.values()))["support"] if models else []
    for k, name in enumerate(data["classes"]):
        cells = [
            _cell(r[where]["per_class_f1"][k],
                  paper.class_f1(model, where, name) if paper else None)
            for model, r in models.items() for where in ("center", "window")
        ]
        count = support[k] if k < len(support) else ""
        lines.append(f"| {name} | {count} | " + " | ".join(cells) + " |")
    for label, key in (("W.A. F-score", "weighted_f1"), ("Overall accuracy", "overall_accuracy")):
        cells = [
            _cell(r[where][key], paper.score(model, f"{key}_{where}") if paper else None)
            for model, r in models.items() for where in ("center", "window")
        ]
        lines.append(f"| **{label}** | | " + " | ".join(cells) + " |")
    majority = [r["majority_class_accuracy"] for r in models.values()]
    if majority:
        lines += ["", f"Majority-class accuracy on the test set: {_fmt(majority[0])}."]
    return [*lines, ""]


def _entropy_table(data: dict[str, Any], paper: PaperNumbers | None) -> list[str]:
    """Mean predictive entropy per model, as the paper's Table III."""
    lines = ["## Mean predictive entropy (layout of paper Table III)", "",
             "| Model | ours (nats) | paper (nats) |", "|---|---|---|"]
    for model, r in _ok_models(data).items():
        theirs = paper.score(model, "mean_entropy_nats") if paper else None
        lines.append(f"| {model} | {_fmt(r['mean_entropy_nats'], 2)} | {_fmt(theirs, 2)} |")
    return [*lines, ""]


def _top(counts: dict[str, Any], n: int) -> str:
    items = list(counts.items())[:n]
    if items and isinstance(items[0][1], dict):
        return ", ".join(f"{c} {v['misclassified']}/{v['total']}" for c, v in items)
    return ", ".join(f"{c} {v}" for c, v in items)


def _errors_section(data: dict[str, Any]) -> list[str]:
    lines = [
        "## Error analysis (as the paper's Figs. 8–11, center pixel)",
        "",
        "Per class: misclassified/support, what they were predicted as, and the LUCAS codes "
        "they carry (code errors/total in the class).",
        "",
    ]
    for model, r in _ok_models(data).items():
        lines += [f"### {model}", "", "| Class | wrong | predicted as | lc1 | lu1 |",
                  "|---|---|---|---|---|"]
        for name, e in r["errors"].items():
            if e["misclassified"]:
                lines.append(
                    f"| {name} | {e['misclassified']}/{e['support']} "
                    f"| {_top(e['predicted_as'], 3)} | {_top(e['by_lc1'], 5)} "
                    f"| {_top(e['by_lu1'], 5)} |"
                )
        lines.append("")
    return lines


def _training_section(data: dict[str, Any]) -> list[str]:
    lines = ["## Training", "", "| Model | train / val / test | epochs run | best epoch | "
             "fit s | predict s | device, precision | batch, lr | train samples/s | "
             "predict points/s | run |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, r in _ok_models(data).items():
        t = r["training"]
        if r.get("reused"):
            how = "reused from an earlier run"
        elif t.get("resumed_after_epoch") is not None:
            how = f"resumed after epoch {t['resumed_after_epoch']}"
        else:
            how = "this run"
        device = f"{t['device']}, {t['precision']}" if "precision" in t else "-"
        batch = f"{t['batch_size']}, {t['learning_rate']:.2e}" if "batch_size" in t else "-"
        lines.append(
            f"| {model} | {t['n_train']} / {t['n_val']} / {r['n_test']} | "
            f"{t.get('epochs_run', '-')} | {t.get('best_epoch', '-')} | {t['seconds']} | "
            f"{r['predict_seconds']} | {device} | {batch} | "
            f"{t.get('train_samples_per_s') or '-'} | {r.get('predict_points_per_s') or '-'} "
            f"| {how} |"
        )
    for model, r in data["models"].items():
        if "error" in r:
            lines.append(f"\n**{model} failed**: {r['error']}")
    return [*lines, ""]


def _plots(out_dir: Path, data: dict[str, Any]) -> list[str]:
    models = _ok_models(data)
    classes = data["classes"]
    if not models:
        return []
    paper = load_paper_numbers(data["config"]["legend"])
    try:
        files = [
            plots.f1_bars_png(out_dir / f"f1_{where}.png",
                              {m: r[where]["per_class_f1"] for m, r in models.items()},
                              classes, f"Per-class F1, {where} (bars: ours, marks: paper)",
                              paper={m: [paper.class_f1(m, where, c) for c in classes]
                                     for m in models} if paper else None)
            for where in ("center", "window")
        ]
        files += [
            plots.confusion_png(out_dir / f"confusion_{m}.png",
                                np.array(r["center"]["confusion_matrix"]), classes,
                                f"{m}: confusion (center pixel)")
            for m, r in models.items()
        ]
    except MissingExtraError as e:
        log.warning("no plots: %s", e)
        return []
    return ["## Figures", "", *(f"![{f.stem}]({f.name})" for f in files), ""]


_LEGEND_NOTES = {
    "sen4map-crop-paper": "; the paper's Table II as printed",
    "sen4map-crop-released": "; the released mapping of the public reader (terratorch), "
                             "which differs from Table II in B31–B33, C20 and C30",
}


def render_markdown(data: dict[str, Any], figures: list[str]) -> str:
    cfg = data["config"]
    paper = load_paper_numbers(cfg["legend"])
    legend_name = data.get("legend_name", cfg["legend"])
    lines = [
        "# Sen4Map benchmark report",
        "",
        f"Data `{cfg['data_dir']}`, legend `{cfg['legend']}` = `{legend_name}` "
        f"({len(data['classes'])} classes{_LEGEND_NOTES.get(legend_name, '')}), "
        f"split {cfg['split']}, seed {data['seed']}, models {', '.join(cfg['models'])}. "
        "Everything below is also in `metrics.json`.",
        "",
        f"Composites: {cfg.get('composite_rule', cfg.get('composite', 'masked'))}.",
        "",
    ]
    lines += _data_section(data) + _paper_table(data, paper) + _entropy_table(data, paper)
    lines += figures + _errors_section(data) + _training_section(data)
    return "\n".join(lines)


def write_report(out_dir: Path, data: dict[str, Any]) -> None:
    """Write metrics.json, the PNG figures and report.md into ``out_dir``."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create report folder {out_dir}: {e} (check --out)") from e
    metrics_text = json.dumps(json_ready(data), indent=1) + "\n"
    atomic_write_text(out_dir / "metrics.json", metrics_text, hint=_HINT)
    markdown = render_markdown(data, _plots(out_dir, data)) + "\n"
    atomic_write_text(out_dir / "report.md", markdown, hint=_HINT)
