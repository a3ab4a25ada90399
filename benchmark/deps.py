"""Lazy access to the ``[benchmark]`` extra (torch, scikit-learn, matplotlib).

The ``etl`` CLI must work without the extra, so nothing outside the benchmark command's
code path imports these libraries; when the command needs one that is missing, the user
gets one clear instruction instead of a bare ImportError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from lucas.errors import EtlError

INSTALL_HINT = (
    "install the benchmark extra: pip install torch==2.13.0 && pip install 'sen4map-etl[benchmark]'"
)


class MissingExtraError(EtlError, ImportError):
    """A library of the ``[benchmark]`` extra is not installed."""


def require(module: str) -> ModuleType:
    """Import ``module`` or raise MissingExtraError with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(f"{module} is not installed; {INSTALL_HINT}") from e

