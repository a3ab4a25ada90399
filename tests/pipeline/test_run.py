"""``etl run`` end to end on a tiny generated demo archive: pixels, dates, attributes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pystac
import pytest
from click.testing import CliRunner

from exports.source import ALL_BANDS, Scene
from exports.stac.scene_meta import scene_from_item
from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args
from tests.pipeline.h5compare import assert_same_content


@pytest.fixture(scope="session")
def scenes_by_image_id(demo: DemoArchive) -> dict[str, Scene]:
    catalog = pystac.Catalog.from_file(str(demo.catalog_path))
    scenes = [scene_from_item(item) for item in catalog.get_items(recursive=True)]
    return {s.image_id: s for s in scenes}


@pytest.fixture(scope="session")
def item_props(demo: DemoArchive) -> dict[str, dict[str, object]]:
    catalog = pystac.Catalog.from_file(str(demo.catalog_path))
    return {item.id: item.properties for item in catalog.get_items(recursive=True)}


def _ids(ds: h5py.Dataset) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds.attrs["Image_ID"]]


def test_every_point_has_a_sen4map_dataset(demo: DemoArchive, reference: Path) -> None:
    with h5py.File(reference, "r") as f:
        assert sorted(f) == [f"Lucas_Point_{pid:08d}" for pid in sorted(demo.point_ids)]
        for name in f:
            im = f[name]
            assert im.ndim == 3 and im.shape[1:] == (64, 64) and im.shape[0] > 0
            assert im.dtype.names == ALL_BANDS
            assert (im["SCL"][:] < 12).all()
            ids = _ids(im)
            assert len(ids) == im.shape[0]
            assert all(len(i) == 38 and i[8] == "T" and i[32] == "T" for i in ids)
            assert ids == sorted(ids), "time steps must be in ascending acquisition time"
        assert f.attrs["point_count"] == len(demo.point_ids)
        assert f.attrs["country"] == "AT" and f.attrs["year"] == 2018


def test_attributes_equal_the_lucas_row(demo: DemoArchive, reference: Path) -> None:
    table = pd.read_csv(demo.lucas_path, dtype=str, keep_default_na=False)
    with h5py.File(reference, "r") as f:
        for _, row in table.iterrows():
            attrs = f[f"Lucas_Point_{int(row['point_id']):08d}"].attrs
            assert set(table.columns) <= set(attrs), "every LUCAS column is an attribute"
            assert attrs["point_id"] == int(row["point_id"])
            assert attrs["nuts0"] == row["nuts0"] == "AT"
            assert attrs["lc1"] == row["lc1"] and attrs["lu1"] == row["lu1"]
            assert attrs["lc1_label"] == row["lc1_label"]
            assert attrs["th_lat"] == pytest.approx(float(row["th_lat"]), abs=1e-9)
            assert attrs["th_long"] == pytest.approx(float(row["th_long"]), abs=1e-9)
            assert attrs["crs"] in ("EPSG:32632", "EPSG:32633")
            assert len(attrs["transform"]) == 6


def test_marker_pixels_land_at_the_center(
    demo: DemoArchive, reference: Path, scenes_by_image_id: dict[str, Scene]
) -> None:
    image_id_of = {s.scene_id: s.image_id for s in scenes_by_image_id.values()}
    checked_cross_zone = 0
    with h5py.File(reference, "r") as f:
        for marker in demo.markers:
            im = f[f"Lucas_Point_{marker.point_id:08d}"]
            ids = _ids(im)
            wanted = image_id_of[marker.item_id]
            # The marker's datatake is in the file; the scene kept for it must be the marked one.
            assert wanted in ids, f"{marker.item_id} missing from point {marker.point_id}"
            t = ids.index(wanted)
            assert int(im[marker.band][t, 32, 32]) == marker.value
            checked_cross_zone += marker.cross_zone
    assert checked_cross_zone >= 1, "the demo must exercise a reprojected (cross-zone) scene"


def test_scene_filters_and_datatake_dedup(
    reference: Path, scenes_by_image_id: dict[str, Scene]
) -> None:
    with h5py.File(reference, "r") as f:
        for name in f:
            im = f[name]
            ids = _ids(im)
            scenes = [scenes_by_image_id[i] for i in ids]
            assert all(s.cloud_cover < 40 and s.nodata_percent < 5 for s in scenes)
            datatakes = [s.datatake for s in scenes]
            assert len(datatakes) == len(set(datatakes)), f"{name}: one scene per datatake"
            assert [s.acquired for s in scenes] == sorted(s.acquired for s in scenes)
            nodata_share = (im["SCL"][:] == 0).mean(axis=(1, 2))
            assert (nodata_share <= 0.05).all()
            assert all(s.acquired.year == 2018 for s in scenes)
            assert isinstance(scenes[0].acquired, datetime)


def test_months_can_be_matched_like_the_public_readers(reference: Path) -> None:
    with h5py.File(reference, "r") as f:
        im = f[next(iter(f))]
        ids = _ids(im)
        months = {m for m in range(1, 13) if any(f"2018{m:02d}" in i for i in ids)}
        assert len(months) >= 6
        clear = im["SCL"][:] < 9
        assert clear.shape == im.shape
        assert np.asarray(im["B2"][:]).dtype == np.uint16


def test_rerun_after_success_does_nothing_and_force_redoes(
    demo: DemoArchive, tmp_path: Path, reference: Path
) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, run_args(demo, out)).exit_code == 0
    target = out / "2018" / "AT.h5"
    stamp = target.stat().st_mtime_ns
    again = runner.invoke(main, run_args(demo, out))
    assert again.exit_code == 0
    assert "Nothing to do" in again.output
    assert target.stat().st_mtime_ns == stamp
    forced = runner.invoke(main, run_args(demo, out, "--force"))
    assert forced.exit_code == 0 and "files written" in forced.output
    assert_same_content(target, reference)
    status = runner.invoke(main, ["status", "--out", str(out)])
    assert status.exit_code == 0
    assert "export" in status.output and "No failures." in status.output


def test_changed_settings_are_refused_without_force(demo: DemoArchive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, run_args(demo, out)).exit_code == 0
    changed = runner.invoke(main, run_args(demo, out, "--max-cloud-cover", "20"))
    assert changed.exit_code == 2
    assert "other settings" in changed.output and "--force" in changed.output
