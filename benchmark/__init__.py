"""Benchmark stage: composites, legends, splits, models, metrics (reads only the HDF5 files)."""
