"""The composite cache: reused while the HDF5 is unchanged, rebuilt when it changes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from benchmark import composites as comp
from benchmark.cache import cache_key, load_country
from tests.fixtures.synthetic_h5 import constant_point, write_country


def _write(path: Path, value: int) -> Path:
    p = constant_point(5, [date(2018, 5, 1), date(2018, 9, 1)], [[value], [value]], [4, 4])
    return write_country(path, "AT", [p])


def test_cache_reused_then_invalidated(tmp_path: Path) -> None:
    h5 = _write(tmp_path / "data" / "AT.h5", 100)
    cache = tmp_path / "cache"
    first = load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert not first.from_cache
    assert sorted(p.name.split(".")[1] for p in cache.glob("AT.*")) == [
        "annual", "monthly", "points"
    ]
    second = load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert second.from_cache
    np.testing.assert_array_equal(second.composites.monthly, first.composites.monthly)
    assert second.points.equals(first.points)

    _write(h5, 700)  # the HDF5 changes: same name, new content
    third = load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert not third.from_cache
    assert third.composites.annual[0, 8, 8, 0] == 700
    assert len(list(cache.glob("AT.*"))) == 3  # the stale set was removed


def test_key_depends_on_mask_classes_and_content() -> None:
    assert cache_key("a" * 64, (0, 1)) == cache_key("a" * 64, (1, 0))
    assert cache_key("a" * 64, (0, 1)) != cache_key("a" * 64, (0, 1, 9))
    assert cache_key("a" * 64, (0,)) != cache_key("b" * 64, (0,))
