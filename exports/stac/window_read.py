"""Reading: one scene's assets, each opened once, cut into the patches of many points.

Why scene-major: a COG's decoded blocks live in GDAL's block cache only while its dataset
is open, and neighbouring points of a batch share blocks. Opening each asset once and
reading every point's window from it decodes (or downloads) each block once per batch.

Each point's window covers the patch bounds in the raster's CRS plus one source pixel of
margin; the part of it off the raster is filled with 0 (no-data). The window is then put on
the patch grid by nearest neighbour: in the patch's own CRS by direct indexing (an exact
copy for 10 m bands, 2×2 repetition for 20 m bands; the same pixels GDAL's nearest warp
picks), in another UTM zone with ``rasterio.warp.reproject``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from exports.grid import PatchGrid
from exports.source import Scene, band_dtype
from lucas.errors import SceneReadError

log = logging.getLogger(__name__)

_TRANSIENT_HINTS = (
    "timed out", "timeout", "connection", "http response code: 5", "429", "curl error",
    # A block read that fails after the open went fine: over HTTP, a body cut short once
    # GDAL's own retries are spent (GDAL's message does not say why).
    "read failed", "ireadblock failed",
)


@dataclass
class SceneRead:
    """The patches one scene gave, and the points it failed for."""

    patches: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # pid -> band -> 2D
    errors: dict[int, SceneReadError] = field(default_factory=dict)  # pid -> why


def read_scene(scene: Scene, bands: Sequence[str], grids: Mapping[int, PatchGrid]) -> SceneRead:
    """Every requested band of ``scene`` on every point's grid, each asset opened once.

    A read error costs only the points it hit (a failed open: every point of the scene).
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
        err = _error(scene, href, "open", e)
        result.errors.update(dict.fromkeys(grids, err))
        return
    with src:
        if src.transform.is_identity and not src.gcps[0]:
            err = _error(scene, href, "open", RasterioError("not georeferenced (no geotransform)"))
            result.errors.update(dict.fromkeys(grids, err))
            return
        mismatch = asset_mismatch(scene, band, href, src)
        if mismatch is not None:
            result.errors.update(dict.fromkeys(grids, mismatch))
            return
        crs = src.crs if src.crs else CRS.from_epsg(scene.epsg)
        epsg = crs.to_epsg()
        transform, nodata = src.transform, src.nodata
        for pid, grid in grids.items():
            window: Window | None = None
            try:
                window = source_window(grid, transform, crs, epsg)
                raw = read_window(src, window)
                patch = to_patch(raw, window_transform(transform, window), crs, epsg, grid)
            except (RasterioError, OSError) as e:
                result.errors[pid] = _error(scene, href, _window_text(window), e)
                continue
            if nodata is not None and nodata != 0:
                patch[patch == nodata] = 0
            result.patches[pid][band] = finish_patch(patch, dtype, offset)


def source_window(
    grid: PatchGrid, src_transform: Affine, src_crs: CRS, src_epsg: int | None, margin: int = 1
) -> Window:
    """Integer window of the source covering the patch bounds, plus ``margin`` pixels."""
    left, bottom, right, top = grid.bounds
    if src_epsg != grid.epsg:
        left, bottom, right, top = transform_bounds(
            grid.crs, src_crs, left, bottom, right, top, densify_pts=21
        )
    t = src_transform
    if _north_up(t):  # plain arithmetic: this runs once per point and asset
        c0, c1 = (left - t.c) / t.a, (right - t.c) / t.a
        r0, r1 = (top - t.f) / t.e, (bottom - t.f) / t.e
    else:
        w = from_bounds(left, bottom, right, top, transform=t)
        c0, c1 = w.col_off, w.col_off + w.width
        r0, r1 = w.row_off, w.row_off + w.height
    col0 = math.floor(c0 + 1e-6) - margin
    row0 = math.floor(r0 + 1e-6) - margin
    col1 = math.ceil(c1 - 1e-6) + margin
    row1 = math.ceil(r1 - 1e-6) + margin
    return Window(col0, row0, col1 - col0, row1 - row0)


def window_transform(transform: Affine, window: Window) -> Affine:
    """The affine transform of a window's top-left pixel (cheaper than the generic method)."""
    col, row = window.col_off, window.row_off
    t = transform
    return Affine(t.a, t.b, t.c + col * t.a + row * t.b, t.d, t.e, t.f + col * t.d + row * t.e)


def read_window(src: DatasetReader, window: Window) -> np.ndarray:
    """Band 1 over ``window``; the part off the raster is 0 (a boundless read without a VRT)."""
    col0, row0 = int(window.col_off), int(window.row_off)
    width, height = int(window.width), int(window.height)
    c0, r0 = max(col0, 0), max(row0, 0)
    c1, r1 = min(col0 + width, src.width), min(row0 + height, src.height)
    if (c0, r0, c1, r1) == (col0, row0, col0 + width, row0 + height):
        return src.read(1, window=window)
    out = np.zeros((height, width), dtype=src.dtypes[0])
    if c1 > c0 and r1 > r0:
        inner = Window(c0, r0, c1 - c0, r1 - r0)
        out[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = src.read(1, window=inner)
    return out


def to_patch(
    raw: np.ndarray, transform: Affine, crs: CRS, epsg: int | None, grid: PatchGrid
) -> np.ndarray:
    """``raw`` (georeferenced by ``transform``/``crs``) on the patch grid, nearest neighbour."""
    if epsg == grid.epsg and _north_up(transform):
        return _gather(raw, transform, grid)
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


def _gather(raw: np.ndarray, t: Affine, grid: PatchGrid) -> np.ndarray:
    """Nearest neighbour in one CRS: the source pixel under each patch pixel centre."""
    centres = (np.arange(grid.size) + 0.5) * grid.pixel
    cols = np.floor((grid.x_min + centres - t.c) / t.a).astype(np.intp)
    rows = np.floor((grid.y_max - centres - t.f) / t.e).astype(np.intp)
    h, w = raw.shape
    if cols[0] >= 0 and rows[0] >= 0 and cols[-1] < w and rows[-1] < h:
        if t.a == grid.pixel and -t.e == grid.pixel:  # same resolution: a plain slice
            return raw[rows[0] : rows[0] + grid.size, cols[0] : cols[0] + grid.size].copy()
        return raw[np.ix_(rows, cols)]
    out = raw[np.ix_(np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1))]
    out[(rows < 0) | (rows >= h), :] = 0
    out[:, (cols < 0) | (cols >= w)] = 0
    return out


def finish_patch(patch: np.ndarray, dtype: np.dtype, offset: int) -> np.ndarray:
    """Cast to the band's dtype and remove the BOA offset (``v > 0 -> max(v - offset, 1)``)."""
    if not offset and patch.dtype == dtype:
        return patch
    values = patch.astype(np.int64)
    if offset:
        values = np.where(values > 0, np.maximum(values - offset, 1), 0)
    info = np.iinfo(dtype)
    return np.clip(values, info.min, info.max).astype(dtype)


def _north_up(t: Affine) -> bool:
    return t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0


def is_transient(href: str, message: str) -> bool:
    """Whether retrying may help: network trouble on a remote href, never a local file."""
    remote = href.startswith(("http://", "https://", "s3://", "gs://", "/vsicurl", "/vsis3"))
    text = message.lower()
    return remote and any(hint in text for hint in _TRANSIENT_HINTS)


class AssetMismatch(SceneReadError):
    """An asset that opens fine but is not what its item says; ``kind`` counts it."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message, transient=False)
        self.kind = kind


# Source dtypes a band may have: L2A reflectance is uint16 (× 10000); SCL class codes fit any
# unsigned integer. A float (0–1 reflectance) or signed asset would be cast into garbage.
_ALLOWED_DTYPES: Mapping[str, tuple[str, ...]] = {"SCL": ("uint8", "uint16")}
_REFLECTANCE_DTYPES = ("uint16",)


def asset_mismatch(
    scene: Scene, band: str, href: str, src: DatasetReader
) -> AssetMismatch | None:
    """Why an opened asset cannot be used as ``band`` of ``scene``, or None.

    Why check: a COG labelled with another CRS than its item's ``proj:epsg`` (a re-projected
    or mislabelled file), or with another dtype, reads without any error and would put
    wrong pixels into the dataset silently; it is dropped with the reason instead.
    """
    epsg = src.crs.to_epsg() if src.crs else None
    if epsg is not None and epsg != scene.epsg:
        return AssetMismatch(
            f"crs mismatch: {href} is EPSG:{epsg} but item {scene.scene_id} says "
            f"proj:epsg {scene.epsg}",
            "crs_mismatch",
        )
    allowed = _ALLOWED_DTYPES.get(band, _REFLECTANCE_DTYPES)
    if src.dtypes[0] not in allowed:
        return AssetMismatch(
            f"unexpected dtype {src.dtypes[0]} for band {band}: {href} (expected "
            f"{' or '.join(allowed)}; item {scene.scene_id})",
            "unexpected_dtype",
        )
    return None


def _error(scene: Scene, href: str, where: str, e: Exception) -> SceneReadError:
    message = f"read error {href}: {e} (item {scene.scene_id}, {where})"
    return SceneReadError(message, transient=is_transient(href, str(e)))


def _window_text(window: Window | None) -> str:
    if window is None:
        return "window not computed"
    return (
        f"window col_off={int(window.col_off)} row_off={int(window.row_off)} "
        f"width={int(window.width)} height={int(window.height)}"
    )
