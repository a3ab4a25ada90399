"""A patch's BigEarthNet labels from its CLC reference map, and reBEN's 25 % unlabeled rule.

* ``labels``: the 19-class names (:data:`~exports.clc.codes.BEN19_CLASSES`) of the codes in
  any pixel, sorted alphabetically as reBEN's ``metadata.parquet`` stores them; UNLABELED
  codes (122, 123, 124, 131, …) and 999 give none.
* ``labels_43``: the BigEarthNet v1 names (:data:`~exports.clc.codes.BEN43_CLASSES`) of the
  codes present, sorted alphabetically: the Level-3 name of every code present but 999 and
  335 Glaciers and perpetual snow (none of the 43), so 122 gives "Road and rail networks and
  associated land" here even though it counts as unlabeled.
* ``unlabeled_fraction``: the share of pixels whose code is 999 (uncovered) or maps to
  UNLABELED in the 19-class nomenclature (335 included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exports.clc.codes import clc_table
from lucas.errors import InputFormatError

MAX_UNLABELED = 0.25
"""reBEN drops a patch whose unlabeled share is this or more (kept below it)."""


@dataclass(frozen=True)
class PatchLabels:
    """The labels of one patch, as :func:`patch_labels` computes them."""

    labels: list[str]  # 19-class names, sorted
    labels_43: list[str]  # BigEarthNet v1 (Level-3) names, sorted
    unlabeled_fraction: float  # share of pixels that are 999 or an UNLABELED code


def patch_labels(reference_map: np.ndarray) -> PatchLabels:
    """The labels of a patch from its reference map (CLC code per pixel, 999 uncovered).

    Raises:
        InputFormatError: a pixel holds a value that is no CLC 2018 code.
        ValueError: the map has no pixel.
    """
    values = np.asarray(reference_map)
    if values.size == 0:
        raise ValueError("reference map has no pixel")
    table = clc_table()
    codes, counts = np.unique(values, return_counts=True)
    labels: set[str] = set()
    labels_43: set[str] = set()
    unlabeled = 0
    for value, count in zip(codes.tolist(), counts.tolist(), strict=True):
        entry = table.get(int(value))
        if entry is None:
            raise InputFormatError(
                f"reference map holds {value}, which is not a CLC 2018 code "
                f"(111…523 or 999); check the --clc source's values")
        if entry.unlabeled:
            unlabeled += int(count)
        else:
            labels.add(entry.ben19)
        if entry.in_ben43:
            labels_43.add(entry.level3)
    return PatchLabels(
        labels=sorted(labels),
        labels_43=sorted(labels_43),
        unlabeled_fraction=unlabeled / values.size,
    )


def keeps(labels: PatchLabels) -> bool:
    """reBEN's rule: a patch is kept while under 25 % of its pixels are unlabeled."""
    return labels.unlabeled_fraction < MAX_UNLABELED
