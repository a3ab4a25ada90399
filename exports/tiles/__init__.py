"""MGRS tiles cut into BigEarthNet patches: tile ids, the patch grid, names, splits, seasons.

Pure maths over numbers and names (no file is read), shared by the BigEarthNet stages and
their tests: a tile's 109,800 m square is cut from its upper-left corner into 1,200 m
patches at native resolution; patch ids follow reBEN (``<S2 product id>_<x>_<y>``).
"""
