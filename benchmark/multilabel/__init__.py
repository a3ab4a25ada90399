"""BigEarthNet-MM multi-label benchmark (`etl benchmark --task multilabel`)."""
