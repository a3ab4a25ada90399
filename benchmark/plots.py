"""PNG figures of the report: confusion-matrix heatmaps and per-class F1 bars.

Drawn on ``matplotlib.figure.Figure`` objects (no pyplot, no global backend state), so the
figures render headless and in threads alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from benchmark import deps


def confusion_png(path: Path, cm: np.ndarray, classes: Sequence[str], title: str) -> Path:
    """Row-normalised heatmap (colour = share of the true class) with counts in the cells."""
    deps.require("matplotlib")
    from matplotlib.figure import Figure

    cm = np.asarray(cm)
    n = len(classes)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    side = 2.0 + 0.6 * n
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    ax.set_xticks(range(n), labels=list(classes), rotation=45, ha="right")
    ax.set_yticks(range(n), labels=list(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def f1_bars_png(
    path: Path, f1: Mapping[str, Sequence[float | None]], classes: Sequence[str], title: str,
    paper: Mapping[str, Sequence[float | None]] | None = None,
) -> Path:
    """Grouped bars: per class, one bar per model (undefined F1 drawn as 0); the paper's
    value of that model and class, where ``paper`` has one, as a black marker on its bar."""
    deps.require("matplotlib")
    from matplotlib.figure import Figure

    models = list(f1)
    n = len(classes)
    width = 0.8 / max(len(models), 1)
    fig = Figure(figsize=(max(6.0, 1.1 * n + 2), 4.5))
    ax = fig.add_subplot()
    x = np.arange(n)
    marked = False
    for k, model in enumerate(models):
        values = [0.0 if v is None else v for v in f1[model]]
        offset = x + (k - (len(models) - 1) / 2) * width
        ax.bar(offset, values, width, label=model)
        theirs = (paper or {}).get(model, ())
        shown = [(o, v) for o, v in zip(offset, theirs, strict=False) if v is not None]
        if shown:
            ax.scatter([o for o, _ in shown], [v for _, v in shown], marker="_", s=160,
                       linewidths=2.5, color="black", zorder=3,
                       label=None if marked else "paper")
            marked = True
    ax.set_xticks(x, labels=list(classes), rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
