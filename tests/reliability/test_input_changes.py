"""Edited inputs are noticed: a changed LUCAS row or a scene removed from the catalog is
refused with a line naming what changed (never "up to date"); ``--force`` redoes the year
with the new inputs; a file that was only touched (same content) changes nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive, build_demo
from tests.pipeline.conftest import run_args


@pytest.fixture
def own_demo(tmp_path: Path) -> DemoArchive:
    """An archive of this test's own (the shared one must stay untouched)."""
    return build_demo(tmp_path / "demo", n_points=6, step_days=30)


def _flat(output: str) -> str:
    return " ".join(output.split())


def _finished(demo: DemoArchive, out: Path) -> None:
    result = CliRunner().invoke(main, run_args(demo, out))
    assert result.exit_code == 0, result.output


def test_an_edited_lucas_row_is_refused_then_redone_with_force(
    own_demo: DemoArchive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _finished(own_demo, out)
    table = own_demo.lucas_path
    lines = table.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    column = header.index("lc1")
    cells = lines[1].rstrip("\n").split(",")
    point_id = int(cells[header.index("point_id")])
    cells[column] = "C10" if cells[column] != "C10" else "B11"
    lines[1] = ",".join(cells) + "\n"
    table.write_text("".join(lines))

    refused = CliRunner().invoke(main, run_args(own_demo, out))
    assert refused.exit_code == 2, refused.output
    message = _flat(refused.output)
    assert f"{table.resolve()} changed" in message and "--force" in message
    assert "up to date" not in message

    redone = CliRunner().invoke(main, run_args(own_demo, out, "--force"))
    assert redone.exit_code == 0, redone.output
    with h5py.File(out / "2018" / "AT.h5", "r") as f:
        assert f[f"Lucas_Point_{point_id:08d}"].attrs["lc1"] == cells[column]
    again = CliRunner().invoke(main, run_args(own_demo, out))
    assert again.exit_code == 0 and "Nothing to do" in again.output


def test_a_scene_removed_from_the_catalog_is_refused_naming_it(
    own_demo: DemoArchive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _finished(own_demo, out)
    catalog = own_demo.catalog_path
    root = json.loads(catalog.read_text())
    link = next(link for link in root["links"] if link["rel"] == "item")
    root["links"].remove(link)
    catalog.write_text(json.dumps(root))
    item = (catalog.parent / link["href"]).resolve()
    shutil.rmtree(item.parent)

    refused = CliRunner().invoke(main, run_args(own_demo, out))
    assert refused.exit_code == 2, refused.output
    message = _flat(refused.output)
    assert f"{item} is gone" in message and f"{catalog.resolve()} changed" in message


def test_a_touched_input_with_the_same_content_changes_nothing(
    own_demo: DemoArchive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _finished(own_demo, out)
    before = (out / "2018" / "AT.h5").stat().st_mtime_ns
    for path in (own_demo.lucas_path, own_demo.catalog_path):
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    again = CliRunner().invoke(main, run_args(own_demo, out))
    assert again.exit_code == 0 and "Nothing to do" in again.output
    assert (out / "2018" / "AT.h5").stat().st_mtime_ns == before
