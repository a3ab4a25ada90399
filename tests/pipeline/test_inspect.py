"""``etl inspect``, ``etl index`` and ``etl status --json`` on the demo's outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from exports.file_index import index_path
from pipeline.cli import main


@pytest.fixture
def country_file(reference: Path, tmp_path: Path) -> Path:
    """A copy of the reference run's AT.h5 with its index (tests may change both)."""
    folder = tmp_path / "2018"
    folder.mkdir()
    target = folder / "AT.h5"
    shutil.copy2(reference, target)
    shutil.copy2(index_path(reference), index_path(target))
    return target


def _inspect(path: Path) -> dict:
    result = CliRunner().invoke(main, ["inspect", "--json", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_inspect_json_gives_the_files_facts(country_file: Path) -> None:
    facts = _inspect(country_file)
    with h5py.File(country_file) as f:
        steps = sorted(f[n].shape[0] for n in f)
        ids = [s.decode() if isinstance(s, bytes) else s
               for n in f for s in f[n].attrs["Image_ID"]]
        assert facts["config_hash"] == f.attrs["config_hash"]
    assert facts["kind"] == "sen4map" and facts["country"] == "AT" and facts["year"] == 2018
    assert facts["format_version"] == "1.0" and facts["producer"] == "sen4map-etl"
    assert facts["counts"]["points"] == len(steps) == 8
    assert facts["time_steps"] == {"min": steps[0], "median": float(np.median(steps)),
                                   "max": steps[-1], "total": sum(steps)}
    first, last = min(ids)[:8], max(ids)[:8]
    assert facts["date_range"]["first"].startswith(f"{first[:4]}-{first[4:6]}-{first[6:]}")
    assert facts["date_range"]["last"].startswith(f"{last[:4]}-{last[4:6]}-{last[6:]}")
    assert facts["bands"][0] == "SCL" and facts["bands"][-1] == "B12"
    assert facts["grid"] == {"patch_size": 64, "center_pixel": [32, 32], "pixel_size_m": 10.0}
    assert facts["thresholds"]["max_cloud_cover"] == 40.0
    assert facts["index"]["current"] is True and facts["index"]["problem"] is None


def test_inspect_says_when_the_index_disagrees_and_reads_the_file(country_file: Path) -> None:
    with h5py.File(country_file, "a") as f:
        del f[sorted(f)[0]]
        total = sum(f[n].shape[0] for n in f)
    facts = _inspect(country_file)
    assert facts["index"]["current"] is False
    assert "1 point(s) gone from the file" in facts["index"]["problem"]
    assert facts["counts"]["points"] == 7
    assert facts["time_steps"]["total"] == total  # read from the file, not the stale index
    human = CliRunner().invoke(main, ["inspect", str(country_file)])
    assert human.exit_code == 0 and "index not current" in human.stdout


def test_inspect_of_a_missing_or_foreign_file_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["inspect", str(tmp_path / "XX.h5")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    junk = tmp_path / "XX.h5"
    junk.write_text("not hdf5")
    bad = CliRunner().invoke(main, ["inspect", str(junk)])
    assert bad.exit_code == 2 and "cannot read it as HDF5" in bad.output
    assert "Traceback" not in bad.output


def test_inspect_of_a_bigearthnet_tree(tmp_path: Path) -> None:
    root = tmp_path / "bigearthnet"
    root.mkdir()
    rows = pd.DataFrame({
        "patch_id": ["a_0_0", "a_1_0", "b_0_0"], "labels": [["Urban fabric"]] * 3,
        "split": ["train", "train", "test"], "country": ["Austria", "Austria", "Germany"],
        "s1_name": ["S1A_x_0_0", "", "S1A_y_0_0"], "tile": ["33UUP"] * 3,
        "s2_product": ["a", "a", "b"],
        "s2_datetime": ["2017-06-13T10:17:23+00:00", "2017-06-13T10:17:23+00:00",
                        "2018-05-14T10:17:23+00:00"]})
    rows.to_parquet(root / "metadata.parquet")
    rows.iloc[:0].to_parquet(root / "metadata_snow_cloud.parquet")
    (root / "etl_sources.json").write_text(json.dumps({
        "producer": "sen4map-etl", "producer_version": "0.1.0", "s2_source": "stac",
        "config_hash": "abc", "max_cloud_cover": 1.0, "clc": {"source": "vector"}}))
    facts = _inspect(tmp_path)  # the output folder above the tree is enough
    assert facts["kind"] == "bigearthnet" and facts["config_hash"] == "abc"
    assert facts["counts"] == {"patches": 3, "flagged_patches": 0, "s2_scenes": 2,
                               "with_s1": 2, "tiles": ["33UUP"]}
    assert facts["country"] == ["Austria", "Germany"] and facts["year"] == [2017, 2018]
    assert facts["date_range"]["last"].startswith("2018-05-14")
    assert facts["bands"][-2:] == ["VV", "VH"] and facts["grid"]["patch_size"] == 120
    assert facts["extra"]["split"] == {"test": 1, "train": 2}


def test_inspect_of_a_folder_that_is_no_tree(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["inspect", str(tmp_path)])
    assert result.exit_code == 2 and "not a BigEarthNet tree" in result.output


def test_index_check_finds_a_point_added_by_hand_and_the_rebuild_fixes_it(
    country_file: Path,
) -> None:
    ok = CliRunner().invoke(main, ["index", "--check", str(country_file)])
    assert ok.exit_code == 0 and "index agrees" in ok.stdout and "8 points" in ok.stdout
    with h5py.File(country_file, "a") as f:
        f.copy(sorted(f)[0], "Lucas_Point_99999999")
    stale = CliRunner().invoke(main, ["index", "--check", str(country_file)])
    assert stale.exit_code == 1
    assert "1 point(s) not in the index (99999999)" in stale.output
    assert f"etl index {country_file}" in stale.output
    rebuilt = CliRunner().invoke(main, ["index", str(country_file)])
    assert rebuilt.exit_code == 0 and "9 points" in rebuilt.stdout
    assert pd.read_parquet(index_path(country_file)).point_id.max() == 99999999
    assert CliRunner().invoke(main, ["index", "--check", str(country_file)]).exit_code == 0


def test_index_refuses_missing_and_radar_files(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["index", str(tmp_path / "AT.h5")])
    assert missing.exit_code == 2 and "no such country file" in missing.output
    radar = CliRunner().invoke(main, ["index", str(tmp_path / "AT_S1.h5")])
    assert radar.exit_code == 2 and "AT.h5" in radar.output and "twin" in radar.output


def test_status_json_has_the_tables_facts(reference: Path) -> None:
    out = reference.parents[1]
    result = CliRunner().invoke(main, ["status", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["ledger"] == str(out / "ledger.sqlite")
    assert facts["counts"]["select"] == {"done": 8} and facts["counts"]["pack"] == {"done": 1}
    assert list(facts["counts"])[:4] == ["ingest", "select", "export", "pack"]
    assert facts["failures_total"] == 0 and facts["failures"] == [] and facts["tasks"] == {}
