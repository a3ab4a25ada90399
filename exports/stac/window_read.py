"""Reading: one scene's assets, each opened once, cut into the patches of many points.

Why scene-major: a COG's decoded blocks live in GDAL's block cache only while its dataset
is open, and neighbouring points of a batch share blocks. Opening each asset once and
reading every point's window from it decodes (or downloads) each block once per batch.

Each point's window covers the patch bounds in the raster's CRS plus one source pixel of
margin; the part of it off the raster is filled with 0 (no-data). The window is then put on
the patch grid by nearest neighbour: in the patch's own CRS by direct indexing, in another
UTM zone with ``rasterio.warp.reproject``. This module is the IO; every decision it takes
(windows, transforms, checks, error classes) is a pure function of :mod:`exports.stac.window`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.warp import Resampling, reproject
from rasterio.windows import Window

from exports.grid import PatchGrid
from exports.source import Scene, band_dtype
from exports.stac.hrefs import HrefPolicy
from exports.stac.window import (
    AssetMismatch,
    asset_mismatch,
    can_gather,
    finish_patch,
    gather,
    lacks_georeference,
    on_raster,
    read_error,
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
    """One asset, opened once, read for every point of ``grids``; results into ``result``."""
    try:
        with warnings.catch_warnings():  # handled below, as a read error
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(href)
    except (RasterioError, OSError) as e:
        result.errors.update(dict.fromkeys(grids, read_error(scene, href, "open", e)))
        return
    with src:
        err = _unusable(scene, band, href, src)
        if err is not None:
            result.errors.update(dict.fromkeys(grids, err))
            return
        crs = src.crs if src.crs else CRS.from_epsg(scene.epsg)
        epsg = crs.to_epsg()
        transform, nodata = src.transform, src.nodata  # properties: built anew on each access
        for pid, grid in grids.items():
            window: Window | None = None
            try:
                window = source_window(grid, transform, crs, epsg)
                raw = read_window(src, window)
                patch = to_patch(raw, window_transform(transform, window), crs, epsg, grid)
            except (RasterioError, OSError) as e:
                result.errors[pid] = read_error(scene, href, window_text(window), e)
                continue
            patch = zero_nodata(patch, nodata)
            result.patches[pid][band] = finish_patch(patch, dtype, offset)


def _unusable(scene: Scene, band: str, href: str, src: DatasetReader) -> SceneReadError | None:
    """Why an opened asset cannot serve ``band`` of ``scene`` (from its metadata), or None."""
    if lacks_georeference(src.transform, src.gcps[0]):
        return read_error(scene, href, "open", RasterioError("not georeferenced (no geotransform)"))
    epsg = src.crs.to_epsg() if src.crs else None
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
    out = np.zeros((grid.size, grid.size), dtype=raw.dtype)
    reproject(
        raw,
        out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=0,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=0,
        resampling=Resampling.nearest,
    )
    return out
