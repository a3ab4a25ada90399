"""Window maths of a windowed read: what to read and where it goes, without opening a file.

The policy half of :mod:`exports.stac.window_read` (which does the rasterio IO), kept apart
so that every decision is testable from numbers alone: the source window of a patch with its
margin, the window's transform, which part of it lies on the raster, placing a raw window on
the patch grid by nearest neighbour, finishing a patch (no-data, BOA offset, dtype), and the
checks an asset's metadata must pass. Errors are classified here too: whether a retry may
help depends only on the href and the message.

Nearest neighbour in one CRS is direct indexing: the source pixel under each patch pixel
centre (an exact copy for 10 m bands, 2×2 repetition for 20 m bands; the same pixels GDAL's
nearest warp picks). A window in another UTM zone needs a warp, which is IO-side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from exports.grid import PatchGrid
from exports.source import Scene
from lucas.errors import SceneReadError

_TRANSIENT_HINTS = (
    "timed out", "timeout", "connection", "http response code: 5", "429", "curl error",
    # A block read that fails after the open went fine: over HTTP, a body cut short once
    # GDAL's own retries are spent (GDAL's message does not say why).
    "read failed", "ireadblock failed",
)
_REMOTE_PREFIXES = ("http://", "https://", "s3://", "gs://", "/vsicurl", "/vsis3")

# Source dtypes a band may have: L2A reflectance is uint16 (× 10000); SCL class codes fit any
# unsigned integer. A float (0–1 reflectance) or signed asset would be cast into garbage.
_ALLOWED_DTYPES: Mapping[str, tuple[str, ...]] = {"SCL": ("uint8", "uint16")}
_REFLECTANCE_DTYPES = ("uint16",)


def source_window(
    grid: PatchGrid, src_transform: Affine, src_crs: CRS, src_epsg: int | None, margin: int = 1
) -> Window:
    """Integer window of the source covering the patch bounds, plus ``margin`` pixels.

    The margin keeps the pixels a nearest-neighbour warp may pick just outside the bounds.
    """
    left, bottom, right, top = grid.bounds
    if src_epsg != grid.epsg:
        crs_key = f"EPSG:{src_epsg}" if src_epsg is not None else src_crs.to_wkt()
        left, bottom, right, top = foreign_bounds(grid, crs_key)
    t = src_transform
    if north_up(t):  # plain arithmetic: this runs once per point and asset
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


@lru_cache(maxsize=8192)
def foreign_bounds(grid: PatchGrid, crs: str) -> tuple[float, float, float, float]:
    """The patch bounds in another CRS (densified), once per point and CRS: every scene of
    a tile in the neighbouring UTM zone asks for the same."""
    left, bottom, right, top = grid.bounds
    out = transform_bounds(grid.crs, crs, left, bottom, right, top, densify_pts=21)
    return (float(out[0]), float(out[1]), float(out[2]), float(out[3]))


def window_transform(transform: Affine, window: Window) -> Affine:
    """The affine transform of a window's top-left pixel (cheaper than the generic method)."""
    col, row = window.col_off, window.row_off
    t = transform
    return Affine(t.a, t.b, t.c + col * t.a + row * t.b, t.d, t.e, t.f + col * t.d + row * t.e)


def on_raster(
    window: Window, width: int, height: int
) -> tuple[Window, tuple[slice, slice]] | None:
    """The part of ``window`` on a ``width`` × ``height`` raster, and its place in the window.

    Why: a window hanging over the raster's edge is read as its inner part into a zeroed
    array (a boundless read without GDAL's VRT). None when no pixel of it is on the raster.
    """
    col0, row0 = int(window.col_off), int(window.row_off)
    c0, r0 = max(col0, 0), max(row0, 0)
    c1, r1 = min(col0 + int(window.width), width), min(row0 + int(window.height), height)
    if c1 <= c0 or r1 <= r0:
        return None
    inner = Window(c0, r0, c1 - c0, r1 - r0)
    return inner, (slice(r0 - row0, r1 - row0), slice(c0 - col0, c1 - col0))


def north_up(t: Affine) -> bool:
    """Whether a transform has no rotation and rows going south (plain arithmetic works)."""
    return t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0


def can_gather(transform: Affine, epsg: int | None, grid: PatchGrid) -> bool:
    """Whether a raw window can be put on ``grid`` by indexing alone (no warp needed)."""
    return epsg == grid.epsg and north_up(transform)


def gather(raw: np.ndarray, t: Affine, grid: PatchGrid) -> np.ndarray:
    """Nearest neighbour in one CRS: the source pixel under each patch pixel centre.

    Patch pixels whose centre falls off ``raw`` are 0 (no-data). Two ``take``s, not
    ``np.ix_``: four times faster on a 64×64 patch, and this runs once per window.
    """
    centres = _centres(grid.size, grid.pixel)
    cols = np.floor((grid.x_min + centres - t.c) / t.a).astype(np.intp)
    rows = np.floor((grid.y_max - centres - t.f) / t.e).astype(np.intp)
    h, w = raw.shape
    if cols[0] >= 0 and rows[0] >= 0 and cols[-1] < w and rows[-1] < h:
        if t.a == grid.pixel and -t.e == grid.pixel:  # same resolution: a plain slice
            return raw[rows[0] : rows[0] + grid.size, cols[0] : cols[0] + grid.size].copy()
        return raw.take(rows, axis=0).take(cols, axis=1)
    out = raw.take(np.clip(rows, 0, h - 1), axis=0).take(np.clip(cols, 0, w - 1), axis=1)
    out[(rows < 0) | (rows >= h), :] = 0
    out[:, (cols < 0) | (cols >= w)] = 0
    return out


@lru_cache(maxsize=64)
def _centres(size: int, pixel: float) -> np.ndarray:
    """Offsets of a patch's pixel centres from its edge (read-only: shared)."""
    centres = (np.arange(size) + 0.5) * pixel
    centres.flags.writeable = False
    return centres


def zero_nodata(patch: np.ndarray, nodata: float | None) -> np.ndarray:
    """``patch`` (in place) with the asset's own no-data value turned into the dataset's 0."""
    if nodata is not None and nodata != 0:
        patch[patch == nodata] = 0
    return patch


def finish_patch(patch: np.ndarray, dtype: np.dtype, offset: int) -> np.ndarray:
    """Cast to the band's dtype and remove the BOA offset (``v > 0 -> max(v - offset, 1)``)."""
    if not offset and patch.dtype == dtype:
        return patch
    values = patch.astype(np.int64)
    if offset:
        values = np.where(values > 0, np.maximum(values - offset, 1), 0)
    info = np.iinfo(dtype)
    return np.clip(values, info.min, info.max).astype(dtype)


def is_transient(href: str, message: str) -> bool:
    """Whether retrying may help: network trouble on a remote href, never a local file."""
    text = message.lower()
    return href.startswith(_REMOTE_PREFIXES) and any(hint in text for hint in _TRANSIENT_HINTS)


class AssetMismatch(SceneReadError):
    """An asset that opens fine but is not what its item says; ``kind`` counts it."""

    def __init__(self, message: str, kind: str) -> None:
        """Never transient: the same file gives the same mismatch on every try."""
        super().__init__(message, transient=False)
        self.kind = kind


def lacks_georeference(transform: Affine, gcps: Sequence[object]) -> bool:
    """Whether an opened raster has neither a geotransform nor GCPs (``src.gcps[0]``).

    Why: GDAL opens such a file with the identity transform, which would read pixel
    coordinates as metres without any error.
    """
    return bool(transform.is_identity and not gcps)


def asset_mismatch(
    scene: Scene, band: str, href: str, epsg: int | None, dtype: str
) -> AssetMismatch | None:
    """Why an asset of CRS ``epsg`` and ``dtype`` cannot be used as ``band`` of ``scene``.

    Why check: a COG labelled with another CRS than its item's ``proj:epsg`` (a re-projected
    or mislabelled file), or with another dtype, reads without any error and would put
    wrong pixels into the dataset silently; it is dropped with the reason instead.
    """
    if epsg is not None and epsg != scene.epsg:
        return AssetMismatch(
            f"crs mismatch: {href} is EPSG:{epsg} but item {scene.scene_id} says "
            f"proj:epsg {scene.epsg}",
            "crs_mismatch",
        )
    allowed = _ALLOWED_DTYPES.get(band, _REFLECTANCE_DTYPES)
    if dtype not in allowed:
        return AssetMismatch(
            f"unexpected dtype {dtype} for band {band}: {href} (expected "
            f"{' or '.join(allowed)}; item {scene.scene_id})",
            "unexpected_dtype",
        )
    return None


def read_error(scene: Scene, href: str, where: str, e: Exception) -> SceneReadError:
    """A read failure naming the href, the item and the window, classified for retry."""
    message = f"read error {href}: {e} (item {scene.scene_id}, {where})"
    return SceneReadError(message, transient=is_transient(href, str(e)))


def window_text(window: Window | None) -> str:
    """How a read error names its window (integers: what a user can rerun with ``rio``)."""
    if window is None:
        return "window not computed"
    return (
        f"window col_off={int(window.col_off)} row_off={int(window.row_off)} "
        f"width={int(window.width)} height={int(window.height)}"
    )


def is_remote(href: str) -> bool:
    """Whether an href is read over a network (HTTP, S3, GDAL's virtual file systems)."""
    return href.startswith(_REMOTE_PREFIXES)


# A merged read is at most this many pixels (32 MB of uint16) and decodes at most this
# factor more blocks than its windows touch; a group beyond either is split by block rows.
MERGED_READ_MAX_PIXELS = 16 * 2**20
MERGED_READ_MAX_WASTE = 1.5


Read = tuple[Window | None, list[int]]  # a read's window (None: off the raster), its windows


def merged_reads(
    windows: Sequence[Window], block: tuple[int, int], width: int, height: int
) -> list[Read]:
    """The reads that serve ``windows`` of one ``width`` × ``height`` raster: each a
    window on the raster and the indices of the windows it holds.

    Why: neighbouring points' windows share COG blocks; one read of the rectangle around
    windows that share blocks decodes (or downloads, over HTTP in merged ranges) each block
    once and costs one call instead of one per window. Windows sharing no block with any
    other are read alone, as before. A read of ``None``: windows wholly off the raster.
    """
    bh, bw = block
    parts: dict[int, tuple[int, int, int, int]] = {}  # index -> clipped (c0, r0, c1, r1)
    off: list[int] = []
    for i, w in enumerate(windows):
        part = on_raster(w, width, height)
        if part is None:
            off.append(i)
            continue
        inner = part[0]
        c0, r0 = int(inner.col_off), int(inner.row_off)
        parts[i] = (c0, r0, c0 + int(inner.width), r0 + int(inner.height))
    reads: list[tuple[Window | None, list[int]]] = [(None, off)] if off else []
    for members in _sharing_groups(parts, bh, bw):
        reads.extend(_split(members, parts, bh, bw))
    return reads


# What one read call costs on a local file, in pixels decoded: rasterio's and GDAL's
# per-call work (about 25 µs) is about one 128² block of DEFLATE uint16. Measured on the
# demo archive; over HTTP bytes count instead, so remote reads keep ``merged_reads``.
LOCAL_READ_CALL_PIXELS = 128 * 128

_WindowKey = tuple[tuple[int, int, int, int], ...]


def read_plan(
    windows: Sequence[Window],
    block: tuple[int, int],
    width: int,
    height: int,
    call_pixels: int = 0,
) -> list[Read]:
    """:func:`merged_reads`, or one read of the rectangle around every window when that
    costs less, counting ``call_pixels`` pixels per read call (0: never; remote files).

    Why: on a small local COG the windows of a batch's points rarely share blocks but
    cover most of the raster; one call decoding a few more blocks beats a call per
    window. Cached: every scene of a tile has the same windows for a band's resolution.
    """
    key = tuple((int(w.col_off), int(w.row_off), int(w.width), int(w.height)) for w in windows)
    return [(rect, list(members)) for rect, members in
            _cached_plan(key, block, width, height, call_pixels)]  # fmt: skip


def clear_read_caches() -> None:
    """Forget cached read plans and foreign bounds (a benchmark's cold start)."""
    _cached_plan.cache_clear()
    foreign_bounds.cache_clear()


@lru_cache(maxsize=1024)
def _cached_plan(
    key: _WindowKey, block: tuple[int, int], width: int, height: int, call_pixels: int
) -> tuple[tuple[Window | None, tuple[int, ...]], ...]:
    windows = [Window(*k) for k in key]
    reads = merged_reads(windows, block, width, height)
    if call_pixels > 0:
        reads = _cheaper_as_one(reads, block, call_pixels) or reads
    return tuple((rect, tuple(members)) for rect, members in reads)


def _cheaper_as_one(
    reads: list[Read], block: tuple[int, int], call_pixels: int
) -> list[Read] | None:
    """One read of the rectangle around every on-raster read, if it costs less, or None."""
    rects = [r for r, _ in reads if r is not None]
    if len(rects) < 2:
        return None
    bh, bw = block
    extents = [(int(r.col_off), int(r.row_off), int(r.col_off + r.width),
                int(r.row_off + r.height)) for r in rects]  # fmt: skip
    c0, r0 = min(e[0] for e in extents), min(e[1] for e in extents)
    c1, r1 = max(e[2] for e in extents), max(e[3] for e in extents)
    if (c1 - c0) * (r1 - r0) > MERGED_READ_MAX_PIXELS:
        return None
    decoded = {b for e in extents for b in _blocks(e, bh, bw)}
    as_many = len(rects) * call_pixels + len(decoded) * bh * bw
    as_one = call_pixels + len(_blocks((c0, r0, c1, r1), bh, bw)) * bh * bw
    if as_one >= as_many:
        return None
    on = [i for r, members in reads if r is not None for i in members]
    off = [(r, members) for r, members in reads if r is None]
    return [*off, (Window(c0, r0, c1 - c0, r1 - r0), sorted(on))]


def _blocks(extent: tuple[int, int, int, int], bh: int, bw: int) -> list[tuple[int, int]]:
    c0, r0, c1, r1 = extent
    return [(by, bx) for by in range(r0 // bh, (r1 - 1) // bh + 1)
            for bx in range(c0 // bw, (c1 - 1) // bw + 1)]  # fmt: skip


def _sharing_groups(
    parts: Mapping[int, tuple[int, int, int, int]], bh: int, bw: int
) -> list[list[int]]:
    """Windows joined when they touch a common block (union-find over the blocks)."""
    parent = {i: i for i in parts}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[int, int], int] = {}
    for i, extent in parts.items():
        for b in _blocks(extent, bh, bw):
            j = owner.setdefault(b, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in parts:
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _split(
    members: list[int], parts: Mapping[int, tuple[int, int, int, int]], bh: int, bw: int
) -> list[tuple[Window | None, list[int]]]:
    """One read for ``members`` if it is small and dense enough, else split by block rows
    (and, for a single block row, one read per window)."""
    extents = [parts[i] for i in members]
    c0, r0 = min(e[0] for e in extents), min(e[1] for e in extents)
    c1, r1 = max(e[2] for e in extents), max(e[3] for e in extents)
    rect = (c0, r0, c1, r1)
    touched = {b for e in extents for b in _blocks(e, bh, bw)}
    spanned = len(_blocks(rect, bh, bw))
    if len(members) == 1 or (
        (c1 - c0) * (r1 - r0) <= MERGED_READ_MAX_PIXELS
        and spanned <= MERGED_READ_MAX_WASTE * len(touched)
    ):
        return [(Window(c0, r0, c1 - c0, r1 - r0), members)]
    rows: dict[int, list[int]] = {}
    for i in members:
        rows.setdefault(parts[i][1] // bh, []).append(i)
    if len(rows) == 1:
        return [(Window(*_xywh(parts[i])), [i]) for i in members]
    out: list[tuple[Window | None, list[int]]] = []
    for row in rows.values():
        out.extend(_split(row, parts, bh, bw))
    return out


def _xywh(extent: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    c0, r0, c1, r1 = extent
    return c0, r0, c1 - c0, r1 - r0
