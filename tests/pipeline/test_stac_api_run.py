"""``etl run --stac-url`` through a loopback STAC API serving the demo archive: the same
HDF5 as the static catalog route, searches per region, searches cached in the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from exports.stac.http import EARTH_SEARCH_URL
from pipeline.cli import main
from pipeline.cli.options import config_from_flags
from pipeline.demo import DemoArchive
from pipeline.ledger import Ledger
from tests.fixtures.stac_server import LoopbackStac
from tests.pipeline.h5compare import content


@pytest.fixture(scope="module")
def api(demo: DemoArchive) -> Iterator[LoopbackStac]:
    with LoopbackStac.from_catalog(demo.catalog_path) as server:
        yield server


def api_args(demo: DemoArchive, url: str, out: Path, *extra: str) -> list[str]:
    return ["run", "--country", "AT", "--lucas", str(demo.lucas_path), "--source", "stac",
            "--stac-url", url, "--out", str(out), "--workers", "1", *extra]


def same_datasets(a: Path, b: Path) -> dict[str, Any]:
    """Assert equal datasets (values, dtype, shape, attributes); return the differing file
    attributes as {name: (a, b)}."""
    ca, cb = content(a), content(b)
    fa, fb = ca.pop("file_attrs"), cb.pop("file_attrs")
    assert sorted(ca) == sorted(cb), "different datasets"
    for key in ca:
        assert ca[key] == cb[key], f"{key} differs"
    return {k: (fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys())
            if fa.get(k) != fb.get(k)}


def test_run_through_the_api_writes_the_static_catalog_hdf5(
    demo: DemoArchive, reference: Path, api: LoopbackStac, tmp_path: Path
) -> None:
    api.reset_stats()
    api.fail("/search", 429, 503)  # throttled, then a server error: both retried
    api.fail(api.files_prefix, 503)  # GDAL retries an asset's 503 itself
    result = CliRunner().invoke(main, api_args(demo, api.url, tmp_path))
    assert result.exit_code == 0, result.output
    differing = same_datasets(reference, tmp_path / "2018" / "AT.h5")
    assert set(differing) == {"config_hash"}  # the source's settings: catalog vs URL
    assert api.stats.statuses[429] == 1 and api.stats.statuses[503] == 2
    # The demo's points sit in two 1° cells (either side of 12°E): two searches of one
    # page each, whatever the number of points and scenes (+ the two retried requests).
    assert api.stats.by_kind["/search"] == 2 + 2
    assert api.stats.statuses[206] > 0  # range reads
    with Ledger.in_folder(tmp_path) as ledger:
        keys = ledger._db.execute("SELECT key FROM meta WHERE key LIKE 'stac-search/%'")
        assert len(keys.fetchall()) == 2


def test_a_resumed_run_repeats_no_search(
    demo: DemoArchive, api: LoopbackStac, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, api_args(demo, api.url, tmp_path, "--bands", "SCL,B4"))
    assert result.exit_code == 0, result.output
    with Ledger.in_folder(tmp_path) as ledger:  # as if killed before select had finished
        for stage in ("select", "export", "pack"):
            ledger.forget(stage)
    (tmp_path / "2018" / "AT.h5").unlink()
    api.reset_stats()
    result = CliRunner().invoke(main, api_args(demo, api.url, tmp_path, "--bands", "SCL,B4"))
    assert result.exit_code == 0, result.output
    assert api.stats.by_kind["/search"] == 0 and api.stats.by_kind["/"] == 0
    assert api.stats.by_kind["/files"] > 0  # the export did run again


def test_earth_search_alias_and_url_give_one_config(tmp_path: Path) -> None:
    by_alias = config_from_flags(None, out=tmp_path, stac_url="earth-search")
    by_url = config_from_flags(None, out=tmp_path, stac_url=EARTH_SEARCH_URL)
    assert by_alias.source_options.stac_url == EARTH_SEARCH_URL
    assert by_alias.output_hash() == by_url.output_hash()
    assert by_alias.source_options.collection == "sentinel-2-l2a"


def test_catalog_and_stac_url_together_are_refused(demo: DemoArchive, tmp_path: Path) -> None:
    args = api_args(demo, "earth-search", tmp_path, "--catalog", str(demo.catalog_path))
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "either --catalog" in result.output
