"""Real Earth Engine, on request: one point end to end, so a user can check their setup.

    EE_PROJECT=my-cloud-project pytest -m gee tests/pipeline/test_gee_real.py

Skipped without credentials (``earthengine authenticate``, gcloud application-default
credentials, or a service-account key in ``GOOGLE_APPLICATION_CREDENTIALS``) or without a
project (``EE_PROJECT`` or ``GOOGLE_CLOUD_PROJECT``). The batch test also needs
``EE_GCS_BUCKET``, a bucket the account can write and read. These are the only tests that
leave the machine (the network guard lets ``gee``-marked tests through).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from lucas.location import grid_latlon
from pipeline.cli import main

pytestmark = pytest.mark.gee

POINT_ID = 47842758  # a LAEA grid node near Wiener Neustadt, Austria (47.76 N, 16.18 E)


def _credentials() -> list[str]:
    """Flags for the credentials found (empty: user credentials); skip when there are none."""
    key = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key and Path(key).is_file():
        return ["--gee-key-file", key]
    stored = [Path("~/.config/earthengine/credentials").expanduser(),
              Path("~/.config/gcloud/application_default_credentials.json").expanduser()]
    if not any(p.is_file() for p in stored):
        pytest.skip("no Earth Engine credentials: run `earthengine authenticate`, or set "
                    "GOOGLE_APPLICATION_CREDENTIALS to a service-account key")
    return []


def _project() -> str:
    project = os.environ.get("EE_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        pytest.skip("no Earth Engine project: set EE_PROJECT=<cloud project id>")
    return project


def _one_point_table(folder: Path) -> Path:
    lat, lon = grid_latlon(np.array([POINT_ID]))
    path = folder / "one_point.csv"
    path.write_text(
        "point_id,year,nuts0,th_lat,th_long,lc1,lc1_label,lu1,lu1_label\n"
        f"{POINT_ID},2018,AT,{lat[0]:.8f},{lon[0]:.8f},B11,Common wheat,U111,Agriculture\n"
    )
    return path


def _run(tmp_path: Path, *extra: str) -> Path:
    args = ["run", "--country", "AT", "--year", "2018", "--lucas", str(_one_point_table(tmp_path)),
            "--source", "gee", "--project", _project(), *_credentials(),
            "--out", str(tmp_path / "out"), "--workers", "4", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return tmp_path / "out" / "2018" / "AT.h5"


def _check(path: Path) -> None:
    with h5py.File(path, "r") as f:
        im = f[f"Lucas_Point_{POINT_ID:08d}"]
        assert im.shape[0] >= 10 and im.shape[1:] == (64, 64), im.shape
        ids = [i.decode() if isinstance(i, bytes) else str(i) for i in im.attrs["Image_ID"]]
        assert all(i.startswith("2018") and len(i) == 38 for i in ids)
        assert ids == sorted(ids)
        assert (im["SCL"][:] < 12).all() and (im["B4"][:, 32, 32] > 0).all()
        assert im.attrs["crs"] == "EPSG:32633"


def test_one_real_point_end_to_end(tmp_path: Path) -> None:
    _check(_run(tmp_path))


def test_one_real_point_through_a_batch_export(tmp_path: Path) -> None:
    bucket = os.environ.get("EE_GCS_BUCKET")
    if not bucket:
        pytest.skip("the batch path needs EE_GCS_BUCKET=<bucket the account can write>")
    _check(_run(tmp_path, "--mode", "batch", "--gcs-bucket", bucket,
                "--gcs-prefix", "sen4map-etl-test"))


def test_lucas_from_the_catalog(tmp_path: Path) -> None:
    args = ["ingest", "--country", "LU", "--year", "2018", "--lucas",
            "gee:JRC/LUCAS_HARMO/THLOC/V1", "--project", _project(), *_credentials(),
            "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "2018" / "points" / "LU.parquet").exists()
