"""Issue 7: ``etl run --year 2022`` end to end, with a 2022-format table and 2022 imagery.

A generated LUCAS 2022 table (``etl demo --year 2022``: POINT_*/SURVEY_* columns, codes partly
lower case, office photo-interpreted points with aggregated codes) and a generated 2022
archive (processing baseline 04.00, +1000 BOA offset in the COGs) go through ``etl run`` and
then ``etl benchmark``; a second archive of the same ground, whose catalog says the offset
was already removed, must give the very same pixels. Then a 2015 archive (S2A only) and the
refusal of 2009.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.windows import Window

from benchmark.h5read import image_months
from exports.source import ALL_BANDS
from exports.stac.scene_meta import scene_from_item
from lucas import codes
from lucas.columns import CODE_COLUMNS, rename_map, typed_columns
from lucas.formats import LUCAS2022, detect_format
from lucas.legend import unmapped_report
from pipeline.cli import main
from pipeline.demo import Marker, build_demo, plan_demo
from pipeline.demo.stac import BANDS

YEAR = 2022
POINTS = 12
STEP_DAYS = 15.0
SEED = 1  # not the 2018 demo's seed, so the two surveys share only some points
OFFSET = 1000


@dataclass(frozen=True)
class Archive:
    """A demo archive as its manifest describes it (built through the CLI)."""

    root: Path
    lucas: Path
    point_ids: tuple[int, ...]
    markers: tuple[Marker, ...]

    @property
    def catalog(self) -> Path:
        return self.root / "stac" / "catalog.json"


def _archive(root: Path, lucas: Path) -> Archive:
    manifest = json.loads((root / "demo.json").read_text())
    return Archive(
        root,
        lucas,
        tuple(p["point_id"] for p in manifest["points"]),
        tuple(Marker(**m) for m in manifest["markers"]),
    )


def _run(archive: Archive, out: Path, year: int) -> Path:
    result = CliRunner().invoke(main, [
        "run", "--country", "AT", "--year", str(year), "--lucas", str(archive.lucas),
        "--source", "stac", "--catalog", str(archive.catalog), "--out", str(out),
        "--workers", "1",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out / str(year) / "AT.h5"


@pytest.fixture(scope="module")
def demo22(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    root = tmp_path_factory.mktemp("demo2022") / "d"
    result = CliRunner().invoke(main, [
        "demo", "--out", str(root), "--points", str(POINTS), "--step-days", str(STEP_DAYS),
        "--year", str(YEAR), "--seed", str(SEED),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(lucas2022)" in result.output
    return _archive(root, root / "lucas_survey_2022.csv")


@pytest.fixture(scope="module")
def h5_2022(demo22: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(demo22, tmp_path_factory.mktemp("out2022"), YEAR)


def _ids(ds: h5py.Dataset) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds.attrs["Image_ID"]]


def _table(demo: Archive) -> pd.DataFrame:
    return pd.read_csv(demo.lucas, dtype=str, keep_default_na=False)


# --- the 2022 table -------------------------------------------------------------------------


def test_demo_2022_writes_the_lucas_2022_layout(demo22: Archive) -> None:
    table = _table(demo22)
    header = list(table.columns)
    assert detect_format(header, demo22.lucas).name == LUCAS2022
    for name in ("POINT_ID", "POINT_NUTS0", "POINT_LAT", "POINT_LONG", "SURVEY_LC1",
                 "SURVEY_LU1", "SURVEY_OBS_TYPE", "photo_north"):  # fmt: skip
        assert name in header, name
    assert "SURVEY_YEAR" not in header, "the 2022 table says its year by its layout"
    assert set(table["POINT_NUTS3"]) == {"AT335"}  # NUTS 2021
    assert (table["SURVEY_LC1"] != table["SURVEY_LC1"].str.upper()).any(), "lower-case codes"
    office = table[table["SURVEY_OBS_TYPE"] == "7"]
    assert len(office) >= 1 and (office["SURVEY_GPS_LAT"] == "").all()
    for code in office["SURVEY_LC1"].str.upper():
        assert codes.lc_codes()[code].level in ("1", "2"), f"{code} is not an aggregate"


# --- the HDF5 file ----------------------------------------------------------------------------


def test_run_2022_writes_the_same_layout(demo22: Archive, h5_2022: Path) -> None:
    with h5py.File(h5_2022, "r") as f:
        assert sorted(f) == [f"Lucas_Point_{pid:08d}" for pid in sorted(demo22.point_ids)]
        assert f.attrs["year"] == YEAR and f.attrs["country"] == "AT"
        for name in f:
            im = f[name]
            assert im.ndim == 3 and im.shape[1:] == (64, 64) and im.shape[0] > 0
            assert im.dtype.names == ALL_BANDS
            ids = _ids(im)
            assert ids == sorted(ids) and all(i.startswith("2022") for i in ids)
            assert im.attrs["crs"] in ("EPSG:32632", "EPSG:32633")


def test_canonical_attributes_exist_for_2022(h5_2022: Path) -> None:
    lc_labels, lu_labels = codes.lc_labels(), codes.lu_labels()
    with h5py.File(h5_2022, "r") as f:
        for name in f:
            a = f[name].attrs
            assert a["nuts0"] == "AT" and a["year"] == YEAR
            assert a["lc1"] == a["lc1"].upper() and a["lc1_label"] == lc_labels[a["lc1"]]
            assert a["lu1"] == a["lu1"].upper() and a["lu1_label"] == lu_labels[a["lu1"]]
            assert not math.isnan(a["th_lat"]) and not math.isnan(a["th_long"])


def _assert_same_value(name: str, source: str, attr: object) -> None:
    """The attribute is the source value after the documented normalisation only."""
    if source == "":
        assert attr == "" or (isinstance(attr, float) and math.isnan(attr)), (name, attr)
    elif name == "point_id":
        assert attr == int(source)
    elif name in typed_columns(LUCAS2022):
        assert isinstance(attr, (int, float, np.number)), (name, attr)
        assert float(attr) == float(source), (name, attr)
    elif name == "survey_date":
        assert attr == datetime.strptime(source, "%d/%m/%y").strftime("%Y-%m-%d")
    elif name in CODE_COLUMNS:
        assert attr == source.upper(), (name, attr)
    else:
        assert attr == source, (name, source, attr)


def test_one_attribute_per_renamed_column(demo22: Archive, h5_2022: Path) -> None:
    table = _table(demo22)
    renamed = rename_map(LUCAS2022, list(table.columns))
    assert len(set(renamed.values())) == len(table.columns), "no two columns share a name"
    assert renamed["POINT_LAT"] == "th_lat" and renamed["SURVEY_LC1"] == "lc1"
    with h5py.File(h5_2022, "r") as f:
        for _, row in table.iterrows():
            attrs = f[f"Lucas_Point_{int(row['POINT_ID']):08d}"].attrs
            for column, name in renamed.items():
                assert name in attrs, f"{column} → {name} missing"
                _assert_same_value(name, row[column], attrs[name])


def test_months_match_2022mm_like_the_public_readers(h5_2022: Path) -> None:
    with h5py.File(h5_2022, "r") as f:
        im = f[next(iter(f))]
        ids = _ids(im)
        months = {m for m in range(1, 13) if any(f"2022{m:02d}" in i for i in ids)}
        assert len(months) >= 6
        assert sorted(set(image_months(ids).tolist())) == sorted(months)
        assert not any("2018" in i[:8] for i in ids)


def test_ingest_summary_reports_the_codes_legends_leave_unmapped(
    demo22: Archive, h5_2022: Path
) -> None:
    summary = json.loads((h5_2022.parent / "points" / "ingest_summary.json").read_text())
    assert summary["format"] == LUCAS2022 and summary["kept"] == POINTS
    lc1 = _table(demo22)["SURVEY_LC1"].str.upper()
    assert summary["unmapped_by_legend"] == unmapped_report(lc1)
    office = set(_table(demo22).query("SURVEY_OBS_TYPE == '7'")["SURVEY_LC1"].str.upper())
    assert office <= set(summary["unmapped_by_legend"]["sen4map-crop-released"]), "aggregates kept"


def test_points_of_either_survey_only_just_work(demo22: Archive, h5_2022: Path) -> None:
    ids_2018 = {p.node.point_id for p in plan_demo(8, 0).points}  # the 2018 demo's points
    ids_2022 = set(demo22.point_ids)
    assert ids_2022 - ids_2018 and ids_2018 - ids_2022
    with h5py.File(h5_2022, "r") as f:
        assert len(f) == len(ids_2022)


# --- reflectance harmonisation -----------------------------------------------------------------


def _raw_cog_value(archive: Archive, marker: Marker) -> int:
    path = archive.root / "stac" / marker.item_id / f"{BANDS[marker.band].esa}.tif"
    with rasterio.open(path) as src:
        return int(src.read(1, window=Window(marker.col, marker.row, 1, 1))[0, 0])


def _item(archive: Archive, item_id: str) -> pystac.Item:
    return pystac.Item.from_file(str(archive.root / "stac" / item_id / f"{item_id}.json"))


def _marker_values(h5: Path, archive: Archive) -> list[tuple[Marker, int]]:
    out = []
    with h5py.File(h5, "r") as f:
        for marker in archive.markers:
            image_id = scene_from_item(_item(archive, marker.item_id)).image_id
            im = f[f"Lucas_Point_{marker.point_id:08d}"]
            t = _ids(im).index(image_id)
            out.append((marker, int(im[marker.band][t, 32, 32])))
    return out


def test_baseline_04_scene_values_are_harmonised(demo22: Archive, h5_2022: Path) -> None:
    item = _item(demo22, demo22.markers[0].item_id)
    assert item.properties["s2:processing_baseline"] == "04.00"
    assert item.properties["earthsearch:boa_offset_applied"] is False
    checked = 0
    for marker, value in _marker_values(h5_2022, demo22):
        raw = _raw_cog_value(demo22, marker)
        assert raw == marker.value > OFFSET
        assert value == raw - OFFSET, f"{marker.band} of {marker.item_id}"
        checked += 1
    assert checked == len(demo22.markers) >= 4
    with h5py.File(h5_2022, "r") as f:  # no pixel keeps the offset, no-data stays 0
        for name in f:
            b4 = f[name]["B4"][:]
            assert (b4[f[name]["SCL"][:] == 0] == 0).all()
            assert np.percentile(b4[b4 > 0], 5) < OFFSET


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """The same ground and sky, served the way Earth Search serves items it harmonised."""
    root = tmp_path_factory.mktemp("applied") / "d"
    built = build_demo(root, n_points=POINTS, step_days=STEP_DAYS, year=YEAR, seed=SEED,
                       boa_offset_applied=True)  # fmt: skip
    return _archive(root, built.lucas_path)


def test_offset_already_applied_is_not_removed_twice(
    demo22: Archive, h5_2022: Path, applied: Archive, tmp_path: Path
) -> None:
    item = _item(applied, applied.markers[0].item_id)
    assert item.properties["s2:processing_baseline"] == "04.00"
    assert item.properties["earthsearch:boa_offset_applied"] is True
    for ours, theirs in zip(applied.markers, demo22.markers, strict=True):
        assert ours.value == theirs.value - OFFSET, "the COGs hold harmonised values"
    h5 = _run(applied, tmp_path / "out", YEAR)
    for marker, value in _marker_values(h5, applied):
        assert value == _raw_cog_value(applied, marker) == marker.value
    with h5py.File(h5, "r") as a, h5py.File(h5_2022, "r") as b:
        assert sorted(a) == sorted(b)
        for name in a:
            assert _ids(a[name]) == _ids(b[name])
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)


# --- the benchmark stage, unchanged ------------------------------------------------------------


def test_benchmark_runs_unchanged_on_the_2022_file(h5_2022: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    result = CliRunner().invoke(main, [
        "benchmark", "--data", str(h5_2022.parent), "--legend", "landcover", "--models", "rf",
        "--epochs", "1", "--device", "cpu", "--seed", "1", "--out", str(tmp_path / "report"),
        "--cache-dir", str(tmp_path / "cache"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert saved["failed"] == [] and "rf" in saved["models"]
    assert saved["data"]["files"]["AT"]["points"] == POINTS
    assert 0.0 <= saved["models"]["rf"]["center"]["overall_accuracy"] <= 1.0
    assert (tmp_path / "report" / "report.md").exists()


# --- other years ---------------------------------------------------------------------------------


def test_year_2015_runs_where_the_source_has_imagery(tmp_path: Path) -> None:
    built = build_demo(tmp_path / "d", n_points=6, step_days=30.0, year=2015, seed=2)
    archive = _archive(built.root, built.lucas_path)
    assert all(i.startswith("S2A_") for i in built.item_ids), "only Sentinel-2A flew in 2015"
    first = _item(archive, built.item_ids[0])
    assert first.datetime is not None and first.datetime >= datetime(2015, 7, 1, tzinfo=UTC)
    h5 = _run(archive, tmp_path / "out", 2015)
    with h5py.File(h5, "r") as f:
        assert f.attrs["year"] == 2015 and len(f) == len(archive.point_ids)
        for name in f:
            ids = _ids(f[name])
            assert ids and all(i.startswith("2015") and i[4:6] >= "07" for i in ids)
    # the 2015 archive is the reprocessed one (baseline 05.00): harmonised as well
    assert first.properties["s2:processing_baseline"] == "05.00"
    for marker, value in _marker_values(h5, archive):
        assert value == _raw_cog_value(archive, marker) - OFFSET


def test_year_before_sentinel2_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("point_id,year,nuts0,lc1,lu1\n")
    run = CliRunner().invoke(main, [
        "run", "--country", "AT", "--year", "2009", "--lucas", str(table), "--source", "stac",
        "--catalog", str(tmp_path), "--out", str(tmp_path / "out"),
    ])  # fmt: skip
    assert run.exit_code == 2
    assert "flag --year: 2009 is before Sentinel-2 imagery exists (2015 onwards)" in run.output
    assert not (tmp_path / "out" / "2009").exists()
    demo = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "d"), "--year", "2009"])
    assert demo.exit_code == 2 and "the demo covers 2015" in demo.output
