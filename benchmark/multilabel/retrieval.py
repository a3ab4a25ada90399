"""Content-based image retrieval scores of the BigEarthNet-MM paper, plain numpy.

The paper ranks the archive by the χ² distance between the features of a trained model,
``χ²(a, b) = ½ Σ_i (a_i − b_i)² / (a_i + b_i)`` (a term with ``a_i + b_i = 0`` is 0), a
histogram distance that needs non-negative features (a ResNet's pooled post-ReLU features are).
:func:`chi2_distance` refuses negative values; :func:`retrieval_scores` can instead clip them
(``negatives="relu"``) or shift each feature dimension by its minimum over the query and
database sets together (``negatives="shift"``; χ² is not shift-invariant, so this is a
convenience, not the paper's distance).

A retrieved patch is *relevant* when it shares at least one label with the query.
``precision@k`` is the fraction of relevant patches among the k nearest; ``map@k`` the mean
over queries of AP@k = Σ_{i≤k} P@i · rel_i / R, with R the number of relevant patches among the
k retrieved (``map_normalisation="retrieved"``, the convention of the remote-sensing retrieval
literature) or min(k, relevant patches in the whole database) (``"relevant"``); a query with
R = 0 has AP 0. ``overlap@k`` is the mean Jaccard index |Y_q ∩ Y_r| / |Y_q ∪ Y_r| of the k
retrieved label sets (0 when both are empty).

Ranking: ascending distance, ties broken by the lower database index, so results do not depend
on the chunking. Queries are processed in chunks of about ``max_elements / n_database`` rows, so
no (n_queries, n_database) matrix is ever built at once; the k nearest come from
``np.partition`` (linear time), not from a full sort. χ² is O(n_q · n_db · d) with no
matrix-product shortcut; cosine uses one matrix product per chunk.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

Metric = Literal["chi2", "cosine"]
Negatives = Literal["raise", "relu", "shift"]
MapNormalisation = Literal["retrieved", "relevant"]

DEFAULT_MAX_ELEMENTS = 1 << 24  # distances (or χ² terms) held at once: 128 MiB of float64


def _as_features(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def _pairwise_input(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, bool]:
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    a1, b1 = a_arr.ndim == 1, b_arr.ndim == 1
    a2 = _as_features(a_arr[None] if a1 else a_arr, "a")
    b2 = _as_features(b_arr[None] if b1 else b_arr, "b")
    if a2.shape[1] != b2.shape[1]:
        raise ValueError(f"feature lengths differ: {a2.shape[1]} and {b2.shape[1]}")
    return a2, b2, a1, b1


def _squeeze(d: np.ndarray, a1: bool, b1: bool) -> np.ndarray:
    if a1:
        d = d[0]
    if b1:
        d = d[..., 0]
    return d


def _chi2_block(a: np.ndarray, b: np.ndarray, max_elements: int) -> np.ndarray:
    """(m, k) χ² distances of non-negative rows, in blocks of about ``max_elements`` terms."""
    m, k, dim = len(a), len(b), a.shape[1]
    out = np.empty((m, k), dtype=np.float64)
    cols = max(1, min(k, max_elements // max(dim, 1)))
    rows = max(1, max_elements // (cols * max(dim, 1)))
    for i in range(0, m, rows):
        ai = a[i : i + rows, None, :]
        for j in range(0, k, cols):
            bj = b[None, j : j + cols, :]
            total = ai + bj
            diff = ai - bj
            terms = np.divide(diff * diff, total, out=np.zeros_like(total), where=total > 0)
            out[i : i + rows, j : j + cols] = 0.5 * terms.sum(axis=-1)
    return out


def chi2_distance(a: np.ndarray, b: np.ndarray,
                  max_elements: int = DEFAULT_MAX_ELEMENTS) -> np.ndarray:
    """The paper's χ² distance, ½ Σ (a − b)² / (a + b) with 0/0 := 0, between all pairs.

    Args:
        a: (m, d) or (d,) non-negative features.
        b: (k, d) or (d,) non-negative features.
        max_elements: the most per-feature terms computed at once (memory bound).

    Returns:
        (m, k) distances; a 1-D input drops its axis (two vectors give a 0-d array).

    Raises:
        ValueError: on a negative feature (χ² is a histogram distance; see the module
            docstring for ``retrieval_scores``'s ``negatives`` options).
    """
    a2, b2, a1, b1 = _pairwise_input(a, b)
    if (a2 < 0).any() or (b2 < 0).any():
        raise ValueError("chi2_distance needs non-negative features (clip or shift them first)")
    return _squeeze(_chi2_block(a2, b2, max_elements), a1, b1)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 − cos(a, b) between all pairs ((m, d) × (k, d) → (m, k)); a zero vector is at 1."""
    a2, b2, a1, b1 = _pairwise_input(a, b)
    return _squeeze(1.0 - _unit_rows(a2) @ _unit_rows(b2).T, a1, b1)


def _nearest(dist: np.ndarray, k: int) -> np.ndarray:
    """(q, k) column indices of each row's k smallest values, ascending, ties by lower index."""
    q = len(dist)
    kth = np.partition(dist, k - 1, axis=1)[:, k - 1 : k]
    rows, cols = np.nonzero(dist <= kth)  # every row has >= k candidates (ties included)
    order = np.lexsort((cols, dist[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    counts = np.bincount(rows, minlength=q)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    keep = np.arange(len(rows)) - starts[rows] < k
    return cols[keep].reshape(q, k)


def _prepare_negatives(q: np.ndarray, db: np.ndarray,
                       negatives: Negatives) -> tuple[np.ndarray, np.ndarray]:
    if negatives == "raise":
        if (q < 0).any() or (db < 0).any():
            raise ValueError("negative features with metric='chi2' (pass negatives='relu' "
                             "or 'shift')")
        return q, db
    if negatives == "relu":
        return np.maximum(q, 0.0), np.maximum(db, 0.0)
    if negatives == "shift":
        low = np.minimum(np.minimum(q.min(axis=0), db.min(axis=0)), 0.0)
        return q - low, db - low
    raise ValueError(f"negatives must be 'raise', 'relu' or 'shift', not {negatives!r}")


def retrieval_scores(
    query_feats: np.ndarray,
    query_labels: np.ndarray,
    db_feats: np.ndarray,
    db_labels: np.ndarray,
    k: int | Iterable[int] = (10, 100),
    metric: Metric = "chi2",
    exclude_self: bool = False,
    *,
    self_index: np.ndarray | None = None,
    negatives: Negatives = "raise",
    map_normalisation: MapNormalisation = "retrieved",
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    """precision@k, mAP@k and Jaccard overlap@k of label-overlap retrieval (see module doc).

    Args:
        query_feats: (n_q, d) features of the queries.
        query_labels: (n_q, C) 0/1 labels of the queries.
        db_feats: (n_db, d) features of the archive.
        db_labels: (n_db, C) 0/1 labels of the archive.
        k: one cut-off or several.
        metric: ``"chi2"`` (the paper's) or ``"cosine"``.
        exclude_self: the queries are archive patches: never retrieve a query itself.
        self_index: with ``exclude_self``, the archive row of each query (default: query i is
            archive row i, which needs n_q == n_db).
        negatives: with ``"chi2"``, what to do with negative features: ``"raise"``,
            ``"relu"`` (clip at 0) or ``"shift"`` (subtract each dimension's minimum).
        map_normalisation: ``"retrieved"`` or ``"relevant"`` (the R of AP@k).
        max_elements: the most distances (or χ² terms) held at once.
        chunk_size: queries per chunk (default: from ``max_elements``).

    Returns:
        ``{"metric", "k": [...], "n_queries", "n_database", "precision@K", "map@K",
        "overlap@K"}`` for each cut-off K, every score a fraction in 0..1.
    """
    q = _as_features(query_feats, "query_feats")
    db = _as_features(db_feats, "db_feats")
    lq = np.asarray(query_labels).astype(bool)
    ldb = np.asarray(db_labels).astype(bool)
    if q.shape[1] != db.shape[1]:
        raise ValueError(f"feature lengths differ: {q.shape[1]} and {db.shape[1]}")
    if lq.ndim != 2 or ldb.ndim != 2 or lq.shape[1] != ldb.shape[1]:
        raise ValueError("query_labels and db_labels must be (n, C) with the same C")
    if len(lq) != len(q) or len(ldb) != len(db):
        raise ValueError("features and labels disagree on the number of patches")
    cutoffs = sorted({int(k)} if isinstance(k, int | np.integer) else {int(v) for v in k})
    if not cutoffs or cutoffs[0] < 1:
        raise ValueError("k must be positive")
    if metric not in ("chi2", "cosine"):
        raise ValueError(f"metric must be 'chi2' or 'cosine', not {metric!r}")
    if map_normalisation not in ("retrieved", "relevant"):
        raise ValueError("map_normalisation must be 'retrieved' or 'relevant'")
    n_q, n_db = len(q), len(db)
    k_max = cutoffs[-1]
    selves: np.ndarray | None = None
    if exclude_self:
        if self_index is None:
            if n_q != n_db:
                raise ValueError("exclude_self without self_index needs n_queries == n_database")
            selves = np.arange(n_q)
        else:
            selves = np.asarray(self_index, dtype=np.int64)
            if selves.shape != (n_q,) or (selves < 0).any() or (selves >= n_db).any():
                raise ValueError("self_index must give one archive row per query")
    if k_max > n_db - int(exclude_self):
        raise ValueError(f"k={k_max} exceeds the {n_db - int(exclude_self)} retrievable patches")

    if metric == "chi2":
        q, db = _prepare_negatives(q, db, negatives)
    else:
        q, db = _unit_rows(q), _unit_rows(db)
    step = chunk_size or max(1, max_elements // max(n_db, 1))
    lq_f = lq.astype(np.float32)
    ldb_f = ldb.astype(np.float32)
    q_sizes = lq.sum(axis=1)
    db_sizes = ldb.sum(axis=1)

    sums: dict[str, float] = {f"{name}@{c}": 0.0 for c in cutoffs
                              for name in ("precision", "map", "overlap")}
    for start in range(0, n_q, step):
        stop = min(start + step, n_q)
        if metric == "chi2":
            dist = _chi2_block(q[start:stop], db, max_elements)
        else:
            dist = 1.0 - q[start:stop] @ db.T
        rows = np.arange(stop - start)
        if selves is not None:
            dist[rows, selves[start:stop]] = np.inf
        nearest = _nearest(dist, k_max)  # (b, k_max)
        shared = np.einsum("bc,bkc->bk", lq_f[start:stop], ldb_f[nearest]).astype(np.float64)
        relevant = shared > 0
        union = q_sizes[start:stop, None] + db_sizes[nearest] - shared
        jaccard = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
        hits = np.cumsum(relevant, axis=1)
        precision_at = hits / np.arange(1, k_max + 1)
        gained = np.cumsum(precision_at * relevant, axis=1)
        total_relevant: np.ndarray | None = None
        if map_normalisation == "relevant":
            total_relevant = np.count_nonzero(lq_f[start:stop] @ ldb_f.T > 0, axis=1)
            if selves is not None:
                own = selves[start:stop]
                total_relevant = total_relevant - (lq[start:stop] & ldb[own]).any(axis=1)
        for c in cutoffs:
            norm = hits[:, c - 1] if total_relevant is None else np.minimum(total_relevant, c)
            ap = np.divide(gained[:, c - 1], norm, out=np.zeros(len(rows)), where=norm > 0)
            sums[f"precision@{c}"] += float(relevant[:, :c].sum() / c)
            sums[f"map@{c}"] += float(ap.sum())
            sums[f"overlap@{c}"] += float(jaccard[:, :c].sum() / c)
    out: dict[str, Any] = {"metric": metric, "k": cutoffs, "n_queries": n_q,
                           "n_database": n_db}
    out.update({key: value / n_q if n_q else float("nan") for key, value in sums.items()})
    return out
