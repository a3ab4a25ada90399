"""The BigEarthNet-MM benchmark (``etl benchmark --task multilabel``): 19-class multi-label
classification and retrieval on Sentinel-1 / Sentinel-2 patch pairs of a BigEarthNet tree."""
