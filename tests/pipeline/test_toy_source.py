"""A source registered in the test (one module, one registry line) runs through ``etl run``.

Proves the seam: no stage, no config code and no CLI code names a source. The toy source
serves two scenes per point whose pixels encode the point, the scene and the band, so the
written file shows that every point went through the toy's ``find_scenes`` and ``fetch``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from exports import registry
from exports.registry import Scheduling, SourceContext, SourceSpec
from exports.source import (
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    SceneFilter,
    SceneSelection,
    band_dtype,
)
from exports.source_options import known_values
from lucas.errors import ConfigError
from pipeline.cli import main
from pipeline.demo import DemoArchive

DAYS = (10, 31)


def image_id(year: int, day: int) -> str:
    stamp = f"{year}01{day:02d}T000000"
    return f"{stamp}_{stamp}_T33TOY"


@dataclass(frozen=True)
class ToyOptions:
    level: int = field(default=100, metadata={"help": "Base value of every pixel."})

    @classmethod
    def from_values(cls, values: Mapping[str, Any], where: Callable[[str], str]) -> Self:
        kept = known_values(cls, values)
        if not isinstance(kept.get("level", 0), int) or kept.get("level", 0) < 0:
            raise ConfigError(f"{where('level')}: a whole number >= 0 is expected")
        return cls(**kept)

    def hash_fields(self) -> dict[str, Any]:
        return {"level": self.level}

    def scheduling(self) -> Scheduling:
        return Scheduling(in_process=True)


class ToySource:
    name = "toy"

    def __init__(self, level: int) -> None:
        self.level = level

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        scenes = [
            Scene(f"toy-{day}", image_id(year, day), datetime(year, 1, day, tzinfo=UTC),
                  f"dt{day}", "33TOY", 32633, 0.0, 0.0)
            for day in DAYS
        ]
        return SceneSelection({p.point_id: list(scenes) for p in points}, scenes_seen=2)

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        dtype = band_dtype(bands)
        for req, scenes in batch:
            data = np.zeros((len(scenes), req.grid.size, req.grid.size), dtype=dtype)
            for t, _ in enumerate(scenes):
                for b, name in enumerate(dtype.names or ()):  # SCL is u1: a class, 4 + t
                    data[name][t] = 4 + t if name == "SCL" else (
                        self.level + req.point_id % 100 + 10 * t + b)
            yield PointStack(req.point_id, data, [s.image_id for s in scenes],
                             [s.acquired for s in scenes])


def build_toy(options: ToyOptions, context: SourceContext) -> ToySource:
    return ToySource(options.level)


@pytest.fixture
def toy_registered() -> Iterator[None]:
    registry.register(SourceSpec("toy", ToyOptions, f"{__name__}:build_toy", help="a toy"))
    yield
    registry.unregister("toy")


def _run(demo: DemoArchive, out: Path, config: Path, *extra: str) -> Any:
    return CliRunner().invoke(main, ["run", "--config", str(config), "--country", "AT",
                                     "--lucas", str(demo.lucas_path), "--out", str(out),
                                     "--bands", "SCL,B2,B8", "--workers", "1", *extra])


def test_a_source_registered_in_a_test_runs_through_etl_run(
    demo: DemoArchive, tmp_path: Path, toy_registered: None
) -> None:
    config = tmp_path / "etl.toml"
    config.write_text('[run.toy]\nlevel = 1000\n')
    out = tmp_path / "out"
    result = _run(demo, out, config, "--source", "toy")
    assert result.exit_code == 0, result.output
    with h5py.File(out / "2018" / "AT.h5", "r") as f:
        assert f.attrs["source"] == "toy"
        assert sorted(f) == [f"Lucas_Point_{pid:08d}" for pid in sorted(demo.point_ids)]
        for pid in demo.point_ids:
            ds = f[f"Lucas_Point_{pid:08d}"]
            assert ds.shape == (2, 64, 64) and ds.dtype.names == ("SCL", "B2", "B8")
            # step 1 (the second scene), band B8 (the third field), at the point's pixel
            assert int(ds["B8"][1, 32, 32]) == 1000 + pid % 100 + 10 + 2
            assert int(ds["SCL"][0, 0, 63]) == 4
            assert list(ds.attrs["Image_ID"]) == [image_id(2018, d) for d in DAYS]
    again = _run(demo, out, config, "--source", "toy")
    assert again.exit_code == 0 and "Nothing to do" in again.output


def test_a_toy_option_is_validated_and_decides_the_settings(
    demo: DemoArchive, tmp_path: Path, toy_registered: None
) -> None:
    config = tmp_path / "etl.toml"
    config.write_text('[run]\nsource = "toy"\n[run.toy]\nlevel = -1\n')
    bad = _run(demo, tmp_path / "out", config)
    assert bad.exit_code == 2 and "key 'level': a whole number >= 0" in bad.output
    config.write_text('[run]\nsource = "toy"\n[run.toy]\nlevel = 1\n')
    assert _run(demo, tmp_path / "out", config).exit_code == 0
    config.write_text('[run]\nsource = "toy"\n[run.toy]\nlevel = 2\n')
    changed = _run(demo, tmp_path / "out", config)
    assert changed.exit_code == 2 and "other settings" in changed.output
