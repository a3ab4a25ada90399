"""``--clc`` dispatch: a vector file, a GeoTIFF, an Earth Engine asset, or a clear refusal."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from exports.clc.open import open_clc
from exports.clc.raster import RasterClc
from exports.clc.vector import VectorClc
from lucas.errors import ConfigError, InputFormatError
from tests.exports.clc_fixtures import X0, Y1, write_gpkg, write_tif


def test_vector_files_open_as_vector_sources(tmp_path: Path) -> None:
    square = [(box(X0, Y1 - 50, X0 + 50, Y1), "211")]
    for name, driver in (("clc.gpkg", "GPKG"), ("CLC.GPKG", "GPKG"), ("clc.fgb", "FlatGeobuf"),
                         ("clc.geojson", "GeoJSON"), ("clc.shp", "ESRI Shapefile")):
        path = write_gpkg(tmp_path / name, square, driver=driver)
        source = open_clc(path)
        assert isinstance(source, VectorClc) and source.name == "vector", name
        assert open_clc(str(path)).description.startswith(str(path))


def test_geotiffs_open_as_raster_sources(tmp_path: Path) -> None:
    values = np.array([[211]], dtype=np.uint16)
    for name in ("clc.tif", "clc.tiff", "clc.TIF"):
        path = write_tif(tmp_path / name, values, transform=Affine(100, 0, X0, 0, -100, Y1))
        source = open_clc(path)
        assert isinstance(source, RasterClc) and source.coarse, name


def test_a_missing_file_of_a_known_kind_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="file not found"):
        open_clc(tmp_path / "U2018_CLC2018_V2020_20u1.gpkg")
    with pytest.raises(InputFormatError, match="file not found"):
        open_clc(tmp_path / "clc.tif")


@pytest.mark.parametrize("spec", ["clc.csv", "clc", "", "s3://bucket/clc.zip", "ee:ASSET"])
def test_anything_else_is_refused_naming_the_flag_and_the_forms(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_clc(spec)
    message = str(info.value)
    assert message.startswith("--clc ") and "\n" not in message
    for form in (".gpkg", ".shp", ".geojson", ".fgb", ".tif", "gee:<asset id>"):
        assert form in message


class _FakeGeeClc:
    name = "gee"
    coarse = True

    def __init__(self, asset: str, *, project: str | None, key_file: Path | None) -> None:
        self.asset, self.project, self.key_file = asset, project, key_file
        self.description = asset

    @classmethod
    def connect(cls, asset: str, *, project: str | None, key_file: Path | None) -> _FakeGeeClc:
        return cls(asset, project=project, key_file=key_file)

    def for_area(self, epsg: int, bounds: tuple[float, float, float, float]) -> Any:
        raise NotImplementedError


def test_gee_specs_go_to_the_earth_engine_source(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("exports.clc.gee")
    module.GeeClc = _FakeGeeClc  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "exports.clc.gee", module)
    source = open_clc("gee:COPERNICUS/CORINE/V20/100m/2018", project="my-project",
                      key_file=Path("key.json"))
    assert isinstance(source, _FakeGeeClc)
    assert (source.asset, source.project, source.key_file) == (
        "COPERNICUS/CORINE/V20/100m/2018", "my-project", Path("key.json"))


def test_gee_without_the_earth_engine_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "exports.clc.gee", None)  # import fails: not installed
    with pytest.raises(ConfigError, match="Earth Engine CORINE source not available") as info:
        open_clc("gee:COPERNICUS/CORINE/V20/100m/2018")
    assert str(info.value).startswith("--clc gee:COPERNICUS/CORINE/V20/100m/2018: ")


def test_gee_without_an_asset_id_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--clc gee:: no asset id after gee:"):
        open_clc("gee:")
