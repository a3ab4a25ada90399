"""``etl demo --bigearthnet``: an offline archive for ``etl bigearthnet`` (reBEN-style patches).

``build_bigearthnet_demo(out_dir)`` writes, from a seed and nothing else:

- ``stac/catalog.json``: Earth Search-shaped Sentinel-2 L2A items of the real MGRS tile 33UUP
  (EPSG:32633) whose rasters cover only its north-west corner: 6 × 6 complete 1,200 m
  patches from the tile's upper-left corner (300000, 5400000) plus 300 m more to the east and
  south (an incomplete 7th column and row); all 12 bands (``coastal`` … ``swir22``) and
  ``scl`` as COGs at 10 / 20 / 60 m (750 / 375 / 125 px); eight scenes, two per season from
  June 2017 to May 2018 (see :data:`~pipeline.demo.ben_s2.SCENES`): one cloudy (the only one
  with ``eo:cloud_cover`` ≥ 1), one snowy, one with a no-data wedge, baselines with and
  without the +1000 BOA offset, markers in the last one;
- ``s1/catalog.json``: Sentinel-1 RTC slices of the same corner (:mod:`~pipeline.demo.ben_s1`);
- ``clc/clc_demo.gpkg``: CORINE-like polygons of the same ground (:mod:`~pipeline.demo.ben_refs`);
- ``countries.gpkg``: Germany and Austria splitting the corner (field ``name``);
- ``ben_demo.json``: what is where (tile, grid, scenes and their patch facts, markers,
  slices, CLC shares per patch).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pystac
from shapely.geometry import Point

from lucas.errors import ConfigError
from pipeline.demo.ben_refs import (
    CLC_LAYER,
    CLC_OF_CLASS,
    UNLABELED,
    ClcGrid,
    countries,
    write_gpkg,
)
from pipeline.demo.ben_s1 import S1Facts, write_s1
from pipeline.demo.ben_s2 import (
    BEN_BANDS,
    EPSG,
    EXTRA_M,
    PATCH_M,
    PATCHES,
    SCENES,
    SIDE_M,
    TILE,
    TILE_UL,
    BenMarker,
    BenSceneMaker,
    SceneResult,
    patch_corner,
    product_id,
    utm_to_laea,
)
from pipeline.demo.geo import transformer
from pipeline.demo.landcover import LandCover
from pipeline.demo.stac import save_catalog

MANIFEST = "ben_demo.json"
S1_WINDOW = timedelta(days=3)
START, END = "2017-06-01", "2018-05-31"


@dataclass(frozen=True)
class BenDemo:
    """What build_bigearthnet_demo wrote."""

    root: Path
    catalog_path: Path  # stac/catalog.json
    s1_catalog_path: Path  # s1/catalog.json
    clc_path: Path  # clc/clc_demo.gpkg
    countries_path: Path  # countries.gpkg
    manifest_path: Path  # ben_demo.json
    tile: str
    epsg: int
    tile_ul: tuple[float, float]
    scene_ids: tuple[str, ...]
    s1_item_ids: tuple[str, ...]
    markers: tuple[BenMarker, ...]

    def command(self, out: str = "ben-out") -> str:
        """The ``etl bigearthnet`` command that runs on this demo."""
        r = self.root
        return (
            f"etl bigearthnet --tiles {self.tile} --start {START} --end {END} --source stac "
            f"--catalog {r / 'stac' / 'catalog.json'} --s1-catalog {r / 's1' / 'catalog.json'} "
            f"--clc {r / 'clc' / 'clc_demo.gpkg'} --countries {r / 'countries.gpkg'} "
            f"--out {out}"
        )


def demo_landcover(seed: int) -> LandCover:
    """The ground: the demo's land-cover map, its lake in the north, roads in the south-west."""
    return LandCover(seed, utm_to_laea(*patch_corner(4.3, 1.2)),
                     utm_to_laea(*patch_corner(1.5, 4.5)))  # fmt: skip


def build_bigearthnet_demo(out_dir: Path, *, seed: int = 0) -> BenDemo:
    """Build the BigEarthNet demo in ``out_dir`` (created; replaced if it holds a previous
    one; refused if it holds anything else). Same seed, same bytes."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise ConfigError(f"{out_dir} is not empty and holds no BigEarthNet demo; "
                          "choose another --out")  # fmt: skip
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        landcover = demo_landcover(seed)
        maker = BenSceneMaker(landcover, seed)
        results = [maker.write(tmp / "stac", i, s) for i, s in enumerate(SCENES)]
        save_catalog(
            tmp / "stac",
            [r.item for r in results],
            catalog_id="sen4map-bigearthnet-demo",
            description=(
                "Synthetic Sentinel-2 L2A scenes (sen4map-etl BigEarthNet demo) of the "
                "north-west corner of MGRS tile 33UUP, June 2017 to May 2018. Not real data."
            ),
            title="sen4map-etl BigEarthNet demo archive",
        )
        days = [r.item.datetime for r in results]
        s1_items, s1_facts, _ = write_s1(tmp / "s1", landcover, [d for d in days if d],
                                         TILE_UL, SIDE_M, seed)  # fmt: skip
        clc = ClcGrid(landcover)
        frame = clc.polygons()
        write_gpkg(frame, tmp / "clc" / "clc_demo.gpkg", CLC_LAYER)
        nations = countries()
        write_gpkg(nations, tmp / "countries.gpkg", "countries")
        doc = _manifest(seed, results, s1_items, s1_facts, clc, sorted(set(frame["Code_18"])),
                        _patch_countries(nations))  # fmt: skip
        (tmp / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return BenDemo(
        root=out_dir,
        catalog_path=out_dir / "stac" / "catalog.json",
        s1_catalog_path=out_dir / "s1" / "catalog.json",
        clc_path=out_dir / "clc" / "clc_demo.gpkg",
        countries_path=out_dir / "countries.gpkg",
        manifest_path=out_dir / MANIFEST,
        tile=TILE,
        epsg=EPSG,
        tile_ul=TILE_UL,
        scene_ids=tuple(r.item.id for r in results),
        s1_item_ids=tuple(it.id for it in s1_items),
        markers=tuple(m for r in results for m in r.markers),
    )


def _patch_countries(nations: gpd.GeoDataFrame) -> dict[str, list[list[int]]]:
    """Country name -> [[x, y], ...] of the complete patches whose centre it holds."""
    out: dict[str, list[list[int]]] = {}
    to_ll = transformer(EPSG, 4326)
    for py in range(PATCHES):
        for px in range(PATCHES):
            lon, lat = to_ll.transform(*patch_corner(px + 0.5, py + 0.5))
            for name, geom in zip(nations.name, nations.geometry, strict=True):
                if geom.contains(Point(lon, lat)):
                    out.setdefault(str(name), []).append([px, py])
    return out


def _s1_near(when: datetime | None, facts: list[S1Facts]) -> list[str]:
    """The slices that start within 3 days of ``when``."""
    if when is None:
        return []
    return [f.item_id for f in facts if abs(f.start - when) <= S1_WINDOW]


def _manifest(
    seed: int,
    results: list[SceneResult],
    s1_items: list[pystac.Item],
    s1_facts: list[S1Facts],
    clc: ClcGrid,
    codes: list[str],
    by_country: dict[str, list[list[int]]],
) -> dict[str, object]:
    """ben_demo.json: how the demo was made and what is where (deterministic JSON)."""
    shares = clc.patch_shares()
    scenes = []
    for scene, r in zip(SCENES, results, strict=True):
        p = r.item.properties
        scenes.append({
            "id": r.item.id,
            "product_uri": p["s2:product_uri"],
            "product_id": product_id(r.item),
            "datetime": r.item.datetime.isoformat() if r.item.datetime else None,
            "date": f"{scene.day:%Y-%m-%d}",
            "season": scene.season,
            "platform": scene.platform,
            "processing_baseline": scene.baseline,
            "boa_offset": r.offset,
            "boa_offset_applied": p["earthsearch:boa_offset_applied"],
            "cloud_cover": p["eo:cloud_cover"],
            "nodata_pixel_percentage": p["s2:nodata_pixel_percentage"],
            "sky": scene.sky,
            "patches": r.patches,
            "s1_within_3_days": _s1_near(r.item.datetime, s1_facts),
        })  # fmt: skip
    return {
        "generator": "sen4map-etl demo --bigearthnet",
        "seed": seed,
        "tile": TILE,
        "epsg": EPSG,
        "tile_ul": list(TILE_UL),
        "tile_ul_source": (
            "MGRS 100 km square UP of zone 33 (eastings 300-400 km, northings 5300-5400 km); "
            "reBEN patch T33UUP_45_68 is centred at (354600, 5317800)"
        ),
        "window": {"start": START, "end": END},
        "grid": {
            "patch_m": PATCH_M,
            "complete_patches": [PATCHES, PATCHES],
            "extra_m": EXTRA_M,
            "raster_m": SIDE_M,
            "patch_px": {str(res): PATCH_M // res for res in (10, 20, 60)},
            "raster_px": {str(res): SIDE_M // res for res in (10, 20, 60)},
            "bands": {b: {"file": f"{esa}.tif", "asset": key, "resolution": res}
                      for b, (esa, key, res) in BEN_BANDS.items()},
            "patch_index": "x = column from the tile's west edge, y = row from its north edge; "
            "patch id = <product_id>_<x>_<y>",
        },
        "scenes": scenes,
        "markers": [asdict(m) for m in (m for r in results for m in r.markers)],
        "s1": {
            "catalog": "s1/catalog.json",
            "items": [
                {"id": f.item_id, "orbit_state": f.orbit_state, "platform": f.platform,
                 "start": f.start.isoformat(), "epsg": EPSG,
                 "nodata_strip_rows": f.strip_rows,
                 "nodata_patches": [[x, 0] for x in range(PATCHES)] if f.strip_rows else []}
                for f in s1_facts
            ],
            "orbit_states": sorted({f.orbit_state for f in s1_facts}),
            "scenes_without_s1": [s["id"] for s in scenes if not s["s1_within_3_days"]],
            "count": len(s1_items),
        },
        "clc": {
            "path": "clc/clc_demo.gpkg",
            "layer": CLC_LAYER,
            "epsg": 3035,
            "codes": codes,
            "class_codes": CLC_OF_CLASS,
            "unlabeled_codes": sorted(UNLABELED),
            "patches": shares,
            "uncovered_patches": [[s["x"], s["y"]] for s in shares
                                  if float(s["uncovered_percent"]) > 0],  # type: ignore[arg-type]
            "unlabeled_over_25_percent": [[s["x"], s["y"]] for s in shares
                                          if float(s["unlabeled_percent"]) > 25],  # type: ignore[arg-type]
        },
        "countries": {"path": "countries.gpkg", "field": "name", "patches": by_country},
    }
