"""STAC items of the demo, shaped like Earth Search ``sentinel-2-l2a`` items (v1).

Same ids (``S2B_32TQT_20180105_0_L2A``), asset keys (blue … swir22, scl), file names (B02.tif
… SCL.tif), ESA identifiers (datatake, datastrip, granule, product URI) and scene statistics
(``eo:cloud_cover`` = share of SCL 8, 9, 10 among valid pixels; the ``s2:*_percentage``
family; ``s2:nodata_pixel_percentage`` = the swath wedge's share of the raster). Projection
extension v1.1 (``proj:epsg``), as Earth Search writes it; pystac migrates it on read.

The generic builders (:func:`build_item`, :func:`cog_asset`, :func:`save_catalog`) are the
ones the test fixtures use too, so every synthetic catalog is made the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac

from exports.source import EARTH_SEARCH_KEYS
from pipeline.demo.geo import TileSpec
from pipeline.demo.sky import Datatake

EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.0.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
]
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass(frozen=True)
class BandInfo:
    esa: str  # ESA band / file name
    title: str
    wavelength: float  # µm
    fwhm: float
    gsd: int


BANDS: dict[str, BandInfo] = {  # ALL_BANDS name -> description; asset keys via EARTH_SEARCH_KEYS
    "B2": BandInfo("B02", "Blue (band 2) - 10m", 0.49, 0.098, 10),
    "B3": BandInfo("B03", "Green (band 3) - 10m", 0.56, 0.045, 10),
    "B4": BandInfo("B04", "Red (band 4) - 10m", 0.665, 0.038, 10),
    "B5": BandInfo("B05", "Red edge 1 (band 5) - 20m", 0.704, 0.019, 20),
    "B6": BandInfo("B06", "Red edge 2 (band 6) - 20m", 0.74, 0.018, 20),
    "B7": BandInfo("B07", "Red edge 3 (band 7) - 20m", 0.783, 0.028, 20),
    "B8": BandInfo("B08", "NIR 1 (band 8) - 10m", 0.842, 0.145, 10),
    "B8A": BandInfo("B8A", "NIR 2 (band 8A) - 20m", 0.865, 0.033, 20),
    "B11": BandInfo("B11", "SWIR 1 (band 11) - 20m", 1.61, 0.143, 20),
    "B12": BandInfo("B12", "SWIR 2 (band 12) - 20m", 2.19, 0.242, 20),
    "SCL": BandInfo("SCL", "Scene classification map (SCL)", 0.0, 0.0, 20),
}
_SCL_PERCENTAGES = (  # s2 property -> SCL classes
    ("s2:dark_features_percentage", (2,)),
    ("s2:cloud_shadow_percentage", (3,)),
    ("s2:vegetation_percentage", (4,)),
    ("s2:not_vegetated_percentage", (5,)),
    ("s2:water_percentage", (6,)),
    ("s2:unclassified_percentage", (7,)),
    ("s2:medium_proba_clouds_percentage", (8,)),
    ("s2:high_proba_clouds_percentage", (9,)),
    ("s2:thin_cirrus_percentage", (10,)),
    ("s2:snow_ice_percentage", (11,)),
)


def item_id(dt: Datatake, tile: TileSpec) -> str:
    return f"{dt.sat}_{tile.name}_{dt.sensed:%Y%m%d}_0_L2A"


def _stamp(when: datetime) -> str:
    return f"{when:%Y%m%dT%H%M%S}"


def esa_identifiers(dt: Datatake, tile: TileSpec, baseline: str) -> dict[str, str]:
    """Datatake, datastrip, granule and product identifiers in ESA's formats."""
    n = baseline.replace(".", "")
    centre = "MPS_" if dt.sat == "S2A" else "SGS_"
    gen, start, sat, orbit = _stamp(dt.generated), _stamp(dt.start), dt.sat, dt.absolute_orbit
    oper = f"{sat}_OPER_MSI_L2A"
    return {
        "s2:product_uri": (
            f"{sat}_MSIL2A_{start}_N{n}_R{dt.relative_orbit:03d}_T{tile.name}_{gen}.SAFE"
        ),
        "s2:datatake_id": f"G{sat}_{start}_{orbit:06d}_N{baseline}",
        "s2:datastrip_id": f"{oper}_DS_{centre}_{gen}_S{_stamp(dt.sensed)}_N{baseline}",
        "s2:granule_id": f"{oper}_TL_{centre}_{gen}_A{orbit:06d}_T{tile.name}_N{baseline}",
    }


def scl_properties(counts: np.ndarray, nodata_share: float) -> dict[str, float]:
    """eo:cloud_cover and the s2:*_percentage family from SCL counts over valid pixels."""
    valid = max(int(counts[1:].sum()), 1)
    pct = {
        key: round(100.0 * float(counts[list(cls)].sum()) / valid, 6)
        for key, cls in _SCL_PERCENTAGES
    }
    cloud = round(100.0 * float(counts[[8, 9, 10]].sum()) / valid, 6)
    return {
        "eo:cloud_cover": cloud,
        "s2:nodata_pixel_percentage": round(100.0 * nodata_share, 6),
        "s2:degraded_msi_data_percentage": 0.0,
        "s2:saturated_defective_pixel_percentage": 0.0,
        **pct,
    }


def make_item(
    dt: Datatake,
    tile: TileSpec,
    folder: Path,
    stats: dict[str, float],
    baseline: str,
    reflectance_offset: int,
    offset_applied: bool = False,
) -> pystac.Item:
    """One tile of one datatake, assets pointing at the COGs in ``folder``.

    ``reflectance_offset`` is what the COGs hold on top of the reflectance; with
    ``offset_applied`` the catalog says (as Earth Search does for items it harmonised) that
    the baseline's offset was already removed, and the COGs then hold none.
    """
    ring = tile.footprint_lonlat()
    azimuth, elevation = dt.sun()
    zone, band, square = tile.name[:2], tile.name[2], tile.name[3:]
    props: dict[str, object] = {
        "platform": dt.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": stats["eo:cloud_cover"],
        "proj:epsg": tile.epsg,
        "mgrs:utm_zone": int(zone),
        "mgrs:latitude_band": band,
        "mgrs:grid_square": square,
        "grid:code": f"MGRS-{tile.name}",
        "view:sun_azimuth": round(azimuth, 6),
        "view:sun_elevation": round(elevation, 6),
        "sat:relative_orbit": dt.relative_orbit,
        "sat:absolute_orbit": dt.absolute_orbit,
        "sat:orbit_state": "descending",
        **{k: v for k, v in stats.items() if k != "eo:cloud_cover"},
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": baseline,
        **esa_identifiers(dt, tile, baseline),
        "s2:datatake_type": "INS-NOBS",
        "s2:generation_time": dt.generated.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "s2:mgrs_tile": tile.name,
        "s2:sequence": "0",
        "earthsearch:boa_offset_applied": offset_applied,
    }
    assets = {
        EARTH_SEARCH_KEYS[band]: _asset(band, info, tile, folder, reflectance_offset)
        for band, info in BANDS.items()
    }
    return build_item(
        item_id(dt, tile), _polygon(ring), ring_bbox(ring), dt.sensed, props, assets, EXTENSIONS
    )


def _asset(band: str, info: BandInfo, tile: TileSpec, folder: Path, offset: int) -> pystac.Asset:
    res = info.gsd
    t = tile.transform(res)
    raster: dict[str, object] = {
        "nodata": 0,
        "data_type": "uint8" if band == "SCL" else "uint16",
        "spatial_resolution": res,
    }
    extra: dict[str, object] = {}
    if band != "SCL":
        raster.update(bits_per_sample=15, scale=0.0001, offset=-offset / 10000.0)
        extra["eo:bands"] = [
            {
                "name": info.esa,
                "common_name": EARTH_SEARCH_KEYS[band],
                "center_wavelength": info.wavelength,
                "full_width_half_max": info.fwhm,
            }
        ]
    extra.update(
        {
            "gsd": res,
            "proj:shape": list(tile.shape(res)),
            "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            "raster:bands": [raster],
        }
    )
    roles = ("data",) if band == "SCL" else ("data", "reflectance")
    return cog_asset(str(folder / f"{info.esa}.tif"), roles=roles, title=info.title, extra=extra)


def demo_catalog(root: Path, items: list[pystac.Item], year: int) -> Path:
    """The demo's catalog: root/catalog.json, root/<id>/<id>.json."""
    return save_catalog(
        root,
        items,
        catalog_id=f"sen4map-demo-{year}",
        description=(
            f"Synthetic Sentinel-2 L2A archive of {year} (sen4map-etl demo): tiles 32TQT and "
            "33TTN at the UTM 32/33 boundary near Wörgl, Tyrol (AT). Not real data."
        ),
        title="sen4map-etl demo archive",
    )


def _polygon(ring: Sequence[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def ring_bbox(ring: Sequence[tuple[float, float]]) -> list[float]:
    """[west, south, east, north] of a lon/lat ring."""
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return [min(lons), min(lats), max(lons), max(lats)]


def cog_asset(
    href: str,
    *,
    roles: Sequence[str] = ("data",),
    title: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> pystac.Asset:
    """An asset pointing at a COG (``href`` absolute; :func:`save_catalog` relativises it)."""
    return pystac.Asset(
        href=href,
        media_type=COG_TYPE,
        title=title,
        roles=list(roles),
        extra_fields=dict(extra) if extra is not None else None,
    )


def build_item(
    item_id: str,
    geometry: Mapping[str, Any],
    bbox: Sequence[float],
    when: datetime,
    properties: Mapping[str, Any],
    assets: Mapping[str, pystac.Asset],
    extensions: Sequence[str] = (),
) -> pystac.Item:
    """A STAC item from its parts, assets added in the order given (keyed by the source's
    band names, e.g. Earth Search's ``red``), so the JSON is the same run after run."""
    item = pystac.Item(
        id=item_id,
        geometry=dict(geometry),
        bbox=list(bbox),
        datetime=when,
        properties=dict(properties),
        stac_extensions=list(extensions),
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    return item


def save_catalog(
    root: Path,
    items: Sequence[pystac.Item],
    *,
    catalog_id: str,
    description: str,
    title: str | None = None,
) -> Path:
    """Save a self-contained static catalog (relative hrefs, so the folder can move):
    root/catalog.json and root/<id>/<id>.json per item; return the catalog.json path."""
    catalog = pystac.Catalog(id=catalog_id, description=description, title=title)
    catalog.add_items(items)
    catalog.normalize_hrefs(str(root))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"
