"""Fixtures of the pipeline tests: one tiny demo archive and one reference run per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive, build_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoArchive:
    return build_demo(tmp_path_factory.mktemp("demo"), n_points=8, step_days=15)


def run_args(demo: DemoArchive, out: Path, *extra: str) -> list[str]:
    return ["run", "--country", "AT", "--lucas", str(demo.lucas_path), "--source", "stac",
            "--catalog", str(demo.catalog_path), "--out", str(out), "--workers", "1", *extra]


@pytest.fixture(scope="session")
def reference(demo: DemoArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref")
    result = CliRunner().invoke(main, run_args(demo, out))
    assert result.exit_code == 0, result.output
    return out / "2018" / "AT.h5"


