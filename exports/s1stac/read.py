"""Reading one slice: its VV and VH assets, each opened once, cut into many points' patches.

Each asset holds linear backscatter (float32). For every point the window covering its
patch (plus a margin) is read; the asset's no-data (``x <= 0``, NaN, the ``nodata`` value
of the item or the file) becomes NaN in linear units, then the window goes onto the patch
grid and is converted to dB (:func:`exports.s1.db.linear_to_db`):

- ``nearest`` in the patch's CRS (north-up): the source pixel under each patch pixel centre,
  by index arithmetic (:func:`exports.stac.window.gather`, the Sentinel-2 rule);
- ``nearest`` from another CRS, and ``bilinear``: ``rasterio.warp.reproject`` of the linear
  values (NaN no-data, the destination initialised to NaN), then dB.

Pixels off the raster are NaN. An error costs only the points it hit; a remote read that
may succeed on retry is transient (:func:`exports.stac.window.is_transient`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
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
from exports.s1.db import linear_to_db
from exports.s1.scene import S1_BANDS, S1Scene
from exports.s1.stack import S1Patch
from exports.s1stac.items import ASSET_KEYS
from exports.stac.hrefs import HrefPolicy
from exports.stac.window import (
    AssetMismatch,
    can_gather,
    gather,
    is_transient,
    lacks_georeference,
    source_window,
    window_text,
    window_transform,
)
from exports.stac.window_read import read_window
from lucas.errors import SceneReadError

log = logging.getLogger(__name__)

Signer = Callable[[str], str]  # an href -> the href to open (Planetary Computer: signed)
FLOAT_DTYPES = ("float32", "float64")
RESAMPLINGS: Mapping[str, Resampling] = {
    "nearest": Resampling.nearest, "bilinear": Resampling.bilinear}


@dataclass
class SliceRead:
    """The patches one slice gave (in dB), and the points it failed for."""

    patches: dict[int, S1Patch] = field(default_factory=dict)
    errors: dict[int, SceneReadError] = field(default_factory=dict)


def read_slice(
    scene: S1Scene,
    grids: Mapping[int, PatchGrid],
    resampling: str = "nearest",
    hrefs: HrefPolicy | None = None,
    signer: Signer | None = None,
) -> SliceRead:
    """VV and VH of ``scene`` on every point's grid (dB, NaN no data), each asset opened once.

    ``hrefs`` is checked on the href as catalogued; ``signer`` turns it into the href opened
    (signed at read time: a signature is never stored in a cached selection)."""
    if resampling not in RESAMPLINGS:
        raise ValueError(f"unknown resampling {resampling!r}; choose one of "
                         f"{', '.join(RESAMPLINGS)}")
    linear: dict[int, dict[str, np.ndarray]] = {pid: {} for pid in grids}
    errors: dict[int, SceneReadError] = {}
    for pol in S1_BANDS:
        todo = {pid: g for pid, g in grids.items() if pid not in errors}
        if not todo:
            break
        href = scene.assets.get(pol)
        if href is None:
            err: SceneReadError = AssetMismatch(
                f"missing polarisation {pol}: no asset {ASSET_KEYS[pol][0]} (item "
                f"{scene.scene_id})", "missing_polarisation")
            errors.update(dict.fromkeys(todo, err))
            continue
        why = hrefs.refusal(href) if hrefs is not None else None
        if why is not None:
            err = AssetMismatch(f"item {scene.scene_id}: asset href {href} ({pol}) refused: "
                                f"{why}", "refused_href")
            errors.update(dict.fromkeys(todo, err))
            continue
        try:
            opened = signer(href) if signer is not None else href
        except Exception as e:  # the signing service: network trouble, an expired key
            err = SceneReadError(f"cannot sign {href} (item {scene.scene_id}): "
                                 f"{type(e).__name__}: {e}", transient=True)
            errors.update(dict.fromkeys(todo, err))
            continue
        _read_asset(scene, pol, href, opened, todo, RESAMPLINGS[resampling], linear, errors)
    result = SliceRead(errors=errors)
    for pid, pols in linear.items():
        if pid not in errors:
            result.patches[pid] = S1Patch(scene, linear_to_db(pols["VV"]),
                                          linear_to_db(pols["VH"]))
    return result


def _read_asset(
    scene: S1Scene,
    pol: str,
    href: str,
    opened: str,
    grids: Mapping[int, PatchGrid],
    resampling: Resampling,
    linear: dict[int, dict[str, np.ndarray]],
    errors: dict[int, SceneReadError],
) -> None:
    """One asset, opened once, read for every point of ``grids`` (linear, NaN no data)."""
    try:
        with warnings.catch_warnings():  # handled below, as a read error
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(opened)
    except (RasterioError, OSError) as e:
        errors.update(dict.fromkeys(grids, slice_read_error(scene, href, "open", e)))
        return
    with src:
        err, crs = _unusable(scene, pol, href, src)
        if err is not None or crs is None:
            errors.update(dict.fromkeys(grids, err or AssetMismatch(
                f"{href}: no CRS and item {scene.scene_id} has no proj:epsg", "no_crs")))
            return
        epsg = crs.to_epsg()
        transform = src.transform
        nodatas = (scene.nodata, src.nodata)
        margin = 1 if resampling == Resampling.nearest else 2
        for pid, grid in grids.items():
            window: Window | None = None
            try:
                window = source_window(grid, transform, crs, epsg, margin=margin)
                raw = read_window(src, window)
            except (RasterioError, OSError) as e:
                errors[pid] = slice_read_error(scene, href, window_text(window), e)
                continue
            values = masked_linear(raw, nodatas)
            wt = window_transform(transform, window)
            linear[pid][pol] = on_grid(values, wt, crs, epsg, grid, resampling)


def _unusable(
    scene: S1Scene, pol: str, href: str, src: DatasetReader
) -> tuple[SceneReadError | None, CRS | None]:
    """Why an opened asset cannot serve ``pol`` of ``scene``, and the CRS to read it in."""
    if lacks_georeference(src.transform, src.gcps[0]):
        return slice_read_error(scene, href, "open",
                                RasterioError("not georeferenced (no geotransform)")), None
    file_epsg = src.crs.to_epsg() if src.crs else None
    if file_epsg is not None and scene.epsg is not None and file_epsg != scene.epsg:
        return AssetMismatch(f"crs mismatch: {href} is EPSG:{file_epsg} but item "
                             f"{scene.scene_id} says EPSG:{scene.epsg}", "crs_mismatch"), None
    dtype = src.dtypes[0]
    if dtype not in FLOAT_DTYPES:
        return AssetMismatch(f"unexpected dtype {dtype} for {pol}: {href} (linear float32 "
                             f"backscatter expected; item {scene.scene_id})",
                             "unexpected_dtype"), None
    if src.crs:
        return None, src.crs
    return None, CRS.from_epsg(scene.epsg) if scene.epsg is not None else None


def masked_linear(raw: np.ndarray, nodatas: tuple[float | None, ...]) -> np.ndarray:
    """``raw`` as float32 with every no-data (x <= 0, NaN, infinite, ``nodatas``) as NaN.

    Why before resampling: a bilinear kernel must never blend a fill value into a pixel."""
    values = np.asarray(raw, dtype=np.float32).copy()
    bad = ~np.isfinite(values) | (values <= 0)
    for nodata in nodatas:
        if nodata is not None and not np.isnan(nodata):
            bad |= values == np.float32(nodata)
    values[bad] = np.nan
    return values


def on_grid(
    values: np.ndarray,
    transform: Affine,
    crs: CRS,
    epsg: int | None,
    grid: PatchGrid,
    resampling: Resampling = Resampling.nearest,
) -> np.ndarray:
    """Linear ``values`` (NaN no data) on the patch grid; pixels off ``values`` are NaN."""
    if resampling == Resampling.nearest and can_gather(transform, epsg, grid):
        out = gather(values, transform, grid)  # off the window: 0, i.e. no data
        out[out == 0] = np.nan
        return out
    out = np.full((grid.size, grid.size), np.nan, dtype=np.float32)
    reproject(
        values,
        out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=np.nan,
        init_dest_nodata=True,
        resampling=resampling,
    )
    return out


def slice_read_error(scene: S1Scene, href: str, where: str, e: Exception) -> SceneReadError:
    """A read failure naming the href, the item and the window, classified for retry."""
    message = f"read error {href}: {e} (item {scene.scene_id}, {where})"
    return SceneReadError(message, transient=is_transient(href, str(e)))
