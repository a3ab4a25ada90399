"""benchmark.multilabel.metrics: hand-computed cases, and equality with scikit-learn."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from benchmark.multilabel.metrics import (
    DEFAULT_GRID,
    average_precision_per_class,
    label_frequency_baseline,
    multilabel_report,
    tune_thresholds,
)

sk = pytest.importorskip("sklearn.metrics")

NAMES = ["a", "b", "c"]

# 4 patches, 3 classes: a tie for the top score (row 1), a patch without a true label
# (row 2), a patch with nothing predicted and all scores tied (row 3).
Y = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0], [1, 1, 0]])
S = np.array([[0.9, 0.2, 0.4], [0.6, 0.6, 0.1], [0.3, 0.7, 0.2], [0.1, 0.1, 0.1]])
# predicted at 0.5: [[1,0,0], [1,1,0], [0,1,0], [0,0,0]]


def test_hand_case_ranking_scores() -> None:
    r = multilabel_report(Y, S, 0.5, NAMES)
    assert r["hamming_loss"] == pytest.approx(5 / 12)
    # top label: row0 a (true), row1 tie a/b -> a (false), row2 b (no true label), row3 a (true)
    assert r["one_error"] == pytest.approx(2 / 4)
    # depth to the lowest true score, ties counted: 2, 2 (0.6 tie), 0 (no label), 3 (all tied)
    assert r["coverage"] == pytest.approx(7 / 4)
    # mis-ordered (true, false) pairs: 0/2, 1/2 (tie), 0 (no label), 2/2 (ties)
    assert r["ranking_loss"] == pytest.approx(1.5 / 4)


def test_hand_case_sample_averaged_zero_division_0() -> None:
    r = multilabel_report(Y, S, 0.5, NAMES, zero_division=0.0)
    # per row (tp, pred, true): (1,1,2), (1,2,1), (0,1,0), (0,0,2)
    assert r["precision"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert r["recall"] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    assert r["f1"] == pytest.approx((2 / 3 + 2 / 3) / 4)
    assert r["f2"] == pytest.approx((5 / 9 + 5 / 6) / 4)


def test_hand_case_sample_averaged_zero_division_1() -> None:
    r = multilabel_report(Y, S, 0.5, NAMES, zero_division=1.0)
    # row 2 has no true label: recall 1; row 3 predicts nothing: precision 1; F stays 0
    assert r["precision"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert r["recall"] == pytest.approx((0.5 + 1 + 1 + 0) / 4)
    assert r["f2"] == pytest.approx((5 / 9 + 5 / 6) / 4)


def test_hand_case_per_class_micro_macro_ap() -> None:
    r = multilabel_report(Y, S, 0.5, NAMES)
    a, b, c = (r["per_class"][n] for n in NAMES)
    assert (a["support"], b["support"], c["support"]) == (2, 2, 1)
    for cls in (a, b):
        assert cls["precision"] == cls["recall"] == cls["f1"] == pytest.approx(0.5)
        assert cls["f2"] == pytest.approx(0.5)
    assert (c["precision"], c["recall"], c["f2"]) == (0.0, 0.0, 0.0)  # never predicted
    assert r["macro_f2"] == pytest.approx(1 / 3)
    assert r["micro_f2"] == pytest.approx(5 * 2 / (4 * 5 + 4))  # tp 2, pred 4, true 5
    # AP: a ranks (1,0,0,1): 1/2·1 + 1/2·2/4; b ranks (0,1,0,1): 1/2·1/2 + 1/2·2/4; c first
    assert a["average_precision"] == pytest.approx(0.75)
    assert b["average_precision"] == pytest.approx(0.5)
    assert c["average_precision"] == pytest.approx(1.0)
    assert r["map"] == pytest.approx(0.75)
    assert r["thresholds"] == [0.5, 0.5, 0.5]
    assert (r["n_samples"], r["n_classes"]) == (4, 3)


def test_all_zero_predictions_and_empty_rows() -> None:
    y = np.array([[0, 0, 0], [1, 0, 0]])
    s = np.full((2, 3), 0.1)  # nothing predicted at 0.5, every score tied
    r0 = multilabel_report(y, s, 0.5, NAMES, zero_division=0.0)
    r1 = multilabel_report(y, s, 0.5, NAMES, zero_division=1.0)
    rn = multilabel_report(y, s, 0.5, NAMES, zero_division=float("nan"))
    assert (r0["precision"], r0["recall"], r0["f2"]) == (0.0, 0.0, 0.0)
    # row 0 (no label, none predicted) is perfect with 1.0; row 1 gets precision 1, recall 0
    assert (r1["precision"], r1["recall"], r1["f2"]) == (1.0, 0.5, 0.5)
    # nan: rows with 0/0 left out of the mean
    assert math.isnan(rn["precision"])
    assert (rn["recall"], rn["f2"]) == (0.0, 0.0)
    assert r0["micro_f2"] == r1["micro_f2"] == 0.0
    # classes b, c: no true, none predicted -> zero_division
    assert r0["macro_f2"] == 0.0
    assert r1["macro_f2"] == pytest.approx(2 / 3)
    assert rn["macro_f2"] == 0.0
    assert r0["hamming_loss"] == pytest.approx(1 / 6)
    assert r0["one_error"] == pytest.approx(0.5)  # the patch without a label is an error
    assert r0["coverage"] == pytest.approx((0 + 3) / 2)
    assert r0["ranking_loss"] == pytest.approx((0 + 1) / 2)  # ties are errors
    # classes without a positive: NaN AP, left out of mAP
    assert math.isnan(r0["per_class"]["b"]["average_precision"])
    assert r0["per_class"]["a"]["average_precision"] == pytest.approx(0.5)  # tied with row 0
    assert r0["map"] == pytest.approx(0.5)


def test_ap_with_tied_scores_by_hand() -> None:
    y = np.array([[1], [0], [1]])
    s = np.array([[0.5], [0.5], [0.2]])
    # one threshold at 0.5: recall 1/2, precision 1/2; then recall 1, precision 2/3
    assert average_precision_per_class(y, s)[0] == pytest.approx(0.25 + 0.5 * 2 / 3)


def test_per_class_thresholds() -> None:
    r = multilabel_report(Y, S, np.array([0.95, 0.5, 0.3]), NAMES)
    # a never predicted; c predicted in row 0 only (0.4 >= 0.3)
    assert r["per_class"]["a"]["recall"] == 0.0
    assert r["per_class"]["c"]["precision"] == 1.0
    assert r["thresholds"] == [0.95, 0.5, 0.3]
    # score equal to the threshold counts as predicted
    assert multilabel_report(Y, S, 0.4, NAMES)["per_class"]["c"]["recall"] == 1.0


def test_input_checks() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        multilabel_report(Y, S, np.array([0.5, 0.5]), NAMES)
    with pytest.raises(ValueError, match="class names"):
        multilabel_report(Y, S, 0.5, ["a"])
    with pytest.raises(ValueError, match="0 and 1"):
        multilabel_report(Y * 2, S, 0.5, NAMES)
    with pytest.raises(ValueError, match="shape"):
        multilabel_report(Y, S[:, :2], 0.5, NAMES)
    with pytest.raises(ValueError, match="zero_division"):
        multilabel_report(Y, S, 0.5, NAMES, zero_division=0.5)
    assert list(multilabel_report(Y, S)["per_class"]) == ["0", "1", "2"]


def _random_case(seed: int, n: int = 300, n_classes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, n_classes)) < rng.uniform(0.05, 0.4, n_classes)).astype(int)
    y[: n // 10] = 0  # patches without a label
    y[:, -1] = 0  # a class without a positive
    s = np.round(np.clip(0.35 * y + rng.random((n, n_classes)) * 0.8, 0, 1), 1)  # ties
    s[n // 10 : n // 5] = 0.0  # nothing predicted, all tied
    return y, s


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("zero_division", [0.0, 1.0, float("nan")])
def test_equals_sklearn_on_random_data(seed: int, zero_division: float) -> None:
    y, s = _random_case(seed)
    thr = np.linspace(0.3, 0.7, y.shape[1])
    pred = (s >= thr).astype(int)
    r = multilabel_report(y, s, thr, [f"c{k}" for k in range(y.shape[1])],
                          zero_division=zero_division)
    zd = zero_division
    kw = {"zero_division": zd}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert r["hamming_loss"] == pytest.approx(sk.hamming_loss(y, pred))
        assert r["coverage"] == pytest.approx(sk.coverage_error(y, s))
        assert r["ranking_loss"] == pytest.approx(sk.label_ranking_loss(y, s))
        for name, fn, extra in [("precision", sk.precision_score, {}),
                                ("recall", sk.recall_score, {}),
                                ("f1", sk.f1_score, {}),
                                ("f2", sk.fbeta_score, {"beta": 2})]:
            assert r[name] == pytest.approx(fn(y, pred, average="samples", **extra, **kw))
        assert r["micro_f2"] == pytest.approx(sk.fbeta_score(y, pred, beta=2, average="micro",
                                                             **kw))
        assert r["macro_f2"] == pytest.approx(sk.fbeta_score(y, pred, beta=2, average="macro",
                                                             **kw))
        per = {
            "precision": sk.precision_score(y, pred, average=None, **kw),
            "recall": sk.recall_score(y, pred, average=None, **kw),
            "f1": sk.f1_score(y, pred, average=None, **kw),
            "f2": sk.fbeta_score(y, pred, beta=2, average=None, **kw),
        }
    aps = []
    for k in range(y.shape[1]):
        entry = r["per_class"][f"c{k}"]
        for key, values in per.items():
            np.testing.assert_allclose(entry[key], values[k], equal_nan=True)
        assert entry["support"] == y[:, k].sum()
        if y[:, k].any():
            ap = sk.average_precision_score(y[:, k], s[:, k])
            assert entry["average_precision"] == pytest.approx(ap)
            aps.append(ap)
        else:
            assert math.isnan(entry["average_precision"])
    assert r["map"] == pytest.approx(np.mean(aps))
    top = np.argmax(s, axis=1)
    assert r["one_error"] == pytest.approx(np.mean(y[np.arange(len(y)), top] == 0))


def test_continuous_scores_equal_sklearn() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random((1000, 19)) < 0.2).astype(int)
    s = rng.random((1000, 19))
    r = multilabel_report(y, s)
    assert r["coverage"] == pytest.approx(sk.coverage_error(y, s))
    assert r["ranking_loss"] == pytest.approx(sk.label_ranking_loss(y, s))
    ap = [sk.average_precision_score(y[:, k], s[:, k]) for k in range(19)]
    np.testing.assert_allclose(average_precision_per_class(y, s), ap)


def test_tune_thresholds_finds_planted_optimum() -> None:
    rng = np.random.default_rng(3)
    n = 400
    planted = np.array([0.2, 0.5, 0.85, 0.35])
    y = (rng.random((n, 4)) < 0.3).astype(int)
    y[:, 3] = 0  # no positive: keeps 0.5
    # positives in [t, t + 0.05), negatives in (t - 0.05, t): only t separates them
    offset = rng.uniform(0.001, 0.049, (n, 4))
    s = np.where(y == 1, planted + offset, planted - offset)
    thr = tune_thresholds(y, s)
    np.testing.assert_allclose(thr, [0.2, 0.5, 0.85, 0.5])
    assert multilabel_report(y[:, :3], s[:, :3], thr[:3])["macro_f2"] == pytest.approx(1.0)


def test_tune_thresholds_matches_brute_force_and_ties() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random((500, 5)) < 0.25).astype(int)
    s = np.clip(0.3 * y + rng.random((500, 5)) * 0.7, 0, 1)
    for beta in (1.0, 2.0):
        thr = tune_thresholds(y, s, beta=beta)
        for k in range(5):
            f = [sk.fbeta_score(y[:, k], s[:, k] >= t, beta=beta, zero_division=0)
                 for t in DEFAULT_GRID]
            assert sk.fbeta_score(y[:, k], s[:, k] >= thr[k], beta=beta) == pytest.approx(
                max(f))
    # perfectly separable over many grid values: the one closest to 0.5
    y2 = np.array([[1], [0], [1], [0]])
    s2 = np.array([[0.95], [0.05], [0.92], [0.1]])
    assert tune_thresholds(y2, s2)[0] == pytest.approx(0.5)
    # two equally close to 0.5: the lower one
    assert tune_thresholds(y2, s2, grid=np.array([0.55, 0.45]))[0] == pytest.approx(0.45)
    # F2 prefers recall: a lower threshold than F1 when a positive scores low
    # (t <= 0.3: F1 1/2, F2 5/7; 0.6 < t <= 0.9: F1 2/3, F2 5/9)
    y3 = np.array([[1], [1], [0], [0], [0], [0]])
    s3 = np.array([[0.9], [0.3], [0.4], [0.45], [0.5], [0.6]])
    assert tune_thresholds(y3, s3, beta=2.0)[0] == pytest.approx(0.3)
    assert tune_thresholds(y3, s3, beta=1.0)[0] == pytest.approx(0.65)


def test_label_frequency_baseline_f2() -> None:
    y_train = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1]])  # freq 0.75, 0.25, 0.25
    y_test = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1]])
    scores = label_frequency_baseline(y_train, len(y_test))
    assert scores.shape == (3, 3)
    np.testing.assert_allclose(scores, [[0.75, 0.25, 0.25]] * 3)
    # at 0.5 every patch gets class a: F2 per row 1, 0, 5/9
    assert multilabel_report(y_test, scores)["f2"] == pytest.approx((1 + 0 + 5 / 9) / 3)
    # tuned: predicting a class everywhere beats predicting it nowhere -> every class on
    thr = tune_thresholds(y_test, scores)
    np.testing.assert_allclose(thr, [0.5, 0.25, 0.25])
    assert multilabel_report(y_test, scores, thr)["f2"] == pytest.approx(60 / 77)


def test_frequency_baseline_is_beaten_by_an_informative_model() -> None:
    y, s = _random_case(7, n=2000)
    base = label_frequency_baseline(y[:1000], 1000)
    thr_model = tune_thresholds(y[:1000], s[:1000])
    thr_base = tune_thresholds(y[:1000], base)
    f2_model = multilabel_report(y[1000:], s[1000:], thr_model)["f2"]
    f2_base = multilabel_report(y[1000:], base, thr_base)["f2"]
    assert f2_model > f2_base > 0
