"""Several countries' composites behind one point index, never concatenated.

The composites of the whole EU (335,000 points × ~150 KB) are larger than a workstation's
memory, so each country's arrays stay where they are (memory-mapped cache files, see
``cache.py``) and a selection of points is gathered country by country, in ascending
position within each file so the reads run forward through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from benchmark.composites import Composites, concat

# Cuts an array for the rows ``index`` (ascending) of one country's composites.
Selector = Callable[[Composites, np.ndarray], np.ndarray]


class PooledComposites:
    """The composites of several countries, addressed as one sequence of points."""

    def __init__(self, parts: Sequence[Composites]) -> None:
        self.parts: list[Composites] = list(parts)
        self.starts = np.cumsum([0, *(len(p) for p in self.parts)])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def select(self, selector: Selector, index: np.ndarray | Sequence[int]) -> np.ndarray:
        """``selector`` applied to the points ``index`` (pooled positions), in that order."""
        index = np.asarray(index, dtype=np.int64)
        if len(index) == 0 or not self.parts:
            first = self.parts[0] if self.parts else concat([])
            return selector(first, np.zeros(0, dtype=np.int64))
        if index.min() < 0 or index.max() >= len(self):
            raise IndexError(f"point index out of range 0..{len(self) - 1}")
        which = np.searchsorted(self.starts, index, side="right") - 1
        out: np.ndarray | None = None
        for k in np.unique(which):
            positions = np.flatnonzero(which == k)
            local = index[positions] - self.starts[k]
            order = np.argsort(local, kind="stable")
            values = selector(self.parts[k], local[order])
            if out is None:
                out = np.empty((len(index), *values.shape[1:]), dtype=values.dtype)
            out[positions[order]] = values
        assert out is not None
        return out

    def select_all(self, selector: Selector) -> np.ndarray:
        """``selector`` over every point, in pooled order."""
        return self.select(selector, np.arange(len(self)))
