"""The synthetic Sentinel-2 archive generator behind ``etl demo`` and the test fixtures.

Why a subpackage: the demo is a whole offline world (two real MGRS tiles across the UTM
32/33 boundary, a year of passes with clouds, snow and swath no-data, a land-cover map and
the LUCAS points surveyed on it) that lets every stage run, and be tested pixel-exactly,
without a network. It is a leaf: it imports only :mod:`lucas`, the contract modules of
:mod:`exports` and itself, and nothing in the product imports it but ``etl demo``.

Modules: :mod:`~pipeline.demo.archive` (``build_demo``: what the archive holds, written
atomically), :mod:`~pipeline.demo.geo` (grid nodes, tiles), :mod:`~pipeline.demo.landcover`
and :mod:`~pipeline.demo.spectra` (the ground), :mod:`~pipeline.demo.sky` (passes and
weather), :mod:`~pipeline.demo.raster` (rendering), :mod:`~pipeline.demo.scenes` (the
render-and-write loop, markers), :mod:`~pipeline.demo.stac` (Earth Search-shaped items,
the catalog), :mod:`~pipeline.demo.s1`, :mod:`~pipeline.demo.s1_passes` and
:mod:`~pipeline.demo.s1_stac` (the Sentinel-1 RTC slices and their catalog),
:mod:`~pipeline.demo.lucas_harmonised` and :mod:`~pipeline.demo.lucas2022`
(the LUCAS table in either layout); :mod:`~pipeline.demo.bigearthnet` (``etl demo
--bigearthnet``: a corner of tile 33UUP for ``etl bigearthnet``) with
:mod:`~pipeline.demo.ben_s2`, :mod:`~pipeline.demo.ben_s1` and :mod:`~pipeline.demo.ben_refs`
(its scenes, radar slices, CORINE-like polygons and countries; imported on demand).
"""

from pipeline.demo.archive import DemoArchive, DemoPlan, build_demo, plan_demo
from pipeline.demo.scenes import Marker

__all__ = ["DemoArchive", "DemoPlan", "Marker", "build_demo", "plan_demo"]
