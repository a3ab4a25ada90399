"""Which LUCAS codes the errors come from: the analysis the paper does by hand (Figs. 8–11).

For each class, its misclassified test points are broken down by what they were predicted
as, and by their detailed land-cover (``lc1``) and land-use (``lu1``) codes, each code with
its error count and its total in the class, so "most grassland errors are E20 pastures used
as U111 agriculture" can be read off directly.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np


def _code_table(codes: np.ndarray, wrong: np.ndarray, pred_names: np.ndarray) -> dict[str, Any]:
    table: dict[str, Any] = {}
    totals = Counter(codes.tolist())
    errors = Counter(codes[wrong].tolist())
    for code, n_wrong in errors.most_common():
        sel = wrong & (codes == code)
        table[str(code)] = {
            "misclassified": int(n_wrong),
            "total": int(totals[code]),
            "predicted_as": dict(Counter(pred_names[sel].tolist()).most_common()),
        }
    return table


def breakdown(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: tuple[str, ...],
    lc1: np.ndarray,
    lu1: np.ndarray,
) -> dict[str, Any]:
    """Per class: support, misclassified count, predicted-as counts, and per lc1 / lu1 code."""
    names = np.asarray(classes, dtype=object)
    pred_names = names[y_pred]
    lc1 = np.asarray(lc1, dtype=str)
    lu1 = np.asarray(lu1, dtype=str)
    out: dict[str, Any] = {}
    for k, name in enumerate(classes):
        members = y_true == k
        wrong = (y_pred != k)[members]
        out[name] = {
            "support": int(members.sum()),
            "misclassified": int(wrong.sum()),
            "predicted_as": dict(Counter(pred_names[members][wrong].tolist()).most_common()),
            "by_lc1": _code_table(lc1[members], wrong, pred_names[members]),
            "by_lu1": _code_table(lu1[members], wrong, pred_names[members]),
        }
    return out
