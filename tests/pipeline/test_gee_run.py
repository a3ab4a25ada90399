"""``etl run --source gee`` end to end against a fake Earth Engine serving the demo archive.

The file must equal the stac source's for the same points and scenes, apart from two file
attributes that name the run rather than the data: ``source`` ("gee" vs "stac") and
``config_hash`` (a digest of the settings, which include the source and the catalog).
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import ee
import pytest
from click.testing import CliRunner

from exports.gee import source as gee_source
from pipeline.cli import main
from pipeline.demo import DemoArchive
from pipeline.ledger import LEDGER_NAME, Ledger
from tests.exports.gee_fakes import export_samples
from tests.pipeline.fake_earth_engine import fake_earth_engine
from tests.pipeline.h5compare import content

RUN_ATTRS = {"source", "config_hash"}  # name the run, not the data


def gee_args(demo: DemoArchive, out: Path, *extra: str) -> list[str]:
    return ["run", "--country", "AT", "--lucas", str(demo.lucas_path), "--source", "gee",
            "--project", "demo-project", "--out", str(out), "--workers", "2", *extra]


def assert_same_data(path: Path, reference: Path) -> None:
    got, want = content(path), content(reference)
    assert got["file_attrs"]["source"] == "gee" and want["file_attrs"]["source"] == "stac"
    for attrs in (got["file_attrs"], want["file_attrs"]):
        for key in RUN_ATTRS:
            attrs.pop(key)
    assert sorted(got) == sorted(want), "different datasets"
    for key in want:
        assert got[key] == want[key], f"{key} differs"


def test_gee_run_writes_the_stac_runs_file(
    demo: DemoArchive, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    with fake_earth_engine(demo, tmp_path / "gcs", monkeypatch) as fake:
        result = CliRunner().invoke(main, gee_args(demo, out))
    assert result.exit_code == 0, result.output
    assert_same_data(out / "2018" / "AT.h5", reference)
    assert fake.initialized == [
        {"url": ee.data.HIGH_VOLUME_API_BASE_URL, "project": "demo-project"}
    ]
    assert fake.calls["computeValue"] == 1, "the points' scenes in one selection call"
    assert fake.calls["computePixels"] == len(demo.point_ids), "one request per point"
    assert fake.calls["exportTable"] == 0


def _short_batch_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch path gives up waiting at once (the real default waits up to 6 h)."""
    settings: Any = partial(gee_source.GeeSettings, batch_poll_s=1.0, batch_timeout_s=0.0)
    monkeypatch.setattr(gee_source, "GeeSettings", settings)


def test_batch_run_resumes_a_ledger_with_running_tasks_without_starting_new_ones(
    demo: DemoArchive, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    args = gee_args(demo, out, "--mode", "batch", "--gcs-bucket", "demo-bucket",
                    "--gcs-prefix", "runs/2018", "--retries", "1")
    _short_batch_wait(monkeypatch)
    runner = CliRunner()
    with fake_earth_engine(demo, tmp_path / "gcs", monkeypatch) as fake:
        fake.finish_tasks = False
        first = runner.invoke(main, args)  # every task still running at the timeout
        assert first.exit_code == 1, first.output
        zones = sorted({s.crs for c in fake.exports.values() for s in export_samples(c)})
        assert zones == ["EPSG:32632", "EPSG:32633"]
        assert fake.calls["exportTable"] == 2, "the country's 8 points: one task per UTM zone"
        with Ledger(out / LEDGER_NAME) as ledger:
            assert ledger.task_counts() == {"RUNNING": len(demo.point_ids)}  # per point
        status = runner.invoke(main, ["status", "--out", str(out)])
        assert "Earth Engine export task state" in status.output
        assert re.search(r"RUNNING\s*│\s*8", status.output)
        assert "batch timeout" in status.output

        fake.complete_all()
        second = runner.invoke(main, args)
        assert second.exit_code == 0, second.output
        assert fake.calls["exportTable"] == 2, "no task started again"
        assert len(fake.tasks) == 2 and fake.calls["listOperations"] == 0
        # every poll asked for the two tasks in flight, nothing else of the project
        assert fake.calls["operations touched"] == 2 * fake.calls["getTaskStatus"]
    assert_same_data(out / "2018" / "AT.h5", reference)
    with Ledger(out / LEDGER_NAME) as ledger:
        assert ledger.task_counts() == {"COMPLETED": len(demo.point_ids)}


def test_batch_mode_needs_a_bucket(
    demo: DemoArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_earth_engine(demo, tmp_path / "gcs", monkeypatch):
        result = CliRunner().invoke(main, gee_args(demo, tmp_path / "out", "--mode", "batch"))
    assert result.exit_code != 0
    assert "--gcs-bucket" in result.output


def test_lucas_from_the_catalog_through_a_gee_run(
    demo: DemoArchive, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--lucas gee:…``: the same points, pixels and attributes as from the CSV, plus the
    ``.geo`` column of the catalog's features (every source column is kept)."""
    out = tmp_path / "out"
    args = gee_args(demo, out)
    args[args.index("--lucas") + 1] = "gee:JRC/LUCAS_HARMO/THLOC/V1"
    with fake_earth_engine(demo, tmp_path / "gcs", monkeypatch) as fake:
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert fake.calls["computeFeatures"] >= 2  # the probe, then the pages
    got, want = content(out / "2018" / "AT.h5"), content(reference)
    assert sorted(got) == sorted(want)
    for name in want:
        if name == "file_attrs":
            continue
        data, dtype, shape, attrs = got[name]
        assert (data, dtype, shape) == want[name][:3], name
        assert attrs.pop(".geo").startswith('{"type": "Point"')
        assert attrs == want[name][3], name
