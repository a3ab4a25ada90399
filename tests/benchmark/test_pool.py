"""Pooled countries are addressed as one sequence of points, in the order asked for."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark import composites as comp
from benchmark.pool import PooledComposites


def _country(n: int, first_value: int) -> comp.Composites:
    """Composites whose every value is the point's pooled position."""
    values = np.arange(first_value, first_value + n, dtype=np.float32)
    monthly = np.broadcast_to(
        values[:, None, None, None, None], (n, 12, comp.REGION_SIZE, comp.REGION_SIZE, 10)
    ).copy()
    never = monthly[..., 0] > 1e9
    return comp.Composites(monthly, never, monthly[:, 0], never[:, 0])


def _center(part: comp.Composites, index: np.ndarray) -> np.ndarray:
    assert np.all(np.diff(index) >= 0)  # each file is read forward
    return part.monthly[index, 0, 8, 8, 0]


def test_select_keeps_the_requested_order_across_countries() -> None:
    pool = PooledComposites([_country(3, 0), _country(0, 3), _country(4, 3)])
    assert len(pool) == 7
    index = np.array([6, 0, 3, 2, 2, 5])
    np.testing.assert_array_equal(pool.select(_center, index), index)
    np.testing.assert_array_equal(pool.select_all(_center), np.arange(7))


def test_empty_selection_has_the_inputs_shape_and_bad_index_is_refused() -> None:
    pool = PooledComposites([_country(2, 0)])
    empty = pool.select(lambda part, i: part.monthly[i, :, 8, 8, :], [])
    assert empty.shape == (0, 12, 10)
    with pytest.raises(IndexError, match=r"out of range 0\.\.1"):
        pool.select(_center, [2])
