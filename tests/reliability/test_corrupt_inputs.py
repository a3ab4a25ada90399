"""Corrupt inputs: the tiny demo archive, copied and damaged, through ``etl run``.

A truncated COG, a COG labelled with another CRS than its item, COGs of the wrong dtype, an
item without one of its assets and an item file that is not JSON: each affected scene is
dropped with its reason, every point keeps all its other time steps unchanged. An unreadable
catalog file stops the run with a message naming it.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pystac
import pytest
import rasterio
from click.testing import CliRunner

from exports.stac.scene_meta import scene_from_item
from pipeline.cli import main
from pipeline.demo import DemoArchive
from pipeline.ledger import LEDGER_NAME, Ledger
from tests.pipeline.conftest import run_args

pytestmark = pytest.mark.slow

# Damage -> (kind recorded for the time step, start of the reason); None: dropped at select.
EXPECTED: dict[str, tuple[str, str] | None] = {
    "truncated": ("read_error", "read error "),
    "wrong_crs": ("crs_mismatch", "crs mismatch: "),
    "float32": ("unexpected_dtype", "unexpected dtype float32 for band B11"),
    "int16": ("unexpected_dtype", "unexpected dtype int16 for band B2"),
    "missing_asset": None,
    "bad_item_json": None,
}
DamagedRun = tuple[Path, dict[str, str], dict[str, str], str]  # see the damaged_run fixture


def _steps(path: Path) -> dict[int, dict[str, np.ndarray]]:
    """Point id -> Image_ID -> that time step's record (all bands)."""
    out: dict[int, dict[str, np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        for name in f:
            ds = f[name]
            ids = [i.decode() if isinstance(i, bytes) else str(i) for i in ds.attrs["Image_ID"]]
            out[int(name.rsplit("_", 1)[1])] = {i: ds[t] for t, i in enumerate(ids)}
    return out


def _rewrite(path: Path, *, crs: str | None = None, dtype: str | None = None) -> None:
    """Write the GeoTIFF again with another CRS label or another dtype (same pixels/grid)."""
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    if crs is not None:
        profile["crs"] = crs
    if dtype == "float32":
        data = data.astype(np.float32) / 10000.0  # reflectance as 0-1 floats
    elif dtype == "int16":
        data = data.astype(np.int16) - 1000  # a signed product with the offset applied
    if dtype is not None:
        profile.update(dtype=dtype, nodata=None)
        data = data.astype(dtype)
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def _damage(stac: Path, victims: dict[str, pystac.Item]) -> None:
    folder = {k: stac / item.id for k, item in victims.items()}
    cog = folder["truncated"] / "B08.tif"
    cog.write_bytes(cog.read_bytes()[: cog.stat().st_size // 3])
    epsg = scene_from_item(victims["wrong_crs"]).epsg
    _rewrite(folder["wrong_crs"] / "B03.tif", crs=f"EPSG:{32633 if epsg == 32632 else 32632}")
    _rewrite(folder["float32"] / "B11.tif", dtype="float32")
    _rewrite(folder["int16"] / "B02.tif", dtype="int16")
    item_json = folder["missing_asset"] / f"{victims['missing_asset'].id}.json"
    raw = json.loads(item_json.read_text())
    del raw["assets"]["red"]
    item_json.write_text(json.dumps(raw))
    (folder["bad_item_json"] / f"{victims['bad_item_json'].id}.json").write_bytes(
        b'{"type": "Feature", "id": \x00\xff garbage')


@pytest.fixture(scope="module")
def damaged_run(
    demo: DemoArchive, reference: Path, tmp_path_factory: pytest.TempPathFactory
) -> DamagedRun:
    """Damage the six scenes most used by the reference file, run: (out, damage -> item id,
    image id -> item id, run output)."""
    catalog = pystac.Catalog.from_file(str(demo.catalog_path))
    items = {it.id: it for it in catalog.get_items(recursive=True)}
    item_of = {scene_from_item(it).image_id: it.id for it in items.values()}
    used = Counter(item_of[i] for steps in _steps(reference).values() for i in steps)
    ranked = [item_id for item_id, _ in sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))]
    victims = {damage: items[item_id] for damage, item_id in zip(EXPECTED, ranked, strict=False)}
    root = tmp_path_factory.mktemp("damaged")
    shutil.copytree(demo.root, root / "demo")
    _damage(root / "demo" / "stac", victims)
    copy = DemoArchive(**{**demo.__dict__, "root": root / "demo",
                          "catalog_path": root / "demo" / "stac" / "catalog.json",
                          "lucas_path": root / "demo" / demo.lucas_path.name})
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "400")  # log lines unwrapped
        result = CliRunner().invoke(main, run_args(copy, out))
    assert result.exit_code == 0, result.output
    return out, {k: v.id for k, v in victims.items()}, item_of, result.output


def test_every_point_keeps_its_other_time_steps_unchanged(
    demo: DemoArchive, reference: Path, damaged_run: DamagedRun
) -> None:
    out, victims, item_of, _ = damaged_run
    bad = set(victims.values())
    ref, got = _steps(reference), _steps(out / "2018" / "AT.h5")
    assert sorted(got) == sorted(demo.point_ids), "every point is still in the file"
    for pid, steps in ref.items():
        kept = {i for i in steps if item_of[i] not in bad}
        assert kept <= set(got[pid]), f"point {pid} lost a time step of an intact scene"
        for i in kept:
            assert got[pid][i].tobytes() == steps[i].tobytes(), f"point {pid}: {i} changed"
        assert not {item_of[i] for i in got[pid]} & bad, f"point {pid} kept a damaged scene"
        # A damaged scene's place may be taken by the other tile's scene of its datatake.
        extra = {item_of[i] for i in set(got[pid]) - kept}
        assert len(extra) <= len(bad)


def test_each_damaged_scene_is_dropped_with_its_reason(
    reference: Path, damaged_run: DamagedRun
) -> None:
    out, victims, item_of, output = damaged_run
    users = {item_of[i] for steps in _steps(reference).values() for i in steps}
    with Ledger(out / LEDGER_NAME) as ledger:
        drops = [d for u in ledger.units("export") for d in u.payload.get("dropped", [])]
    for damage, expected in EXPECTED.items():
        scene = victims[damage]
        assert scene in users
        mine = [d for d in drops if d["scene"] == scene]
        if expected is None:  # dropped before export: never read, never listed per point
            assert mine == []
            continue
        kind, reason = expected
        assert mine, f"{damage}: {scene} not dropped by any point"
        assert all(d["kind"] == kind and d["reason"].startswith(reason) for d in mine), mine
        assert all(scene in d["reason"] for d in mine), "the reason names the item"
        assert f"time step dropped: {kind}" in output
    # Select-level drops are in the select summary, by reason.
    assert "scene dropped: missing_band" in output
    assert "scene dropped: unreadable_item" in output


def test_unreadable_item_file_is_reported_by_name(damaged_run: DamagedRun) -> None:
    _, victims, _, output = damaged_run
    name = f"{victims['bad_item_json']}.json"
    warning = next(line for line in output.splitlines() if "unreadable item file" in line)
    assert name in warning and "that item is left out" in warning


def test_unreadable_catalog_stops_with_its_name(demo: DemoArchive, tmp_path: Path) -> None:
    shutil.copytree(demo.root / "stac", tmp_path / "stac")
    catalog = tmp_path / "stac" / "catalog.json"
    catalog.write_bytes(catalog.read_bytes()[:200])  # cut short, not JSON any more
    copy = DemoArchive(**{**demo.__dict__, "catalog_path": catalog})
    result = CliRunner().invoke(main, run_args(copy, tmp_path / "out"))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"{catalog}: not a readable STAC catalog" in text
    assert "Traceback" not in result.output
