"""Random forest on the center pixel's 12 monthly composites (120 features).

scikit-learn with the paper's settings (400 trees, gini, grown until pure, sqrt features).
The forest only knows the classes it saw in training, so its probabilities are spread back
onto the legend's full class list (unseen classes get probability 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from benchmark.models.protocols import BuildRequest, Inputs
from benchmark.params import RFParams


class RandomForest:
    """The paper's RF baseline behind the benchmark's Classifier interface."""

    def __init__(self, params: RFParams, n_classes: int, seed: int) -> None:
        self.n_classes = n_classes
        self.forest = RandomForestClassifier(
            n_estimators=params.n_estimators,
            criterion=params.criterion,
            max_depth=params.max_depth,
            max_features=params.max_features,
            n_jobs=params.n_jobs,
            random_state=seed,
        )

    @staticmethod
    def _flat(x: Inputs) -> np.ndarray:
        """(n, 12 × bands) features; the forest needs the whole set in memory anyway."""
        return np.asarray(x[slice(None)]).reshape(len(x), -1)

    def fit(
        self, x_train: Inputs, y_train: np.ndarray, x_val: Inputs, y_val: np.ndarray
    ) -> dict[str, Any]:
        """Fit on the training points; validation accuracy is only logged (no early stop)."""
        self.forest.fit(self._flat(x_train), y_train)
        log: dict[str, Any] = {"n_train": len(y_train), "classes_seen": len(self.forest.classes_)}
        if len(y_val):
            log["val_accuracy"] = float(np.mean(self.predict_proba(x_val).argmax(1) == y_val))
        return log

    def predict_proba(self, x: Inputs) -> np.ndarray:
        """Probabilities over the legend's classes, including those the forest never saw."""
        proba = np.zeros((len(x), self.n_classes), dtype=np.float64)
        if len(x):
            proba[:, self.forest.classes_] = self.forest.predict_proba(self._flat(x))
        return proba


    def predict_window(self, x: Inputs) -> np.ndarray:
        """(n, 9, n_classes): ``x[:]`` is (n, 9, 12, bands), the 9 shifted pixels, scored
        by one ``predict_proba`` call on all of them."""
        window = np.asarray(x[slice(None)])
        flat = window.reshape(len(x) * 9, -1)
        proba = np.zeros((len(flat), self.n_classes), dtype=np.float64)
        if len(flat):
            proba[:, self.forest.classes_] = self.forest.predict_proba(flat)
        return proba.reshape(len(x), 9, self.n_classes)


def build(req: BuildRequest[RFParams]) -> RandomForest:
    """Registry builder: the forest needs no checkpoint (minutes to train, not days)."""
    return RandomForest(req.params, n_classes=req.n_classes, seed=req.train.seed)
