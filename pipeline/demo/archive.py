"""A deterministic demo archive: a year of Sentinel-2 L2A over LUCAS points, offline.

``build_demo(out_dir)`` writes, from a seed and nothing else:

- ``stac/catalog.json``: a static STAC catalog (Earth Search item layout) of two real MGRS
  tiles of different UTM zones, 32TQT (EPSG:32632) and 33TTN (EPSG:32633), overlapping at
  12°E near Wörgl, Tyrol; one item per tile per pass (R022/R065, S2A/S2B, every ~2.5 days);
  11 GeoTIFFs per item (tiled, DEFLATE, COG layout, sparse) on the native 10 m / 20 m grids;
  clouds, shadows, cirrus, snow and swath no-data wedges consistent with each item's
  properties;
- the LUCAS points (real 2 km LAEA grid nodes), labelled with the land cover the rasters
  show: ``lucas_harmo_uf_<year>.csv`` in the JRC harmonised schema (years before 2022), or
  ``lucas_survey_<year>.csv`` in the LUCAS 2022 layout (2022 on; ``lucas_format`` chooses);
- ``s1/catalog.json`` (unless ``s1=False``): a static STAC catalog of Sentinel-1 RTC slices
  (Planetary Computer ``sentinel-1-rtc`` item layout: vv/vh float32 COGs of linear γ0) of
  the same area and year, a descending track with EPSG:32632 rasters and an ascending one
  with EPSG:32633 rasters, S1A + S1B (see :mod:`pipeline.demo.s1`);
- ``demo.json``: the parameters, tiles, points and *markers* (and an ``s1`` section).

Markers are pixel-exact checks for tests: a distinctive (but plausible) value written into
exactly the pixel holding a point's theoretical location in one band of one clear-sky item.
On the two marker passes one tile's item exceeds the 5 % scene no-data limit, so the
pipeline must take the other tile's item, including across the zone boundary.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pystac

from lucas.errors import ConfigError
from pipeline.demo.geo import LAEA_EPSG, Layout, Node, plan_layout
from pipeline.demo.landcover import CLASSES, LandCover
from pipeline.demo.lucas2022 import lucas2022_columns, lucas2022_rows
from pipeline.demo.lucas_harmonised import SurveyedPoint, lucas_rows, write_lucas_csv
from pipeline.demo.s1 import S1Maker, S1Marker, S1Result
from pipeline.demo.s1_passes import TRACKS, plan_s1_passes
from pipeline.demo.s1_stac import S1_COLLECTION, s1_catalog
from pipeline.demo.scenes import Marker, SceneMaker, marker_plan, processing_baseline
from pipeline.demo.sky import Datatake, plan_datatakes
from pipeline.demo.stac import demo_catalog

log = logging.getLogger(__name__)

DEFAULT_WINDOW_M = 840.0  # the 640 m patch + margin for its reprojection into the other zone
MANIFEST = "demo.json"
LUCAS_FORMATS = ("harmonised", "lucas2022")  # lucas.formats names the demo can write
FIRST_2022_LAYOUT_YEAR = 2022


@dataclass(frozen=True)
class DemoArchive:
    """What build_demo wrote."""

    root: Path
    catalog_path: Path  # stac/catalog.json
    lucas_path: Path  # the LUCAS CSV (format: lucas_format)
    points: int
    scenes: int  # STAC items (two per datatake)
    datatakes: int
    item_ids: tuple[str, ...]
    point_ids: tuple[int, ...]
    markers: tuple[Marker, ...]
    lucas_format: str = "harmonised"  # a lucas.formats name: harmonised or lucas2022
    s1_catalog_path: Path | None = None  # s1/catalog.json (None: built with s1=False)
    s1_scenes: int = 0  # Sentinel-1 STAC items (slices)
    s1_item_ids: tuple[str, ...] = ()
    s1_markers: tuple[S1Marker, ...] = ()


def build_demo(
    out_dir: Path,
    *,
    n_points: int = 96,
    step_days: float = 2.5,
    year: int = 2018,
    seed: int = 0,
    extent_km: float | tuple[float, float] | None = None,
    window_m: float | None = DEFAULT_WINDOW_M,
    workers: int = 2,
    lucas_format: str | None = None,
    boa_offset_applied: bool = False,
    s1: bool = True,
) -> DemoArchive:
    """Build the demo archive in ``out_dir`` (created; replaced if it holds a previous demo).

    ``n_points`` LUCAS points (2 to 400); a pass every ``step_days`` days (1 to 120) through
    ``year`` (2015 to 2024; S2A alone before 2017, from July 2015; from 2022 on processing
    baseline 04.00, and 2015–2016 the reprocessed 05.00, both with the +1000 BOA offset);
    ``extent_km`` the side (or (width, height)) of the area, None = just enough for
    ``n_points``; ``window_m`` the side of the rendered square around each point, None = the
    whole rasters (only sensible for a few points); ``workers`` processes render passes in
    parallel (capped by the CPU count, 1 for short years; the output does not depend on it).
    ``lucas_format`` the layout of the LUCAS table (``harmonised`` or ``lucas2022``; None =
    the survey's own: lucas2022 from 2022 on). ``boa_offset_applied``: the items say
    ``earthsearch:boa_offset_applied`` true and the COGs hold harmonised values (what Earth
    Search serves for the items it corrected); no effect in years without the offset.
    ``s1``: also write the Sentinel-1 catalog ``s1/catalog.json`` (the Sentinel-2 files do
    not depend on it). Same arguments, same bytes.
    """
    out_dir = Path(out_dir).resolve()  # pystac resolves relative asset hrefs against items
    _check_args(out_dir, n_points, window_m, workers, year)
    fmt = _lucas_format(year, lucas_format)
    plan = plan_demo(n_points, seed, extent_km)
    datatakes = plan_datatakes(year, step_days, seed)
    args = {"n_points": n_points, "step_days": step_days, "year": year, "seed": seed,
            "extent_km": extent_km, "window_m": window_m, "lucas_format": fmt,
            "boa_offset_applied": boa_offset_applied, "s1": s1}  # fmt: skip
    tmp = _partial_dir(out_dir)
    try:
        maker = SceneMaker(plan.layout, plan.landcover, plan.points, window_m, year, seed,
                           boa_offset_applied)  # fmt: skip
        items, markers = _write_scenes(maker, tmp / "stac", plan, datatakes, workers)
        catalog = demo_catalog(tmp / "stac", items, year)
        lucas_path = _write_lucas(tmp, fmt, plan.points, year, seed)
        radar = _write_s1(tmp / "s1", plan, window_m, year, seed, workers) if s1 else None
        _write_manifest(tmp / MANIFEST, args, plan.layout, plan.points, markers, radar)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _replace_dir(tmp, out_dir)
    return DemoArchive(
        root=out_dir,
        catalog_path=out_dir / catalog.relative_to(tmp),
        lucas_path=out_dir / lucas_path.relative_to(tmp),
        points=len(plan.points),
        scenes=len(items),
        datatakes=len(datatakes),
        item_ids=tuple(it.id for it in items),
        point_ids=tuple(p.node.point_id for p in plan.points),
        markers=tuple(markers),
        lucas_format=fmt,
        s1_catalog_path=out_dir / "s1" / "catalog.json" if radar else None,
        s1_scenes=len(radar.items) if radar else 0,
        s1_item_ids=tuple(it.id for it in radar.items) if radar else (),
        s1_markers=tuple(radar.markers) if radar else (),
    )


def _write_s1(
    root: Path, plan: DemoPlan, window_m: float | None, year: int, seed: int, workers: int
) -> S1Result:
    """The Sentinel-1 slices of the year and their catalog (root/catalog.json)."""
    maker = S1Maker(plan.layout, plan.landcover, plan.points, window_m, seed)
    result = maker.write_all(root, plan_s1_passes(year), workers)
    s1_catalog(root, result.items, year)
    return result


def _partial_dir(out_dir: Path) -> Path:
    """An empty build folder beside ``out_dir`` (a killed build's leftovers removed)."""
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "stac").mkdir(parents=True)
    return tmp


def _write_scenes(
    maker: SceneMaker, root: Path, plan: DemoPlan, datatakes: list[Datatake], workers: int
) -> tuple[list[pystac.Item], list[Marker]]:
    """Every item of the year, the markers on the two marker passes."""
    log.info("demo: %d points, %d passes × %d tiles",
             len(plan.points), len(datatakes), len(plan.layout.tiles))  # fmt: skip
    specs = marker_plan(datatakes, plan.west, plan.east)
    return maker.write_all(root, datatakes, specs, workers)


def _lucas_format(year: int, lucas_format: str | None) -> str:
    """The layout of the LUCAS table: the one asked for, else the survey's own."""
    fmt = lucas_format or ("lucas2022" if year >= FIRST_2022_LAYOUT_YEAR else "harmonised")
    if fmt not in LUCAS_FORMATS:
        raise ConfigError(f"lucas_format={fmt!r}: the demo writes {' or '.join(LUCAS_FORMATS)}")
    return fmt


def _write_lucas(folder: Path, fmt: str, points: list[SurveyedPoint], year: int, seed: int) -> Path:
    """The LUCAS table under the name its distributor uses for that layout."""
    if fmt == "harmonised":
        path = folder / f"lucas_harmo_uf_{year}.csv"
        write_lucas_csv(path, lucas_rows(points, year, seed))
    else:
        path = folder / f"lucas_survey_{year}.csv"
        write_lucas_csv(path, lucas2022_rows(points, year, seed), lucas2022_columns(year))
    return path


@dataclass(frozen=True)
class DemoPlan:
    """The demo's ground: layout, land-cover map and surveyed points (tests use it too)."""

    layout: Layout
    landcover: LandCover
    points: list[SurveyedPoint]
    west: Node  # marker carrier in both tiles, lon < 12
    east: Node  # marker carrier in both tiles, lon > 12
    lake: Node  # the point in the lake


def plan_demo(
    n_points: int, seed: int, extent_km: float | tuple[float, float] | None = None
) -> DemoPlan:
    """Where the points are and what the ground is, before any raster is drawn."""
    layout = plan_layout(n_points, extent_km)
    west, east = _marker_nodes(layout)
    lake = _lake_node(layout, (west, east), seed)
    landcover = LandCover(seed, (lake.x + 90.0, lake.y - 60.0), (west.x + 1000.0, west.y + 1000.0))
    points = _choose_points(layout, landcover, n_points, (west, east, lake), seed)
    return DemoPlan(layout, landcover, points, west, east, lake)


def _check_args(
    out_dir: Path, n_points: int, window_m: float | None, workers: int, year: int
) -> None:
    """Reject bad arguments before anything is written."""
    if not 2 <= n_points <= 400:
        raise ConfigError(f"n_points={n_points}: the demo takes 2 to 400 points")
    if workers < 1:
        raise ConfigError(f"workers={workers}: at least 1")
    if window_m is not None and window_m < 720:
        raise ConfigError(f"window_m={window_m}: at least 720 m (the 640 m patch + margin)")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise ConfigError(f"{out_dir} is not empty and holds no demo; choose another --out")
    processing_baseline(year)  # rejects an unsupported year


def _marker_nodes(layout: Layout) -> tuple[Node, Node]:
    """The nodes nearest the centre in both tiles, west and east of 12°E (marker carriers)."""
    both = [n for n in layout.nodes if len(layout.coverage[n.point_id]) == 2]
    cx = sum(n.x for n in layout.nodes) / len(layout.nodes)
    cy = sum(n.y for n in layout.nodes) / len(layout.nodes)
    out = []
    for side in (-1, 1):
        cands = [n for n in both if (n.lon - 12.0) * side > 0.0005]
        if not cands:
            raise ConfigError("demo extent too small: no point in both tiles on each side of 12°E")
        out.append(min(cands, key=lambda n: (n.x - cx) ** 2 + (n.y - cy) ** 2))
    return out[0], out[1]


def _lake_node(layout: Layout, taken: tuple[Node, ...], seed: int) -> Node:
    """A node for the lake (a G11 point): in both tiles if possible, away from the markers."""
    used = {t.point_id for t in taken}
    cands = [n for n in layout.nodes if n.point_id not in used and layout.coverage[n.point_id]]
    both = [n for n in cands if len(layout.coverage[n.point_id]) == 2]
    pool = both or cands
    rng = np.random.default_rng([seed, 77])
    return pool[int(rng.integers(len(pool)))]


def _choose_points(
    layout: Layout,
    landcover: LandCover,
    n_points: int,
    required: tuple[Node, ...],
    seed: int,
) -> list[SurveyedPoint]:
    """``n_points`` nodes held by a tile: the required ones, one of each class, then random."""
    nodes = [n for n in layout.nodes if layout.coverage[n.point_id]]
    if len(nodes) < n_points:
        raise ConfigError(f"only {len(nodes)} grid nodes lie in a tile; lower n_points")
    cls, _ = landcover.classify(
        np.array([n.x for n in nodes], float), np.array([n.y for n in nodes], float)
    )
    rng = np.random.default_rng([seed, 91])
    order = [int(i) for i in rng.permutation(len(nodes))]
    chosen = [nodes.index(r) for r in required]
    for c in range(len(CLASSES)):
        first = next((i for i in order if cls[i] == c), None)
        if first is not None and first not in chosen and len(chosen) < n_points:
            chosen.append(first)
    chosen += [i for i in order if i not in chosen][: n_points - len(chosen)]
    picked = sorted(chosen[:n_points], key=lambda i: nodes[i].point_id)
    return [SurveyedPoint(nodes[i], CLASSES[int(cls[i])]) for i in picked]


def _write_manifest(
    path: Path,
    args: Mapping[str, object],
    layout: Layout,
    points: list[SurveyedPoint],
    markers: list[Marker],
    radar: S1Result | None = None,
) -> None:
    """demo.json: how the demo was made and what is where (deterministic JSON)."""
    doc = {
        "generator": "sen4map-etl demo",
        "args": args,
        "laea_epsg": LAEA_EPSG,
        "extent_laea": list(layout.extent),
        "tiles": [
            {
                "name": t.name,
                "epsg": t.epsg,
                "bounds": list(t.bounds),
                "shape_10m": list(t.shape(10)),
            }
            for t in layout.tiles
        ],
        "points": [
            {
                "point_id": p.node.point_id,
                "lc1": p.land.code,
                "tiles": list(layout.coverage[p.node.point_id]),
            }
            for p in points
        ],
        "markers": [asdict(m) for m in markers],
    }
    if radar is not None:
        doc["s1"] = _s1_manifest(radar)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _s1_manifest(radar: S1Result) -> dict[str, object]:
    """The manifest's ``s1`` section: tracks, platforms, counts, overlaps, markers."""
    passes = radar.passes
    return {
        "catalog": "s1/catalog.json",
        "collection": S1_COLLECTION,
        "items": len(radar.items),
        "passes": len(passes),
        "tracks": [
            {
                "orbit_state": t.orbit_state,
                "relative_orbit": t.relative_orbit,
                "epsg": t.epsg,
                "passes": sum(p.track == t for p in passes),
                "split_passes": sum(p.track == t and p.split for p in passes),
            }
            for t in TRACKS
        ],
        "platforms": {
            name: sum(p.platform == name for p in passes)
            for name in sorted({p.platform for p in passes})
        },
        "overlaps": radar.overlaps,
        "markers": [asdict(m) for m in radar.markers],
    }


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished build into place (a previous demo there is removed first)."""
    if out_dir.exists():
        if (out_dir / MANIFEST).is_file():
            shutil.rmtree(out_dir)
        else:
            out_dir.rmdir()  # empty (checked before building)
    tmp.rename(out_dir)


__all__ = ["DemoArchive", "DemoPlan", "Marker", "build_demo", "plan_demo"]
