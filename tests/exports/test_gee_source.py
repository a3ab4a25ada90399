"""GeeSource.fetch with a fake computePixels: stacks, retries, failures, concurrency."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import ee
import numpy as np
import pytest

from exports.gee import source as gee_source
from exports.gee.auth import GeeAuth
from exports.gee.source import GeeSettings, GeeSource
from exports.gee.throttle import RetryPolicy
from exports.source import ALL_BANDS, PointFailure, PointRequest, PointStack, Scene
from tests.exports.gee_fakes import (
    FakeClock,
    const,
    invocations,
    marker,
    npy_answer,
    npy_bytes,
)
from tests.exports.gee_fakes import point as make_point
from tests.exports.gee_fakes import scene as make_scene

BANDS = ALL_BANDS


def _requested(params: dict[str, Any], scenes: list[Scene]) -> list[Scene]:
    (listed,) = invocations(params["expression"], "Filter.listContains")
    ids = const(listed["leftValue"])
    return [s for s in scenes if s.image_id in ids]


def _source(compute_pixels: Any, workers: int = 4, attempts: int = 4) -> GeeSource:
    clock = FakeClock()
    settings = GeeSettings(workers=workers, retry=RetryPolicy(max_attempts=attempts))
    return GeeSource(settings, compute_pixels=compute_pixels, clock=clock, sleep=clock.sleep)


def test_each_point_gets_its_time_ordered_stack(ee_offline: Any) -> None:
    batch = [
        (make_point(1, 48.2, 16.37), [make_scene(40), make_scene(5)]),
        (make_point(2, 47.9, 13.1), [make_scene(12)]),
    ]
    every = [s for _, scenes in batch for s in scenes]

    def compute_pixels(params: dict[str, Any]) -> bytes:
        return npy_bytes(npy_answer(_requested(params, every)[::-1], BANDS))

    results = {r.point_id: r for r in _source(compute_pixels).fetch(batch, BANDS, 5.0)}
    first = results[1]
    assert isinstance(first, PointStack)
    assert first.image_ids == [make_scene(5).image_id, make_scene(40).image_id]
    assert first.data.shape == (2, 64, 64)
    assert first.data.dtype.names == BANDS
    assert first.data["SCL"].dtype == np.uint8
    values = {int(first.data["B4"][t, 32, 32]) for t in range(2)}
    assert values == {marker(0, "B4"), marker(1, "B4")}
    assert isinstance(results[2], PointStack) and len(results[2].image_ids) == 1


def test_one_scene_per_datatake_and_patch_nodata_filter(ee_offline: Any) -> None:
    pt = make_point()
    a = make_scene(5, "33UXP", datatake="DT1")
    b = make_scene(5, "33UWP", datatake="DT1")  # same datatake, neighbouring tile
    c = make_scene(9)

    def compute_pixels(params: dict[str, Any]) -> bytes:
        array = npy_answer([a, b, c], BANDS)
        array[f"{a.image_id}_SCL"][:10] = 0  # a: 15.6 % no-data in the patch
        array[f"{c.image_id}_SCL"][:40] = 0  # c: 62.5 %, above the threshold
        return npy_bytes(array)

    (stack,) = _source(compute_pixels).fetch([(pt, [a, b, c])], BANDS, 5.0)
    assert isinstance(stack, PointStack)
    assert stack.image_ids == [b.image_id]
    kinds = {d.scene_id: d.kind for d in stack.dropped}
    assert kinds == {a.scene_id: "duplicate_datatake", c.scene_id: "patch_nodata"}


def test_429_is_retried_then_the_point_succeeds(ee_offline: Any) -> None:
    pt, scenes = make_point(), [make_scene(5)]
    calls = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        calls.append(1)
        if len(calls) <= 2:
            raise ee.EEException("Too many concurrent aggregations.")
        return npy_bytes(npy_answer(scenes, BANDS))

    source = _source(compute_pixels)
    (result,) = source.fetch([(pt, scenes)], BANDS, 5.0)
    assert isinstance(result, PointStack) and len(calls) == 3
    assert source.throttle.limiter.limit < 4  # quota pushback lowered the concurrency


def test_memory_limit_is_a_point_failure_without_retry(ee_offline: Any) -> None:
    calls = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        calls.append(1)
        raise ee.EEException("User memory limit exceeded.")

    (result,) = _source(compute_pixels).fetch([(make_point(7), [make_scene(5)])], BANDS, 5.0)
    assert isinstance(result, PointFailure)
    assert result.point_id == 7 and not result.transient
    assert "User memory limit exceeded" in result.message
    assert len(calls) == 1


def test_transient_errors_give_up_after_bounded_attempts(ee_offline: Any) -> None:
    calls = []

    def compute_pixels(params: dict[str, Any]) -> bytes:
        calls.append(1)
        raise ConnectionResetError(104, "Connection reset by peer")

    source = _source(compute_pixels, attempts=3)
    (result,) = source.fetch([(make_point(7), [make_scene(5)])], BANDS, 5.0)
    assert isinstance(result, PointFailure) and result.transient
    assert len(calls) == 3


def test_requests_in_flight_stay_within_the_worker_bound(ee_offline: Any) -> None:
    batch: list[tuple[PointRequest, list[Scene]]] = [
        (make_point(i, 48.0 + i / 100, 16.0), [make_scene(i)]) for i in range(1, 13)
    ]
    every = [s for _, scenes in batch for s in scenes]
    lock = threading.Lock()
    active = peak = 0

    def compute_pixels(params: dict[str, Any]) -> bytes:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return npy_bytes(npy_answer(_requested(params, every), BANDS))

    source = GeeSource(GeeSettings(workers=3), compute_pixels=compute_pixels)
    results = list(source.fetch(batch, BANDS, 5.0))
    assert sorted(r.point_id for r in results) == list(range(1, 13))
    assert all(isinstance(r, PointStack) for r in results)
    assert 1 <= peak <= 3


def test_from_config_connects_with_project_key_file_and_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[GeeAuth] = []
    monkeypatch.setattr(gee_source, "initialize", seen.append)

    class Cfg:
        project = "my-project"
        gee_key_file = Path("/keys/sa.json")
        workers = 99

    source = GeeSource.from_config(Cfg())
    assert seen == [GeeAuth(project="my-project", key_file=Path("/keys/sa.json"))]
    assert source.settings.workers == 40  # clipped to the default concurrent quota
    assert source.name == "gee"
