"""A writer registered in the test (one class, one registry line) runs through ``etl run``.

Proves the output seam: the export stage stages through the writer, the pack stage packs
through it and asks it where the output lies; the toy format (one ``.npy`` per staged point,
one ``.npz`` per country) holds exactly the arrays of the Sen4Map file of the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from exports.grid import PatchGrid
from exports.source import PointStack
from lucas.safe_files import remove_leftovers, replace_atomically
from pipeline.cli import main
from pipeline.dataset import writer as writers
from pipeline.dataset.layout import OutputLayout
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args


@dataclass(frozen=True)
class NpzWriter:
    name: str = "toy-npz"

    def output_path(self, layout: OutputLayout, year: int, country: str) -> Path:
        return layout.year_dir(year) / f"{country}.toy.npz"

    def stage(self, stage_dir: Path, stack: PointStack, grid: PatchGrid,
              attributes: Mapping[str, Any]) -> Path:
        stage_dir.mkdir(parents=True, exist_ok=True)
        final = self.staged_path(stage_dir, stack.point_id)
        with_suffix = final.with_name(final.name + ".tmp")
        return replace_atomically(final, lambda tmp: np.save(tmp.open("wb"), stack.data),
                                  with_suffix)

    def staged_path(self, stage_dir: Path, unit_id: int) -> Path:
        return stage_dir / f"{unit_id:08d}.npy"

    def check_staged(self, path: Path, unit_id: int) -> str | None:
        return None if path.is_file() else "missing"

    def remove_unfinished(self, stage_dir: Path) -> int:
        return remove_leftovers(stage_dir, "*.tmp")

    def pack(self, staged: Sequence[tuple[int, Path]], target: Path,
             attributes: Mapping[str, Any],
             progress: Callable[[int], None] | None = None) -> Path:
        arrays = {f"{pid:08d}": np.load(path) for pid, path in sorted(staged)}

        def write(tmp: Path) -> None:
            with tmp.open("wb") as f:
                np.savez(f, attributes=np.array(json.dumps(dict(attributes))), **arrays)

        return replace_atomically(target, write, target.with_name(f".{target.name}.tmp"))

    def check_packed(self, target: Path, unit_ids: Sequence[int]) -> str | None:
        return None

    def ensure_index(self, target: Path) -> None:
        """An npz needs no index."""

    def remove_stale(self, target: Path) -> int:
        return remove_leftovers(target.parent, f".{target.name}.tmp")

    def file_attributes(self, **run: Any) -> dict[str, Any]:
        return {"country": run["country"], "source": run["source"], "bands": list(run["bands"])}


@pytest.fixture
def npz_registered() -> Iterator[None]:
    writers.register_writer(NpzWriter())
    yield
    writers.unregister_writer("toy-npz")


def test_a_writer_registered_in_a_test_runs_through_etl_run(
    demo: DemoArchive, reference: Path, tmp_path: Path, npz_registered: None
) -> None:
    config = tmp_path / "etl.toml"
    config.write_text('writer = "toy-npz"\n')
    out = tmp_path / "out"
    args = [*run_args(demo, out), "--config", str(config)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert not (out / "2018" / "AT.h5").exists()
    with np.load(out / "2018" / "AT.toy.npz") as packed, h5py.File(reference, "r") as ref:
        assert json.loads(str(packed["attributes"]))["source"] == "stac"
        points = sorted(k for k in packed.files if k != "attributes")
        assert [f"Lucas_Point_{p}" for p in points] == sorted(ref)
        for p in points:
            np.testing.assert_array_equal(packed[p], ref[f"Lucas_Point_{p}"][()])
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "Nothing to do" in again.output
    assert str(out / "2018" / "AT.toy.npz") in "".join(again.output.split())  # rich wraps


def test_an_unknown_writer_is_refused_naming_the_key(demo: DemoArchive, tmp_path: Path) -> None:
    config = tmp_path / "etl.toml"
    config.write_text('writer = "parquet"\n')
    result = CliRunner().invoke(main, [*run_args(demo, tmp_path / "out"), "--config",
                                       str(config)])
    assert result.exit_code == 2
    assert "key 'writer': unknown output format 'parquet'" in " ".join(result.output.split())
