"""Sentinel-1 beside Sentinel-2: the radar kind of source (VV/VH backscatter in dB).

The kind's shared rules live here (scenes, filters, the series stack, the pairing with
Sentinel-2 steps, the options, the registry of radar sources); each radar source is its own
subpackage (:mod:`exports.s1stac`, :mod:`exports.s1gee`) plus one registry line in
:mod:`exports.s1.sources`.
"""
