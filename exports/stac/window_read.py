"""Reading: one scene's assets, each opened once, cut into the patches of many points.

Why scene-major: a COG's decoded blocks live in GDAL's block cache only while its dataset
is open, and neighbouring points of a batch share blocks. Reading every point's window
from an asset together decodes (or downloads) each block once per batch: windows that
share blocks are one merged read (:func:`exports.stac.window.merged_reads`), and datasets
stay open across batches in this process's pool (:mod:`exports.stac.dataset_pool`).

Each point's window covers the patch bounds in the raster's CRS plus one source pixel of
margin; the part of it off the raster is filled with 0 (no-data). The window is then put on
the patch grid by nearest neighbour: in the patch's own CRS by direct indexing, in another
UTM zone through the cached index map of GDAL's nearest warp (:mod:`exports.stac.warp_map`).
This module is the IO; every decision it takes (windows, reads, transforms, checks, error
classes) is a pure function of :mod:`exports.stac.window`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from exports.grid import PatchGrid
from exports.source import Scene, band_dtype
from exports.stac.dataset_pool import dataset_pool
from exports.stac.hrefs import HrefPolicy
from exports.stac.warp_map import warp_patch
from exports.stac.window import (
    LOCAL_READ_CALL_PIXELS,
    AssetMismatch,
    asset_mismatch,
    can_gather,
    finish_patch,
    gather,
    is_remote,
    lacks_georeference,
    on_raster,
    read_error,
    read_plan,
    source_window,
    window_text,
    window_transform,
    zero_nodata,
)
from lucas.errors import SceneReadError

log = logging.getLogger(__name__)


@dataclass
class SceneRead:
    """The patches one scene gave, and the points it failed for."""

    patches: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # pid -> band -> 2D
    errors: dict[int, SceneReadError] = field(default_factory=dict)  # pid -> why


def read_scene(
    scene: Scene,
    bands: Sequence[str],
    grids: Mapping[int, PatchGrid],
    hrefs: HrefPolicy | None = None,
) -> SceneRead:
    """Every requested band of ``scene`` on every point's grid, each asset opened once.

    A read error costs only the points it hit (a failed open: every point of the scene).
    An href that ``hrefs`` refuses is never opened (scenes may come from a ledger written
    before the policy or under another one): a "refused_href" error for every point.
    """
    result = SceneRead(patches={pid: {} for pid in grids})
    dtypes = band_dtype(bands)
    for band in dtypes.names or ():
        todo = {pid: g for pid, g in grids.items() if pid not in result.errors}
        if not todo:
            break
        href = scene.assets.get(band)
        if href is None:
            err = SceneReadError(f"missing asset for band {band} (item {scene.scene_id})")
            result.errors.update(dict.fromkeys(todo, err))
            continue
        why = hrefs.refusal(href) if hrefs is not None else None
        if why is not None:
            err = AssetMismatch(f"item {scene.scene_id}: asset href {href} (band {band}) "
                                f"refused: {why}", "refused_href")
            result.errors.update(dict.fromkeys(todo, err))
            continue
        offset = 0 if band == "SCL" else scene.boa_offset
        _read_asset(scene, band, href, todo, dtypes[band], offset, result)
    for pid in result.errors:
        result.patches.pop(pid, None)
    return result


def _read_asset(
    scene: Scene,
    band: str,
    href: str,
    grids: Mapping[int, PatchGrid],
    dtype: np.dtype,
    offset: int,
    result: SceneRead,
) -> None:
    """One asset (from this process's pool of open datasets) read for every point of
    ``grids`` in merged reads; results into ``result``."""
    pool = dataset_pool()
    try:
        src = pool.get(href)
    except (RasterioError, OSError) as e:
        result.errors.update(dict.fromkeys(grids, read_error(scene, href, "open", e)))
        return
    own_epsg = src.crs.to_epsg() if src.crs else None
    err = _unusable(scene, band, href, src, own_epsg)
    if err is not None:
        result.errors.update(dict.fromkeys(grids, err))
        return
    crs = src.crs if src.crs else CRS.from_epsg(scene.epsg)
    epsg = own_epsg if src.crs else scene.epsg
    transform, nodata = src.transform, src.nodata  # properties: built anew on each access
    pids = list(grids)
    windows = [source_window(grids[pid], transform, crs, epsg) for pid in pids]
    failed = False
    call_pixels = 0 if is_remote(href) else LOCAL_READ_CALL_PIXELS
    plan = read_plan(windows, src.block_shapes[0], src.width, src.height, call_pixels)
    for rect, members in plan:
        block: np.ndarray | None = None
        read_failed = False
        if rect is not None:
            try:
                block = src.read(1, window=rect)
            except (RasterioError, OSError):  # one window at a time: errors hit their points
                read_failed = True
        for i in members:
            pid, window = pids[i], windows[i]
            grid = grids[pid]
            try:
                if block is not None and rect is not None and can_gather(transform, epsg, grid):
                    # straight from the merged read: its own transform places the patch
                    patch = to_patch(block, window_transform(transform, rect), crs, epsg, grid)
                else:
                    raw = (read_window(src, window) if read_failed
                           else cut_window(block, rect, window, src.width, src.height,
                                           src.dtypes[0]))  # fmt: skip
                    patch = to_patch(raw, window_transform(transform, window), crs, epsg, grid)
            except (RasterioError, OSError) as e:
                result.errors[pid] = read_error(scene, href, window_text(window), e)
                failed = True
                continue
            patch = zero_nodata(patch, nodata)
            result.patches[pid][band] = finish_patch(patch, dtype, offset)
    if failed:  # a truncated file or a broken connection: open it afresh next time
        pool.discard(href)


def cut_window(
    block: np.ndarray | None, rect: Window | None, window: Window, width: int, height: int,
    dtype: str,
) -> np.ndarray:
    """The raw ``window`` cut from a merged read ``block`` of ``rect`` (the part off the
    ``width`` × ``height`` raster 0); ``block`` None: the window is wholly off the raster."""
    h, w = int(window.height), int(window.width)
    part = on_raster(window, width, height)
    if block is None or rect is None or part is None:
        return np.zeros((h, w), dtype=dtype)
    inner, (rows, cols) = part
    ir, ic = int(inner.row_off) - int(rect.row_off), int(inner.col_off) - int(rect.col_off)
    view = block[ir : ir + int(inner.height), ic : ic + int(inner.width)]
    if (rows, cols) == (slice(0, h), slice(0, w)):
        return view
    raw = np.zeros((h, w), dtype=dtype)
    raw[rows, cols] = view
    return raw


def _unusable(
    scene: Scene, band: str, href: str, src: DatasetReader, epsg: int | None
) -> SceneReadError | None:
    """Why an opened asset cannot serve ``band`` of ``scene`` (from its metadata), or None;
    ``epsg``: its CRS's code (``to_epsg`` is slow: the caller's, computed once)."""
    if lacks_georeference(src.transform, src.gcps[0]):
        return read_error(scene, href, "open", RasterioError("not georeferenced (no geotransform)"))
    return asset_mismatch(scene, band, href, epsg, src.dtypes[0])


def read_window(src: DatasetReader, window: Window) -> np.ndarray:
    """Band 1 over ``window``; the part off the raster is 0 (a boundless read without a VRT)."""
    height, width = int(window.height), int(window.width)
    part = on_raster(window, src.width, src.height)
    if part is not None and part[1] == (slice(0, height), slice(0, width)):
        return src.read(1, window=window)
    out = np.zeros((height, width), dtype=src.dtypes[0])
    if part is not None:
        inner, (rows, cols) = part
        out[rows, cols] = src.read(1, window=inner)
    return out


def to_patch(
    raw: np.ndarray, transform: Affine, crs: CRS, epsg: int | None, grid: PatchGrid
) -> np.ndarray:
    """``raw`` (georeferenced by ``transform``/``crs``) on the patch grid, nearest neighbour."""
    if can_gather(transform, epsg, grid):
        return gather(raw, transform, grid)
    return warp_patch(raw, transform, crs, epsg, grid)
