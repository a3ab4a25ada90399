"""The BigEarthNet demo's Sentinel-2 scenes: one real tile's corner, a year of seasons.

Each scene is rendered over the WHOLE raster (no survey windows: ``etl bigearthnet`` reads
every asset whole) with the demo's renderer (:class:`~pipeline.demo.raster.TileRenderer`:
land cover, seasonal spectra, clouds, shadows, snow, no-data wedge), plus the two 60 m bands
the LUCAS demo does not need: B01 (the 10 m B02 averaged over 6 × 6 pixels, a little
brighter: aerosol scattering) and B09 (B8A over 3 × 3, darker: water vapour absorption). A
60 m pixel is no-data when any pixel it averages is.

The sky of each scene is built from an explicit plan (:class:`BenScene`) rather than drawn at
random, so the facts the tests need hold for every seed: the cloudy scene has a thick cloud
centred on a patch corner that covers the 2 × 2 patches around it, the snowy scene has snow
over the southern rows, the wedge scene a no-data triangle in the north-east corner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pystac
import rasterio
from affine import Affine

from pipeline.demo.geo import LAEA_EPSG, TileSpec, transformer
from pipeline.demo.geotiff import write_cog
from pipeline.demo.landcover import WATER, LandCover
from pipeline.demo.raster import Rendered, SkyFields, StaticFields, TileRenderer
from pipeline.demo.sky import (
    GRANULE_DELAY,
    ORBITS,
    Datatake,
    SkyGrid,
    Wedge,
    absolute_orbit,
    smooth_field,
)
from pipeline.demo.stac import COG_TYPE, cog_asset, make_item, scl_properties

TILE = "33UUP"
EPSG = 32633
# Upper-left corner of the real Sentinel-2 tile 33UUP: the MGRS 100 km square UP of zone 33
# (eastings 300–400 km, northings 5300–5400 km); a reBEN patch of this tile, T33UUP_45_68,
# is centred at (354600, 5317800) = (300000 + 45.5 × 1200, 5400000 − 68.5 × 1200).
TILE_UL = (300000.0, 5400000.0)
PATCH_M = 1200
PATCHES = 6  # complete patches per row and column
EXTRA_M = 300  # raster beyond the complete patches (an incomplete 7th column and row)
SIDE_M = PATCHES * PATCH_M + EXTRA_M
RESOLUTIONS = (10, 20, 60)

# ALL_BANDS name -> (ESA file name, Earth Search asset key, metres); the order of the assets.
BEN_BANDS: dict[str, tuple[str, str, int]] = {
    "B1": ("B01", "coastal", 60),
    "B2": ("B02", "blue", 10),
    "B3": ("B03", "green", 10),
    "B4": ("B04", "red", 10),
    "B5": ("B05", "rededge1", 20),
    "B6": ("B06", "rededge2", 20),
    "B7": ("B07", "rededge3", 20),
    "B8": ("B08", "nir", 10),
    "B8A": ("B8A", "nir08", 20),
    "B9": ("B09", "nir09", 60),
    "B11": ("B11", "swir16", 20),
    "B12": ("B12", "swir22", 20),
    "SCL": ("SCL", "scl", 20),
}
_EXTRA_BANDS = {  # the 60 m bands: title, centre wavelength, FWHM (µm)
    "B1": ("Coastal aerosol (band 1) - 60m", 0.443, 0.027),
    "B9": ("Water vapour (band 9) - 60m", 0.945, 0.026),
}
B1_GAIN, B9_GAIN = 1.12, 0.62
CLOUD_SCL = (3, 8, 9, 10)
SNOW_SCL = 11
CLOUD_RADIUS_M = 2000.0  # thick cloud (SCL 9) within about this distance of its centre


@dataclass(frozen=True)
class BenScene:
    """One planned scene: its date, platform, baseline and sky."""

    day: datetime
    platform: str  # sentinel-2a / sentinel-2b
    baseline: str  # "02.05": no BOA offset; "05.00" (the reprocessed archive): +1000
    sky: str  # clear, cloud, snow, wedge
    marker: bool = False

    @property
    def season(self) -> str:
        return season(self.day)


def season(when: datetime) -> str:
    """The meteorological season of a date."""
    return ("winter", "spring", "summer", "autumn")[(when.month % 12) // 3]


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


# R022 every 5 days from 13 June 2017 (the reBEN date), S2A and S2B alternating.
SCENES: tuple[BenScene, ...] = (
    BenScene(_day(2017, 6, 13), "sentinel-2a", "02.05", "clear"),
    BenScene(_day(2017, 8, 22), "sentinel-2a", "02.05", "cloud"),
    BenScene(_day(2017, 9, 21), "sentinel-2a", "02.05", "clear"),
    BenScene(_day(2017, 10, 26), "sentinel-2b", "05.00", "clear"),
    BenScene(_day(2017, 12, 20), "sentinel-2a", "02.06", "clear"),
    BenScene(_day(2018, 2, 8), "sentinel-2a", "05.00", "snow"),
    BenScene(_day(2018, 3, 30), "sentinel-2a", "02.06", "wedge"),
    BenScene(_day(2018, 5, 14), "sentinel-2b", "05.00", "clear", marker=True),
)
WEDGE = Wedge("NE", 0.08)


@dataclass(frozen=True)
class BenMarker:
    """A pixel set on purpose in a clear scene: ``band`` at (``row``, ``col``) of patch
    (``patch_x``, ``patch_y``) holds ``stored`` in the file, ``value`` once the scene's BOA
    offset is removed. (``raster_row``, ``raster_col``) is the pixel on the band's grid."""

    scene_id: str
    band: str
    resolution: int
    patch_x: int
    patch_y: int
    row: int
    col: int
    raster_row: int
    raster_col: int
    stored: int
    value: int
    boa_offset: int


# (band, patch x, patch y, row, col): one band per resolution, patches inside the clear area
MARKER_SPECS: tuple[tuple[str, int, int, int, int], ...] = (
    ("B4", 2, 3, 17, 41),
    ("B11", 4, 1, 33, 8),
    ("B1", 1, 5, 11, 6),  # a patch that survives the labels (column 0 is uncovered)
)


def baseline_offset(baseline: str) -> int:
    """The BOA offset the L2A processor added: 1000 from baseline 04.00 on."""
    return 1000 if int(baseline.split(".")[0]) >= 4 else 0


def tile_spec() -> TileSpec:
    """The rendered corner of 33UUP: SIDE_M square from the tile's upper-left corner."""
    return TileSpec(TILE, EPSG, TILE_UL[0], TILE_UL[1], SIDE_M // 10, SIDE_M // 10)


def utm_to_laea(x: float, y: float) -> tuple[float, float]:
    lx, ly = transformer(EPSG, LAEA_EPSG).transform(x, y)
    return float(lx), float(ly)


def patch_corner(px: float, py: float) -> tuple[float, float]:
    """UTM of the north-west corner of patch (px, py) (fractions allowed)."""
    return TILE_UL[0] + px * PATCH_M, TILE_UL[1] - py * PATCH_M


def laea_extent(margin: float = 0.0) -> tuple[float, float, float, float]:
    """LAEA bounding box of the rendered raster (+ ``margin`` metres)."""
    xs = [TILE_UL[0], TILE_UL[0] + SIDE_M]
    ys = [TILE_UL[1] - SIDE_M, TILE_UL[1]]
    pts = [utm_to_laea(x, y) for x in xs for y in ys]
    return (min(p[0] for p in pts) - margin, min(p[1] for p in pts) - margin,
            max(p[0] for p in pts) + margin, max(p[1] for p in pts) + margin)  # fmt: skip


def datatake(i: int, scene: BenScene) -> Datatake:
    """The Datatake of a planned scene (R022, start 10:10:31 UTC)."""
    relative, start_time = ORBITS[0]
    start = scene.day + start_time
    sensed = start + GRANULE_DELAY + timedelta(milliseconds=(i * 137) % 1000)
    generated = start + timedelta(hours=2, minutes=11 + (i * 7) % 30, seconds=(i * 13) % 60)
    return Datatake(
        index=i,
        platform=scene.platform,
        relative_orbit=relative,
        absolute_orbit=absolute_orbit(scene.platform, relative, start),
        start=start,
        sensed=sensed,
        generated=generated,
        cloud=0.0,
        cirrus=0.0,
        snow=1.0 if scene.sky == "snow" else 0.0,
        wedges={TILE: WEDGE} if scene.sky == "wedge" else {},
        marker=scene.marker,
    )


@dataclass
class SceneResult:
    """What one written scene holds, for the manifest."""

    item: pystac.Item
    offset: int
    patches: dict[str, list[list[int]]]  # nodata / snow / cloud (full) / snow_any / cloud_any
    markers: list[BenMarker]


class BenSceneMaker:
    """Renders and writes the scenes of the BigEarthNet demo."""

    def __init__(self, landcover: LandCover, seed: int) -> None:
        self.seed, self.tile = seed, tile_spec()
        self.grid = SkyGrid.around(laea_extent())
        rng = np.random.default_rng([seed, 5101])
        texture = smooth_field(rng, self.grid, (800, 300, 120))
        snow = self._snow_field(rng)
        self.renderer = TileRenderer(
            self.tile, None, 0, landcover, StaticFields(self.grid, texture, snow), seed
        )
        # Every land but water takes snow here (a snowy winter scene covers whole patches).
        lx, ly = self.renderer._lx, self.renderer._ly
        water = self.renderer.g20.classes == WATER
        self.renderer.snow_score = np.where(water, -np.inf, self.grid.sample(snow, lx, ly))
        self.renderer.snow_score = self.renderer.snow_score.astype(np.float32)

    def _snow_field(self, rng: np.random.Generator) -> np.ndarray:
        """Snow proneness: 0 at the raster's north edge rising to 1 at the south edge
        (hills), plus faint noise."""
        g = self.grid
        cx = g.x0 + (np.arange(g.nx) + 0.5) * g.cell
        cy = g.y0 + (np.arange(g.ny) + 0.5) * g.cell
        _, yy = np.meshgrid(cx, cy)
        _, south = utm_to_laea(TILE_UL[0], TILE_UL[1] - SIDE_M)
        _, north = utm_to_laea(TILE_UL[0], TILE_UL[1])
        ramp = (north - yy) / (north - south)
        return (ramp + 0.02 * smooth_field(rng, g, (400, 150))).astype(np.float32)

    def sky(self, dt: Datatake, scene: BenScene) -> SkyFields:
        """The planned sky: clear, a thick cloud on the patch corner (2, 2), or snow."""
        cloud, thr8, thr9 = None, math.inf, math.inf
        if scene.sky == "cloud":
            rng = np.random.default_rng([self.seed, 5202, dt.index])
            g = self.grid
            cx, cy = utm_to_laea(*patch_corner(2, 2))
            xs = g.x0 + (np.arange(g.nx) + 0.5) * g.cell
            ys = g.y0 + (np.arange(g.ny) + 0.5) * g.cell
            d = np.hypot(xs[None, :] - cx, ys[:, None] - cy) / CLOUD_RADIUS_M
            noise = smooth_field(rng, g, (1500, 600, 250))
            cloud = (3.0 * np.exp(-(d**4)) + 0.35 * noise - 0.6).astype(np.float32)
            thr8, thr9 = 0.6, 0.9
        snow_thr = 0.62 if scene.sky == "snow" else math.inf
        # shadows fall ~900 m north-west of the cloud (sun in the south-east, mid-morning)
        return SkyFields(self.grid, cloud, thr8, thr9, None, math.inf, snow_thr, (640.0, -640.0))

    def write(self, root: Path, i: int, scene: BenScene) -> SceneResult:
        """Render scene ``i``, write its 13 COGs under root/<item id>/ and return its item."""
        dt = datatake(i, scene)
        rendered = self.renderer.render(dt, self.sky(dt, scene))
        _add_60m(rendered)
        offset = baseline_offset(scene.baseline)
        if offset:
            for band, arr in rendered.bands.items():
                if band != "SCL":
                    valid = arr > 0
                    arr[valid] = np.minimum(arr[valid].astype(np.int64) + offset, 65535)
        iid = f"{dt.sat}_{TILE}_{dt.sensed:%Y%m%d}_0_L2A"
        markers = [_mark(rendered, iid, spec, offset) for spec in MARKER_SPECS] if scene.marker \
            else []  # fmt: skip
        folder = root / iid
        folder.mkdir(parents=True)
        with rasterio.Env():
            for band, (esa, _, res) in BEN_BANDS.items():
                write_cog(folder / f"{esa}.tif", self.tile, res, None, rendered.bands[band])
        stats = scl_properties(rendered.scl_counts, self.renderer.wedge_share(dt.wedges.get(TILE)))
        item = make_item(dt, self.tile, folder, stats, scene.baseline, offset)
        _add_60m_assets(item, self.tile, folder, offset)
        return SceneResult(item, offset, patch_facts(rendered), markers)


def _add_60m(rendered: Rendered) -> None:
    """B1 from B2 (6 × 6 means), B9 from B8A (3 × 3): 60 m, 0 where any source pixel is 0."""
    for band, source, k, gain in (("B1", "B2", 6, B1_GAIN), ("B9", "B8A", 3, B9_GAIN)):
        src = rendered.bands[source][0].astype(np.float64)
        h, w = src.shape[0] // k, src.shape[1] // k
        blocks = src[: h * k, : w * k].reshape(h, k, w, k)
        mean = blocks.mean(axis=(1, 3)) * gain
        out = np.clip(np.rint(mean), 1, 65535).astype(np.uint16)
        out[(blocks == 0).any(axis=(1, 3))] = 0
        rendered.bands[band] = out[None]


def _add_60m_assets(item: pystac.Item, tile: TileSpec, folder: Path, offset: int) -> None:
    """The coastal and nir09 assets, then every asset in BEN_BANDS order."""
    for band in ("B1", "B9"):
        esa, key, res = BEN_BANDS[band]
        title, wavelength, fwhm = _EXTRA_BANDS[band]
        t = tile.transform(res)
        extra = {
            "eo:bands": [{"name": esa, "common_name": key, "center_wavelength": wavelength,
                          "full_width_half_max": fwhm}],
            "gsd": res,
            "proj:shape": list(tile.shape(res)),
            "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            "raster:bands": [{"nodata": 0, "data_type": "uint16", "spatial_resolution": res,
                              "bits_per_sample": 15, "scale": 0.0001,
                              "offset": -offset / 10000.0}],
        }  # fmt: skip
        asset = cog_asset(str(folder / f"{esa}.tif"), roles=("data", "reflectance"),
                          title=title, extra=extra)  # fmt: skip
        assert asset.media_type == COG_TYPE
        item.add_asset(key, asset)
    assets = dict(item.assets)
    item.assets.clear()
    for _, key, _ in BEN_BANDS.values():
        item.add_asset(key, assets[key])


def patch_blocks(arr: np.ndarray, res: int) -> np.ndarray:
    """(PATCHES, PATCHES, n, n) view: the complete patches of a band, [y, x, row, col]."""
    n = PATCH_M // res
    a = arr[: PATCHES * n, : PATCHES * n]
    return a.reshape(PATCHES, n, PATCHES, n).transpose(0, 2, 1, 3)


def _where(mask: np.ndarray | np.bool_) -> list[list[int]]:
    """[[x, y], ...] of the True cells of a (y, x) mask, in row-major order."""
    return [[int(x), int(y)] for y, x in zip(*np.nonzero(np.asarray(mask)), strict=True)]


def patch_facts(rendered: Rendered) -> dict[str, list[list[int]]]:
    """Complete patches touching no-data in any band; fully / partly snow or cloud covered."""
    nodata = np.zeros((PATCHES, PATCHES), bool)
    for band, (_, _, res) in BEN_BANDS.items():
        nodata |= (patch_blocks(rendered.bands[band][0], res) == 0).any(axis=(2, 3))
    scl = patch_blocks(rendered.bands["SCL"][0], 20)
    snow = scl == SNOW_SCL
    cloud = np.isin(scl, CLOUD_SCL)
    return {
        "nodata": _where(nodata),
        "snow": _where(snow.all(axis=(2, 3))),
        "cloud": _where(cloud.all(axis=(2, 3))),
        "snow_any": _where(snow.any(axis=(2, 3))),
        "cloud_any": _where(cloud.any(axis=(2, 3))),
    }


def _mark(
    rendered: Rendered, iid: str, spec: tuple[str, int, int, int, int], offset: int
) -> BenMarker:
    """Set a distinctive stored value (not in the 3 × 3 around it) in the planned pixel."""
    band, px, py, r, c = spec
    res = BEN_BANDS[band][2]
    n = PATCH_M // res
    row, col = py * n + r, px * n + c
    arr = rendered.bands[band][0]
    v = int(arr[row, col])
    around = arr[row - 1 : row + 2, col - 1 : col + 2]
    stored = next(
        cand
        for off in (37, 63, 81, 19, 43)
        if (cand := (v // 100) * 100 + off) != v and cand > offset and not np.any(around == cand)
    )
    arr[row, col] = stored
    return BenMarker(iid, band, res, px, py, r, c, row, col, stored, stored - offset, offset)


def product_id(item: pystac.Item) -> str:
    """The patch id prefix: the product URI without the generation time and ``.SAFE``."""
    uri = str(item.properties["s2:product_uri"])
    return uri.removesuffix(".SAFE").rsplit("_", 1)[0]


def raster_transform(res: int) -> Affine:
    """Every asset's transform at ``res`` m: origin the tile's upper-left corner."""
    return Affine(float(res), 0.0, TILE_UL[0], 0.0, -float(res), TILE_UL[1])


__all__ = ["BEN_BANDS", "SCENES", "TILE", "TILE_UL", "BenMarker", "BenSceneMaker", "season"]
