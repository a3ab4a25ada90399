"""Real Earth Engine, on request: one point's Sentinel-1 slices and patches.

    EE_PROJECT=my-cloud-project pytest -m gee tests/exports/test_s1gee_real.py

Skipped without credentials (``earthengine authenticate``, gcloud application-default
credentials, or a service-account key in ``GOOGLE_APPLICATION_CREDENTIALS``) or without a
project (``EE_PROJECT`` or ``GOOGLE_CLOUD_PROJECT``); the network guard lets ``gee``-marked
tests through.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from exports.grid import patch_grid
from exports.registry import SourceContext
from exports.s1.options import S1Options
from exports.s1.scene import S1_DTYPE
from exports.s1.source import S1Filter
from exports.s1gee.build import build_radar_source
from exports.source import PointRequest, PointStack
from lucas.location import grid_latlon

pytestmark = pytest.mark.gee

POINT_ID = 47842758  # a LAEA grid node near Wiener Neustadt, Austria (47.76 N, 16.18 E)


def _key_file() -> Path | None:
    """The service-account key found, or None for user credentials; skip without any."""
    key = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key and Path(key).is_file():
        return Path(key)
    stored = [Path("~/.config/earthengine/credentials").expanduser(),
              Path("~/.config/gcloud/application_default_credentials.json").expanduser()]
    if not any(p.is_file() for p in stored):
        pytest.skip("no Earth Engine credentials: run `earthengine authenticate`, or set "
                    "GOOGLE_APPLICATION_CREDENTIALS to a service-account key")
    return None


def _project() -> str:
    project = os.environ.get("EE_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        pytest.skip("no Earth Engine project: set EE_PROJECT=<cloud project id>")
    return project


def test_one_point_of_2018_has_a_series_of_sigma0_db() -> None:
    key_file, project = _key_file(), _project()
    context = SourceContext(bands=(), year=2018, workers=2, project=project,
                            key_file=key_file)
    source = build_radar_source(S1Options(s1="series", s1_source="gee"), context)
    lat, lon = grid_latlon(np.array([POINT_ID]))
    point = PointRequest(POINT_ID, float(lat[0]), float(lon[0]),
                         patch_grid(float(lat[0]), float(lon[0])))

    selection = source.find_acquisitions([point], 2018, S1Filter(orbit="both"))
    slices = selection.scenes[POINT_ID]
    assert len(slices) >= 30  # S1A + S1B over Austria: a slice every few days
    assert all(s.acquired.year == 2018 and s.convention == "sigma0_db" for s in slices)
    assert {s.orbit_pass for s in slices} <= {"ASCENDING", "DESCENDING"}
    assert {s.platform for s in slices} <= {"sentinel-1a", "sentinel-1b"}

    few = slices[:4]
    (stack,) = source.fetch([(point, few)], 50.0, "nearest")
    assert isinstance(stack, PointStack), stack
    assert stack.data.dtype == S1_DTYPE and stack.data.shape[1:] == (64, 64)
    assert 1 <= len(stack.image_ids) <= len(few)
    vv, vh = stack.data["VV"], stack.data["VH"]
    assert np.isfinite(vv).mean() > 0.5
    assert -40.0 < float(np.nanmedian(vv)) < 10.0  # dB, not linear
    assert float(np.nanmedian(vh)) < float(np.nanmedian(vv))  # cross-pol is weaker
