"""The CPU baseline: a one-vs-rest random forest on per-band patch statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

STATS = ("mean", "std", "p10", "p50", "p90")


@dataclass(frozen=True)
class ForestParams:
    """Trees per class and the seed; the features are fixed (``STATS`` per band)."""

    n_estimators: int = 100
    min_samples_leaf: int = 1


def band_statistics(x: np.ndarray) -> np.ndarray:
    """(n, C, H, W) patches → (n, 5·C) per-band mean, std and 10/50/90th percentiles
    (NaN-safe: a radar pixel without value does not count)."""
    flat = x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
    parts = [np.nanmean(flat, axis=2), np.nanstd(flat, axis=2)]
    parts += list(np.nanpercentile(flat, [10, 50, 90], axis=2))
    return np.nan_to_num(np.concatenate(parts, axis=1))


def fit_forest(features: np.ndarray, y: np.ndarray, params: ForestParams, seed: int) -> Any:
    """One forest per class (scikit-learn's OneVsRestClassifier)."""
    import warnings

    from sklearn.ensemble import RandomForestClassifier
    from sklearn.multiclass import OneVsRestClassifier

    forest = RandomForestClassifier(n_estimators=params.n_estimators,
                                    min_samples_leaf=params.min_samples_leaf,
                                    random_state=seed, n_jobs=-1)
    with warnings.catch_warnings():  # a class absent from training: a constant 0, as meant
        warnings.filterwarnings("ignore", message="Label not .* is present in all training")
        return OneVsRestClassifier(forest).fit(features, y)


def forest_scores(model: Any, features: np.ndarray) -> np.ndarray:
    """(n, C) probabilities of each class (a class never seen in training: 0)."""
    return np.asarray(model.predict_proba(features), dtype=np.float64)
