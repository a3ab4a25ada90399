"""The radar sources shipped with the package: one registry line each (import this)."""

from __future__ import annotations

from exports.registry import Scheduling
from exports.s1.registry import RadarSourceSpec, get_radar_spec, list_radar_sources, register_radar

register_radar(RadarSourceSpec(
    "stac", "exports.s1stac.build:build_radar_source",
    help="a static STAC catalog (--s1-catalog) or a STAC API (--s1-stac-url) of Sentinel-1 "
         "COGs, linear backscatter converted to dB",
))
register_radar(RadarSourceSpec(
    "gee", "exports.s1gee.build:build_radar_source",
    help="Earth Engine's COPERNICUS/S1_GRD (σ0 dB), one computePixels request per point",
    scheduling=Scheduling(in_process=True, points_per_worker=4,
                          not_distributable="the gee source runs in one process"),
))

__all__ = ["get_radar_spec", "list_radar_sources", "register_radar"]
