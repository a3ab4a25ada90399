"""STAC items of the demo's Sentinel-1 slices, shaped like Planetary Computer ``sentinel-1-rtc``.

Ids ``S1A_IW_GRDH_1SDV_<start>_<stop>_<absolute orbit>_<datatake hex>_rtc``, collection
``sentinel-1-rtc``, the ``sat``, ``sar`` and ``proj`` (v1.1, ``proj:epsg``) properties Planetary
Computer writes, and assets ``vv`` / ``vh``: float32 COGs of linear γ0 (terrain-flattened
gamma nought), no-data 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pystac

from pipeline.demo.geo import TileSpec
from pipeline.demo.s1_passes import SLICE_SECONDS, S1Pass
from pipeline.demo.stac import build_item, cog_asset, ring_bbox, save_catalog

S1_COLLECTION = "sentinel-1-rtc"
S1_EXTENSIONS = [
    "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
ASSET_FILES = {"VV": "vv.tif", "VH": "vh.tif"}  # band -> file name in the item's folder


def make_s1_item(
    p: S1Pass,
    k: int,
    n_slices: int,
    spec: TileSpec,
    ring: list[tuple[float, float]],
    folder: Path,
) -> pystac.Item:
    """Slice ``k`` of pass ``p``; its assets point at the COGs in ``folder``."""
    start, stop = p.slice_times(k)
    t = spec.transform(10)
    props: dict[str, object] = {
        "start_datetime": _iso(start),
        "end_datetime": _iso(stop),
        "platform": p.platform.upper(),
        "constellation": "Sentinel-1",
        "instruments": ["c-sar"],
        "sar:instrument_mode": "IW",
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:polarizations": ["VV", "VH"],
        "sar:product_type": "RTC",
        "sar:observation_direction": "right",
        "sat:orbit_state": p.track.orbit_state,
        "sat:relative_orbit": p.track.relative_orbit,
        "sat:absolute_orbit": p.absolute_orbit,
        "s1:datatake_id": str(p.datatake_id),
        "s1:instrument_configuration_ID": "6",
        "s1:product_timeliness": "Fast-24h",
        "s1:processing_level": "1",
        "s1:resolution": "high",
        "s1:slice_number": str(k + 1),
        "s1:total_slices": str(n_slices),
        "proj:epsg": spec.epsg,
        "proj:bbox": list(spec.bounds),
        "proj:shape": list(spec.shape(10)),
        "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
    }
    assets = {
        band.lower(): cog_asset(
            str(folder / name),
            roles=("data",),
            title=f"{band}: vertical transmit, {'vertical' if band == 'VV' else 'horizontal'} "
            "receive",
            extra={"raster:bands": [{"nodata": 0, "data_type": "float32"}]},
        )
        for band, name in ASSET_FILES.items()
    }
    mid = start + timedelta(seconds=SLICE_SECONDS / 2)
    geometry = {"type": "Polygon", "coordinates": [[list(q) for q in ring]]}
    item = build_item(p.item_id(k), geometry, ring_bbox(ring), mid, props, assets, S1_EXTENSIONS)
    item.collection_id = S1_COLLECTION
    return item


def _iso(when: datetime) -> str:
    return f"{when:%Y-%m-%dT%H:%M:%S}.000000Z"


def s1_catalog(root: Path, items: list[pystac.Item], year: int) -> Path:
    """The demo's Sentinel-1 catalog: root/catalog.json, root/<id>/<id>.json."""
    return save_catalog(
        root,
        items,
        catalog_id=f"sen4map-demo-s1-{year}",
        description=(
            f"Synthetic Sentinel-1 RTC archive of {year} (sen4map-etl demo): linear gamma0 "
            "VV/VH slices of a descending (EPSG:32632 rasters) and an ascending (EPSG:32633) "
            "track near Wörgl, Tyrol (AT). Not real data."
        ),
        title="sen4map-etl demo Sentinel-1 archive",
    )
