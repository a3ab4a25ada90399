"""Stages (ingest → select → export → pack), the work ledger, the HDF5 writer, config and CLI."""
