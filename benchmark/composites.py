"""Cloud-masked monthly and annual median composites, vectorised over points and pixels.

The paper feeds its models 12 monthly median composites (and, for the ViT, one annual
median composite). The public reader computes them with a Python loop per point and per
month; here a batch of points becomes one padded int32 array of month-tagged values, one
sort along time orders every month of every pixel and band at once, and each median is a
gather, so the cost is a few numpy calls per batch (see ``bench/bench_composites.py``).

Two rules (``CompositeRule``): ``masked`` (the default) leaves out observations whose SCL
class is masked (no data, saturated, shadow, cloud, cirrus, snow) and fills a month without
any clear one by interpolation or with the year's median; ``reader`` reproduces the public
Sen4Map reader (terratorch ``Sen4MapDatasetMonthlyComposites``), which made the released
numbers: a value is kept where ``SCL < 9``, masked values stay in the median as 0, the
median of an even count is the lower middle value (``torch.median``), and a month without
acquisition takes the median of all the year's acquisitions.

Conventions (ARCHITECTURE.md "Patch grid"): the models need the 15×15 crop around the point's
pixel and the 9 one-pixel shifts of that crop (3×3 window metric), so only the 17×17 region
around that pixel is composited. Which pixel holds the point is a fact of each file
(``exports.grid.GridFacts``, read by ``h5read``); here everything is relative to the region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from exports.grid import SEN4MAP_GRID

BANDS: tuple[str, ...] = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
# SCL: 0 no data, 1 saturated, 3 cloud shadow, 8/9 cloud medium/high, 10 cirrus, 11 snow.
DEFAULT_MASK_CLASSES: tuple[int, ...] = (0, 1, 3, 8, 9, 10, 11)
COMPOSITE_MODES: tuple[str, ...] = ("masked", "reader")
EMPTY_MONTH_FILLS: tuple[str, ...] = ("interpolate", "year-median")
READER_CLEAR_BELOW = 9  # the reader keeps a value where SCL < 9
N_MONTHS = 12
CROP = 15  # ViT / ViViT input side
HALF_REGION = CROP // 2 + 1  # 8: room for the crop shifted by one pixel either way
REGION_SIZE = 2 * HALF_REGION + 1  # 17


def region_around(center: int) -> slice:
    """Rows (or columns) of the region around the point's pixel ``center``."""
    return slice(center - HALF_REGION, center + HALF_REGION + 1)


# The region on the Sen4Map grid (point in [32, 32]): rows/cols 24..40.
REGION = region_around(SEN4MAP_GRID.center_pixel[0])


@dataclass(frozen=True)
class Composites:
    """Composites of N points over the 17×17 region, reflectance × 10000 as float32.

    ``*_filled`` is True where a pixel had no clear observation in that month (or year) and
    the value was filled (interpolated, the year's median, or 0); under the reader rule,
    where the month had no acquisition: a feature mask models or analyses may use.
    """

    monthly: np.ndarray  # (N, 12, 17, 17, B)
    monthly_filled: np.ndarray  # (N, 12, 17, 17) bool
    annual: np.ndarray  # (N, 17, 17, B)
    annual_filled: np.ndarray  # (N, 17, 17) bool

    def __len__(self) -> int:
        return int(self.monthly.shape[0])


def masked_values(
    stack: np.ndarray, mask_classes: Iterable[int], bands: Sequence[str] = BANDS
) -> np.ndarray:
    """(..., B) float32 band values, NaN where SCL is masked or a band holds no-data (0).

    The masking rule in its plain form (``composite_batch`` applies the same rule to its
    integer keys; the tests and the bench baseline use this one). Bands the file lacks come
    back all-NaN, so they end up filled, never silently mixed with real data.
    """
    names = stack.dtype.names or ()
    clear = ~np.isin(stack["SCL"], np.fromiter(mask_classes, dtype=np.int64))
    values = np.full((*stack.shape, len(bands)), np.nan, dtype=np.float32)
    for i, band in enumerate(bands):
        if band in names:
            band_values = stack[band]
            values[..., i] = np.where(clear & (band_values != 0), band_values, np.nan)
    return values


# Sort keys: month in the high bits, the band value (uint16) in the low 17 bits, masked
# observations at 2**17 - 1 so they sort after every clear value of their month.
_VALUE_BITS = 17
_MASKED = (1 << _VALUE_BITS) - 1
_PAD_MONTH = N_MONTHS + 1  # padding steps of shorter series sort after December


def _encode(
    stacks: Sequence[np.ndarray], months: Sequence[np.ndarray], mask: tuple[int, ...],
    bands: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort keys and clear counts of a batch.

    Returns (keys (N, B, P, T) int32 = month·2¹⁷ + value, the (N, T) month of each step,
    count (N, B, P, 12) of clear observations per month). Steps are put in month order
    (stable, so ascending time within a month) and padded to the longest series with steps
    of month 13 that hold masked values.
    """
    n_points = len(stacks)
    n_steps = max((len(m) for m in months), default=0) or 1
    height, width = stacks[0].shape[1:] if n_points else (REGION_SIZE, REGION_SIZE)
    step_months = np.full((n_points, n_steps), _PAD_MONTH, dtype=np.int32)
    keys = np.full(
        (n_points, len(bands), height * width, n_steps), (_PAD_MONTH << _VALUE_BITS) | _MASKED,
        dtype=np.int32,
    )
    count = np.zeros((n_points, len(bands), height * width, N_MONTHS), dtype=np.int64)
    mask_values = np.asarray(mask, dtype=np.int64)
    for i, (stack, point_months) in enumerate(zip(stacks, months, strict=True)):
        if stack.shape[0] != len(point_months):
            raise ValueError(f"point {i}: {stack.shape[0]} time steps, {len(point_months)} months")
        t = stack.shape[0]
        if t == 0:
            continue  # no acquisition at all: the padding (masked) stays
        order = np.argsort(point_months, kind="stable")
        step_months[i, :t] = np.asarray(point_months)[order]
        ordered = stack[order].reshape(t, -1)  # (T, P) compound
        masked = np.isin(ordered["SCL"], mask_values)
        high = (step_months[i, :t] << _VALUE_BITS)[:, None]
        names = ordered.dtype.names or ()
        for b, band in enumerate(bands):
            if band not in names:
                keys[i, b, :, :t] = (high | _MASKED).T
                continue
            value = ordered[band].astype(np.int32)
            value[masked | (value == 0)] = _MASKED  # the rule of masked_values
            keys[i, b, :, :t] = (value | high).T
        # Clear observations per month: sums over each month's run of steps.
        present, run_start = np.unique(step_months[i, :t], return_index=True)
        clear = (keys[i, :, :, :t] & _MASKED) != _MASKED
        count[i][..., present - 1] = np.add.reduceat(clear, run_start, axis=-1, dtype=np.int64)
    return keys, step_months, count


def _gather(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``take_along_axis(array, index, -1)`` through flat indexing (several times faster)."""
    rows = array.reshape(-1, array.shape[-1])
    flat_index = np.broadcast_to(index, (*array.shape[:-1], index.shape[-1])).reshape(
        rows.shape[0], -1
    )
    base = np.arange(rows.shape[0], dtype=np.int64)[:, None] * array.shape[-1]
    return rows.ravel()[base + flat_index].reshape(*array.shape[:-1], index.shape[-1])


def _median_of_runs(
    ordered: np.ndarray, start: np.ndarray, count: np.ndarray
) -> np.ndarray:
    """Median of the sorted runs ``ordered[..., start:start+count]``; NaN where count is 0.

    ``ordered`` is (N, B, P, T) sorted along T, ``start`` (N, 1, 1, R) and ``count``
    (N, B, P, R) for R runs per series.
    """
    last = ordered.shape[-1] - 1  # an empty run may start past the end: clip, then NaN
    low = _gather(ordered, np.minimum(start + (count - 1) // 2, last)) & _MASKED
    high = _gather(ordered, np.minimum(start + count // 2, last)) & _MASKED
    median = (low + high).astype(np.float32) / 2
    median[count == 0] = np.nan
    return median


# Linear-interpolation weight of month i between clear months lo and hi: (i - lo)/(hi - lo).
_lo, _hi, _i = np.meshgrid(*(np.arange(N_MONTHS),) * 3, indexing="ij")
_WEIGHTS = ((_i - _lo) / np.maximum(_hi - _lo, 1)).astype(np.float32)


def fill_months(monthly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN months along the last axis (12) by linear interpolation between the
    neighbouring clear months.

    Months before the first (after the last) clear month take its value (nearest at the
    year's ends); a series with no clear month at all becomes 0. Only series with a gap are
    touched. Returns (filled copy, was_nan).
    """
    was_nan = np.isnan(monthly)
    filled = monthly.copy()
    flat = filled.reshape(-1, N_MONTHS)
    gaps = was_nan.reshape(-1, N_MONTHS)
    empty = gaps.all(axis=1)
    flat[empty] = 0.0
    rows = np.flatnonzero(gaps.any(axis=1) & ~empty)
    if len(rows) == 0:
        return filled, was_nan
    series = flat[rows]
    valid = ~gaps[rows]
    idx = np.arange(N_MONTHS)
    prev_idx = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)
    next_idx = np.minimum.accumulate(np.where(valid, idx, N_MONTHS)[:, ::-1], axis=1)[:, ::-1]
    # Before the first / after the last clear month both ends are that month (nearest); on a
    # clear month both are the month itself, so one formula covers every case.
    lo = np.where(prev_idx >= 0, prev_idx, next_idx)
    hi = np.where(next_idx < N_MONTHS, next_idx, prev_idx)
    lo_val = _gather(series, lo)
    hi_val = _gather(series, hi)
    flat[rows] = lo_val + _WEIGHTS[lo, hi, idx] * (hi_val - lo_val)
    return filled, was_nan


def fill_with_year(monthly: np.ndarray, annual: np.ndarray) -> np.ndarray:
    """NaN months (last axis) take the year's median ``annual`` (one axis less); 0 where
    the year had no clear observation either (the ``year-median`` fill)."""
    year = np.nan_to_num(annual, nan=0.0)[..., None]
    return np.where(np.isnan(monthly), year, monthly).astype(np.float32)


def composite_batch(
    stacks: Sequence[np.ndarray],
    months: Sequence[np.ndarray],
    mask_classes: Iterable[int] = DEFAULT_MASK_CLASSES,
    bands: Sequence[str] = BANDS,
    empty_months: str = "interpolate",
) -> Composites:
    """Monthly and annual composites of a batch of points.

    ``stacks[i]`` is point i's compound array (T_i, H, W) (already cut to the region),
    ``months[i]`` its (T_i,) acquisition months 1..12. Points may have different T_i.

    How: every observation becomes one int32 key month·2¹⁷ + value (masked ones sort last
    within their month); one sort along time then leaves each month as a sorted run at a
    position known from the months alone, and every monthly median is two gathers. The
    annual median is a second sort of the values alone.
    """
    if len(stacks) != len(months):
        raise ValueError(f"{len(stacks)} stacks but {len(months)} month vectors")
    if not stacks:
        return concat([])
    height, width = stacks[0].shape[1:]
    keys, step_months, count = _encode(stacks, months, tuple(mask_classes), bands)
    n = len(stacks)
    values = keys & _MASKED  # masked and padding steps hold _MASKED
    # Month m's run starts after every step of an earlier month (steps are in month order).
    month_ids = np.arange(1, N_MONTHS + 1)
    start = (step_months[:, :, None] < month_ids).sum(axis=1)[:, None, None, :]
    keys.sort(axis=-1)
    monthly = _median_of_runs(keys, start, count)  # (N, B, P, 12)
    monthly_missing = (count == 0).all(axis=1)  # (N, P, 12): no band clear
    values.sort(axis=-1)
    annual = _median_of_runs(
        values, np.zeros((n, 1, 1, 1), dtype=np.int64), count.sum(axis=-1, keepdims=True)
    )[..., 0]  # (N, B, P)
    if empty_months == "year-median":
        monthly = fill_with_year(monthly, annual)
    elif empty_months == "interpolate":
        monthly, _ = fill_months(monthly)
    else:
        raise ValueError(f"empty_months {empty_months!r}: choose {EMPTY_MONTH_FILLS}")
    annual_missing = np.isnan(annual).all(axis=1)
    return _shaped(monthly, monthly_missing, annual, annual_missing, height, width, len(bands))


def _shaped(
    monthly: np.ndarray, monthly_missing: np.ndarray, annual: np.ndarray,
    annual_missing: np.ndarray, height: int, width: int, n_bands: int,
) -> Composites:
    """Composites from the (N, B, P, 12) / (N, P, 12) / (N, B, P) / (N, P) work layout."""
    n = monthly.shape[0]
    return Composites(
        monthly=np.ascontiguousarray(
            monthly.transpose(0, 3, 2, 1).reshape(n, N_MONTHS, height, width, n_bands)
        ),
        monthly_filled=np.ascontiguousarray(
            monthly_missing.transpose(0, 2, 1).reshape(n, N_MONTHS, height, width)
        ),
        annual=np.ascontiguousarray(
            np.nan_to_num(annual, nan=0.0).transpose(0, 2, 1).reshape(n, height, width, n_bands)
        ),
        annual_filled=annual_missing.reshape(n, height, width),
    )


def reader_batch(
    stacks: Sequence[np.ndarray], months: Sequence[np.ndarray], bands: Sequence[str] = BANDS
) -> Composites:
    """Monthly and annual composites by the public reader's rule (module docstring).

    The same sorted-run technique as ``composite_batch``: no observation is left out (a
    masked one holds 0), so every run's length is the month's number of acquisitions, the
    same for every pixel. The annual composite (the reader has none; the ViT needs one) is
    the same rule over the whole year, which is also what an empty month takes. A band the
    file lacks is 0, as a masked value.
    """
    if len(stacks) != len(months):
        raise ValueError(f"{len(stacks)} stacks but {len(months)} month vectors")
    if not stacks:
        return concat([])
    height, width = stacks[0].shape[1:]
    n, n_steps = len(stacks), max((len(m) for m in months), default=0) or 1
    pixels = height * width
    step_months = np.full((n, n_steps), _PAD_MONTH, dtype=np.int32)
    keys = np.full((n, len(bands), pixels, n_steps), (_PAD_MONTH << _VALUE_BITS) | _MASKED,
                   dtype=np.int32)
    for i, (stack, point_months) in enumerate(zip(stacks, months, strict=True)):
        if stack.shape[0] != len(point_months):
            raise ValueError(f"point {i}: {stack.shape[0]} time steps, {len(point_months)} months")
        t = stack.shape[0]
        if t == 0:
            continue
        order = np.argsort(point_months, kind="stable")
        step_months[i, :t] = np.asarray(point_months)[order]
        ordered = stack[order].reshape(t, -1)
        kept = ordered["SCL"] < READER_CLEAR_BELOW
        high = (step_months[i, :t] << _VALUE_BITS)[:, None]
        names = ordered.dtype.names or ()
        for b, band in enumerate(bands):
            value = (np.where(kept, ordered[band], 0).astype(np.int32) if band in names
                     else np.zeros(ordered.shape, dtype=np.int32))
            keys[i, b, :, :t] = (value | high).T
    month_ids = np.arange(1, N_MONTHS + 1)
    per_month = (step_months[:, :, None] == month_ids).sum(axis=1)  # (N, 12)
    start = (step_months[:, :, None] < month_ids).sum(axis=1)[:, None, None, :]
    steps = (step_months <= N_MONTHS).sum(axis=1)  # (N,)
    values = keys & _MASKED
    keys.sort(axis=-1)
    values.sort(axis=-1)
    count = np.broadcast_to(per_month[:, None, None, :], (n, len(bands), pixels, N_MONTHS))
    lower = start + (np.maximum(count, 1) - 1) // 2  # torch.median: the lower middle value
    monthly = (_gather(keys, np.minimum(lower, n_steps - 1)) & _MASKED).astype(np.float32)
    year_index = np.broadcast_to(((np.maximum(steps, 1) - 1) // 2)[:, None, None, None],
                                 (n, len(bands), pixels, 1))
    annual = (_gather(values, year_index)[..., 0] & _MASKED).astype(np.float32)
    annual[steps == 0] = 0.0
    monthly = np.where(count == 0, annual[..., None], monthly).astype(np.float32)
    monthly_missing = np.broadcast_to((per_month == 0)[:, None, :], (n, pixels, N_MONTHS))
    annual_missing = np.broadcast_to((steps == 0)[:, None], (n, pixels))
    return _shaped(monthly, monthly_missing, annual, annual_missing, height, width, len(bands))


@dataclass(frozen=True)
class CompositeRule:
    """How observations become composites: recorded in the report and the cache key."""

    mode: str = "masked"  # COMPOSITE_MODES
    mask_classes: tuple[int, ...] = DEFAULT_MASK_CLASSES  # mode "masked" only
    empty_months: str = "interpolate"  # mode "masked" only; the reader takes the year's median

    def __post_init__(self) -> None:
        if self.mode not in COMPOSITE_MODES:
            raise ValueError(f"composite mode {self.mode!r}: choose {COMPOSITE_MODES}")
        if self.empty_months not in EMPTY_MONTH_FILLS:
            raise ValueError(f"empty_months {self.empty_months!r}: choose {EMPTY_MONTH_FILLS}")

    def apply(self, stacks: Sequence[np.ndarray], months: Sequence[np.ndarray]) -> Composites:
        if self.mode == "reader":
            return reader_batch(stacks, months)
        return composite_batch(stacks, months, self.mask_classes, empty_months=self.empty_months)

    def describe(self) -> str:
        """One line for the report header."""
        if self.mode == "reader":
            return ("reader (public Sen4Map reader: values where SCL < 9, masked values 0 in "
                    "the median, lower median, an empty month takes the year's median)")
        return (f"masked (SCL {', '.join(map(str, sorted(self.mask_classes)))} left out; "
                f"empty months: {self.empty_months})")

    def key(self) -> str:
        """What the cache key hashes."""
        if self.mode == "reader":
            return "reader"
        return f"masked|{sorted(set(self.mask_classes))}|{self.empty_months}"


def as_rule(rule: CompositeRule | Iterable[int]) -> CompositeRule:
    """A rule, or the masked rule of a list of SCL classes (the older call form)."""
    if isinstance(rule, CompositeRule):
        return rule
    return CompositeRule(mask_classes=tuple(rule))


def concat(parts: Sequence[Composites]) -> Composites:
    """One Composites from several batches (in order)."""
    if not parts:
        empty = np.zeros((0, N_MONTHS, REGION_SIZE, REGION_SIZE, len(BANDS)), np.float32)
        return Composites(empty, empty[..., 0] > 0, empty[:, 0], empty[:, 0, ..., 0] > 0)
    return Composites(
        monthly=np.concatenate([p.monthly for p in parts]),
        monthly_filled=np.concatenate([p.monthly_filled for p in parts]),
        annual=np.concatenate([p.annual for p in parts]),
        annual_filled=np.concatenate([p.annual_filled for p in parts]),
    )
