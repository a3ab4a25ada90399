"""Composites against hand-computed values, including masked and empty months."""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmark import composites as comp
from benchmark.cache import build_country
from benchmark.h5read import image_months
from tests.fixtures.synthetic_h5 import compound_dtype, constant_point, image_id, write_country

C = comp.HALF_REGION  # the point's pixel in the 17×17 region

# (day, value of every band, SCL). Clear = SCL not in {0, 1, 3, 8, 9, 10, 11}.
HAND_CASE = [
    (date(2018, 1, 5), 100, 4),
    (date(2018, 1, 15), 200, 4),
    (date(2018, 1, 25), 5000, 9),  # cloud: masked
    (date(2018, 3, 10), 300, 5),
    (date(2018, 4, 10), 7000, 3),  # shadow: masked, so April is empty
    (date(2018, 6, 1), 600, 4),
    (date(2018, 6, 20), 800, 8),  # cloud: masked
]
# Jan median(100, 200) = 150; Feb interpolated (150+300)/2; Mar 300; Apr, May on the line
# from Mar 300 to Jun 600; Jul..Dec: nearest (Jun) at the year's end.
EXPECTED_MONTHLY = [150, 225, 300, 400, 500, 600, 600, 600, 600, 600, 600, 600]
EXPECTED_FILLED = [False, True, False, True, True, False] + [True] * 6
EXPECTED_ANNUAL = 250  # median(100, 200, 300, 600)


def _hand_point(point_id: int = 1) -> tuple[np.ndarray, np.ndarray]:
    point = constant_point(
        point_id, [d for d, _, _ in HAND_CASE], [[v] for _, v, _ in HAND_CASE],
        [s for _, _, s in HAND_CASE],
    )
    return point.data[:, comp.REGION, comp.REGION], image_months(point.image_ids)


def test_hand_computed_monthly_and_annual() -> None:
    stack, months = _hand_point()
    result = comp.composite_batch([stack], [months])
    assert result.monthly.shape == (1, 12, 17, 17, 10)
    np.testing.assert_allclose(result.monthly[0, :, C, C, 0], EXPECTED_MONTHLY)
    np.testing.assert_allclose(result.monthly[0, :, 0, 16, 9], EXPECTED_MONTHLY)  # every pixel
    assert result.monthly_filled[0, :, C, C].tolist() == EXPECTED_FILLED
    np.testing.assert_allclose(result.annual[0, C, C], EXPECTED_ANNUAL)
    assert not result.annual_filled.any()


def test_masked_classes_are_a_flag() -> None:
    stack, months = _hand_point()
    result = comp.composite_batch([stack], [months], mask_classes=(0, 1, 3, 8))  # 9 counts now
    assert result.monthly[0, 0, C, C, 0] == 200  # median(100, 200, 5000)


def test_batch_of_points_with_different_lengths() -> None:
    a_stack, a_months = _hand_point()
    b = constant_point(2, [date(2018, 7, 1)], [[1234]], [4])
    b_stack, b_months = b.data[:, comp.REGION, comp.REGION], image_months(b.image_ids)
    together = comp.composite_batch([b_stack, a_stack], [b_months, a_months])
    alone = comp.composite_batch([a_stack], [a_months])
    np.testing.assert_array_equal(together.monthly[1], alone.monthly[0])
    np.testing.assert_allclose(together.monthly[0, :, C, C, 0], 1234)  # one month → all
    assert together.monthly_filled[0, :, C, C].sum() == 11


def test_point_without_any_clear_observation_is_zero_and_filled() -> None:
    p = constant_point(3, [date(2018, 5, 1), date(2018, 8, 1)], [[900], [900]], [9, 0])
    stack, months = p.data[:, comp.REGION, comp.REGION], image_months(p.image_ids)
    result = comp.composite_batch([stack], [months])
    assert not result.monthly.any() and result.monthly_filled.all()
    assert not result.annual.any() and result.annual_filled.all()


def test_zero_band_value_is_no_data_for_that_band_only() -> None:
    days = [date(2018, 2, 1), date(2018, 2, 2)]
    values = np.array([[100.0] * 10, [300.0] * 10])
    values[1, 0] = 0  # B2 no-data at the second step
    p = constant_point(4, days, values, [4, 4])
    stack, months = p.data[:, comp.REGION, comp.REGION], image_months(p.image_ids)
    result = comp.composite_batch([stack], [months])
    assert result.monthly[0, 1, C, C, 0] == 100
    assert result.monthly[0, 1, C, C, 1] == 200


def test_monthly_median_matches_numpy_nanmedian() -> None:
    rng = np.random.default_rng(0)
    days = sorted(rng.choice(365, size=25, replace=False))
    dates = [date(2018, 1, 1) + timedelta(days=int(d)) for d in days]
    point = constant_point(9, dates, [[0]] * 25, [4] * 25)
    stack = point.data[:, comp.REGION, comp.REGION].copy()
    stack["SCL"] = rng.choice([4, 9], size=stack.shape, p=[0.6, 0.4])
    for band in comp.BANDS:
        stack[band] = rng.integers(0, 4000, size=stack.shape)  # 0 = no-data too
    months = image_months(point.image_ids)
    result = comp.composite_batch([stack], [months])
    values = comp.masked_values(stack, comp.DEFAULT_MASK_CLASSES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # months with no clear value
        for m in range(1, 13):
            expected = np.nanmedian(values[months == m], axis=0)
            got = result.monthly[0, m - 1]
            clear = ~np.isnan(expected)
            np.testing.assert_allclose(got[clear], expected[clear])
            assert (result.monthly_filled[0, m - 1] == np.isnan(expected).all(axis=-1)).all()
        np.testing.assert_allclose(result.annual[0], np.nanmedian(values, axis=0))


def test_empty_series_point() -> None:
    empty = np.zeros((0, 17, 17), dtype=compound_dtype())
    result = comp.composite_batch([empty], [np.array([], dtype=int)])
    assert result.monthly_filled.all() and not result.monthly.any()


def test_fill_months_linear_and_nearest() -> None:
    series = np.full((1, 12), np.nan)
    series[0, 2], series[0, 6] = 10.0, 50.0
    filled, was_nan = comp.fill_months(series)
    np.testing.assert_allclose(filled[0], [10, 10, 10, 20, 30, 40, 50, 50, 50, 50, 50, 50])
    assert was_nan[0].sum() == 10


def test_image_months_from_image_id() -> None:
    ids = [image_id(date(2018, 1, 5)), image_id(date(2018, 12, 31)).encode()]
    assert image_months(ids).tolist() == [1, 12]


def test_read_from_hdf5_matches_hand_case(tmp_path: Path) -> None:
    points = [
        constant_point(
            7, [d for d, _, _ in HAND_CASE], [[v] for _, v, _ in HAND_CASE],
            [s for _, _, s in HAND_CASE], lc1="E20",
        )
    ]
    path = write_country(tmp_path / "AT.h5", "AT", points)
    data = build_country(path, comp.DEFAULT_MASK_CLASSES)
    assert data.names.tolist() == ["Lucas_Point_00000007"]
    assert data.points.loc[0, "lc1"] == "E20"
    np.testing.assert_allclose(data.composites.monthly[0, :, C, C, 4], EXPECTED_MONTHLY)


def test_missing_band_is_zero_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bands = ("B2", "B3", "B4", "B8")
    p = constant_point(8, [date(2018, 6, 1)], [[500] * 4], [4], bands=bands)
    path = write_country(tmp_path / "BE.h5", "BE", [p])
    data = build_country(path, comp.DEFAULT_MASK_CLASSES)
    assert data.bands == bands
    assert data.composites.monthly[0, 0, C, C, comp.BANDS.index("B8")] == 500
    assert data.composites.monthly[0, 0, C, C, comp.BANDS.index("B11")] == 0
    assert "lacks bands" in caplog.text


def test_snow_is_masked_by_default() -> None:
    """SCL 11 (snow) would pull winter medians up to snow's reflectance."""
    days = [date(2018, 1, 5), date(2018, 1, 15), date(2018, 1, 25)]
    p = constant_point(10, days, [[500], [600], [8000]], [4, 5, 11])
    stack, months = p.data[:, comp.REGION, comp.REGION], image_months(p.image_ids)
    assert 11 in comp.DEFAULT_MASK_CLASSES
    assert comp.composite_batch([stack], [months]).monthly[0, 0, C, C, 0] == 550
    with_snow = comp.composite_batch([stack], [months], mask_classes=(0, 1, 3, 8, 9, 10))
    assert with_snow.monthly[0, 0, C, C, 0] == 600


def test_year_median_fills_empty_months_with_the_annual_composite() -> None:
    stack, months = _hand_point()
    result = comp.CompositeRule(empty_months="year-median").apply([stack], [months])
    expected = [EXPECTED_ANNUAL if filled else v
                for v, filled in zip(EXPECTED_MONTHLY, EXPECTED_FILLED, strict=True)]
    np.testing.assert_allclose(result.monthly[0, :, C, C, 3], expected)
    assert result.monthly_filled[0, :, C, C].tolist() == EXPECTED_FILLED
    p = constant_point(3, [date(2018, 5, 1)], [[900]], [9])  # never clear: 0
    none = comp.CompositeRule(empty_months="year-median").apply(
        [p.data[:, comp.REGION, comp.REGION]], [image_months(p.image_ids)])
    assert not none.monthly.any() and none.monthly_filled.all()


def _reader_rule(ds: Any) -> np.ndarray:
    """The public reader's composite (terratorch Sen4MapDatasetMonthlyComposites.get_data),
    written out again from its description: values where SCL < 9 else 0, months by the
    "2018MM" substring of each Image_ID, an empty month takes every step, torch.median."""
    import torch

    im = ds[()]
    mask = im["SCL"] < 9
    image = np.stack([np.where(mask, im[b], 0) for b in comp.BANDS], axis=0).astype("float32")
    image = torch.from_numpy(np.moveaxis(image, 0, 1))  # (T, B, H, W)
    ids = [s.decode() if isinstance(s, bytes) else str(s) for s in ds.attrs["Image_ID"]]
    per_month = [[i for i, s in enumerate(ids) if f"2018{m:02d}" in s] for m in range(1, 13)]
    every = [i for steps in per_month for i in steps]
    medians = [torch.stack([image[j] for j in (steps or every)]).median(dim=0).values
               for steps in per_month]
    return torch.stack(medians, dim=0).numpy()  # (12, B, H, W)


def test_reader_mode_equals_the_public_readers_rule(tmp_path: Path) -> None:
    """Every month, band and pixel of the 17×17 region, to the value, on a generated file
    with snow, clouds, no-data zeros, even counts and months without acquisition."""
    import h5py

    rng = np.random.default_rng(5)
    points = []
    for k in range(6):
        n_steps = int(rng.integers(1, 14))
        offsets = np.sort(rng.choice(np.r_[0:90, 180:365], size=n_steps, replace=False))
        days = [date(2018, 1, 1) + timedelta(days=int(o)) for o in offsets]
        p = constant_point(100 + k, days, [[0]] * n_steps, [4] * n_steps)
        p.data["SCL"] = rng.choice([0, 3, 4, 5, 8, 9, 10, 11], size=p.data.shape)
        for band in comp.BANDS:
            p.data[band] = rng.integers(0, 6000, size=p.data.shape)
        points.append(p)
    path = write_country(tmp_path / "AT.h5", "AT", points)
    data = build_country(path, comp.CompositeRule(mode="reader"))
    with h5py.File(path, "r") as f:
        for i, name in enumerate(data.names):
            expected = _reader_rule(f[name])[:, :, comp.REGION, comp.REGION]
            got = np.moveaxis(data.composites.monthly[i], -1, 1)  # (12, B, 17, 17)
            np.testing.assert_array_equal(got, expected)
    assert data.composites.monthly_filled[:, 3:6].all()  # April..June: no acquisition
