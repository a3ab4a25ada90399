"""Rendering one tile of one datatake: ground, sky and no-data into band arrays.

Only *survey windows* are rendered: a square around each point the tile holds (by default
84 × 84 px at 10 m, i.e. the pipeline's 64 × 64 patch plus a margin that covers its
reprojection into the other UTM zone). The rest of the raster is no-data (0) and is not
even stored (sparse tiles), which keeps a year of both tiles small and fast to write.
With ``window_m=None`` the whole raster is rendered instead (slow beyond a few km²).

Static per tile (computed once): each window pixel's LAEA position, land-cover class, parcel
and texture, at 10 m and at 20 m (20 m pixel centres, not 10 m averages). Per datatake:
parcel spectra, then the sky at 20 m (the SCL grid), upsampled 2×2 onto the 10 m bands so
SCL and bands agree pixel for pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.demo.geo import TileSpec, pixel_centers
from pipeline.demo.landcover import CLASSES, LandCover, cell_hash, unit
from pipeline.demo.sky import Datatake, SkyGrid, Wedge
from pipeline.demo.spectra import (
    BANDS_10M,
    CIRRUS_ADD,
    CLOUD,
    REFL_BANDS,
    SNOW,
    ground_scl,
    parcel_spectra,
)

SHADOW_FACTOR = 0.42
TEXTURE_STEP = 0.01  # the smooth texture is quantised to 1 % steps
_NO_SNOW = frozenset({"conifer", "water"})


@dataclass(frozen=True)
class SkyFields:
    """One datatake's sky on the coarse LAEA grid, with the thresholds that give its shares."""

    grid: SkyGrid
    cloud: np.ndarray | None  # standardised field; cloud where > thr8, thick where > thr9
    thr8: float
    thr9: float
    cirrus: np.ndarray | None
    thr_cirrus: float
    snow_threshold: float  # on the static snow-proneness field
    shadow_shift: tuple[float, float]  # LAEA metres from a shadow to the cloud casting it


@dataclass(frozen=True)
class StaticFields:
    """Ground fields fixed for the whole year, on the coarse LAEA grid."""

    grid: SkyGrid
    texture: np.ndarray  # smooth within-field variation (std 1)
    snow: np.ndarray  # snow proneness


@dataclass
class Grid:
    """One resolution of a tile's windows: global pixel indices and static ground."""

    res: int
    rows: np.ndarray  # (n, h, 1) global row of each window row
    cols: np.ndarray  # (n, 1, w)
    parcel: np.ndarray  # (n, h, w) index into the tile's parcel table
    texture: np.ndarray  # (n, h, w) float32 multiplicative texture
    classes: np.ndarray  # (n, h, w) uint8


@dataclass
class Rendered:
    """A tile-datatake: band name -> (n, h, w) array, and SCL class counts over valid pixels."""

    bands: dict[str, np.ndarray]
    scl_counts: np.ndarray  # (12,) counts of SCL values 0..11 over the rendered pixels


class TileRenderer:
    """Everything static about one tile's windows, and the per-datatake renderer."""

    def __init__(
        self,
        tile: TileSpec,
        origins: list[tuple[int, int]] | None,
        size: int,
        landcover: LandCover,
        statics: StaticFields,
        seed: int,
    ) -> None:
        self.tile, self.seed, self.salt = tile, seed, landcover.salt
        self.full = origins is None
        if origins is None:  # the whole raster as one window
            origins, (h, w) = [(0, 0)], tile.shape(10)
        else:
            h = w = size
        self.origins, self.size10 = origins, (h, w)
        self.g10, keys10, _ = self._grid(10, landcover)
        self.g20, keys20, (self._lx, self._ly) = self._grid(20, landcover)
        self.parcel_keys, self.parcel_classes, inverse = _parcel_table(
            np.concatenate([keys10.ravel(), keys20.ravel()])
        )
        self.g10.parcel = inverse[: keys10.size].reshape(keys10.shape).astype(np.int32)
        self.g20.parcel = inverse[keys10.size :].reshape(keys20.shape).astype(np.int32)
        smooth = statics.grid.sample(statics.texture, self._lx, self._ly)
        speckle = self._speckle()
        self.g20.texture = _texture(self.g20.classes, smooth, speckle)
        self.g10.texture = _texture(self.g10.classes, _up2(smooth), _up2(speckle))
        susceptibility = statics.grid.sample(statics.snow, self._lx, self._ly)
        prone = np.array([c.family not in _NO_SNOW for c in CLASSES])[self.g20.classes]
        self.snow_score = np.where(prone, susceptibility, -np.inf).astype(np.float32)

    def _grid(
        self, res: int, landcover: LandCover
    ) -> tuple[Grid, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The windows at ``res`` m: static ground, combined parcel keys, LAEA pixel centres."""
        k = res // 10
        h, w = self.size10[0] // k, self.size10[1] // k
        r0 = np.array([o[0] // k for o in self.origins])[:, None, None]
        c0 = np.array([o[1] // k for o in self.origins])[:, None, None]
        rows = r0 + np.arange(h)[None, :, None]
        cols = c0 + np.arange(w)[None, None, :]
        rr, cc = np.broadcast_arrays(rows, cols)
        lx, ly = pixel_centers(self.tile, res, rr, cc)
        classes, keys = landcover.classify(lx, ly)
        grid = Grid(res, rows, cols, np.empty(0, np.int32), np.empty(0, np.float32), classes)
        return grid, keys * 16 + classes, (lx, ly)

    def _speckle(self) -> np.ndarray:
        """Per 40 m cell t ∈ {-1, 0, 1} (P = 0.1, 0.8, 0.1), a hash of the global cell index."""
        rows, cols = np.broadcast_arrays(self.g20.rows // 2, self.g20.cols // 2)
        u = unit(cell_hash(rows, cols, self.salt + 31 * self.tile.epsg), 7)
        return (np.searchsorted(np.array([0.1, 0.9]), u) - 1).astype(np.float32)

    @property
    def origins_or_none(self) -> list[tuple[int, int]] | None:
        """Window origins for :func:`~pipeline.demo.geotiff.write_cog` (None: the whole raster)."""
        return None if self.full else self.origins

    def window_pixel(self, x: float, y: float, res: int) -> tuple[int, int, int] | None:
        """(window, row, col) of the rendered pixel holding tile-CRS point (x, y), if any."""
        row, col = self.tile.pixel(x, y, res)
        k = res // 10
        h, w = self.size10[0] // k, self.size10[1] // k
        for n, (r0, c0) in enumerate(self.origins):
            if 0 <= row - r0 // k < h and 0 <= col - c0 // k < w:
                return n, row - r0 // k, col - c0 // k
        return None

    def render(self, dt: Datatake, sky: SkyFields) -> Rendered:
        """Every band and SCL of this tile for datatake ``dt``."""
        spectra = parcel_spectra(self.parcel_keys, self.parcel_classes, dt.doy, dt.index, self.salt)
        scl = ground_scl(spectra, self.parcel_classes)[self.g20.parcel]
        masks = self._sky(sky, dt.snow > 0)
        wedge = self._wedge(dt.wedges.get(self.tile.name))
        scl = _classify(scl, masks, wedge)
        up = {name: _up2(m) for name, m in masks.items()}
        wedge10 = _up2(wedge)
        bands: dict[str, np.ndarray] = {}
        for b, band in enumerate(REFL_BANDS):
            ten = band in BANDS_10M
            grid, m, nodata = (self.g10, up, wedge10) if ten else (self.g20, masks, wedge)
            ground = spectra[:, b][grid.parcel] * grid.texture
            bands[band] = _compose(ground, grid.texture, b, m, nodata)
        bands["SCL"] = scl
        return Rendered(bands, np.bincount(scl.ravel(), minlength=12)[:12])

    def _sky(self, sky: SkyFields, snowy: bool) -> dict[str, np.ndarray]:
        """Masks and blend weights at 20 m: cloud alpha/brightness, thick, shadow, cirrus, snow."""
        shape = self.g20.classes.shape
        alpha = np.zeros(shape, np.float32)
        bright = np.ones(shape, np.float32)
        thick = np.zeros(shape, bool)
        shadow = np.zeros(shape, bool)
        cirrus = np.zeros(shape, np.float32)
        if sky.cloud is not None:
            v = sky.grid.sample(sky.cloud, self._lx, self._ly)
            span = max(sky.thr9 - sky.thr8, 1e-3)
            alpha = np.where(v > sky.thr8, _q(0.5 + 0.45 * (v - sky.thr8) / span, 0.05), 0)
            thick = v > sky.thr9
            alpha = np.where(thick, 1.0, alpha).astype(np.float32)
            bright = np.where(thick, _q(0.88 + 0.25 * np.clip(v - sky.thr9, 0, 1), 0.02), 0.92)
            sx, sy = sky.shadow_shift
            cast = sky.grid.sample(sky.cloud, self._lx + sx, self._ly + sy) > sky.thr9
            shadow = cast & (alpha == 0)
        if sky.cirrus is not None:
            c = sky.grid.sample(sky.cirrus, self._lx, self._ly)
            thin = (c > sky.thr_cirrus) & (alpha == 0)
            cirrus = np.where(thin, _q(0.5 + 0.5 * np.clip(c - sky.thr_cirrus, 0, 1), 0.1), 0)
        snow = (self.snow_score > sky.snow_threshold) & (alpha == 0) & ~shadow if snowy else None
        return {
            "alpha": alpha,
            "bright": bright.astype(np.float32),
            "thick": thick,
            "shadow": shadow,
            "cirrus": cirrus.astype(np.float32),
            "snow": snow if snow is not None else np.zeros(shape, bool),
        }

    def _wedge(self, wedge: Wedge | None) -> np.ndarray:
        """No-data triangle at 20 m over the windows (False everywhere without a wedge)."""
        if wedge is None:
            return np.zeros(self.g20.classes.shape, bool)
        rows, cols = np.broadcast_arrays(self.g20.rows, self.g20.cols)
        return wedge_mask(rows, cols, self.tile.shape(20), wedge)

    def wedge_share(self, wedge: Wedge | None) -> float:
        """Exact share of the raster's pixels in the wedge (s2:nodata_pixel_percentage / 100)."""
        if wedge is None:
            return 0.0
        h, w = self.tile.shape(20)
        mask = wedge_mask(np.arange(h)[:, None], np.arange(w)[None, :], (h, w), wedge)
        return float(mask.sum()) / (h * w)


def _texture(classes: np.ndarray, smooth: np.ndarray, speckle: np.ndarray) -> np.ndarray:
    """1 + a smooth ground field (within-field gradients) + speckle (canopy, roofs), per class."""
    amp = np.array([c.texture for c in CLASSES], dtype=np.float32)[classes]
    rough = np.array([c.roughness for c in CLASSES], dtype=np.float32)[classes]
    steps = np.round(amp * smooth / TEXTURE_STEP) * TEXTURE_STEP  # terraces compress well
    return (1.0 + steps + rough * speckle).astype(np.float32)


def wedge_mask(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], wedge: Wedge
) -> np.ndarray:
    """Pixels (global 20 m rows, cols) whose centre lies in the wedge triangle."""
    h, w = shape
    legs = np.sqrt(2.0 * wedge.share)
    dy = rows + 0.5 if wedge.corner[0] == "N" else h - (rows + 0.5)
    dx = cols + 0.5 if wedge.corner[1] == "W" else w - (cols + 0.5)
    return np.asarray(dx / (legs * w) + dy / (legs * h) < 1.0)


def _classify(scl: np.ndarray, m: dict[str, np.ndarray], wedge: np.ndarray) -> np.ndarray:
    """Scene classification: snow 11, shadow 3, cirrus 10, medium cloud 8, thick cloud 9, 0."""
    scl = np.where(m["snow"], 11, scl)
    scl = np.where(m["shadow"], 3, scl)
    scl = np.where(m["cirrus"] > 0, 10, scl)
    scl = np.where(m["alpha"] > 0, np.where(m["thick"], 9, 8), scl)
    return np.where(wedge, 0, scl).astype(np.uint8)


def _compose(
    ground: np.ndarray,
    texture: np.ndarray,
    b: int,
    m: dict[str, np.ndarray],
    nodata: np.ndarray,
) -> np.ndarray:
    """Ground reflectance under snow, shadow, cirrus and cloud, as uint16 (0 = no data)."""
    v = np.where(m["snow"], SNOW[b] * (0.7 + 0.3 * texture), ground)
    v = np.where(m["shadow"], v * SHADOW_FACTOR, v)
    v = v + m["cirrus"] * CIRRUS_ADD[b]
    v = v * (1.0 - m["alpha"]) + m["alpha"] * CLOUD[b] * m["bright"]
    out = np.clip(np.rint(v), 1, 65535).astype(np.uint16)
    out[nodata] = 0
    return out


def _q(a: np.ndarray, step: float) -> np.ndarray:
    """Clip to [0, 1] and quantise to ``step``: cloud opacity in terraces (compresses well)."""
    return np.round(np.clip(a, 0.0, 1.0) / step) * step


def _up2(a: np.ndarray) -> np.ndarray:
    """(n, h, w) at 20 m -> (n, 2h, 2w) at 10 m (each 20 m pixel covers 2×2 10 m pixels)."""
    return np.repeat(np.repeat(a, 2, axis=1), 2, axis=2)


def _parcel_table(combined: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (parcel key, class) pairs from ``key * 16 + class``; and each pixel's index."""
    unique, inverse = np.unique(combined, return_inverse=True)
    return unique // 16, (unique % 16).astype(np.uint8), inverse.ravel()

