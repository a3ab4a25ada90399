"""Generate (once, cached) a realistic benchmark archive: one full Sentinel-2 tile.

The layout of Earth Search's L2A COGs: 10 m assets of 10980² px, 20 m assets of 5490² px,
1024² internal tiles, DEFLATE with predictor 2, the IFD and tile index at the start;
values that compress about 2:1, as real L2A reflectance does (smooth fields + texture +
noise; SCL in class patches), never flat. ``--scenes`` scenes (default 30) over the tile
MGRS 33UWP (EPSG:32633, upper-left 499980 E, 5400000 N). Every scene links the same band
files under its own folder (GDAL opens and caches each scene's files apart; writing stays
a few minutes on two cores instead of an hour). Points are LUCAS-like: nodes of the real
2 km LUCAS grid in LAEA Europe (EPSG:3035, ``POINT_ID`` = XXXXYYYY km) inside the tile,
1 km from its edges, drawn at LUCAS 2018 density (one per 13 km²: ~770 usable in a tile),
in the pipeline's Z-order.

The archive goes to ``--dir`` (default ``$XDG_CACHE_HOME/sen4map-etl/bench-tile/scenes-N``,
never the repository; the band files sit beside it in ``_bands``, shared by every scene
count) and is reused while its stamp files say it was built with the same parameters;
delete the folder to rebuild.

    python bench/make_realistic_tile.py                 # 30 scenes, ~4 min on 2 cores
    python bench/make_realistic_tile.py --scenes 3      # a quick one
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exports.source import ALL_BANDS, PointRequest
from pipeline.points import morton_key
from tests.fixtures.synthetic_s2 import (
    TileSpec,
    band_resolution,
    make_item,
    point_request,
    write_catalog,
)

TILE = TileSpec("33UWP", 32633, 499980.0, 5400000.0, 10980, 10980)
BLOCK = 1024
LUCAS_DENSITY = 1 / 13.0  # points per km²: 337k LUCAS 2018 points over ~4.4 M km²
VERSION = 1  # bump when the content changes: a cached archive of another version is rebuilt


def default_dir(scenes: int) -> Path:
    """Where the archive is cached (outside the repository); the band files are shared by
    the archives of every scene count."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "sen4map-etl" / "bench-tile" / f"scenes-{scenes}"


def band_rows(band: str, row0: int, rows: int, res: int, rng: np.random.Generator) -> np.ndarray:
    """Rows ``row0`` … of a band at ``res`` m: about 2:1 under DEFLATE + predictor 2."""
    n = TILE.width * 10 // res
    y, x = np.mgrid[row0 : row0 + rows, 0:n].astype(np.float32) * res
    if band == "SCL":
        cls = (np.floor(x / 3000) * 7 + np.floor(y / 2300) * 3 + np.floor(x / 700) % 2) % 6 + 3
        return cls.astype(np.uint8)
    k = ALL_BANDS.index(band)
    field = (1500 + 800 * np.sin(x / 900.0 + k) * np.cos(y / 1300.0)
             + 300 * np.sin(x / 170.0 + y / 230.0 + k))  # fmt: skip
    noise = rng.normal(0, 8, x.shape).astype(np.float32)
    return np.clip(field + noise, 1, 10000).astype(np.uint16)


def write_band(path: Path, band: str, rng: np.random.Generator) -> None:
    """One asset, written a row of blocks at a time (bounded memory), atomically."""
    res = band_resolution(band)
    n = TILE.width * 10 // res
    dtype = "uint8" if band == "SCL" else "uint16"
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(
        tmp, "w", driver="GTiff", width=n, height=n, count=1, dtype=dtype, nodata=0,
        crs=f"EPSG:{TILE.epsg}", transform=TILE.transform(res), tiled=True,
        blockxsize=BLOCK, blockysize=BLOCK, compress="DEFLATE", predictor=2,
        num_threads="ALL_CPUS",
    ) as dst:  # fmt: skip
        for row0 in range(0, n, BLOCK):
            rows = min(BLOCK, n - row0)
            dst.write(band_rows(band, row0, rows, res, rng), 1, window=Window(0, row0, n, rows))
    tmp.replace(path)


def lucas_points(n: int, seed: int = 1) -> list[PointRequest]:
    """``n`` nodes of the 2 km LUCAS grid (LAEA) in the tile, 1 km from its edges, random,
    in Z-order of their POINT_ID; ids are the real LUCAS form XXXXYYYY."""
    from pyproj import Transformer

    to_laea = Transformer.from_crs(TILE.epsg, 3035, always_xy=True)
    to_utm = Transformer.from_crs(3035, TILE.epsg, always_xy=True)
    to_wgs = Transformer.from_crs(3035, 4326, always_xy=True)
    left, bottom, right, top = TILE.extent()
    corners = to_laea.transform([left, right, left, right], [bottom, bottom, top, top])
    xs = np.arange(min(corners[0]) // 2000 * 2000, max(corners[0]) + 2000, 2000)
    ys = np.arange(min(corners[1]) // 2000 * 2000, max(corners[1]) + 2000, 2000)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    ux, uy = to_utm.transform(gx, gy)
    inside = (ux > left + 1000) & (ux < right - 1000) & (uy > bottom + 1000) & (uy < top - 1000)
    gx, gy = gx[inside], gy[inside]
    pick = np.sort(np.random.default_rng(seed).choice(gx.size, size=min(n, gx.size),
                                                      replace=False))  # fmt: skip
    ids = [int(x // 1000) * 10_000 + int(y // 1000)
           for x, y in zip(gx[pick], gy[pick], strict=True)]  # fmt: skip
    lon, lat = to_wgs.transform(gx[pick], gy[pick])
    order = sorted(range(len(ids)), key=lambda i: morton_key(ids[i]))
    return [point_request(ids[i], float(lat[i]), float(lon[i])) for i in order]


def usable_area_km2() -> float:
    """The tile less 1 km on each side: where a point's 650 m buffer fits."""
    return ((TILE.width * 10 - 2000) / 1000) ** 2


def build(root: Path, scenes: int) -> Path:
    """The archive's catalog.json, built now unless a stamp says it is there already."""
    stamp = root / "stamp.json"
    params = {"version": VERSION, "scenes": scenes, "tile": TILE.name, "block": BLOCK}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return root / "catalog.json"
    shared = root.parent / "_bands"
    shared.mkdir(parents=True, exist_ok=True)
    band_stamp = shared / "stamp.json"
    band_params = {k: v for k, v in params.items() if k != "scenes"}
    if not band_stamp.exists() or json.loads(band_stamp.read_text()) != band_params:
        rng = np.random.default_rng(0)
        for band in ALL_BANDS:
            t0 = time.perf_counter()
            write_band(shared / f"{band}.tif", band, rng)
            print(f"  {band}: {time.perf_counter() - t0:.1f} s", flush=True)
        band_stamp.write_text(json.dumps(band_params))
    root.mkdir(parents=True, exist_ok=True)
    items = []
    for k in range(scenes):
        when = datetime(2018, 3, 1, 10, 0, 31, tzinfo=UTC) + timedelta(days=5 * k)
        item_id = f"S2A_{TILE.name}_{when:%Y%m%d}_0_L2A"
        folder = root / item_id
        folder.mkdir(exist_ok=True)
        for band in ALL_BANDS:
            link = folder / f"{band}.tif"
            link.unlink(missing_ok=True)
            os.link(shared / f"{band}.tif", link)
        items.append(make_item(item_id, TILE, when, asset_dir=folder))
    catalog = write_catalog(root, items)
    stamp.write_text(json.dumps(params))
    return catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=30)
    parser.add_argument("--dir", type=Path, default=None, help="[default: a cache folder]")
    args = parser.parse_args()
    root = args.dir or default_dir(args.scenes)
    t0 = time.perf_counter()
    catalog = build(root, args.scenes)
    n = round(usable_area_km2() * LUCAS_DENSITY)
    print(f"{catalog} ({time.perf_counter() - t0:.0f} s); {len(lucas_points(n))} points")


if __name__ == "__main__":
    main()
