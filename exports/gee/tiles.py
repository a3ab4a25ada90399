"""Whole tiles from Earth Engine: a tile's scenes of a year, a scene's band on its own grid.

The BigEarthNet path works per (MGRS tile, scene) and reads every band whole, at its native
resolution, on the tile's grid. Here the tile's scenes come from one ``computeValue`` of a
compact row per image of ``COPERNICUS/S2_SR_HARMONIZED`` (``MGRS_TILE`` = the tile, the
year's dates); a band comes from ``computePixels`` in blocks on the band's own grid (its CRS,
the tile's upper-left corner, 10, 20 or 60 m), each block under the request limits (48 MB,
32,768 px a side), stitched into one array. The grid of a scene's bands is asked once per
scene (one ``computeValue`` of the image's band descriptions) and kept for its other bands.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import ee
import numpy as np
from affine import Affine

from exports.gee.pixels import MAX_BYTES, ComputePixels, affine_grid, load_array
from exports.gee.select import (
    COLLECTION,
    OPTIONAL_PROPS,
    REQUIRED_PROPS,
    Evaluate,
    scene_from_values,
)
from exports.gee.throttle import ErrorKind, Throttle, classify
from exports.source import DroppedScene, Scene, SceneFilter, SceneSelection, filter_reason
from lucas.errors import SourceError

log = logging.getLogger(__name__)

BBox = tuple[float, float, float, float]

# The Scene asset keys the BigEarthNet path reads (12 bands and SCL); each is its EE band.
TILE_BANDS: tuple[str, ...] = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9",
                               "B11", "B12", "SCL")
# Required first (an image lacking one is left out by the server), then the optional ones.
TILE_OPTIONAL = ("PRODUCT_ID", *OPTIONAL_PROPS, "SENSING_ORBIT_NUMBER")
TILE_PROPS = REQUIRED_PROPS + TILE_OPTIONAL

MAX_SIDE = 32_768  # computePixels: pixels a side of one request
DEFAULT_BLOCK = 2_048  # 10 m uint16: 8 MB a request; a 10,980 px band in 6 × 6 blocks
GRID_CACHE = 8  # scenes whose band grids are kept

_PRODUCT = re.compile(r"^(S2[A-D]_MSIL2A_\d{8}T\d{6}_N\d{4}_R\d{3}_T\d{2}[C-X][A-Z]{2})")


@dataclass(frozen=True)
class TileBand:
    """One band of a scene, whole: what ``pipeline.bigearthnet.read`` reads of a source.

    ``data`` is 2-D (uint16, SCL uint8) with 0 where the image is masked (no data).
    """

    data: np.ndarray
    transform: Affine
    epsg: int | None
    nodata: float | None


@dataclass(frozen=True)
class BandGrid:
    """A band's native grid as Earth Engine describes it: CRS, transform, size in pixels."""

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def epsg(self) -> int | None:
        """The EPSG code of ``crs`` (``EPSG:32633`` → 32633), None for another form."""
        match = re.fullmatch(r"EPSG:(\d+)", self.crs)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Block:
    """A window of a band: column and row of its upper-left pixel, its size in pixels."""

    col: int
    row: int
    width: int
    height: int


# --- the scenes of a tile ---------------------------------------------------------------


def tile_query(tile: str, year: int, bbox: BBox | None = None) -> ee.ComputedObject:
    """The ``TILE_PROPS`` rows of the tile's images of ``year`` (no threshold: the caller
    reports what it drops). ``bbox`` (WGS84 west, south, east, north) only speeds the
    search up through the spatial index; the tile is chosen by ``MGRS_TILE``."""
    images = ee.ImageCollection(COLLECTION).filterDate(f"{year}-01-01", f"{year + 1}-01-01")
    if bbox is not None:
        images = images.filterBounds(ee.Geometry.Rectangle(list(bbox), "EPSG:4326", False))
    images = images.filter(ee.Filter.eq("MGRS_TILE", tile))
    reducer = ee.Reducer.toList(len(TILE_PROPS), len(TILE_OPTIONAL))
    return images.reduceColumns(reducer, list(TILE_PROPS)).get("list")


def product_id(values: Mapping[str, Any]) -> str:
    """The ESA product name without its generation time (``S2A_MSIL2A_20170613T101031_
    N0205_R022_T33UUP``): from ``PRODUCT_ID``, else built from the spacecraft, the datatake
    start (``system:index``), the baseline, the relative orbit and the tile; "" if unknown."""
    match = _PRODUCT.match(str(values.get("PRODUCT_ID") or ""))
    if match:
        return match.group(1)
    craft = re.search(r"2([A-D])$", str(values.get("SPACECRAFT_NAME") or ""))
    start = re.match(r"^\d{8}T\d{6}", str(values.get("system:index") or ""))
    baseline = re.fullmatch(r"(\d{2})\.(\d{2})", str(values.get("PROCESSING_BASELINE") or ""))
    orbit = values.get("SENSING_ORBIT_NUMBER")
    tile = str(values.get("MGRS_TILE") or "")
    if not (craft and start and baseline and isinstance(orbit, int | float) and tile):
        return ""
    name = (f"S2{craft.group(1)}_MSIL2A_{start.group(0)}_N{baseline.group(1)}"
            f"{baseline.group(2)}_R{int(orbit):03d}_T{tile}")
    return name if _PRODUCT.match(name) else ""


def tile_scene_from_row(row: Sequence[Any]) -> Scene:
    """A :class:`Scene` of one ``TILE_PROPS`` row: the selection's fields, the product name
    and an asset (the image id) for every band the BigEarthNet path reads."""
    values = {k: v for k, v in zip(TILE_PROPS, row, strict=False) if v is not None}
    scene = scene_from_values(values)
    return replace(scene, assets=dict.fromkeys(TILE_BANDS, scene.scene_id),
                   product_id=product_id(values))


def tile_selection(
    rows: Sequence[Sequence[Any]], tile: str, year: int, scene_filter: SceneFilter
) -> SceneSelection:
    """The rows' scenes under ``scene_filter`` (key 0, time-ordered) and the ones dropped,
    with the reasons and kinds every source gives (``cloud``, ``scene_nodata``)."""
    selection = SceneSelection(scenes={0: []})
    for row in rows:
        scene = tile_scene_from_row(row)
        if scene.tile != tile:  # the server filtered on it: a stray row is not this tile's
            continue
        selection.scenes_seen += 1
        why = filter_reason(scene, year, scene_filter, ())
        if why is None:
            selection.scenes[0].append(scene)
        else:
            selection.dropped.append(DroppedScene(scene.scene_id, why[1], kind=why[0]))
    selection.scenes[0].sort(key=lambda s: (s.acquired, s.scene_id))
    return selection


def find_tile_scenes(
    tile: str,
    year: int,
    scene_filter: SceneFilter,
    bbox: BBox | None,
    *,
    evaluate: Evaluate,
    throttle: Throttle,
) -> SceneSelection:
    """The scenes of one MGRS tile in ``year``, in one server call (under the throttle's
    retries). Raises :class:`SourceError` (``transient`` when a later retry may help)."""
    what = f"gee tile scenes {tile} {year}"
    query = tile_query(tile, year, bbox)
    try:
        rows = throttle.call(lambda: evaluate(query), what=what)
    except Exception as e:
        raise SourceError(f"{what}: Earth Engine computeValue failed: {e}",
                          transient=classify(e) is not ErrorKind.DETERMINISTIC) from e
    if not isinstance(rows, list):
        raise SourceError(f"{what}: Earth Engine answered {type(rows).__name__}, not a list")
    selection = tile_selection(rows, tile, year, scene_filter)
    log.info("%s: %d scene(s), %d kept, %d dropped", what, selection.scenes_seen,
             len(selection.scenes[0]), len(selection.dropped))
    return selection


# --- a band whole -----------------------------------------------------------------------


def image_asset(scene: Scene) -> str:
    """The Earth Engine image id of a scene (``COPERNICUS/S2_SR_HARMONIZED/<index>``)."""
    return f"{COLLECTION}/{scene.image_id}"


def grids_query(asset_id: str) -> ee.Image:
    """The image restricted to the tile bands: its computed value describes each band
    (``crs``, ``crs_transform``, ``dimensions``)."""
    return ee.Image(asset_id).select(list(TILE_BANDS))


def parse_grids(info: Mapping[str, Any]) -> dict[str, BandGrid]:
    """Band name → its native grid, from a computed image's ``bands`` descriptions."""
    grids: dict[str, BandGrid] = {}
    for band in info.get("bands") or []:
        transform = band.get("crs_transform")
        dims = band.get("dimensions")
        if not (band.get("id") and band.get("crs") and transform and dims):
            continue
        a, b, c, d, e, f = (float(v) for v in transform[:6])
        grids[str(band["id"])] = BandGrid(str(band["crs"]), Affine(a, b, c, d, e, f),
                                          int(dims[0]), int(dims[1]))
    return grids


def band_dtype(key: str) -> np.dtype:
    """What a band is sent as: SCL classes fit a byte, reflectance uint16."""
    return np.dtype(np.uint8) if key == "SCL" else np.dtype(np.uint16)


def band_image(asset_id: str, band: str) -> ee.Image:
    """One band, masked pixels as 0 (outside the footprint too), in its dataset dtype."""
    image = ee.Image(asset_id).select([band]).unmask(0, False)
    return image.toUint8() if band == "SCL" else image.toUint16()


def block_side(requested: int, bytes_per_value: int) -> int:
    """The side of square blocks: ``requested``, lowered under both computePixels limits."""
    fits = math.isqrt(MAX_BYTES // bytes_per_value)
    return max(1, min(requested, MAX_SIDE, fits))


def blocks(width: int, height: int, side: int) -> list[Block]:
    """The row-major windows of ``side`` px covering a ``width`` × ``height`` raster."""
    return [Block(col, row, min(side, width - col), min(side, height - row))
            for row in range(0, height, side) for col in range(0, width, side)]


def block_request(asset_id: str, band: str, grid: BandGrid, block: Block) -> dict[str, Any]:
    """The ``computePixels`` parameters of one block on the band's own grid."""
    transform = grid.transform @ Affine.translation(block.col, block.row)
    return {
        "expression": band_image(asset_id, band),
        "fileFormat": "NPY",
        "grid": affine_grid(grid.crs, transform, block.width, block.height),
    }


def answer_values(data: Any, block: Block, dtype: np.dtype, what: str) -> np.ndarray:
    """The block's 2-D values from an NPY answer (a one-field structured array)."""
    array = load_array(data)
    names = array.dtype.names
    if names:
        if len(names) != 1:
            raise SourceError(f"{what}: computePixels returned {len(names)} bands, not 1")
        array = array[names[0]]
    if array.shape != (block.height, block.width):
        raise SourceError(f"{what}: computePixels returned shape {array.shape}, not "
                          f"{(block.height, block.width)}")
    return array.astype(dtype, copy=False)


Runner = Callable[[Sequence[Block], Callable[[Block], tuple[Block, np.ndarray]]],
                  Iterator[tuple[Block, np.ndarray]]]


class TileReader:
    """Whole bands of scenes: the grids of a scene asked once, the blocks of a band fetched
    by ``run`` (the source's thread pool), every call under ``throttle``."""

    def __init__(
        self,
        *,
        compute_pixels: ComputePixels,
        compute_value: Evaluate,
        throttle: Throttle,
        run: Runner,
        block_px: int = DEFAULT_BLOCK,
    ) -> None:
        self._compute_pixels = compute_pixels
        self._compute_value = compute_value
        self._throttle = throttle
        self._run = run
        self._block_px = block_px
        self._grids: OrderedDict[str, dict[str, BandGrid]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, scene: Scene, key: str) -> TileBand:
        """Band ``key`` (a Scene asset key: B1 … B12, B8A, SCL) of ``scene`` whole."""
        if key not in TILE_BANDS:
            raise ValueError(f"no Earth Engine band for asset key {key!r} (known: "
                             f"{', '.join(TILE_BANDS)})")
        asset_id = image_asset(scene)
        grid = self.grids(scene, asset_id).get(key)
        if grid is None:
            raise SourceError(f"scene {scene.scene_id} band {key}: Earth Engine describes no "
                              "such band", transient=False)
        dtype = band_dtype(key)
        side = block_side(self._block_px, dtype.itemsize)
        plan = blocks(grid.width, grid.height, side)
        out = np.zeros((grid.height, grid.width), dtype=dtype)

        def fetch(block: Block) -> tuple[Block, np.ndarray]:
            return block, self._block(scene, asset_id, key, grid, block, dtype, len(plan))

        for block, values in self._run(plan, fetch):
            out[block.row : block.row + block.height, block.col : block.col + block.width] = values
        log.debug("gee tile %s %s: %d×%d px in %d block(s)", scene.scene_id, key,
                  grid.width, grid.height, len(plan))
        return TileBand(out, grid.transform, grid.epsg, 0.0)

    def grids(self, scene: Scene, asset_id: str) -> dict[str, BandGrid]:
        """The native grid of each tile band of the scene (one server call per scene)."""
        with self._lock:
            cached = self._grids.get(asset_id)
            if cached is not None:
                self._grids.move_to_end(asset_id)
                return cached
        what = f"gee band grids {scene.scene_id}"
        query = grids_query(asset_id)
        try:
            info = self._throttle.call(lambda: self._compute_value(query), what=what)
        except Exception as e:
            raise SourceError(f"scene {scene.scene_id}: Earth Engine cannot describe its "
                              f"bands: {e}",
                              transient=classify(e) is not ErrorKind.DETERMINISTIC) from e
        grids = parse_grids(info if isinstance(info, Mapping) else {})
        with self._lock:
            self._grids[asset_id] = grids
            while len(self._grids) > GRID_CACHE:
                self._grids.popitem(last=False)
        return grids

    def _block(
        self,
        scene: Scene,
        asset_id: str,
        key: str,
        grid: BandGrid,
        block: Block,
        dtype: np.dtype,
        n_blocks: int,
    ) -> np.ndarray:
        what = f"scene {scene.scene_id} band {key} block at ({block.col}, {block.row})"
        params = block_request(asset_id, key, grid, block)
        try:
            data = self._throttle.call(partial(self._compute_pixels, params),
                                       what=f"gee {what} of {n_blocks}")
        except Exception as e:
            raise SourceError(f"{what}: Earth Engine computePixels failed: {e}",
                              transient=classify(e) is not ErrorKind.DETERMINISTIC) from e
        return answer_values(data, block, dtype, what)
