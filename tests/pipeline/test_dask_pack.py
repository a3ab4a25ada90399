"""Pack on Dask: several country files written by workers, the same as packed locally."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.h5compare import assert_same_content

pytest.importorskip("distributed")


def _two_country_table(demo: DemoArchive, path: Path) -> Path:
    """The demo's table with half of its points relabelled DE (two country files to pack)."""
    table = pd.read_csv(demo.lucas_path, dtype=str, keep_default_na=False)
    table.loc[table.index % 2 == 1, "nuts0"] = "DE"
    table.to_csv(path, index=False)
    return path


def _args(demo: DemoArchive, table: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--country", "AT,DE", "--lucas", str(table), "--source", "stac",
            "--catalog", str(demo.catalog_path), "--out", str(out), "--workers", "1", *extra]


@pytest.mark.slow
def test_pack_on_dask_writes_the_same_country_files(demo: DemoArchive, tmp_path: Path) -> None:
    table = _two_country_table(demo, tmp_path / "two.csv")
    here, there = tmp_path / "here", tmp_path / "there"
    runner = CliRunner()
    assert runner.invoke(main, _args(demo, table, here)).exit_code == 0
    result = runner.invoke(main, _args(demo, table, there, "--scheduler", "local:2"))
    assert result.exit_code == 0, result.output
    assert "files written" in result.output
    assert "2 country files packed in parallel on Dask" in " ".join(result.output.split())
    for cc in ("AT", "DE"):
        assert_same_content(there / "2018" / f"{cc}.h5", here / "2018" / f"{cc}.h5")
    again = runner.invoke(main, _args(demo, table, there, "--scheduler", "local:2"))
    assert again.exit_code == 0 and "Nothing to do" in again.output
