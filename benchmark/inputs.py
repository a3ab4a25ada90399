"""Model inputs cut from the composites, as in the paper.

- RF and the pixel transformer: the center pixel [32, 32], 12 months × 10 bands;
- ViT: the 15×15 crop centered on [32, 32] of the annual composite;
- ViViT: the 15×15 crop of the 12 monthly composites.

For the 3×3 window metric every input is also cut at the 8 one-pixel shifts: a pixel model
looks at the neighbouring pixel, an image model at the 15×15 crop centered on it.
Reflectances are scaled by 1/10000 so the networks see values around 0..1.
"""

from __future__ import annotations

import numpy as np

from benchmark.composites import CROP, HALF_REGION, Composites
from benchmark.models.registry import input_kind
from benchmark.pool import PooledComposites

SCALE = 1.0 / 10000.0
# (row, col) shifts of the 3×3 window, row-major; index 4 is the center pixel itself.
WINDOW_SHIFTS: tuple[tuple[int, int], ...] = tuple(
    (dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
)
CENTER_SHIFT = WINDOW_SHIFTS.index((0, 0))


def model_input(
    kind: str, data: Composites, index: np.ndarray | None = None, shift: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Input array of one kind for the points ``index`` (all when None), at a window shift.

    Shapes: pixel (n, 12, B); annual_crop (n, B, 15, 15); monthly_crop (n, 12, B, 15, 15).
    """
    dr, dc = shift
    if abs(dr) > 1 or abs(dc) > 1:
        raise ValueError(f"shift {shift} outside the 3×3 window")
    sel = slice(None) if index is None else index
    if kind == "pixel":
        out = data.monthly[sel, :, HALF_REGION + dr, HALF_REGION + dc, :]
    elif kind in ("annual_crop", "monthly_crop"):
        rows = slice(1 + dr, 1 + dr + CROP)
        cols = slice(1 + dc, 1 + dc + CROP)
        if kind == "annual_crop":
            out = np.moveaxis(data.annual[sel, rows, cols, :], -1, 1)
        else:
            out = np.moveaxis(data.monthly[sel, :, rows, cols, :], -1, 2)
    else:
        raise ValueError(f"unknown input kind {kind!r}")
    return np.ascontiguousarray(out, dtype=np.float32) * np.float32(SCALE)


def window_input(kind: str, data: Composites, index: np.ndarray | None = None) -> np.ndarray:
    """The input of ``kind`` at all 9 shifts, (n, 9, …) in ``WINDOW_SHIFTS`` order.

    One gather of the points' rows serves the nine cuts, so the 3×3 evaluation reads the
    composites once instead of nine times.
    """
    sel = slice(None) if index is None else index
    if kind == "pixel":
        block = data.monthly[sel, :, HALF_REGION - 1:HALF_REGION + 2,
                             HALF_REGION - 1:HALF_REGION + 2, :]  # (n, 12, 3, 3, B)
        out = block.transpose(0, 2, 3, 1, 4).reshape(block.shape[0], 9, *block.shape[1::3])
    elif kind in ("annual_crop", "monthly_crop"):
        source = data.annual[sel] if kind == "annual_crop" else data.monthly[sel]
        cuts = []
        for dr, dc in WINDOW_SHIFTS:
            rows, cols = slice(1 + dr, 1 + dr + CROP), slice(1 + dc, 1 + dc + CROP)
            if kind == "annual_crop":
                cuts.append(np.moveaxis(source[:, rows, cols, :], -1, 1))
            else:
                cuts.append(np.moveaxis(source[:, :, rows, cols, :], -1, 2))
        out = np.stack(cuts, axis=1)
    else:
        raise ValueError(f"unknown input kind {kind!r}")
    return np.ascontiguousarray(out, dtype=np.float32) * np.float32(SCALE)


def input_for_model(
    model: str, data: Composites, index: np.ndarray | None = None, shift: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """The input the registry names for ``model`` (the paper's, for its four models)."""
    return model_input(input_kind(model), data, index, shift)


class LazyInputs:
    """A model's inputs for a set of points, cut from the composites one batch at a time.

    Behaves like the array ``input_for_model(model, data, index, shift)`` for ``len`` and
    integer-array indexing, without materialising it: a ViViT input is ~27 k floats per
    point, so a copy of the whole training set would not fit in memory for the EU.
    """

    def __init__(
        self, model: str, data: PooledComposites, index: np.ndarray,
        shift: tuple[int, int] = (0, 0),
    ) -> None:
        self.model = model
        self.data = data
        self.index = np.asarray(index, dtype=np.int64)
        self.shift = shift

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, rows: np.ndarray | slice) -> np.ndarray:
        return self.data.select(
            lambda part, index: input_for_model(self.model, part, index, self.shift),
            self.index[rows],
        )


class WindowInputs(LazyInputs):
    """Like :class:`LazyInputs`, but each point's input at all 9 window shifts: ``x[rows]``
    is (n, 9, …), what ``predict_window`` scores in one pass."""

    def __getitem__(self, rows: np.ndarray | slice) -> np.ndarray:
        kind = input_kind(self.model)
        return self.data.select(lambda part, index: window_input(kind, part, index),
                                self.index[rows])
