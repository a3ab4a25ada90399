"""Multi-label scores of the BigEarthNet-MM paper (Sumbul et al., IEEE GRSM 2021), plain numpy.

The paper reports (``/work/shared/paper/bigearthnet_mm_results.csv``) Table I, the class-based
F2 of each of the 19 classes and their plain mean ("Average" = :func:`multilabel_report`'s
``macro_f2``), and Table II, the *sample-averaged* Hamming loss, one-error, recall and F2:
each score is computed for one patch (over its 19 labels) and then averaged over the patches
(scikit-learn's ``average="samples"``). The paper prints Hamming loss as a fraction and every
other score in percent; this module returns every score as a fraction in 0..1 (multiply by 100
to compare with the paper's percentages).

Conventions (each pinned by ``tests/benchmark/test_multilabel_metrics.py``):

- A label is predicted when ``score >= threshold`` (a threshold per class, or one for all).
- ``zero_division`` (default 0.0, scikit-learn's default behaviour): the value of a precision,
  recall or F-score whose denominator is zero, exactly as scikit-learn's ``zero_division``.
  Sample-averaged: a patch with no predicted label has precision ``zero_division``; one with
  no true label has recall ``zero_division``; F-beta is ``zero_division`` only for a patch with
  neither a true nor a predicted label (otherwise 0 when nothing is right). 0.0 never rewards
  an empty prediction; 1.0 counts "no label, none predicted" as perfect; ``nan`` leaves such
  patches (or classes) out of the average. The paper drops the patches without a label, so
  on its data the choice only matters for patches where nothing is predicted.
- ``coverage`` is scikit-learn's ``coverage_error``: how far down the ranking one must go to
  cover every true label, counting *all* labels scored at least as high as the lowest-scored
  true label (ties count against the model); 1-based, so its best value is the mean number of
  true labels; a patch without a true label scores 0. The textbook coverage (Schapire & Singer
  2000; Zhang & Zhou 2014), which the BigEarthNet papers cite, is the same minus 1 (0-based).
  The paper's tables (as transcribed) report no coverage.
- ``ranking_loss`` is scikit-learn's ``label_ranking_loss``: per patch, the fraction of
  (true, false) label pairs with ``score(false) >= score(true)`` (a tie counts as a full
  error); 0 for a patch whose labels are all true or all false.
- ``one_error``: the fraction of patches whose top-scored label is not a true label. On a tie
  for the top score the lowest class index counts (``argmax``); a patch without a true label
  always counts as an error.
- ``average_precision`` per class is scikit-learn's ``average_precision_score`` on that
  column (the step-wise area under the precision-recall curve, tied scores as one threshold);
  NaN for a class without a positive, which ``map`` (the mean over classes) leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_GRID = np.linspace(0.05, 0.95, 19)
_TIE_TOLERANCE = 1e-12


def _check_zero_division(zero_division: float) -> float:
    value = float(zero_division)
    if not (np.isnan(value) or value in (0.0, 1.0)):
        raise ValueError(f"zero_division must be 0.0, 1.0 or nan, not {zero_division!r}")
    return value


def _as_labels(y: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, C), got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1")
        arr = arr.astype(bool)
    return arr


def _as_scores(scores: np.ndarray, shape: tuple[int, ...], name: str = "scores") -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def _divide(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, zero_division, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _fbeta(tp: np.ndarray, pred: np.ndarray, true: np.ndarray, beta: float,
           zero_division: float) -> np.ndarray:
    """F-beta from counts: (1+β²)·tp / (β²·true + pred); ``zero_division`` where that is 0/0."""
    b2 = beta * beta
    return _divide((1.0 + b2) * np.asarray(tp, dtype=np.float64),
                   b2 * np.asarray(true, dtype=np.float64) + pred, zero_division)


def _mean(values: np.ndarray) -> float:
    """Plain mean, NaN entries left out (they only occur with ``zero_division=nan``)."""
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


def coverage(y_true: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's ``coverage_error`` (1-based; 0 for a patch without a true label)."""
    pos = _as_labels(y_true, "y_true")
    s = _as_scores(scores, pos.shape)
    lowest_true = np.where(pos, s, np.inf).min(axis=1, keepdims=True)
    depth = np.count_nonzero(s >= lowest_true, axis=1)  # 0 where no true label (inf)
    return float(depth.mean())


def ranking_loss(y_true: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's ``label_ranking_loss``: mis-ordered (true, false) pairs, ties are errors."""
    pos = _as_labels(y_true, "y_true")
    s = _as_scores(scores, pos.shape)
    n, n_classes = pos.shape
    errors = np.zeros(n, dtype=np.int64)
    for j in range(n_classes):  # label j as the false one: true labels scored <= it
        wrong = np.count_nonzero(pos & (s <= s[:, j : j + 1]), axis=1)
        errors += np.where(pos[:, j], 0, wrong)
    n_pos = np.count_nonzero(pos, axis=1)
    pairs = n_pos * (n_classes - n_pos)
    return float(_divide(errors, pairs, 0.0).mean())


def one_error(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Fraction of patches whose top-scored label (lowest index on a tie) is not true."""
    pos = _as_labels(y_true, "y_true")
    s = _as_scores(scores, pos.shape)
    top = np.argmax(s, axis=1)
    return float(1.0 - pos[np.arange(len(pos)), top].mean())


def average_precision_per_class(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(C,) scikit-learn ``average_precision_score`` of each column; NaN without a positive.

    All columns at once: sort each column by descending score, find the last row of each run
    of tied scores, and sum (positives gained in the run) × (precision at its end) / positives.
    """
    pos = _as_labels(y_true, "y_true")
    s = _as_scores(scores, pos.shape)
    n, n_classes = pos.shape
    order = np.argsort(-s, axis=0, kind="stable")
    s_sorted = np.take_along_axis(s, order, axis=0)
    y_sorted = np.take_along_axis(pos, order, axis=0).astype(np.int64)
    tps = np.cumsum(y_sorted, axis=0)
    run_end = np.ones((n, n_classes), dtype=bool)
    run_end[:-1] = s_sorted[:-1] != s_sorted[1:]
    run_start = np.ones((n, n_classes), dtype=bool)
    run_start[1:] = run_end[:-1]
    # true positives before each run, carried along the run (it never decreases)
    before = np.maximum.accumulate(np.where(run_start, tps - y_sorted, 0), axis=0)
    ranks = np.arange(1, n + 1, dtype=np.float64)[:, None]
    gain = np.where(run_end, (tps - before) * (tps / ranks), 0.0).sum(axis=0)
    n_pos = tps[-1] if n else np.zeros(n_classes, dtype=np.int64)
    return _divide(gain, n_pos, np.nan)


def multilabel_report(
    y_true: np.ndarray,
    scores: np.ndarray,
    thresholds: float | np.ndarray = 0.5,
    class_names: Sequence[str] | None = None,
    *,
    zero_division: float = 0.0,
) -> dict[str, Any]:
    """Every multi-label score of the paper's Tables I and II, and the usual ranking scores.

    Args:
        y_true: (n, C) 0/1 (or bool) true labels.
        scores: (n, C) probabilities (any finite scores work; only thresholds and order matter).
        thresholds: one threshold for all classes or one per class (C,); a label is predicted
            where ``score >= threshold``.
        class_names: C names (default ``"0"``, ``"1"``, …), the keys of ``per_class``.
        zero_division: 0.0, 1.0 or nan, as scikit-learn's (see the module docstring).

    Returns:
        A dict, every score a fraction in 0..1 (coverage a count of labels):
        ``n_samples``, ``n_classes``, ``zero_division``, ``thresholds`` (list of C floats);
        sample-averaged ``hamming_loss``, ``one_error``, ``coverage``, ``ranking_loss``,
        ``precision``, ``recall``, ``f1``, ``f2``; ``micro_f2``; ``macro_f2`` (the plain mean of
        the class F2, the paper's Table I "Average"); ``map`` (mean average precision over the
        classes with a positive); ``per_class``: class name → ``{"precision", "recall", "f1",
        "f2", "support", "average_precision", "threshold"}``.
    """
    pos = _as_labels(y_true, "y_true")
    n, n_classes = pos.shape
    if n == 0 or n_classes == 0:
        raise ValueError("y_true must have at least one sample and one class")
    s = _as_scores(scores, pos.shape)
    zd = _check_zero_division(zero_division)
    names = [str(k) for k in range(n_classes)] if class_names is None else list(class_names)
    if len(names) != n_classes:
        raise ValueError(f"{len(names)} class names for {n_classes} classes")
    thr_in = np.asarray(thresholds, dtype=np.float64)
    if thr_in.shape not in ((), (n_classes,)):
        raise ValueError(f"thresholds must be a float or shape ({n_classes},)")
    thr = np.broadcast_to(thr_in, (n_classes,))
    pred = s >= thr

    hit = pred & pos
    # per patch
    tp_s = np.count_nonzero(hit, axis=1)
    pred_s = np.count_nonzero(pred, axis=1)
    true_s = np.count_nonzero(pos, axis=1)
    # per class
    tp_c = np.count_nonzero(hit, axis=0)
    pred_c = np.count_nonzero(pred, axis=0)
    true_c = np.count_nonzero(pos, axis=0)

    prec_c = _divide(tp_c, pred_c, zd)
    rec_c = _divide(tp_c, true_c, zd)
    f1_c = _fbeta(tp_c, pred_c, true_c, 1.0, zd)
    f2_c = _fbeta(tp_c, pred_c, true_c, 2.0, zd)
    ap_c = average_precision_per_class(pos, s)

    per_class = {
        name: {
            "precision": float(prec_c[k]),
            "recall": float(rec_c[k]),
            "f1": float(f1_c[k]),
            "f2": float(f2_c[k]),
            "support": int(true_c[k]),
            "average_precision": float(ap_c[k]),
            "threshold": float(thr[k]),
        }
        for k, name in enumerate(names)
    }
    return {
        "n_samples": int(n),
        "n_classes": int(n_classes),
        "zero_division": zd,
        "thresholds": [float(t) for t in thr],
        "hamming_loss": float(np.count_nonzero(pred != pos) / pos.size),
        "one_error": one_error(pos, s),
        "coverage": coverage(pos, s),
        "ranking_loss": ranking_loss(pos, s),
        "precision": _mean(_divide(tp_s, pred_s, zd)),
        "recall": _mean(_divide(tp_s, true_s, zd)),
        "f1": _mean(_fbeta(tp_s, pred_s, true_s, 1.0, zd)),
        "f2": _mean(_fbeta(tp_s, pred_s, true_s, 2.0, zd)),
        "micro_f2": float(_fbeta(tp_c.sum(), pred_c.sum(), true_c.sum(), 2.0, zd)),
        "macro_f2": _mean(f2_c),
        "map": _mean(ap_c),
        "per_class": per_class,
    }


def tune_thresholds(
    y_true_val: np.ndarray,
    scores_val: np.ndarray,
    beta: float = 2.0,
    grid: np.ndarray = DEFAULT_GRID,
) -> np.ndarray:
    """(C,) per-class thresholds, each maximising that class's F-beta on the validation set.

    For each class the grid threshold with the highest F-beta of that column (predicted where
    ``score >= threshold``) wins; among ties (within 1e-12) the one closest to 0.5, then the
    lower one. A class without a positive in ``y_true_val`` keeps 0.5.
    """
    pos = _as_labels(y_true_val, "y_true_val")
    s = _as_scores(scores_val, pos.shape, "scores_val")
    candidates = np.asarray(grid, dtype=np.float64).ravel()
    if candidates.size == 0:
        raise ValueError("grid must not be empty")
    n_classes = pos.shape[1]
    tp = np.empty((candidates.size, n_classes), dtype=np.int64)
    predicted = np.empty((candidates.size, n_classes), dtype=np.int64)
    for g, t in enumerate(candidates):
        pred = s >= t
        tp[g] = np.count_nonzero(pred & pos, axis=0)
        predicted[g] = np.count_nonzero(pred, axis=0)
    n_pos = np.count_nonzero(pos, axis=0)
    f = _fbeta(tp, predicted, n_pos, beta, 0.0)  # (G, C)
    best = f >= f.max(axis=0, keepdims=True) - _TIE_TOLERANCE
    preference = np.lexsort((candidates, np.abs(candidates - 0.5)))  # closest to 0.5, lower
    choice = preference[np.argmax(best[preference], axis=0)]
    return np.where(n_pos > 0, candidates[choice], 0.5)


def label_frequency_baseline(y_train: np.ndarray, n: int) -> np.ndarray:
    """(n, C) scores: every sample gets the training set's label frequencies (the floor to beat).

    With the default threshold 0.5 it predicts exactly the classes present in at least half of
    the training patches; with :func:`tune_thresholds` it predicts every class whose frequency
    reaches that class's tuned threshold (all patches alike).
    """
    pos = _as_labels(y_train, "y_train")
    if len(pos) == 0:
        raise ValueError("y_train is empty")
    freq = pos.mean(axis=0)
    return np.tile(freq, (int(n), 1))
