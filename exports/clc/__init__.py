"""CORINE Land Cover 2018 labels for BigEarthNet-style patches (``etl bigearthnet``).

* :mod:`exports.clc.codes`: the CLC code table and the 19/43 BigEarthNet class sets;
* :mod:`exports.clc.labels`: a patch's labels from its reference map, the 25 % rule;
* :mod:`exports.clc.source`: the :class:`ClcSource` / :class:`ClcArea` protocols;
* :mod:`exports.clc.vector`, :mod:`exports.clc.raster`: the file sources
  (``exports.clc.gee`` the Earth Engine one);
* :mod:`exports.clc.open`: ``--clc`` → a source.

Nothing is imported here, so ``import exports.clc.codes`` stays free of GDAL.
"""
