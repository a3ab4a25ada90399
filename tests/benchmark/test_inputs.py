"""Model inputs are cut around pixel [32, 32] and shifted for the 3×3 window."""

from __future__ import annotations

import numpy as np

from benchmark import composites as comp
from benchmark.inputs import WINDOW_SHIFTS, input_for_model


def _coded() -> comp.Composites:
    """Composites whose value encodes (month, absolute row, absolute col)."""
    rows = np.arange(comp.REGION.start, comp.REGION.stop)
    grid = rows[:, None] * 100 + rows[None, :]  # row·100 + col
    monthly = (np.arange(12)[:, None, None] * 10000 + grid)[None, ..., None].repeat(10, -1)
    annual = grid[None, ..., None].repeat(10, -1)
    return comp.Composites(
        monthly.astype(np.float32) * 10000, np.zeros(monthly.shape[:-1], bool),
        annual.astype(np.float32) * 10000, np.zeros(annual.shape[:-1], bool),
    )


def test_shapes_and_centering() -> None:
    data = _coded()
    rf = input_for_model("rf", data)
    assert rf.shape == (1, 12, 10)
    assert rf[0, 3, 0] == 3 * 10000 + 3232  # month 4, pixel [32, 32]
    vit = input_for_model("vit", data)
    assert vit.shape == (1, 10, 15, 15)
    assert vit[0, 0, 7, 7] == 3232 and vit[0, 0, 0, 0] == 2525 and vit[0, 0, 14, 14] == 3939
    vivit = input_for_model("vivit", data)
    assert vivit.shape == (1, 12, 10, 15, 15)
    assert vivit[0, 11, 0, 7, 7] == 11 * 10000 + 3232


def test_window_shifts_move_the_center() -> None:
    data = _coded()
    for dr, dc in WINDOW_SHIFTS:
        expected = (32 + dr) * 100 + (32 + dc)
        assert input_for_model("transformer", data, shift=(dr, dc))[0, 0, 0] == expected
        assert input_for_model("vit", data, shift=(dr, dc))[0, 0, 7, 7] == expected


def test_window_input_is_the_nine_shifted_inputs_in_one_cut() -> None:
    from benchmark.inputs import WINDOW_SHIFTS, model_input, window_input

    rng = np.random.default_rng(2)
    n = 3
    data = comp.Composites(
        monthly=rng.random((n, 12, 17, 17, 10), dtype=np.float32),
        monthly_filled=np.zeros((n, 12, 17, 17), bool),
        annual=rng.random((n, 17, 17, 10), dtype=np.float32),
        annual_filled=np.zeros((n, 17, 17), bool),
    )
    index = np.array([2, 0])
    for kind in ("pixel", "annual_crop", "monthly_crop"):
        window = window_input(kind, data, index)
        for k, shift in enumerate(WINDOW_SHIFTS):
            np.testing.assert_array_equal(window[:, k], model_input(kind, data, index, shift))
