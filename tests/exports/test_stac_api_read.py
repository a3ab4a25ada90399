"""COG reads over HTTP through the loopback server: the same pixels as from disk; 503,
truncated and stalled transfers retried; an asset that is not there drops its scene."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exports.source import ALL_BANDS, PointFailure, PointRequest, PointStack, SceneFilter
from exports.stac.api import api_source
from exports.stac.http import HttpSettings
from exports.stac.source import StacSource
from tests.fixtures.stac_server import LoopbackStac
from tests.fixtures.synthetic_s2 import point_request, tile_around, write_catalog, write_scene

TILE = tile_around("33UUP", 32633, 48.0, 12.2, 600)
DATES = [datetime(2018, 5, 2, 10, 20, 30, tzinfo=UTC), datetime(2018, 5, 7, 10, 20, 30,
                                                                   tzinfo=UTC)]
POINTS = [point_request(1, 48.0, 12.2), point_request(2, 48.003, 12.203)]
BANDS = ("SCL", "B2", "B5")
# GDAL's curl timeouts are whole seconds: 1 s is the shortest.
FAST = HttpSettings(connect_timeout_s=1.0, read_timeout_s=1.0, attempts=2, backoff_s=0.01,
                    backoff_max_s=0.05, jitter_s=0.0)


def _noise(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Values that do not compress away, so blocks have a realistic size."""
    rng = np.random.default_rng(len(band))
    return rng.integers(1, 11 if band == "SCL" else 5000, size=x.shape)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("s2")
    items = [write_scene(root, f"S2A_{TILE.name}_{d:%Y%m%d}_0_L2A", TILE, d, bands=BANDS,
                         values=_noise, block=128) for d in DATES]
    return write_catalog(root, items)


@pytest.fixture
def api(archive: Path) -> Iterator[LoopbackStac]:
    with LoopbackStac.from_catalog(archive) as server:
        yield server


def _run(source: StacSource, points: list[PointRequest] = POINTS) -> dict[int, Any]:
    sel = source.find_scenes(points, 2018, SceneFilter())
    out = source.fetch([(p, sel.scenes[p.point_id]) for p in points], BANDS, 100.0)
    return {r.point_id: r for r in out}


def _stack(result: Any) -> PointStack:
    assert isinstance(result, PointStack), result
    return result


def test_http_reads_give_the_pixels_of_the_local_files(api: LoopbackStac, archive: Path) -> None:
    local = _run(StacSource.from_catalog(archive, bands=BANDS))
    remote = _run(api_source(api.url, bands=BANDS, http=FAST))
    for pid in local:
        a, b = _stack(local[pid]), _stack(remote[pid])
        assert a.image_ids == b.image_ids and len(b.image_ids) == 2
        assert np.array_equal(a.data, b.data)
    assert api.stats.by_kind["/files"] > 0
    assert api.stats.statuses[206] > 0  # range requests, not whole files
    whole = sum(p.stat().st_size for p in archive.parent.rglob("*.tif"))
    assert api.stats.bytes_by_kind["/files"] < whole


@pytest.mark.parametrize("fault", ["503", "truncate", "stall"])
def test_transient_read_faults_are_retried(api: LoopbackStac, archive: Path, fault: str) -> None:
    local = _run(StacSource.from_catalog(archive, bands=BANDS))
    source = api_source(api.url, bands=BANDS, http=FAST)
    sel = source.find_scenes(POINTS, 2018, SceneFilter())  # searched before the faults
    if fault == "503":
        api.fail("/files", 503)
    elif fault == "truncate":
        api.truncate("/files", 1)
    else:
        api.stall("/files", 1, mid_body=True)
    out = {r.point_id: r for r in
           source.fetch([(p, sel.scenes[p.point_id]) for p in POINTS], BANDS, 100.0)}
    for pid in local:
        assert np.array_equal(_stack(local[pid]).data, _stack(out[pid]).data)
    assert api.pending_faults() == 0  # the fault did happen


def test_a_stalled_asset_times_out_and_fails_the_point_as_transient(api: LoopbackStac) -> None:
    source = api_source(api.url, bands=BANDS, http=FAST)
    sel = source.find_scenes(POINTS[:1], 2018, SceneFilter())
    scenes = sel.scenes[1][:1]
    api.stall("/files", 20)
    start = time.perf_counter()
    (result,) = source.fetch([(POINTS[0], scenes)], BANDS, 100.0)
    assert isinstance(result, PointFailure) and result.transient  # the export stage retries
    assert "timed out" in result.message and api.url in result.message
    assert time.perf_counter() - start < 15.0  # 2 attempts of 1 s, not the 30 s stall


def test_reads_cut_short_every_time_fail_the_point_as_transient(api: LoopbackStac) -> None:
    source = api_source(api.url, bands=BANDS, http=FAST)
    sel = source.find_scenes(POINTS[:1], 2018, SceneFilter())
    api.truncate("/files", 1000)
    (result,) = source.fetch([(POINTS[0], sel.scenes[1])], BANDS, 100.0)
    assert isinstance(result, PointFailure) and result.transient, result
    api.clear_faults()


def test_an_asset_that_is_not_there_drops_its_scene_for_the_point(
    api: LoopbackStac, archive: Path
) -> None:
    source = api_source(api.url, bands=BANDS, http=FAST)
    sel = source.find_scenes(POINTS, 2018, SceneFilter())
    gone = f"{api.files_prefix}/S2A_{TILE.name}_{DATES[0]:%Y%m%d}_0_L2A/B5.tif"
    api.fail(gone, *[404] * 5)
    out = {r.point_id: r for r in
           source.fetch([(p, sel.scenes[p.point_id]) for p in POINTS], BANDS, 100.0)}
    for pid in (1, 2):
        stack = _stack(out[pid])
        assert len(stack.image_ids) == 1  # the other date
        (drop,) = stack.dropped
        assert drop.kind == "read_error" and drop.scene_id.endswith("20180502_0_L2A")
        assert "404" in drop.reason and gone in drop.reason


def test_gdal_http_settings_follow_the_http_settings() -> None:
    source = api_source("earth-search", bands=ALL_BANDS, http=FAST)
    options = source.gdal_options
    assert options["GDAL_HTTP_TIMEOUT"] == 1 and options["GDAL_HTTP_CONNECTTIMEOUT"] == 1
    assert options["GDAL_HTTP_MAX_RETRY"] == FAST.attempts - 1
    assert HttpSettings(read_timeout_s=0.2).gdal_options()["GDAL_HTTP_TIMEOUT"] == 1
