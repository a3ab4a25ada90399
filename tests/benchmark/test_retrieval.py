"""benchmark.multilabel.retrieval: χ² by hand, precision@k / mAP@k by hand, chunking."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from benchmark.multilabel.retrieval import chi2_distance, cosine_distance, retrieval_scores


def _scores(r: dict) -> dict[str, float]:
    return {key: value for key, value in r.items() if "@" in key}


def test_chi2_by_hand() -> None:
    a = np.array([1.0, 0.0, 2.0])
    b = np.array([3.0, 0.0, 0.0])
    # ½ ((1-3)²/4 + 0/0 := 0 + 2²/2) = ½ (1 + 0 + 2)
    assert float(chi2_distance(a, b)) == pytest.approx(1.5)
    d = chi2_distance(np.stack([a, b]), np.stack([a, b, np.zeros(3)]))
    np.testing.assert_allclose(d, [[0, 1.5, 1.5], [1.5, 0, 1.5]])
    assert chi2_distance(a, np.stack([a, b])).shape == (2,)
    with pytest.raises(ValueError, match="non-negative"):
        chi2_distance(-a, b)


def test_chi2_blocks_equal_brute_force() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((13, 6)), rng.random((17, 6))
    b[0] = 0.0
    brute = np.array([[0.5 * sum((x - y) ** 2 / (x + y) if x + y > 0 else 0.0
                                 for x, y in zip(u, v, strict=True)) for v in b] for u in a])
    np.testing.assert_allclose(chi2_distance(a, b), brute)
    np.testing.assert_allclose(chi2_distance(a, b, max_elements=5), brute)


def test_cosine_by_hand() -> None:
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[0.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(cosine_distance(a, b),
                               [[1, 1 - 1 / np.sqrt(2)], [1 - 1 / np.sqrt(2), 0], [1, 1]],
                               atol=1e-12)


# χ² from the zero vector is half the sum: database items at 0.5, 1, 1.5, 2
DB = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
DB_LABELS = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
Q = np.zeros((2, 2))
Q_LABELS = np.array([[1, 0, 0], [0, 0, 1]])


def test_precision_map_overlap_by_hand() -> None:
    r = retrieval_scores(Q, Q_LABELS, DB, DB_LABELS, k=(1, 2, 3, 4))
    # query 0 relevance (1, 0, 1, 0), Jaccard (1, 0, 1/2, 0); query 1 relevance (0, 0, 0, 1)
    assert r["precision@1"] == pytest.approx((1 + 0) / 2)
    assert r["precision@3"] == pytest.approx((2 / 3 + 0) / 2)
    assert r["precision@4"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert r["map@2"] == pytest.approx((1 + 0) / 2)
    assert r["map@3"] == pytest.approx(((1 + 2 / 3) / 2 + 0) / 2)
    assert r["map@4"] == pytest.approx(((1 + 2 / 3) / 2 + 1 / 4) / 2)
    assert r["overlap@3"] == pytest.approx(((1 + 0 + 0.5) / 3 + 0) / 2)
    assert (r["metric"], r["k"], r["n_queries"], r["n_database"]) == ("chi2", [1, 2, 3, 4], 2, 4)


def test_map_normalised_by_relevant_in_database() -> None:
    r = retrieval_scores(Q, Q_LABELS, DB, DB_LABELS, k=(2, 3), map_normalisation="relevant")
    # query 0 has 2 relevant items in the database, query 1 has 1
    assert r["map@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert r["map@3"] == pytest.approx(((1 + 2 / 3) / 2 + 0) / 2)


def test_ties_broken_by_index_and_exclude_self() -> None:
    feats = np.ones((4, 2))
    labels = np.array([[1, 0], [0, 1], [1, 0], [1, 1]])
    r = retrieval_scores(feats[:1], labels[:1], feats, labels, k=2)
    assert r["precision@2"] == pytest.approx(1 / 2)  # items 0 and 1 (all tied)
    s = retrieval_scores(feats, labels, feats, labels, k=1, exclude_self=True)
    # nearest other item: 0 -> 1 (no), 1 -> 0 (no), 2 -> 0 (yes), 3 -> 0 (yes)
    assert s["precision@1"] == pytest.approx(2 / 4)
    t = retrieval_scores(feats[2:], labels[2:], feats, labels, k=1, exclude_self=True,
                         self_index=np.array([2, 3]))
    assert t["precision@1"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="exceeds"):
        retrieval_scores(feats, labels, feats, labels, k=4, exclude_self=True)
    with pytest.raises(ValueError, match="n_queries == n_database"):
        retrieval_scores(feats[:2], labels[:2], feats, labels, k=1, exclude_self=True)


def _reference(q: np.ndarray, lq: np.ndarray, db: np.ndarray, ldb: np.ndarray, k: int,
               dist: np.ndarray) -> dict[str, float]:
    prec, aps, overlap = [], [], []
    for i in range(len(q)):
        order = np.lexsort((np.arange(len(db)), dist[i]))[:k]
        shared = (lq[i] & ldb[order]).sum(axis=1)
        union = (lq[i] | ldb[order]).sum(axis=1)
        rel = shared > 0
        p_at = np.cumsum(rel) / np.arange(1, k + 1)
        prec.append(rel.mean())
        aps.append((p_at * rel).sum() / rel.sum() if rel.any() else 0.0)
        overlap.append(np.where(union > 0, shared / np.maximum(union, 1), 0).mean())
    return {f"precision@{k}": float(np.mean(prec)), f"map@{k}": float(np.mean(aps)),
            f"overlap@{k}": float(np.mean(overlap))}


@pytest.mark.parametrize("metric", ["chi2", "cosine"])
def test_chunked_equals_unchunked_and_reference(metric: Literal["chi2", "cosine"]) -> None:
    rng = np.random.default_rng(1)
    q, db = rng.random((37, 8)), rng.random((120, 8))
    lq = rng.random((37, 5)) < 0.3
    ldb = rng.random((120, 5)) < 0.3
    full = retrieval_scores(q, lq, db, ldb, k=(5, 20), metric=metric,
                            chunk_size=10_000)
    for kwargs in ({"chunk_size": 1}, {"chunk_size": 7}, {"max_elements": 300}, {}):
        part = retrieval_scores(q, lq, db, ldb, k=(5, 20), metric=metric,
                                **kwargs)
        assert _scores(part) == pytest.approx(_scores(full))
        assert part["k"] == full["k"] == [5, 20]
    dist = chi2_distance(q, db) if metric == "chi2" else cosine_distance(q, db)
    for k in (5, 20):
        ref = _reference(q, lq, db, ldb, k, dist)
        for key, value in ref.items():
            assert full[key] == pytest.approx(value)


def test_negative_features() -> None:
    rng = np.random.default_rng(2)
    q, db = rng.normal(size=(5, 4)), rng.normal(size=(30, 4))
    lq, ldb = rng.random((5, 3)) < 0.5, rng.random((30, 3)) < 0.5
    with pytest.raises(ValueError, match="negative"):
        retrieval_scores(q, lq, db, ldb, k=3)
    relu = retrieval_scores(q, lq, db, ldb, k=3, negatives="relu")
    assert _scores(relu) == pytest.approx(
        _scores(retrieval_scores(np.maximum(q, 0), lq, np.maximum(db, 0), ldb, k=3)))
    low = np.minimum(np.minimum(q.min(0), db.min(0)), 0)
    shift = retrieval_scores(q, lq, db, ldb, k=3, negatives="shift")
    assert _scores(shift) == pytest.approx(
        _scores(retrieval_scores(q - low, lq, db - low, ldb, k=3)))
    # cosine takes negative features as they are
    retrieval_scores(q, lq, db, ldb, k=3, metric="cosine")
