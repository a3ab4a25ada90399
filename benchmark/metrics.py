"""The paper's scores (Tables III–V): per-class F1, weighted F1, overall accuracy and mean
predictive entropy, for the center pixel and for the 3×3 window.

Window rule (paper): a point counts as correct when any of its 9 pixels' predictions equals
its label; otherwise its prediction is the center pixel's. Per-class F1 and weighted F1 for
the window are computed on those adjusted predictions.

Plain numpy (no scikit-learn), so the metrics are testable without the benchmark extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.inputs import CENTER_SHIFT


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def per_class_f1(cm: np.ndarray) -> list[float | None]:
    """F1 of each class; None for a class neither present nor predicted (undefined)."""
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    out: list[float | None] = []
    for k in range(len(cm)):
        denom = support[k] + predicted[k]
        out.append(None if denom == 0 else float(2 * tp[k] / denom))
    return out


def weighted_f1(cm: np.ndarray) -> float:
    """Mean of the per-class F1 weighted by each class's true support."""
    support = cm.sum(axis=1)
    if support.sum() == 0:
        return float("nan")
    f1 = np.array([0.0 if v is None else v for v in per_class_f1(cm)])
    return float(np.sum(f1 * support) / support.sum())


def overall_accuracy(cm: np.ndarray) -> float:
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def window_predictions(
    y_true: np.ndarray, window_pred: np.ndarray, center: int = CENTER_SHIFT
) -> np.ndarray:
    """Per point: its label when any of the 9 window predictions is the label, else the
    center pixel's prediction. ``window_pred`` is (N, 9)."""
    hit = np.any(window_pred == np.asarray(y_true)[:, None], axis=1)
    return np.where(hit, y_true, window_pred[:, center])


def mean_entropy(proba: np.ndarray) -> float:
    """Mean Shannon entropy, in nats, of the rows of ``proba`` (0·log 0 = 0)."""
    if len(proba) == 0:
        return float("nan")
    p = np.clip(proba, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return float(np.mean(terms.sum(axis=1)))


def _scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, Any]:
    cm = confusion_matrix(y_true, y_pred, n_classes)
    return {
        "overall_accuracy": overall_accuracy(cm),
        "weighted_f1": weighted_f1(cm),
        "per_class_f1": per_class_f1(cm),
        "confusion_matrix": cm.tolist(),
    }


def score(
    y_true: np.ndarray, window_proba: np.ndarray, classes: tuple[str, ...]
) -> dict[str, Any]:
    """All scores of one model on one test set.

    ``window_proba`` is (N, 9, C): class probabilities at the 9 window positions in
    ``inputs.WINDOW_SHIFTS`` order (index 4 = the center pixel).
    """
    n_classes = len(classes)
    center_proba = window_proba[:, CENTER_SHIFT]
    center_pred = center_proba.argmax(axis=1)
    window_pred = window_predictions(y_true, window_proba.argmax(axis=2))
    return {
        "n_test": len(y_true),
        "support": np.bincount(y_true, minlength=n_classes).tolist(),
        "center": _scores(y_true, center_pred, n_classes),
        "window": _scores(y_true, window_pred, n_classes),
        "mean_entropy_nats": mean_entropy(center_proba),
        "majority_class_accuracy": (
            float(np.bincount(y_true, minlength=n_classes).max() / len(y_true))
            if len(y_true) else float("nan")
        ),
    }
