"""A patch's labels from its reference map, and reBEN's 25 % unlabeled rule."""

from __future__ import annotations

import numpy as np
import pytest

from exports.clc.codes import UNCOVERED
from exports.clc.labels import MAX_UNLABELED, PatchLabels, keeps, patch_labels
from lucas.errors import InputFormatError


def _patch(fill: int, others: dict[int, int], size: int = 120) -> np.ndarray:
    """A size×size map of ``fill`` whose first pixels (row-major) take the other codes."""
    flat = np.full(size * size, fill, dtype=np.uint16)
    start = 0
    for code, count in others.items():
        flat[start:start + count] = code
        start += count
    return flat.reshape(size, size)


@pytest.mark.parametrize(("unlabeled", "kept"), [(3585, True), (3599, True), (3600, False)])
def test_the_25_percent_rule(unlabeled: int, kept: bool) -> None:
    labels = patch_labels(_patch(211, {UNCOVERED: unlabeled}))
    assert labels.unlabeled_fraction == unlabeled / 14_400
    assert keeps(labels) is kept


def test_24_9_percent_is_kept_and_25_0_percent_dropped() -> None:
    assert MAX_UNLABELED == 0.25
    assert keeps(PatchLabels(["Arable land"], [], 0.249))
    assert not keeps(PatchLabels(["Arable land"], [], 0.25))


def test_unlabeled_codes_count_with_999() -> None:
    # 122 Road and rail (UNLABELED in the 19 classes) and 999 (uncovered) both count.
    labels = patch_labels(_patch(311, {122: 2000, UNCOVERED: 1600}))
    assert labels.unlabeled_fraction == 3600 / 14_400 and not keeps(labels)
    assert labels.labels == ["Broad-leaved forest"]
    assert labels.labels_43 == ["Broad-leaved forest", "Road and rail networks and associated land"]


def test_labels_are_the_sorted_19_class_names_present() -> None:
    labels = patch_labels(_patch(523, {112: 10, 111: 10, 211: 1, 212: 1, 311: 5, 142: 7}))
    assert labels.labels == [
        "Arable land", "Broad-leaved forest", "Marine waters", "Urban fabric"]
    assert labels.labels_43 == [
        "Broad-leaved forest", "Continuous urban fabric", "Discontinuous urban fabric",
        "Non-irrigated arable land", "Permanently irrigated land", "Sea and ocean",
        "Sport and leisure facilities"]
    assert labels.unlabeled_fraction == 7 / 14_400


def test_glaciers_and_999_give_no_label_of_either_set() -> None:
    labels = patch_labels(_patch(335, {UNCOVERED: 100, 231: 20}, size=12))
    assert labels.labels == ["Pastures"] and labels.labels_43 == ["Pastures"]
    assert labels.unlabeled_fraction == 124 / 144


def test_an_all_uncovered_patch() -> None:
    labels = patch_labels(np.full((120, 120), UNCOVERED, dtype=np.uint16))
    assert labels == PatchLabels([], [], 1.0) and not keeps(labels)


def test_an_unknown_code_is_refused_by_name() -> None:
    with pytest.raises(InputFormatError, match=r"reference map holds 215, which is not a CLC"):
        patch_labels(_patch(211, {215: 1}))


def test_an_empty_map_is_refused() -> None:
    with pytest.raises(ValueError, match="no pixel"):
        patch_labels(np.zeros((0, 0), dtype=np.uint16))
