"""The real Antwerp L2A extract in ../shared through ``etl run``: values equal the COGs."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
import rasterio
from click.testing import CliRunner

from pipeline.cli import main
from tests.fixtures.lucas_tables import harmonised_frame, write_table

pytestmark = pytest.mark.realdata

# The extract (EPSG:32631, 52×46 px) holds no node of the LAEA 1 km grid, so the survey row
# uses the extract's centre as its theoretical location with the nearest POINT_ID: ingest
# reports the ~300 m disagreement as a location warning, as it would for a real table.
POINT_ID = 39213149
CENTER_LAT, CENTER_LON = 51.31100939294479, 4.2641643008592265
BAND_FILES = {"B2": "B02.tif", "B3": "B03.tif", "B4": "B04.tif", "B8": "B08.tif", "SCL": "SCL.tif"}


def _antwerp_table(path: Path) -> Path:
    frame = harmonised_frame(1, countries=("BE",), year=2023)
    frame.loc[0, ["point_id", "nuts0", "th_lat", "th_long"]] = [
        str(POINT_ID), "BE", f"{CENTER_LAT:.9f}", f"{CENTER_LON:.9f}"
    ]
    frame.loc[0, ["lc1", "lc1_label"]] = ["A11", "Buildings with one to three floors"]
    return write_table(frame, path)


def test_antwerp_patch_values_equal_the_source_cogs(shared_dir: Path, tmp_path: Path) -> None:
    catalog = shared_dir / "s2" / "belgium_antwerp_l2a"
    out = tmp_path / "out"
    table = _antwerp_table(tmp_path / "t.csv")
    args = [
        "run", "--country", "BE", "--year", "2023", "--lucas", str(table),
        "--source", "stac", "--catalog", str(catalog), "--out", str(out), "--workers", "1",
        "--bands", "B2,B3,B4,B8,SCL", "--max-cloud-cover", "100", "--max-scene-nodata", "100",
        "--max-patch-nodata", "100", "--buffer-m", "0",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with h5py.File(out / "2023" / "BE.h5", "r") as f:
        im = f[f"Lucas_Point_{POINT_ID}"]
        assert im.dtype.names == ("SCL", "B2", "B3", "B4", "B8")
        assert im.shape == (19, 64, 64)  # all 19 dates: cloud and no-data filters opened
        assert im.attrs["crs"] == "EPSG:32631"
        transform = rasterio.Affine(*im.attrs["transform"][:6])
        ids = [s.decode() if isinstance(s, bytes) else s for s in im.attrs["Image_ID"]]
        assert [i[:8] for i in ids] == sorted(i[:8] for i in ids)
        data = im[()]
    items = {}
    for folder in catalog.iterdir():
        if folder.is_dir():
            props = json.loads((folder / f"{folder.name}.json").read_text())["properties"]
            items[props["datetime"][:10].replace("-", "")] = folder
    checked = 0
    for t, image_id in enumerate(ids):
        folder = items[image_id[:8]]
        for band, name in BAND_FILES.items():
            with rasterio.open(folder / name) as src:
                for row, col in ((32, 32), (10, 40), (50, 20)):
                    x, y = transform @ (col + 0.5, row + 0.5)
                    r, c = src.index(x, y)
                    inside = 0 <= r < src.height and 0 <= c < src.width
                    expected = int(src.read(1)[r, c]) if inside else 0
                    assert int(data[band][t, row, col]) == expected, (image_id, band, row, col)
                    checked += inside
    assert checked > 19 * 5  # most probes fall inside the 52×46 px extract
    # Pixels off the extract's edge are no-data (0) in every band.
    assert (data["SCL"][:, 0, 0] == 0).all()
