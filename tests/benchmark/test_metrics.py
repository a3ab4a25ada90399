"""The paper's scores on constructed examples: window rule, F1, entropy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark import error_analysis, metrics
from benchmark.inputs import CENTER_SHIFT


def test_window_rule_on_constructed_example() -> None:
    y = np.array([0, 1, 2, 1])
    window = np.zeros((4, 9), dtype=int)
    window[0] = 0  # center right
    window[1] = [2, 2, 2, 2, 0, 2, 2, 2, 1]  # center wrong (0), a corner right → correct
    window[2] = [0, 0, 0, 0, 1, 0, 0, 0, 0]  # no pixel right → keeps the center's 1
    window[3] = [1, 1, 1, 1, 2, 1, 1, 1, 1]  # center wrong, neighbours right → correct
    assert metrics.window_predictions(y, window).tolist() == [0, 1, 1, 1]

    proba = np.zeros((4, 9, 3))
    np.put_along_axis(proba, window[..., None], 1.0, axis=2)
    scores = metrics.score(y, proba, ("a", "b", "c"))
    assert scores["center"]["overall_accuracy"] == pytest.approx(1 / 4)
    assert scores["window"]["overall_accuracy"] == pytest.approx(3 / 4)
    # window predictions [0,1,1,1] vs [0,1,2,1]: F1 a=1, b=2·2/(2+3)=0.8, c=0
    assert scores["window"]["per_class_f1"] == pytest.approx([1.0, 0.8, 0.0])
    assert scores["window"]["weighted_f1"] == pytest.approx((1 * 1.0 + 2 * 0.8 + 0) / 4)
    assert scores["window"]["confusion_matrix"][2] == [0, 1, 0]
    assert scores["support"] == [1, 2, 1]
    assert scores["majority_class_accuracy"] == pytest.approx(0.5)


def test_entropy_in_nats() -> None:
    proba = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    assert metrics.mean_entropy(proba) == pytest.approx((math.log(4) + 0 + math.log(2)) / 3)


def test_entropy_reported_for_center_pixel() -> None:
    proba = np.full((2, 9, 2), 0.5)
    proba[:, [i for i in range(9) if i != CENTER_SHIFT]] = [1.0, 0.0]
    scores = metrics.score(np.array([0, 1]), proba, ("a", "b"))
    assert scores["mean_entropy_nats"] == pytest.approx(math.log(2))


def test_f1_of_absent_class_is_undefined_not_zero() -> None:
    cm = metrics.confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), 3)
    f1 = metrics.per_class_f1(cm)
    assert f1[0] == pytest.approx(2 / 3) and f1[1] == pytest.approx(2 / 3) and f1[2] is None
    assert metrics.weighted_f1(cm) == pytest.approx(2 / 3)
    assert metrics.overall_accuracy(cm) == pytest.approx(2 / 3)


def test_error_breakdown_by_codes() -> None:
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 1, 1, 1])
    lc1 = np.array(["E10", "E20", "E20", "B11"])
    lu1 = np.array(["U111", "U111", "U420", "U111"])
    out = error_analysis.breakdown(y, pred, ("Grassland", "Cropland"), lc1, lu1)
    g = out["Grassland"]
    assert g["support"] == 3 and g["misclassified"] == 2
    assert g["predicted_as"] == {"Cropland": 2}
    assert g["by_lc1"] == {"E20": {"misclassified": 2, "total": 2,
                                   "predicted_as": {"Cropland": 2}}}
    assert g["by_lu1"]["U111"] == {"misclassified": 1, "total": 2,
                                   "predicted_as": {"Cropland": 1}}
    assert out["Cropland"]["misclassified"] == 0
