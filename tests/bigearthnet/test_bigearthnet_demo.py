"""``etl bigearthnet`` end to end on ``etl demo --bigearthnet`` (the real STAC, radar and
CORINE paths): patches, markers, drops, Sentinel-1 pairs, flags, the tree torchgeo reads,
resumability after SIGKILL, bad inputs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner

from pipeline.cli import main
from tests.bigearthnet.torchgeo_reader import CLASSES_19, read_split

HARNESS = Path(__file__).parents[1] / "pipeline" / "crash_harness.py"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bendemo") / "demo-ben"
    result = CliRunner().invoke(main, ["demo", "--bigearthnet", "--out", str(root)])
    assert result.exit_code == 0, result.output
    return root


def args(demo: Path, out: Path, *extra: str) -> list[str]:
    return ["bigearthnet", "--tiles", "33UUP", "--start", "2017-06-01", "--end", "2018-05-31",
            "--source", "stac", "--catalog", str(demo / "stac" / "catalog.json"),
            "--s1-catalog", str(demo / "s1" / "catalog.json"),
            "--clc", str(demo / "clc" / "clc_demo.gpkg"),
            "--countries", str(demo / "countries.gpkg"), "--out", str(out), *extra]


@pytest.fixture(scope="module")
def tree(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("benout")
    result = CliRunner().invoke(main, args(demo, out))
    assert result.exit_code == 0, result.output
    return out / "bigearthnet"


def manifest(demo: Path) -> dict[str, Any]:
    return json.loads((demo / "ben_demo.json").read_text())


def tables(tree: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(tree / "metadata.parquet"),
                      pd.read_parquet(tree / "metadata_snow_cloud.parquet")])


def test_patches_ids_and_the_patches_left_out(demo: Path, tree: Path) -> None:
    m, meta = manifest(demo), tables(tree)
    unlabeled = {(p["x"], p["y"]) for p in m["clc"]["patches"] if p["unlabeled_percent"] >= 25}
    assert unlabeled
    for scene in m["scenes"]:
        rows = meta[meta["s2_product"] == scene["product_id"]]
        if scene["cloud_cover"] >= 1:  # --max-cloud-cover 1
            assert rows.empty
            continue
        nodata = {tuple(p) for p in scene["patches"]["nodata"]}
        want = {(x, y) for x in range(6) for y in range(6)} - nodata - unlabeled
        got = {(int(x), int(y)) for x, y in zip(rows["x"], rows["y"], strict=True)}
        assert got == want, scene["date"]  # the 7th (incomplete) column and row: never
        assert set(rows["patch_id"]) == {f"{scene['product_id']}_{x}_{y}" for x, y in want}
    assert meta["split"].isin(["train", "validation", "test"]).all()
    assert set(meta["country"]) <= {"Austria", "Germany"} and meta["country"].nunique() == 2


def test_markers_at_every_resolution(demo: Path, tree: Path) -> None:
    for marker in manifest(demo)["markers"]:
        scene = next(s for s in manifest(demo)["scenes"] if s["id"] == marker["scene_id"])
        pid = f"{scene['product_id']}_{marker['patch_x']}_{marker['patch_y']}"
        band = f"B{int(marker['band'][1:-1] or 0):02d}{marker['band'][-1]}" \
            if marker["band"].endswith("A") else f"B{int(marker['band'][1:]):02d}"
        path = tree / "BigEarthNet-S2" / scene["product_id"] / pid / f"{pid}_{band}.tif"
        with rasterio.open(path) as src:
            data = src.read(1)
            assert data.shape == (1200 // marker["resolution"],) * 2
            assert data[marker["row"], marker["col"]] == marker["value"]  # offset removed
            assert src.transform.a == marker["resolution"]


def test_sentinel1_nearest_covering_within_three_days(demo: Path, tree: Path) -> None:
    m, meta = manifest(demo), tables(tree)
    strips = {it["id"]: {tuple(p) for p in it["nodata_patches"]} for it in m["s1"]["items"]}
    for scene in m["scenes"]:
        rows = meta[meta["s2_product"] == scene["product_id"]]
        if rows.empty:
            continue
        if not scene["s1_within_3_days"]:
            assert (rows["s1_name"] == "").all() and rows["delta_hours"].isna().all()
            continue
        for row in rows.itertuples():
            candidates = [i for i in scene["s1_within_3_days"]
                          if (row.x, row.y) not in strips[i]]
            if not candidates:
                assert row.s1_name == ""
                continue
            assert abs(row.delta_hours) <= 72
            start = row.s1_name.split("_")[4]
            assert start in [i.split("_")[4] for i in candidates]
            assert row.s1_name.endswith(f"_33UUP_{row.x}_{row.y}")
            folder = tree / "BigEarthNet-S1" / row.s1_name.rsplit("_", 3)[0] / row.s1_name
            with rasterio.open(folder / f"{row.s1_name}_VV.tif") as src:
                vv = src.read(1)
                assert src.dtypes[0] == "float32" and np.isfinite(vv).all()
                assert -30 < float(np.median(vv)) < 5
    # The 2017-06-13 scene: the slice 17 h before has a no-data strip over row 0, so row 0
    # takes the slice 43 h after; every other row the nearer one.
    first = meta[meta["s2_product"] == m["scenes"][0]["product_id"]]
    starts = first.groupby(first["y"] == 0)["s1_name"].agg(lambda s: {n.split("_")[4] for n in s})
    assert starts[True] == {"20170615T051621"} and starts[False] == {"20170612T165809"}


def test_flags_and_the_two_tables(demo: Path, tree: Path) -> None:
    snow_scene = next(s for s in manifest(demo)["scenes"] if s["patches"]["snow"])
    flagged = pd.read_parquet(tree / "metadata_snow_cloud.parquet")
    clean = pd.read_parquet(tree / "metadata.parquet")
    snowy = flagged[flagged["s2_product"] == snow_scene["product_id"]]
    assert not snowy.empty and snowy["contains_seasonal_snow"].all()
    assert (snowy["snow_fraction"] == 1.0).all()
    assert not (clean["contains_seasonal_snow"] | clean["contains_cloud_or_shadow"]).any()
    assert set(flagged["patch_id"]).isdisjoint(clean["patch_id"])


def test_the_tree_reads_as_torchgeo_reads_it(tree: Path) -> None:
    samples = {s.patch_id: s for s in read_split(tree, "train", bands="s2")}
    meta = pd.read_parquet(tree / "metadata.parquet")
    assert len(samples) == int((meta["split"] == "train").sum()) > 0
    for row in meta.itertuples():
        sample = samples[row.patch_id]
        assert sample.image_s2 is not None and sample.image_s2.shape == (12, 120, 120)
        assert sample.mask.shape == (120, 120)
        assert [CLASSES_19[i] for i in np.flatnonzero(sample.label)] == sorted(
            row.labels, key=CLASSES_19.index)
    paired = meta[meta["s1_name"] != ""]
    with_s1 = read_split_rows(tree, set(paired["patch_id"]))
    assert with_s1 and all(s.image_s1 is not None and s.image_s1.shape == (2, 120, 120)
                           for s in with_s1)


def read_split_rows(tree: Path, ids: set[str]) -> list[Any]:
    """torchgeo's "all" reading for the patches that have a Sentinel-1 pair."""
    import tests.bigearthnet.torchgeo_reader as tg

    meta = pd.read_parquet(tree / "metadata.parquet")
    rows = meta[meta["patch_id"].isin(ids)]
    return [tg.Sample(patch_id=r["patch_id"], s1_name=r["s1_name"],
                      image_s2=tg.load_image(tree, r, "s2"), image_s1=tg.load_image(tree, r, "s1"),
                      mask=tg.load_map(tree, r)[0], label=tg.load_target(r))
            for _, r in rows.iterrows()]


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_kill_mid_tile_then_rerun_gives_the_same_tree(
    demo: Path, tree: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = args(demo, out, "--workers", "1")
    proc = subprocess.run([sys.executable, str(HARNESS), "stage", "40", "--", *argv],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not (out / "bigearthnet" / "metadata.parquet").exists()
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert "units already done" in result.output
    ours, ref = _digest(out / "bigearthnet"), _digest(tree)
    ours.pop("metadata.parquet"), ref.pop("metadata.parquet")
    ours.pop("metadata_snow_cloud.parquet"), ref.pop("metadata_snow_cloud.parquet")
    assert ours == ref
    pd.testing.assert_frame_equal(pd.read_parquet(out / "bigearthnet" / "metadata.parquet"),
                                  pd.read_parquet(tree / "metadata.parquet"))
    again = CliRunner().invoke(main, argv)
    assert again.exit_code == 0 and "units already done" in again.output


def test_require_s1_and_a_new_split_on_a_finished_tree(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert CliRunner().invoke(main, args(demo, out, "--require-s1")).exit_code == 0
    meta = pd.read_parquet(out / "bigearthnet" / "metadata.parquet")
    assert not meta.empty and (meta["s1_name"] != "").all()
    files = _digest(out / "bigearthnet" / "BigEarthNet-S2")
    result = CliRunner().invoke(main, args(demo, out, "--require-s1", "--split", "random",
                                           "--seed", "3"))
    assert result.exit_code == 0 and "units already done" in result.output
    again = pd.read_parquet(out / "bigearthnet" / "metadata.parquet")
    assert set(again["split"]) <= {"train", "validation", "test"} and again["split"].nunique() > 1
    assert list(again["patch_id"]) == list(meta["patch_id"])
    assert _digest(out / "bigearthnet" / "BigEarthNet-S2") == files  # splits: tables only
    sources = json.loads((out / "bigearthnet" / "etl_sources.json").read_text())
    assert sources["clc"] == {"source": "vector", "coarse": False,
                              "description": sources["clc"]["description"]}
    assert sources["split"] == "random" and sources["seed"] == 3


@pytest.mark.parametrize(("change", "message"), [
    (["--tiles", "33UIP"], "'33UIP' is not an MGRS tile id"),
    (["--max-cloud-cover", "0"], "the least cloudy is 0 %"),
])
def test_bad_inputs_exit_2(demo: Path, tmp_path: Path, change: list[str], message: str) -> None:
    argv = args(demo, tmp_path / "out")
    i = argv.index(change[0]) if change[0] in argv else len(argv)
    argv = argv[:i] + change + argv[i + 2:] if change[0] in argv else argv + change
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()  # nothing left behind by a refused run


def test_a_clc_file_without_code_18_is_refused(demo: Path, tmp_path: Path) -> None:
    import geopandas as gpd

    frame = gpd.read_file(demo / "clc" / "clc_demo.gpkg").rename(columns={"Code_18": "CODE"})
    bad = tmp_path / "clc.gpkg"
    frame.to_file(bad, driver="GPKG")
    argv = args(demo, tmp_path / "out")
    argv[argv.index("--clc") + 1] = str(bad)
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2, result.output
    assert "Code_18" in result.output and str(bad) in result.output
