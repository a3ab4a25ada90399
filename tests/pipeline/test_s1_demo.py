"""``etl run --s1`` end to end on the demo's Sentinel-1 catalog (the real stac radar path)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from exports.s1.pairing import nearest
from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args
from tests.pipeline.h5compare import assert_same_content

HARNESS = Path(__file__).with_name("crash_harness.py")


def s1_args(demo: DemoArchive, out: Path, mode: str, *extra: str) -> list[str]:
    assert demo.s1_catalog_path is not None
    return run_args(demo, out, "--s1", mode, "--s1-catalog", str(demo.s1_catalog_path), *extra)


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def _manifest(demo: DemoArchive) -> dict[str, Any]:
    return json.loads((demo.root / "demo.json").read_text())["s1"]


def _text(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


@pytest.fixture(scope="module")
def series(demo: DemoArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("s1series")
    _run(s1_args(demo, out, "series"))
    return out / "2018" / "AT_S1.h5"


@pytest.fixture(scope="module")
def closest(demo: DemoArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("s1closest")
    _run(s1_args(demo, out, "closest"))
    return out / "2018" / "AT_S1.h5"


def test_markers_land_at_the_point_pixel_in_db(demo: DemoArchive, series: Path) -> None:
    markers = _manifest(demo)["markers"]
    assert {m["cross_zone"] for m in markers} == {True, False}
    with h5py.File(series) as f:
        for m in markers:
            ds = f[f"Lucas_Point_{m['point_id']:08d}"]
            steps = [t for t, i in enumerate(_text(ds.attrs["S1_Image_ID"])) if i == m["item_id"]]
            assert len(steps) == 1, m
            t = steps[0]
            assert ds[t]["VV"][32, 32] == np.float32(10 * np.log10(np.float32(m["value"])))
            assert ds[t]["VV"][32, 32] == np.float32(m["db"])
            assert ds[t]["VV"][32, 31] != np.float32(m["db"])  # exactly the one pixel


def test_series_every_acquisition_in_order_one_per_datatake(
    demo: DemoArchive, series: Path
) -> None:
    overlaps = _manifest(demo)["overlaps"]
    with h5py.File(series) as f:
        assert f.attrs["s1_mode"] == "series" and f.attrs["backscatter"] == "gamma0_db"
        for name in f:
            ds = f[name]
            acquired = _text(ds.attrs["acquired"])
            assert acquired == sorted(acquired)
            assert set(_text(ds.attrs["orbit_pass"])) == {"ASCENDING", "DESCENDING"}
            assert {"sentinel-1a", "sentinel-1b"} <= set(_text(ds.attrs["platform"]))
            assert "paired_Image_ID" not in ds.attrs
            assert ds.dtype.names == ("VV", "VH") and ds.dtype["VH"] == np.float32
            vv = ds["VV"][:]
            assert np.nanmedian(vv) < 0 and np.isfinite(vv).mean() > 0.95
        checked = 0
        for overlap in overlaps:
            for p in overlap["points"]:
                name = f"Lucas_Point_{p['point_id']:08d}"
                if name not in f:
                    continue
                ids = _text(f[name].attrs["S1_Image_ID"])
                other = next(i for i in overlap["items"] if i != p["kept"])
                if max(p["nodata_percent"].values()) > 5.0 and min(
                        p["nodata_percent"].values()) > 5.0:
                    continue
                assert p["kept"] in ids and other not in ids, (p, overlap["items"])
                checked += 1
        assert checked > 0


def test_closest_pairs_each_s2_step_with_the_nearest_acquisition(
    demo: DemoArchive, reference: Path, series: Path, closest: Path
) -> None:
    with h5py.File(closest) as c, h5py.File(series) as s, h5py.File(reference) as s2:
        assert sorted(c) == sorted(s2)
        assert c.attrs["s2_config_hash"] == s2.attrs["config_hash"]
        crs = set()
        for name in s2:
            a, b, r = c[name], s[name], s2[name]
            crs.add(a.attrs["crs"])
            assert a.attrs["crs"] == r.attrs["crs"] == b.attrs["crs"]
            assert list(a.attrs["transform"]) == list(r.attrs["transform"])
            assert a.shape == (*r.shape[:1], 64, 64)
            s2_ids = _text(r.attrs["Image_ID"])
            assert _text(a.attrs["paired_Image_ID"]) == s2_ids
            series_ids = _text(b.attrs["S1_Image_ID"])
            series_t = [datetime.fromisoformat(t) for t in _text(b.attrs["acquired"])]
            paired = _text(a.attrs["S1_Image_ID"])
            for t, dh in enumerate(a.attrs["delta_hours"]):
                if np.isnan(dh):
                    assert paired[t] == "" and np.isnan(a[t]["VV"]).all()
                    continue
                assert abs(dh) <= 72
                s1_t = datetime.fromisoformat(_text(a.attrs["acquired"])[t])
                s2_t = datetime.fromtimestamp(s1_t.timestamp() - dh * 3600, s1_t.tzinfo)
                i = nearest(series_t, s2_t, 3.0)
                assert i is not None and series_ids[i] == paired[t], (name, t)
                for band in ("VV", "VH"):
                    assert np.array_equal(a[t][band], b[i][band], equal_nan=True)
        assert crs == {"EPSG:32632", "EPSG:32633"}  # points of both UTM zones


def test_s2_file_byte_identical_with_and_without_s1(
    demo: DemoArchive, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _run(run_args(demo, out))
    s2 = out / "2018" / "AT.h5"
    before = hashlib.sha256(s2.read_bytes()).hexdigest()
    _run(s1_args(demo, out, "closest"))
    assert hashlib.sha256(s2.read_bytes()).hexdigest() == before
    assert_same_content(s2, reference)
    assert (out / "2018" / "AT_S1.h5").is_file()


def test_kill_during_s1_export_then_rerun_gives_the_same_file(
    demo: DemoArchive, closest: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _run(run_args(demo, out))  # Sentinel-2 done: the only renames left are radar ones
    args = s1_args(demo, out, "closest")
    proc = subprocess.run([sys.executable, str(HARNESS), "stage", "3", "--", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not (out / "2018" / "AT_S1.h5").exists()
    output = _run(args)
    assert "already done" in output
    assert_same_content(out / "2018" / "AT_S1.h5", closest)
    assert [p for p in out.rglob("*") if p.name.endswith(".tmp")] == []


def test_a_catalog_without_vh_drops_its_slices_with_a_reason(
    demo: DemoArchive, tmp_path: Path
) -> None:
    import shutil

    assert demo.s1_catalog_path is not None
    catalog = tmp_path / "s1"
    shutil.copytree(demo.s1_catalog_path.parent, catalog)
    for item in catalog.rglob("*.json"):
        doc = json.loads(item.read_text())
        if doc.get("type") == "Feature":
            doc["assets"].pop("vh")
            doc["properties"]["sar:polarizations"] = ["VV"]
            item.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, run_args(demo, tmp_path / "out", "--s1", "series",
                                               "--s1-catalog", str(catalog / "catalog.json")))
    assert result.exit_code == 0, result.output
    assert "missing_polarisation" in result.output
    assert "no Sentinel-1 acquisition serves the point" in result.output
    assert not (tmp_path / "out" / "2018" / "AT_S1.h5").exists()


def test_s1_export_on_dask_gives_the_same_file(
    demo: DemoArchive, series: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    output = _run(s1_args(demo, out, "series", "--scheduler", "local:2", "--batch-size", "4"))
    assert "ran on Dask (a local cluster)" in output
    assert_same_content(out / "2018" / "AT_S1.h5", series)
