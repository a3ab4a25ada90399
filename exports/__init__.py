"""Imagery sources behind one Protocol (``stac``, ``gee``), and the patch-grid math they share."""
