"""Versions of Python and of the libraries a benchmark result depends on.

Its own module because both the run (``metrics.json``) and the resume fingerprint need it,
and the fingerprint must not import the run.
"""

from __future__ import annotations

import platform
from importlib import metadata

DISTRIBUTIONS = ("sen4map-etl", "numpy", "h5py", "pandas", "torch", "scikit-learn", "matplotlib")


def versions() -> dict[str, str | None]:
    """Versions of Python and of the libraries a result depends on (None: not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in DISTRIBUTIONS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out
