"""Fixtures shared by the imagery-source tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import rasterio


@pytest.fixture
def open_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every rasterio.open call's path, in order (to check each asset is opened once)."""
    calls: list[str] = []
    real_open = rasterio.open

    def counting_open(fp: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", counting_open)
    yield calls
