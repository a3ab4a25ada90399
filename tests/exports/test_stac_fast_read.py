"""The fast reader (merged reads, pooled datasets, warp index maps) gives today's pixels."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.warp import Resampling, reproject
from rasterio.windows import Window

from exports.source import ALL_BANDS, Scene
from exports.stac.dataset_pool import DatasetPool, dataset_pool
from exports.stac.scene_meta import scene_from_item
from exports.stac.window import (
    LOCAL_READ_CALL_PIXELS,
    finish_patch,
    merged_reads,
    read_plan,
    source_window,
)
from exports.stac.window_read import read_scene
from tests.fixtures.synthetic_s2 import boundary_tiles, point_request, write_scene

WHEN = datetime(2018, 6, 1, 10, 20, 30, tzinfo=UTC)
TILE32, TILE33 = boundary_tiles(600)


def textured(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Every pixel different from its neighbours: a shifted or wrong pixel shows."""
    if band == "SCL":
        return ((np.floor(x / 20) * 7 + np.floor(y / 20) * 3) % 11 + 1).astype(np.uint8)
    k = ALL_BANDS.index(band)
    v = (np.floor(x / 10) * 7919 + np.floor(y / 10) * 104729 + k * 31) % 9973 + 1
    return v.astype(np.uint16)


def naive_patch(href: str, grid: object, scene: Scene, band: str) -> np.ndarray:
    """Yesterday's reader for one window: open, boundless read, GDAL nearest reproject."""
    with rasterio.open(href) as src:
        w = source_window(grid, src.transform, src.crs, src.crs.to_epsg())  # type: ignore[arg-type]
        raw = src.read(1, window=w, boundless=True, fill_value=0)
        out = np.zeros((64, 64), dtype=raw.dtype)
        reproject(raw, out, src_transform=src.window_transform(w), src_crs=src.crs,
                  src_nodata=0, dst_transform=grid.transform, dst_crs=grid.crs,  # type: ignore[attr-defined]
                  dst_nodata=0, resampling=Resampling.nearest)  # fmt: skip
    dtype = np.dtype(np.uint8 if band == "SCL" else np.uint16)
    return finish_patch(out, dtype, 0 if band == "SCL" else scene.boa_offset)


def test_pixels_equal_the_per_window_reader(tmp_path: Path) -> None:
    """Neighbours sharing blocks (merged reads), a point in the other UTM zone (warp map),
    a window over the raster's edge, 10 m and 20 m bands: every pixel as before."""
    to_ll = Transformer.from_crs(32633, 4326, always_xy=True)
    left, _, _, top = TILE33.extent()
    edge_lon, edge_lat = to_ll.transform(left + 3005, top - 2995)  # 300 m from the corner
    points = [point_request(1, 48.0, 12.01), point_request(2, 48.003, 12.013),
              point_request(3, 47.998, 12.006), point_request(4, 48.0, 11.995),  # zone 32
              point_request(5, edge_lat, edge_lon)]  # fmt: skip
    for tile in (TILE33, TILE32):
        item = write_scene(tmp_path, f"s{tile.epsg}", tile, WHEN, values=textured, block=128,
                           properties={"s2:processing_baseline": "04.00"})  # fmt: skip
        scene = scene_from_item(item)
        grids = {p.point_id: p.grid for p in points}
        read = read_scene(scene, ALL_BANDS, grids)
        for p in points:
            for band in ALL_BANDS:
                expected = naive_patch(scene.assets[band], p.grid, scene, band)
                got = read.patches[p.point_id][band]
                np.testing.assert_array_equal(got, expected, err_msg=f"{tile.name} {p} {band}")
                assert got.any(), (tile.name, p.point_id, band)


def test_windows_sharing_blocks_are_one_read_others_alone() -> None:
    block = (128, 128)
    windows = [Window(10, 10, 66, 66), Window(60, 20, 66, 66),  # share block (0, 0)
               Window(700, 700, 66, 66),  # alone
               Window(-80, 5, 66, 66)]  # fmt: skip  # wholly off the raster (west)
    reads = merged_reads(windows, block, 1000, 1000)
    groups = sorted(sorted(members) for _, members in reads)
    assert groups == [[0, 1], [2], [3]]
    rect = next(r for r, m in reads if sorted(m) == [0, 1])
    assert rect is not None
    assert (rect.col_off, rect.row_off, rect.width, rect.height) == (10, 10, 116, 76)
    assert next(r for r, m in reads if m == [3]) is None


def test_a_sparse_group_is_split_rather_than_decoding_unneeded_blocks() -> None:
    # a diagonal chain: each pair shares a block, the bounding box would span 4×4 blocks
    windows = [Window(100 + 128 * k, 100 + 128 * k, 66, 66) for k in range(4)]
    reads = merged_reads(windows, (128, 128), 1000, 1000)
    assert sorted(i for _, m in reads for i in m) == [0, 1, 2, 3]
    for rect, _ in reads:
        assert rect is not None and rect.width * rect.height <= 2 * 256 * 256


def test_a_local_raster_covered_by_scattered_windows_is_one_read() -> None:
    """12 windows sharing no block on a 1000² raster of 128² blocks, each on a block corner:
    one call decoding 56 blocks costs less than 12 calls decoding 48; the off-raster
    window stays apart."""
    windows = [Window(100 + 250 * (k % 4), (100, 370, 760)[k // 4], 66, 66) for k in range(12)]
    windows.append(Window(-80, 5, 66, 66))
    plain = merged_reads(windows, (128, 128), 1000, 1000)
    assert len([r for r, _ in plain if r is not None]) == 12
    plan = read_plan(windows, (128, 128), 1000, 1000, LOCAL_READ_CALL_PIXELS)
    rects = [(r, m) for r, m in plan if r is not None]
    assert len(rects) == 1 and sorted(rects[0][1]) == list(range(12))
    rect = rects[0][0]
    assert (rect.col_off, rect.row_off, rect.width, rect.height) == (100, 100, 816, 726)
    assert [m for r, m in plan if r is None] == [[12]]


def test_remote_or_large_block_rasters_keep_the_merged_reads() -> None:
    """Over HTTP (no call cost given) bytes count: no block is added. With 1024² blocks a
    block costs far more than a call: two windows far apart stay two reads. Windows on
    single blocks: one read would decode more than it saves."""
    single = [Window(20 + 250 * (k % 4), 20 + 330 * (k // 4), 66, 66) for k in range(12)]
    plan = read_plan(single, (128, 128), 1000, 1000, LOCAL_READ_CALL_PIXELS)
    assert len(plan) == 12
    corners = [Window(100 + 250 * (k % 4), (100, 370, 760)[k // 4], 66, 66) for k in range(12)]
    remote = read_plan(corners, (128, 128), 1000, 1000)
    assert remote == merged_reads(corners, (128, 128), 1000, 1000) and len(remote) == 12
    far = [Window(100, 100, 66, 66), Window(9000, 9000, 66, 66)]
    plan = read_plan(far, (1024, 1024), 10980, 10980, LOCAL_READ_CALL_PIXELS)
    assert sorted(m for _, m in plan) == [[0], [1]]


def test_pool_opens_each_asset_once_across_batches(tmp_path: Path, open_calls: list[str]) -> None:
    item = write_scene(tmp_path, "s", TILE33, WHEN, bands=["B2", "B5"])
    scene = scene_from_item(item)
    open_calls.clear()
    for pid in (1, 2, 3):  # three batches of one point
        read_scene(scene, ["B2", "B5"], {pid: point_request(pid, 48.0, 12.01).grid})
    assert sorted(open_calls) == sorted(scene.assets[b] for b in ("B2", "B5"))


def test_pool_reopens_a_file_replaced_in_place(tmp_path: Path) -> None:
    item = write_scene(tmp_path, "s", TILE33, WHEN, bands=["B2"])
    scene, p = scene_from_item(item), point_request(1, 48.0, 12.01)
    before = read_scene(scene, ["B2"], {1: p.grid}).patches[1]["B2"]
    write_scene(tmp_path, "s", TILE33, WHEN, bands=["B2"],
                values=lambda b, x, y: np.full(x.shape, 777, np.uint16))  # fmt: skip
    after = read_scene(scene, ["B2"], {1: p.grid}).patches[1]["B2"]
    assert not np.array_equal(before, after) and set(np.unique(after)) == {777}


def test_pool_is_bounded_and_a_forked_child_never_uses_the_parents(tmp_path: Path) -> None:
    item = write_scene(tmp_path, "s", TILE33, WHEN, bands=["B2", "B3", "B4"])
    hrefs = list(scene_from_item(item).assets.values())
    small = DatasetPool(capacity=2)
    for h in hrefs:
        small.get(h)
    assert len(small) == 2 and small.opens == 3
    pool = dataset_pool()
    parent = pool.get(hrefs[0])
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: an empty pool, a dataset of its own
        try:
            ok = len(pool) == 0 and pool.get(hrefs[0]) is not parent and pool.opens >= 1
            os.write(write_fd, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_fd)
    answer = os.read(read_fd, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert pool.get(hrefs[0]) is parent  # the parent's own stays open and in use
