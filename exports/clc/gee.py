"""CORINE Land Cover 2018 labels from Earth Engine (``COPERNICUS/CORINE/V20/100m/2018``).

:class:`GeeClc` is the Earth Engine :class:`~exports.clc.source.ClcSource`: for an area
(a Sentinel-2 tile, say) it asks ``ee.data.computePixels`` once, or in blocks, for the
``landcover`` band (values: CLC level-3 codes, 111 … 523) on the area's 10 m grid in the
area's UTM CRS; Earth Engine reprojects the 100 m EPSG:3035 raster with its default
nearest-neighbour resampling, so every 10 m pixel carries the code of the 100 m CORINE cell
under its centre. :meth:`GeeClcArea.reference_map` then cuts a patch out of that array.

The labels are **coarse** (``coarse = True``): class edges are the 100 m cells' edges, not
the 1:100 000 vector polygons (25 ha minimum mapping unit) that the original BigEarthNet
reference maps were rasterised from. A consumer records that with the dataset.

Pixels the asset does not cover (outside the CORINE area, or masked) are 999, the CLC
"NODATA" code: the expression is ``unmask(999, sameFootprint=False)``, and any 0 or masked
value still in an answer is read as 999 (CLC has no code 0).

A request holds at most 48 MiB and 32768 pixels a side (the computePixels limits); the area
is cut into blocks of ``block_px`` × ``block_px`` (uint16: 4096² is 32 MiB), and a block
that Earth Engine refuses for its size or memory is split in four and asked again. Calls go
through a :class:`~exports.gee.throttle.Throttle` (rate, concurrency, retries of 429 and
transient errors); the connection is the caller's (:func:`exports.gee.auth.initialize`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import ee
import numpy as np

from exports.gee.pixels import MAX_BYTES, grid_spec, load_array
from exports.gee.throttle import ErrorKind, Throttle, classify
from exports.grid import PIXEL_SIZE, PatchGrid
from lucas.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

DEFAULT_ASSET = "COPERNICUS/CORINE/V20/100m/2018"
BAND = "landcover"
UNCOVERED = 999  # the CLC "NODATA" code; what reference_map gives where there is no label
NATIVE_RESOLUTION_M = 100.0
MAX_SIDE = 32768  # computePixels: at most 32768 pixels along each side
BYTES_PER_VALUE = 2  # uint16
DEFAULT_BLOCK_PX = 4096  # 4096² uint16 = 32 MiB, under the 48 MiB limit
MIN_SPLIT_PX = 256  # a refused block smaller than this is not split again
_SPLITTABLE = ("user memory limit exceeded", "total request size", "too large")

ComputePixels = Callable[[dict[str, Any]], Any]


def _compute_pixels(params: dict[str, Any]) -> Any:
    return ee.data.computePixels(params)  # looked up per call: tests may patch ee.data


def max_block_px() -> int:
    """The largest square block one request may hold (both computePixels limits)."""
    return min(MAX_SIDE, math.isqrt(MAX_BYTES // BYTES_PER_VALUE))


def clc_image(asset_id: str = DEFAULT_ASSET) -> ee.Image:
    """The asset's ``landcover`` codes as uint16, uncovered pixels 999."""
    return ee.Image(asset_id).select([BAND]).unmask(UNCOVERED, False).toUint16()


@dataclass(frozen=True)
class Block:
    """A window of an area's raster: top-left row and column, height and width (pixels)."""

    row: int
    col: int
    height: int
    width: int

    def quarters(self) -> list[Block]:
        """The block cut in two along each side longer than one pixel."""
        h1, w1 = (self.height + 1) // 2, (self.width + 1) // 2
        rows = [(0, h1), (h1, self.height - h1)] if self.height > 1 else [(0, 1)]
        cols = [(0, w1), (w1, self.width - w1)] if self.width > 1 else [(0, 1)]
        return [Block(self.row + r, self.col + c, h, w) for r, h in rows for c, w in cols]


@dataclass(frozen=True)
class AreaGrid:
    """The raster an area is fetched on: north-up, ``pixel`` m, edges on multiples of it."""

    epsg: int
    x_min: float
    y_max: float
    width: int
    height: int
    pixel: float = PIXEL_SIZE

    @classmethod
    def covering(
        cls, epsg: int, bounds: tuple[float, float, float, float], pixel: float = PIXEL_SIZE
    ) -> AreaGrid:
        """The smallest grid of whole ``pixel`` cells holding ``bounds`` (left, bottom,
        right, top, in the CRS ``epsg``): a Sentinel-2 tile's bounds are kept as they are."""
        left, bottom, right, top = (float(v) for v in bounds)
        if not (right > left and top > bottom):
            raise ValueError(f"empty area bounds {bounds} (left, bottom, right, top)")
        eps = 1e-6  # bounds a float hair off a pixel edge snap to that edge
        x0 = math.floor(left / pixel + eps) * pixel
        x1 = math.ceil(right / pixel - eps) * pixel
        y0 = math.floor(bottom / pixel + eps) * pixel
        y1 = math.ceil(top / pixel - eps) * pixel
        return cls(epsg, x0, y1, round((x1 - x0) / pixel), round((y1 - y0) / pixel), pixel)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the whole grid."""
        return (self.x_min, self.y_max - self.height * self.pixel,
                self.x_min + self.width * self.pixel, self.y_max)

    def blocks(self, side: int) -> list[Block]:
        """The grid cut into blocks of at most ``side`` × ``side``, row by row."""
        return [
            Block(r, c, min(side, self.height - r), min(side, self.width - c))
            for r in range(0, self.height, side)
            for c in range(0, self.width, side)
        ]

    def spec(self, block: Block) -> dict[str, Any]:
        """The computePixels ``grid`` of one block (the shape :func:`grid_spec` gives)."""
        corner = PatchGrid(
            self.epsg,
            self.x_min + block.col * self.pixel,
            self.y_max - block.row * self.pixel,
            size=max(block.width, block.height),
            pixel=self.pixel,
        )
        spec = grid_spec(corner)
        spec["dimensions"] = {"width": block.width, "height": block.height}
        return spec


class GeeClcArea:
    """The CLC codes of one area on its 10 m grid, fetched once; patches are cut from it."""

    def __init__(self, grid: AreaGrid, codes: np.ndarray) -> None:
        if codes.shape != (grid.height, grid.width):
            raise ValueError(f"codes of shape {codes.shape} for a {grid.height}×{grid.width} grid")
        self.grid = grid
        self.codes = codes

    def reference_map(self, grid: PatchGrid) -> np.ndarray:
        """uint16 (size, size): the code of the area pixel under each patch pixel's centre,
        999 where the centre lies outside the area.

        On the area's own grid (same CRS and pixel, edges aligned) this is a plain slice.
        """
        if grid.epsg != self.grid.epsg:
            raise ValueError(
                f"patch in EPSG:{grid.epsg}, CLC area in EPSG:{self.grid.epsg}: "
                "fetch the area in the patch's CRS"
            )
        centres = (np.arange(grid.size) + 0.5) * grid.pixel
        cols = np.floor((grid.x_min + centres - self.grid.x_min) / self.grid.pixel)
        rows = np.floor((self.grid.y_max - (grid.y_max - centres)) / self.grid.pixel)
        cols_i, rows_i = cols.astype(np.int64), rows.astype(np.int64)
        in_cols = (cols_i >= 0) & (cols_i < self.grid.width)
        in_rows = (rows_i >= 0) & (rows_i < self.grid.height)
        out = np.full((grid.size, grid.size), UNCOVERED, dtype=np.uint16)
        out[np.ix_(in_rows, in_cols)] = self.codes[np.ix_(rows_i[in_rows], cols_i[in_cols])]
        return out


class GeeClc:
    """CORINE Land Cover from an Earth Engine image asset with a ``landcover`` code band.

    Args:
        asset_id: the image (default ``COPERNICUS/CORINE/V20/100m/2018``).
        compute_pixels: the server call (default ``ee.data.computePixels``), injected so
            tests fake it.
        throttle: the rate/concurrency/retry wrapper of every call (default: a
            :class:`~exports.gee.throttle.Throttle` of its own).
        block_px: the side of the square blocks an area is fetched in (at most
            :func:`max_block_px`, 5016).
    """

    name = "gee"
    coarse = True

    def __init__(
        self,
        asset_id: str = DEFAULT_ASSET,
        *,
        compute_pixels: ComputePixels | None = None,
        throttle: Throttle | None = None,
        block_px: int = DEFAULT_BLOCK_PX,
    ) -> None:
        if not 1 <= block_px <= max_block_px():
            raise ConfigError(
                f"CLC block side must be 1..{max_block_px()} pixels (computePixels: "
                f"{MAX_BYTES} bytes, {MAX_SIDE} px a side), got {block_px}"
            )
        self.asset_id = asset_id
        self.native_resolution_m = NATIVE_RESOLUTION_M
        self.description = (
            f"CORINE Land Cover from Earth Engine {asset_id} (band {BAND}, "
            f"{NATIVE_RESOLUTION_M:g} m raster, nearest neighbour to the 10 m grid; "
            f"{UNCOVERED} where uncovered)"
        )
        self.block_px = block_px
        self._compute_pixels = compute_pixels or _compute_pixels
        self.throttle = throttle or Throttle()

    @classmethod
    def connect(
        cls, asset_id: str = DEFAULT_ASSET, *, project: str | None = None,
        key_file: Path | None = None,
    ) -> GeeClc:
        """Initialise Earth Engine with the run's account (``--project``, ``--gee-key-file``)
        and return the source (a ConfigError names missing credentials)."""
        from exports.gee.auth import GeeAuth, initialize

        initialize(GeeAuth(project=project, key_file=key_file))
        return cls(asset_id)

    def request(self, area: AreaGrid, block: Block) -> dict[str, Any]:
        """The ``ee.data.computePixels`` parameters of one block of an area."""
        return {
            "expression": clc_image(self.asset_id),
            "fileFormat": "NPY",
            "grid": area.spec(block),
        }

    def for_area(self, epsg: int, bounds: tuple[float, float, float, float]) -> GeeClcArea:
        """The codes of the 10 m grid covering ``bounds`` (left, bottom, right, top in
        EPSG ``epsg``), fetched now, block by block.

        Raises :class:`~lucas.errors.SourceError` (``transient`` when retrying later may
        help) when a block fails after the throttle's retries and any splitting.
        """
        area = AreaGrid.covering(epsg, bounds)
        blocks = area.blocks(self.block_px)
        log.info("CLC %s: %d×%d px in EPSG:%d, %d request(s)", self.asset_id, area.width,
                 area.height, epsg, len(blocks))
        codes = np.full((area.height, area.width), UNCOVERED, dtype=np.uint16)
        for block, values in self._fetch_all(area, blocks):
            codes[block.row : block.row + block.height,
                  block.col : block.col + block.width] = values
        return GeeClcArea(area, codes)

    def _fetch_all(
        self, area: AreaGrid, blocks: list[Block]
    ) -> Iterator[tuple[Block, np.ndarray]]:
        for block in blocks:
            yield from self._fetch(area, block)

    def _fetch(self, area: AreaGrid, block: Block) -> Iterator[tuple[Block, np.ndarray]]:
        what = (f"CLC {self.asset_id} block rows {block.row}+{block.height}, "
                f"cols {block.col}+{block.width} (EPSG:{area.epsg})")
        try:
            data = self.throttle.call(
                partial(self._compute_pixels, self.request(area, block)), what=what
            )
        except Exception as e:
            if _splittable(e) and min(block.height, block.width) >= 2 * MIN_SPLIT_PX:
                log.info("%s refused (%s): asking for it in quarters", what, e)
                for quarter in block.quarters():
                    yield from self._fetch(area, quarter)
                return
            kind = classify(e)
            raise SourceError(
                f"Earth Engine computePixels, {what}: {e}",
                transient=kind is not ErrorKind.DETERMINISTIC,
            ) from e
        yield block, answer_codes(data, (block.height, block.width), what)


def _splittable(error: BaseException) -> bool:
    message = str(error).lower()
    return any(m in message for m in _SPLITTABLE)


def answer_codes(data: Any, shape: tuple[int, int], what: str = "computePixels") -> np.ndarray:
    """uint16 codes of one computePixels answer (NPY bytes or array; a structured array's
    ``landcover`` field or its only field); masked values and 0 become 999."""
    array = load_array(data)
    names = array.dtype.names
    if names:
        if BAND in names:
            field = BAND
        elif len(names) == 1:
            field = names[0]
        else:
            raise SourceError(f"{what}: answer has fields {list(names)}, none is {BAND!r}")
        array = array[field]
    if array.shape != shape:
        raise SourceError(f"{what}: computePixels returned shape {array.shape}, wanted {shape}")
    if np.ma.isMaskedArray(array):
        array = np.ma.filled(array.astype(np.int64), UNCOVERED)
    values = np.asarray(array)
    if values.dtype.kind == "f":
        values = np.where(np.isfinite(values), values, 0)
    codes = values.astype(np.int64)
    codes[(codes <= 0) | (codes > np.iinfo(np.uint16).max)] = UNCOVERED
    return codes.astype(np.uint16)
