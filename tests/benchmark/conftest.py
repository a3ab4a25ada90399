"""Fixtures of the benchmark tests: tiny synthetic country files and a stand-in legend."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmark.standin_legend import StandInLegend
from tests.fixtures.synthetic_h5 import random_country


@pytest.fixture
def legend() -> StandInLegend:
    return StandInLegend()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year folder with two small random countries (AT 40 points, DE 30 points)."""
    root = tmp_path_factory.mktemp("demo") / "2018"
    random_country(root / "AT.h5", "AT", 40, seed=1, steps=(6, 12))
    random_country(root / "DE.h5", "DE", 30, seed=2, steps=(6, 12))
    return root
