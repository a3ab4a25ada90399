"""Sentinel-1 from Earth Engine's ``COPERNICUS/S1_GRD`` (``--s1-source gee``).

The radar counterpart of :mod:`exports.gee`, and built on it: the same connection
(:mod:`exports.gee.auth`), throttle, chunked server-side selection and ``computePixels`` on
the point's patch grid. Earth Engine's S1_GRD values are already σ0 in dB (thermal noise
removed, calibrated, terrain corrected, ``10·log10``), so nothing is converted; masked
pixels come back as NaN. The series rules are :mod:`exports.s1`'s.
"""
