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

_SCORES = (
    ("OA center", "center", "overall_accuracy", "overall_accuracy_center"),
    ("OA 3×3", "window", "overall_accuracy", "overall_accuracy_window"),
    ("W-F1 center", "center", "weighted_f1", "weighted_f1_center"),
    ("W-F1 3×3", "window", "weighted_f1", "weighted_f1_window"),
)


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
        f"{d['center_pixel_never_clear']}; center-pixel months filled by interpolation: "
        f"{100 * d['center_month_fill_share']:.1f} %.",
    ]
    if d["excluded_by_code"]:
        top = sorted(d["excluded_by_code"].items(), key=lambda kv: -kv[1])[:15]
        lines.append("Left out by code: " + ", ".join(f"{c} ({n})" for c, n in top) + ".")
    return [*lines, ""]


def _overall_section(data: dict[str, Any], paper: PaperNumbers | None) -> list[str]:
    header = "| Model | " + " | ".join(s[0] for s in _SCORES) + " | Entropy (nats) |"
    lines = [
        "## Overall scores (layout of paper Tables III–V)",
        "",
        "Each cell: ours · paper. " + (
            f"Paper numbers: {paper.status} ({paper.source})." if paper
            else "No published numbers for this legend."
        ),
        "",
        header,
        "|---" * (len(_SCORES) + 2) + "|",
    ]
    for model, r in _ok_models(data).items():
        cells = []
        for _, where, key, paper_key in _SCORES:
            theirs = paper.score(model, paper_key) if paper else None
            cells.append(f"{_fmt(r[where][key])} · {_fmt(theirs)}")
        theirs = paper.score(model, "mean_entropy_nats") if paper else None
        cells.append(f"{_fmt(r['mean_entropy_nats'])} · {_fmt(theirs)}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    majority = [r["majority_class_accuracy"] for r in _ok_models(data).values()]
    if majority:
        lines += ["", f"Majority-class accuracy on the test set: {_fmt(majority[0])}."]
    return [*lines, ""]


def _class_section(data: dict[str, Any], paper: PaperNumbers | None, where: str) -> list[str]:
    models = _ok_models(data)
    title = "center pixel" if where == "center" else "3×3 window"
    lines = [
        f"## Per-class F1, {title} (ours · paper)",
        "",
        "| Class | test support | " + " | ".join(models) + " |",
        "|---" * (len(models) + 2) + "|",
    ]
    support = next(iter(models.values()))["support"] if models else []
    for k, name in enumerate(data["classes"]):
        cells = []
        for model, r in models.items():
            theirs = paper.class_f1(model, where, name) if paper else None
            cells.append(f"{_fmt(r[where]['per_class_f1'][k])} · {_fmt(theirs)}")
        count = support[k] if k < len(support) else ""
        lines.append(f"| {name} | {count} | " + " | ".join(cells) + " |")
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
             "fit s | predict s | run |", "|---|---|---|---|---|---|---|"]
    for model, r in _ok_models(data).items():
        t = r["training"]
        if r.get("reused"):
            how = "reused from an earlier run"
        elif t.get("resumed_after_epoch") is not None:
            how = f"resumed after epoch {t['resumed_after_epoch']}"
        else:
            how = "this run"
        lines.append(
            f"| {model} | {t['n_train']} / {t['n_val']} / {r['n_test']} | "
            f"{t.get('epochs_run', '-')} | {t.get('best_epoch', '-')} | {t['seconds']} | "
            f"{r['predict_seconds']} | {how} |"
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
    try:
        files = [
            plots.f1_bars_png(out_dir / f"f1_{where}.png",
                              {m: r[where]["per_class_f1"] for m, r in models.items()},
                              classes, f"Per-class F1, {where}")
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


def render_markdown(data: dict[str, Any], figures: list[str]) -> str:
    cfg = data["config"]
    paper = load_paper_numbers(cfg["legend"])
    lines = [
        "# Sen4Map benchmark report",
        "",
        f"Data `{cfg['data_dir']}`, legend `{cfg['legend']}` ({len(data['classes'])} classes), "
        f"split {cfg['split']}, seed {data['seed']}, models {', '.join(cfg['models'])}. "
        "Everything below is also in `metrics.json`.",
        "",
    ]
    lines += _data_section(data) + _overall_section(data, paper)
    lines += _class_section(data, paper, "center") + _class_section(data, paper, "window")
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
