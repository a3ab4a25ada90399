"""Linear backscatter → decibels, with every kind of no-data as NaN."""

from __future__ import annotations

import numpy as np


def linear_to_db(linear: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """``10·log10(x)`` as float32; x <= 0, NaN, infinite or the asset's ``nodata`` → NaN.

    Why x <= 0 is no-data: a calibrated linear backscatter is positive; 0 is the fill of
    the swath's edge, and a negative value is a processing artefact, not a dark surface.
    """
    values = np.asarray(linear, dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0)
    if nodata is not None and not np.isnan(nodata):
        bad |= values == nodata
    out = np.full(values.shape, np.nan, dtype=np.float32)
    good = ~bad
    out[good] = (10.0 * np.log10(values[good])).astype(np.float32)
    return out


def db_patch(values: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """A patch already in dB (Earth Engine) as float32; NaN, infinite and ``nodata`` → NaN."""
    out = np.asarray(values, dtype=np.float32).copy()
    bad = ~np.isfinite(out)
    if nodata is not None and not np.isnan(nodata):
        bad |= out == np.float32(nodata)
    out[bad] = np.nan
    return out
