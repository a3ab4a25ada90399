"""Catalog hrefs are confined (exports/stac/hrefs.py at work): a static catalog's assets and
item links stay in its folder (or --asset-root), remote ones reach only allowed hosts; a
STAC API's assets stay on its host unless --allow-hosts names another. Loopback only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from exports.source import PointStack, SceneFilter
from exports.stac.api import api_source
from exports.stac.http import HttpSettings, RetryingStacApiIO
from exports.stac.options import StacOptions
from exports.stac.source import StacSource
from lucas.errors import SourceError
from pipeline.cli import main
from tests.fixtures.stac_server import LoopbackStac
from tests.fixtures.synthetic_s2 import point_request, tile_around, write_catalog, write_scene

TILE = tile_around("33UUP", 32633, 48.0, 12.2, 300)
WHEN = datetime(2018, 5, 2, 10, 20, 30, tzinfo=UTC)
POINT = point_request(1, 48.0, 12.2)
BANDS = ("SCL", "B2")
FAST = HttpSettings(connect_timeout_s=1.0, read_timeout_s=1.0, attempts=1, backoff_s=0.01,
                    backoff_max_s=0.05, jitter_s=0.0)


def _select(source: StacSource) -> Any:
    return source.find_scenes([POINT], 2018, SceneFilter())


def _fetch(source: StacSource, selection: Any) -> Any:
    return next(iter(source.fetch([(POINT, selection.scenes[1])], BANDS, 100.0)))


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A catalog in cat/ whose item's assets lie in assets/, beside it (``../assets/…``)."""
    item = write_scene(tmp_path / "assets", "S2A_outside", TILE, WHEN, bands=BANDS)
    return write_catalog(tmp_path / "cat", [item])


def test_assets_outside_the_catalog_are_refused_per_scene(
    outside: Path, open_calls: list[str]
) -> None:
    selection = _select(StacSource.from_catalog(outside, bands=BANDS))
    assert selection.scenes[1] == []
    [drop] = selection.dropped
    assert drop.scene_id == "S2A_outside" and drop.kind == "refused_href"
    assert "item S2A_outside" in drop.reason and "assets/S2A_outside" in drop.reason
    assert "--asset-root DIR" in drop.reason
    assert open_calls == []


def test_asset_root_allows_the_folder(outside: Path, tmp_path: Path) -> None:
    source = StacSource.from_catalog(outside, bands=BANDS, asset_roots=[tmp_path / "assets"])
    selection = _select(source)
    assert [s.scene_id for s in selection.scenes[1]] == ["S2A_outside"]
    stack = _fetch(source, selection)
    assert isinstance(stack, PointStack) and stack.data.shape[0] == 1


def test_etc_passwd_is_never_opened(tmp_path: Path, open_calls: list[str]) -> None:
    item = write_scene(tmp_path, "S2A_passwd", TILE, WHEN, bands=BANDS)
    catalog = write_catalog(tmp_path, [item])
    item_file = next(tmp_path.rglob("S2A_passwd.json"))
    d = json.loads(item_file.read_text())
    d["assets"]["scl"]["href"] = "../../../../../../../../../../etc/passwd"
    item_file.write_text(json.dumps(d))
    open_calls.clear()  # the COGs written above
    selection = _select(StacSource.from_catalog(catalog, bands=BANDS))
    [drop] = selection.dropped
    assert drop.kind == "refused_href" and "/etc/passwd" in drop.reason
    assert open_calls == []


def test_a_scene_from_the_ledger_is_checked_again_before_it_is_opened(
    outside: Path, tmp_path: Path, open_calls: list[str]
) -> None:
    """Scenes selected by an earlier run (or another --asset-root) come from the ledger."""
    allowed = StacSource.from_catalog(outside, bands=BANDS, asset_roots=[tmp_path / "assets"])
    selection = _select(allowed)
    strict = StacSource.from_catalog(outside, bands=BANDS)
    stack = _fetch(strict, selection)
    assert isinstance(stack, PointStack) and stack.data.shape[0] == 0
    assert [d.kind for d in stack.dropped] == ["refused_href"]
    assert "--asset-root DIR" in stack.dropped[0].reason
    assert open_calls == []


@pytest.fixture
def remote_item(tmp_path: Path) -> Iterator[tuple[Path, LoopbackStac]]:
    """A catalog whose item link is an http URL on a loopback server."""
    served = tmp_path / "served"
    item = write_scene(served, "S2A_remote", TILE, WHEN, bands=BANDS)
    write_catalog(served, [item])
    with LoopbackStac.from_catalog(served / "catalog.json") as server:
        item_url = server.file_url(next(served.rglob("S2A_remote.json")))
        cat = tmp_path / "cat"
        cat.mkdir()
        (cat / "catalog.json").write_text(json.dumps({
            "type": "Catalog", "id": "linked", "stac_version": "1.0.0",
            "description": "an item link to a URL",
            "links": [{"rel": "item", "href": item_url, "type": "application/json"}]}))
        yield cat / "catalog.json", server


def test_an_item_link_to_a_loopback_url_is_not_fetched(
    remote_item: tuple[Path, LoopbackStac]
) -> None:
    catalog, server = remote_item
    selection = _select(StacSource.from_catalog(catalog, bands=BANDS))
    assert server.stats.requests == {}  # nothing was asked of the server
    [drop] = selection.dropped
    assert drop.kind == "refused_href" and drop.scene_id.startswith(server.url)
    port = server.url.rsplit(":", 1)[1]
    assert f"--allow-hosts 127.0.0.1:{port}" in drop.reason


def test_allow_hosts_permits_the_loopback_item_and_its_assets(
    remote_item: tuple[Path, LoopbackStac]
) -> None:
    catalog, server = remote_item
    source = StacSource.from_catalog(catalog, bands=BANDS,
                                     allow_hosts=[server.url.removeprefix("http://")])
    selection = _select(source)
    assert [s.scene_id for s in selection.scenes[1]] == ["S2A_remote"]
    assert server.stats.by_kind["/files"] >= 1


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[LoopbackStac, LoopbackStac]]:
    """An API whose items' assets lie on a second loopback server (another port)."""
    item = write_scene(tmp_path, "S2A_elsewhere", TILE, WHEN, bands=BANDS)
    catalog = write_catalog(tmp_path, [item])
    with LoopbackStac.from_catalog(catalog) as files, \
            LoopbackStac.from_catalog(catalog, asset_server=files) as api:
        yield api, files


def test_api_assets_on_another_loopback_host_are_refused_by_default(
    two_servers: tuple[LoopbackStac, LoopbackStac]
) -> None:
    api, files = two_servers
    source = api_source(api.url, bands=BANDS, http=FAST)
    selection = _select(source)
    assert selection.scenes[1] == []
    [drop] = selection.dropped
    assert drop.kind == "refused_href" and "item S2A_elsewhere" in drop.reason
    assert f"--allow-hosts {files.url.removeprefix('http://')}" in drop.reason
    assert files.stats.requests == {}


def test_api_assets_on_an_allowed_host_are_read(
    two_servers: tuple[LoopbackStac, LoopbackStac]
) -> None:
    api, files = two_servers
    source = api_source(api.url, bands=BANDS, http=FAST,
                        allow_hosts=[files.url.removeprefix("http://")])
    selection = _select(source)
    stack = _fetch(source, selection)
    assert isinstance(stack, PointStack) and stack.data.shape[0] == 1
    assert files.stats.by_kind["/files"] > 0


def test_api_requests_stay_on_allowed_hosts(two_servers: tuple[LoopbackStac, Any]) -> None:
    """A ``next`` link elsewhere or a local file is refused before anything is sent."""
    api, files = two_servers
    io = RetryingStacApiIO(FAST, hrefs=api_source(api.url).discovery.hrefs)  # type: ignore[attr-defined]
    with pytest.raises(SourceError, match="refused.*--allow-hosts"):
        io.request(f"{files.url}/search")
    with pytest.raises(SourceError, match="refused.*not an http"):
        io.read_text("/etc/passwd")
    with pytest.raises(SourceError, match="never read"):
        io.request("http://169.254.169.254/latest/meta-data/")
    assert files.stats.requests == {}


@pytest.mark.parametrize("value", ["169.254.169.254", "example.org:notaport"])
def test_a_bad_allow_hosts_is_one_line_and_exit_2(tmp_path: Path, value: str) -> None:
    result = CliRunner().invoke(main, [
        "run", "--country", "AT", "--lucas", str(tmp_path / "none.csv"), "--source", "stac",
        "--catalog", str(tmp_path), "--allow-hosts", value, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "--allow-hosts" in result.output and "Traceback" not in result.output
    assert value in result.output


def test_flags_repeat_and_split_on_commas(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert "--asset-root" in result.output and "--allow-hosts" in result.output
    options = StacOptions.from_values(
        {"allow_hosts": ("a.example:81,b.example", "c.example"),
         "asset_root": [str(tmp_path / "x"), str(tmp_path / "y")]}, lambda k: k)
    assert options.allow_hosts == ("a.example:81", "b.example", "c.example")
    assert options.asset_root == (tmp_path / "x", tmp_path / "y")
    assert "allow_hosts" not in options.hash_fields()  # the output does not change


def test_config_file_lists_are_relative_to_the_file(tmp_path: Path) -> None:
    from pipeline.config import build_config, load_toml

    cfg_file = tmp_path / "etl.toml"
    cfg_file.write_text('[run]\nout = "o"\nsource = "stac"\ncatalog = "cat"\n[run.stac]\n'
                        'asset-root = ["assets", "/abs"]\nallow-hosts = "127.0.0.1:8080"\n')
    cfg = build_config(load_toml(cfg_file), {}, cfg_file)
    assert cfg.source_options.asset_root == (tmp_path / "assets", Path("/abs"))
    assert cfg.source_options.allow_hosts == ("127.0.0.1:8080",)
    assert str(tmp_path / "assets") in cfg.scheduling.worker_inputs
