"""The benchmark reads the point's pixel from each file's grid facts (``GridFacts``): a file
that states the Sen4Map grid, one that states nothing and one on a shifted grid give the
same composites; a grid with no room for the region is refused, naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from benchmark import composites as comp
from benchmark.cache import build_country
from exports.grid import SEN4MAP_GRID, GridFacts
from lucas.errors import InputFormatError
from pipeline.cli import main
from tests.fixtures.synthetic_h5 import random_country


def _with_facts(source: Path, target: Path, facts: GridFacts, shift: tuple[int, int] = (0, 0)
                ) -> Path:
    """A copy of ``source`` stating ``facts``, its pixels rolled by ``shift`` (row, col)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    with h5py.File(target, "a") as f:
        f.attrs.update(facts.as_attributes())
        if shift != (0, 0):
            for name in f:
                f[name][...] = np.roll(f[name][...], shift, axis=(1, 2))
    return target


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A country file without grid attributes (the original Sen4Map release, format 1.0)."""
    path = random_country(tmp_path_factory.mktemp("plain") / "AT.h5", "AT", 12, seed=11,
                          steps=(4, 8))
    with h5py.File(path, "a") as f:  # the fixture writes what the pack stage writes
        for key in SEN4MAP_GRID.as_attributes():
            f.attrs.pop(key, None)
    return path


def _assert_same_composites(a: comp.Composites, b: comp.Composites) -> None:
    for field in ("monthly", "monthly_filled", "annual", "annual_filled"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_explicit_sen4map_grid_and_absent_attributes_give_the_same_composites(
    plain: Path, tmp_path: Path
) -> None:
    with h5py.File(plain, "r") as f:
        assert "center_pixel" not in f.attrs
    stated = _with_facts(plain, tmp_path / "AT.h5", GridFacts(center_pixel=(32, 32)))
    with h5py.File(stated, "r") as f:
        assert list(f.attrs["center_pixel"]) == [32, 32]
    without = build_country(plain, comp.DEFAULT_MASK_CLASSES)
    explicit = build_country(stated, comp.DEFAULT_MASK_CLASSES)
    _assert_same_composites(explicit.composites, without.composites)
    assert explicit.names.tolist() == without.names.tolist()


def test_a_file_on_another_grid_is_read_around_its_own_point(plain: Path, tmp_path: Path) -> None:
    """Pixels moved by (-12, +8) and the file saying the point is in [20, 40]."""
    moved = _with_facts(plain, tmp_path / "AT.h5", GridFacts(center_pixel=(20, 40)), (-12, 8))
    _assert_same_composites(build_country(moved, comp.DEFAULT_MASK_CLASSES).composites,
                            build_country(plain, comp.DEFAULT_MASK_CLASSES).composites)
    assert SEN4MAP_GRID.center_pixel == (32, 32)


@pytest.mark.parametrize("facts", [GridFacts(center_pixel=(5, 32)),
                                   GridFacts(patch_size=40, center_pixel=(32, 20))])
def test_a_grid_without_room_for_the_region_is_refused_naming_the_file(
    plain: Path, tmp_path: Path, facts: GridFacts
) -> None:
    bad = _with_facts(plain, tmp_path / "AT.h5", facts)
    with pytest.raises(InputFormatError, match=r"AT\.h5: grid of .* leaves no room for the "
                                               r"17×17 region"):
        build_country(bad, comp.DEFAULT_MASK_CLASSES)


def test_etl_benchmark_refuses_it_in_one_line(plain: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")  # the chosen model's extra is checked first
    bad = _with_facts(plain, tmp_path / "data" / "AT.h5", GridFacts(center_pixel=(32, 60)))
    result = CliRunner().invoke(main, [
        "benchmark", "--data", str(bad.parent), "--models", "rf", "--legend", "landcover",
        "--out", str(tmp_path / "report"), "--cache-dir", str(tmp_path / "cache"),
    ])
    assert result.exit_code != 0
    (line,) = [line for line in result.output.splitlines() if "no room" in line]
    assert str(bad) in line and "point in pixel [32, 60]" in line
    assert not (tmp_path / "report" / "metrics.json").exists()
