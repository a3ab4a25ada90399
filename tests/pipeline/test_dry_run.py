"""``etl run --dry-run``: no pixel written, and its forecast matches the export that follows.

Counting the real export honestly: on a catalog on disk the ``stac`` source's requests are
its rasterio file opens and windowed reads (:mod:`exports.stac.window_read`), which is what
the estimator predicts. The test counts the dataset pool's opens and every window served
(``window_read.to_patch``) that the real run makes, in this process (``--workers 1``: the export
runs inline, so every call is seen).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from exports.gee.estimate import estimate as gee_estimate
from exports.gee.options import GeeOptions
from exports.stac import window_read
from exports.stac.dataset_pool import dataset_pool
from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args


def _forecast(demo: DemoArchive, out: Path, *extra: str) -> dict:
    result = CliRunner().invoke(main, [*run_args(demo, out, "--dry-run", "--json"), *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_dry_run_writes_no_pixel_and_predicts_the_exports_requests(
    demo: DemoArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    forecast = _forecast(demo, out)
    assert forecast["source"] == "stac" and forecast["points"] == 8
    assert forecast["to_export"] == 8 and forecast["point_scenes"] > 0
    spread = forecast["scenes_per_point"]
    assert spread["min"] <= spread["median"] <= spread["max"]
    assert forecast["request_kind"] == "file opens + windows"
    assert forecast["bytes"] > 0 and forecast["seconds"] > 0 and forecast["assumptions"]
    assert not list(out.rglob("*.h5")) and not list(out.rglob(".staging"))
    assert not list(out.rglob("*.index.parquet"))

    calls = {"open": 0, "read": 0}
    real_read = window_read.to_patch
    pool = dataset_pool()
    pool.clear()  # a fresh process would start with no dataset open
    opens_before = pool.opens

    def counting_read(*args: object, **kwargs: object) -> object:
        calls["read"] += 1
        return real_read(*args, **kwargs)

    monkeypatch.setattr(window_read, "to_patch", counting_read)  # one per window served
    result = CliRunner().invoke(main, run_args(demo, out))
    assert result.exit_code == 0, result.output
    calls["open"] = pool.opens - opens_before
    made = calls["open"] + calls["read"]
    assert calls["read"] > 0
    assert abs(forecast["requests"] - made) <= 0.1 * made, (forecast, calls)


def test_dry_run_after_the_export_has_nothing_left_to_forecast(
    demo: DemoArchive, reference: Path
) -> None:
    forecast = _forecast(demo, reference.parents[1])
    assert forecast["points"] == 8 and forecast["to_export"] == 0
    assert forecast["requests"] == 0 and forecast["point_scenes"] == 0


def test_dry_run_refuses_force_and_json_needs_it(demo: DemoArchive, tmp_path: Path) -> None:
    forced = CliRunner().invoke(main, run_args(demo, tmp_path / "o", "--dry-run", "--force"))
    assert forced.exit_code == 2 and "--dry-run with --force" in forced.output
    plain = CliRunner().invoke(main, run_args(demo, tmp_path / "o", "--json"))
    assert plain.exit_code == 2 and "--json goes with --dry-run" in plain.output


def test_dry_run_human_output_states_its_assumptions(demo: DemoArchive, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, run_args(demo, tmp_path / "o", "--dry-run"))
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "export forecast (stac)" in text and "scenes per point" in text
    assert "assumptions" in text and "ms per point-scene" in text
    assert "Dry run: nothing exported" in text


def test_gee_forecast_is_one_request_per_point_up_to_93_scenes() -> None:
    from exports.grid import patch_grid
    from exports.source import ALL_BANDS, PointRequest, Scene

    point = PointRequest(1, 47.5, 14.5, patch_grid(47.5, 14.5))

    def scenes(n: int) -> list[Scene]:
        t0 = datetime(2018, 1, 1, tzinfo=UTC)
        return [Scene(f"s{i}", f"2018{i:04d}", t0 + timedelta(days=i), f"d{i}", "33UVP",
                      32633, 0.0, 0.0) for i in range(n)]

    batches = [[(point, scenes(93)), (point, scenes(94)), (point, [])]]
    fast = gee_estimate(GeeOptions(), batches, ALL_BANDS, 16)
    assert fast.requests == 1 + 2 and fast.request_kind == "computePixels requests"
    assert fast.bytes == (93 + 94) * 11 * 64 * 64 * 2
    assert fast.seconds == pytest.approx(3 / 16)
    batch = gee_estimate(GeeOptions(mode="batch", gcs_bucket="b"), batches, ALL_BANDS, 16)
    assert batch.requests == 1 and batch.seconds is None  # both points in one group task
    single = gee_estimate(GeeOptions(mode="batch", gcs_bucket="b", gee_group_size=1), batches,
                          ALL_BANDS, 16)
    assert single.requests == 2


def test_gee_dry_run_predicts_the_computepixels_calls_of_the_run(
    demo: DemoArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the fake Earth Engine: the dry run selects (computeValue) but never asks for
    pixels, and its request count is the run's computePixels count."""
    from tests.pipeline.fake_earth_engine import fake_earth_engine
    from tests.pipeline.test_gee_run import gee_args

    out = tmp_path / "out"
    with fake_earth_engine(demo, tmp_path / "gcs", monkeypatch) as fake:
        dry = CliRunner().invoke(main, gee_args(demo, out, "--dry-run", "--json"))
        assert dry.exit_code == 0, dry.output
        forecast = json.loads(dry.stdout)
        assert fake.calls["computePixels"] == 0 and fake.calls["computeValue"] == 1
        assert not list(out.rglob("*.h5"))
        real = CliRunner().invoke(main, gee_args(demo, out))
        assert real.exit_code == 0, real.output
    assert forecast["request_kind"] == "computePixels requests"
    assert forecast["requests"] == fake.calls["computePixels"] == len(demo.point_ids)
    assert fake.calls["computeValue"] == 1, "the real run used the dry run's selection"
