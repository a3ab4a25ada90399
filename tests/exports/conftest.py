"""Fixtures shared by the imagery-source tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import rasterio

from exports.stac import dataset_pool


@pytest.fixture
def open_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every dataset open's path, in order (to check each asset is opened once): rasterio.open
    and the pool's direct local open (:func:`exports.stac.dataset_pool.open_local`)."""
    calls: list[str] = []
    real_open, real_local = rasterio.open, dataset_pool.open_local

    def counting_open(fp: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(fp))
        return real_open(fp, *args, **kwargs)

    def counting_local(path: str) -> Any:
        calls.append(path)
        return real_local(path)

    monkeypatch.setattr(rasterio, "open", counting_open)
    monkeypatch.setattr(dataset_pool, "open_local", counting_local)
    yield calls
