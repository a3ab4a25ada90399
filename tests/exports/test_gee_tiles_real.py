"""Real Earth Engine, on request: the scenes of tile 33UUP and one 60 m band read whole.

    EE_PROJECT=my-cloud-project pytest -m gee tests/exports/test_gee_tiles_real.py

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

from exports.gee.auth import GeeAuth
from exports.gee.source import GeeSettings, GeeSource
from exports.gee.tiles import TILE_BANDS
from exports.source import SceneFilter
from exports.tiles.mgrs import tile_bbox

pytestmark = pytest.mark.gee

TILE = "33UUP"


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


def test_a_33uup_scene_of_2018_and_its_b1_whole() -> None:
    key_file, project = _key_file(), _project()
    source = GeeSource.connect(GeeAuth(project=project, key_file=key_file),
                               GeeSettings(workers=4))
    selection = source.find_tile_scenes(TILE, 2018, SceneFilter(30.0, 100.0, 0.0),
                                        tile_bbox(TILE))
    scenes = selection.scenes[0]
    assert len(scenes) >= 5 and selection.scenes_seen > len(scenes)
    assert all(s.tile == TILE and s.epsg == 32633 and s.acquired.year == 2018 for s in scenes)
    assert all(s.product_id.startswith("S2") and s.product_id.endswith(f"_T{TILE}")
               for s in scenes)
    assert all(set(s.assets) == set(TILE_BANDS) for s in scenes)
    assert {d.kind for d in selection.dropped} <= {"cloud"}

    scene = min(scenes, key=lambda s: s.cloud_cover)
    band = source.read_band_whole(scene, "B1")
    assert band.data.shape == (1_830, 1_830) and band.data.dtype == np.uint16
    assert band.epsg == scene.epsg
    t = band.transform
    assert (t.a, t.e) == (60.0, -60.0)
    # the corner of 33UUP's 100 km MGRS square (Sentinel-2 origins sit within a few pixels)
    assert abs(t.c - 300_000.0) <= 60.0 and abs(t.f - 5_400_000.0) <= 60.0
    assert source.read_band_whole(scene, "B9").transform == t  # one grid for the 60 m bands
    assert (band.data > 0).mean() > 0.5
