"""Sentinel-1 beside Sentinel-2 (``--s1``): the radar product's select, export and pack.

Its own ledger units (``s1_select``, ``s1_export``, ``s1_pack``), staging folder and writer
(:mod:`pipeline.product`), run after the Sentinel-2 stages, so ``<CC>.h5`` is the same file
with and without ``--s1``; the generic pieces (selection chunks, executors, recording,
retries, packing) are the Sentinel-2 stages' own code.
"""
