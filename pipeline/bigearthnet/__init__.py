"""``etl bigearthnet``: BigEarthNet-MM / reBEN patch pairs from any tile and time window.

The unit of work is one (MGRS tile, Sentinel-2 scene): its assets read whole, cut into
1,200 m patches at native resolution, each kept patch labelled from CORINE Land Cover,
paired with the nearest Sentinel-1 acquisition and written in reBEN's tree; the metadata
tables are rebuilt from the ledger at the end (:mod:`pipeline.bigearthnet.run`).
"""
