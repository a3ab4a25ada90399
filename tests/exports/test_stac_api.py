"""STAC API discovery against a loopback server: region searches, paging, thresholds,
retries of 429/503, timeouts of stalled responses, the search cache."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pystac
import pytest

from exports.source import PointRequest, SceneFilter
from exports.stac.api import (
    StacApiDiscovery,
    decode_items,
    encode_items,
    threshold_filter,
    threshold_query,
    trim_item,
)
from exports.stac.http import EARTH_SEARCH_URL, HttpSettings, resolve_stac_url
from lucas.errors import ConfigError, SourceError
from tests.fixtures.stac_server import LoopbackStac
from tests.fixtures.synthetic_s2 import make_item, point_request, tile_around

# Three tiles in three different 1° cells, 12 dates each; every third date is cloudy.
TILES = [
    tile_around("32TPT", 32632, 47.5, 11.5, 600),
    tile_around("33TVN", 32633, 47.5, 14.5, 600),
    tile_around("33UWP", 32633, 48.5, 15.5, 600),
]
DATES = [datetime(2018, 1, 5, 10, 20, 30, tzinfo=UTC) + timedelta(days=30 * k) for k in range(12)]
FAST = HttpSettings(connect_timeout_s=2.0, read_timeout_s=0.5, attempts=3, backoff_s=0.01,
                    backoff_max_s=0.05, jitter_s=0.0)


def _items() -> list[pystac.Item]:
    out = []
    for tile in TILES:
        for k, when in enumerate(DATES):
            cloud = 80.0 if k % 3 == 2 else 10.0
            out.append(make_item(f"S2A_{tile.name}_{when:%Y%m%d}_0_L2A", tile, when,
                                 properties={"eo:cloud_cover": cloud}))
    other_year = datetime(2017, 6, 1, 10, 20, 30, tzinfo=UTC)
    out.append(make_item(f"S2A_{TILES[0].name}_20170601_0_L2A", TILES[0], other_year))
    return out


def _points(per_tile: int, tiles: list[int] | None = None) -> list[PointRequest]:
    """``per_tile`` points near the centre of each chosen tile (a few hundred metres apart)."""
    centres = [(47.5, 11.5), (47.5, 14.5), (48.5, 15.5)]
    out = []
    for t in tiles if tiles is not None else range(len(TILES)):
        lat, lon = centres[t]
        for k in range(per_tile):
            out.append(point_request(1000 * t + k + 1, lat + 0.004 * k, lon + 0.004 * k))
    return out


@pytest.fixture
def api(tmp_path: Path) -> Any:
    with LoopbackStac(_items(), Path("/"), max_limit=5) as server:
        yield server


def _discovery(api: LoopbackStac, **kw: Any) -> StacApiDiscovery:
    kw.setdefault("http", FAST)
    kw.setdefault("page_size", 5)
    return StacApiDiscovery(api.url, **kw)


def test_searches_grow_with_regions_not_with_points_or_scenes(api: LoopbackStac) -> None:
    # 8 items of 2018 under 40 % cloud per tile, 5 a page: 2 pages per cell.
    few = _discovery(api).items_for_points(_points(1), 2018, SceneFilter())
    searches_few = api.stats.by_kind["/search"]
    api.reset_stats()
    many = _discovery(api).items_for_points(_points(25), 2018, SceneFilter())
    searches_many = api.stats.by_kind["/search"]
    assert searches_few == searches_many == 3 * 2  # 3 cells × 2 pages, for 3 or 75 points
    assert [it.id for it in few] == [it.id for it in many]
    assert len(many) == 3 * 8  # 75 points × 8 scenes = 600 point-scenes, from 6 requests
    api.reset_stats()
    _discovery(api).items_for_points(_points(25, [0]), 2018, SceneFilter())
    assert api.stats.by_kind["/search"] == 1 * 2  # one tile's region: one search


def test_searches_are_paged_posts_with_region_year_and_thresholds(api: LoopbackStac) -> None:
    items = _discovery(api).items_for_points(_points(1, [0]), 2018, SceneFilter(40.0, 5.0))
    first = api.searches[0]
    assert first["intersects"]["type"] == "Polygon"
    assert first["datetime"] == "2018-01-01T00:00:00Z/2019-01-01T00:00:00Z"
    assert first["query"] == {"eo:cloud_cover": {"lt": 40.0},
                              "s2:nodata_pixel_percentage": {"lt": 5.0}}
    assert first["collections"] == ["sentinel-2-l2a"]
    assert api.stats.methods["POST"] == 2 and "token" in api.searches[1]
    assert all(it.properties["eo:cloud_cover"] < 40 for it in items)
    assert all(it.datetime is not None and it.datetime.year == 2018 for it in items)


def test_cql2_filter_when_the_api_has_no_query_extension() -> None:
    with LoopbackStac(_items(), Path("/"), with_query=False, with_filter=True) as server:
        items = _discovery(server).items_for_points(_points(1, [0]), 2018, SceneFilter())
        assert "query" not in server.searches[0]
        assert server.searches[0]["filter"]["op"] == "and"
    assert len(items) == 8


def test_thresholds_of_100_percent_are_not_sent() -> None:
    assert threshold_query(SceneFilter(100.0, 100.0)) == {}
    assert threshold_query(SceneFilter(30.0, 100.0)) == {"eo:cloud_cover": {"lt": 30.0}}
    assert threshold_filter({"eo:cloud_cover": {"lt": 30.0}}) == {
        "op": "<", "args": [{"property": "eo:cloud_cover"}, 30.0]}


def test_429_and_503_are_retried_with_bounded_backoff(api: LoopbackStac) -> None:
    waits: list[float] = []
    api.fail("/search", 429, 503)
    disc = _discovery(api, sleep=waits.append)
    items = disc.items_for_points(_points(1, [0]), 2018, SceneFilter())
    assert len(items) == 8
    assert api.stats.statuses[429] == 1 and api.stats.statuses[503] == 1
    assert len(waits) == 2 and all(w <= FAST.backoff_max_s for w in waits)


def test_persistent_503_fails_the_search_as_transient(api: LoopbackStac) -> None:
    api.fail("/search", *[503] * 10)
    disc = _discovery(api, sleep=lambda s: None)
    with pytest.raises(SourceError, match="HTTP 503") as err:
        disc.items_for_points(_points(1, [0]), 2018, SceneFilter())
    assert err.value.transient
    assert api.stats.by_kind["/search"] == FAST.attempts  # bounded


def test_a_client_error_is_not_retried(api: LoopbackStac) -> None:
    api.fail("/search", 400)
    with pytest.raises(SourceError, match="HTTP 400") as err:
        _discovery(api).items_for_points(_points(1, [0]), 2018, SceneFilter())
    assert not err.value.transient
    assert api.stats.by_kind["/search"] == 1


@pytest.mark.parametrize("mid_body", [False, True])
def test_a_stalled_response_times_out_and_is_retried(api: LoopbackStac, mid_body: bool) -> None:
    api.stall("/search", 1, mid_body=mid_body)
    start = time.perf_counter()
    items = _discovery(api).items_for_points(_points(1, [0]), 2018, SceneFilter())
    assert len(items) == 8
    assert time.perf_counter() - start < 5.0  # one 0.5 s timeout, not the 30 s stall


def test_a_search_that_stalls_every_time_fails_in_bounded_time(api: LoopbackStac) -> None:
    api.stall("/search", 10)
    start = time.perf_counter()
    with pytest.raises(SourceError, match="timed out") as err:
        _discovery(api).items_for_points(_points(1, [0]), 2018, SceneFilter())
    assert err.value.transient
    assert time.perf_counter() - start < FAST.attempts * FAST.read_timeout_s + 3.0


class DictCache:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def put(self, key: str, value: str) -> None:
        self.data[key] = value


def test_cached_searches_are_not_repeated(api: LoopbackStac) -> None:
    cache = DictCache()
    first = _discovery(api, cache=cache).items_for_points(_points(2), 2018, SceneFilter())
    assert len(cache.data) == 3 and all(k.startswith("stac-search/2018/") for k in cache.data)
    api.reset_stats()
    again = _discovery(api, cache=cache).items_for_points(_points(2), 2018, SceneFilter())
    assert sum(api.stats.requests.values()) == 0  # not even the landing page
    assert [it.to_dict() for it in again] == [it.to_dict() for it in first]
    other = _discovery(api, cache=cache).items_for_points(_points(2), 2018, SceneFilter(20.0))
    assert api.stats.by_kind["/search"] == 6 and len(cache.data) == 6  # other thresholds
    assert len(other) == len(first)
    api.reset_stats()
    _discovery(api, cache=cache, refresh=True).items_for_points(_points(2), 2018, SceneFilter())
    assert api.stats.by_kind["/search"] == 6  # --force searches again


def test_an_unreadable_cache_entry_is_searched_again(api: LoopbackStac) -> None:
    cache = DictCache()
    _discovery(api, cache=cache).items_for_points(_points(1, [0]), 2018, SceneFilter())
    cache.data = dict.fromkeys(cache.data, "not base64 zlib")
    api.reset_stats()
    items = _discovery(api, cache=cache).items_for_points(_points(1, [0]), 2018, SceneFilter())
    assert len(items) == 8 and api.stats.by_kind["/search"] == 2


def test_items_for_a_bbox_cover_every_cell(api: LoopbackStac) -> None:
    items = _discovery(api).items((11.2, 47.2, 14.8, 47.8), 2018)
    assert {it.properties["s2:mgrs_tile"] for it in items} == {"32TPT", "33TVN"}
    assert len(items) == 24  # no thresholds; the 2017 item is outside the year's range


def test_trim_keeps_band_assets_with_absolute_hrefs() -> None:
    d = {
        "id": "x", "geometry": None, "bbox": None, "properties": {"a": 1},
        "links": [{"rel": "self", "href": "https://api.example/collections/c/items/x"}],
        "assets": {"blue": {"href": "x/B02.tif", "type": "image/tiff", "title": "Blue"},
                   "thumbnail": {"href": "https://cdn.example/x.jpg"},
                   "B03": {"href": "https://data.example/B03.tif"}},
    }
    out = trim_item(d)
    assert out["assets"] == {"blue": {"href": "https://api.example/collections/c/items/x/B02.tif",
                                      "type": "image/tiff"},
                             "B03": {"href": "https://data.example/B03.tif"}}
    assert out["links"] == [] and out["properties"] == {"a": 1}
    assert decode_items(encode_items([out])) == [out]


def test_stac_url_aliases_and_bad_urls() -> None:
    assert resolve_stac_url("earth-search") == EARTH_SEARCH_URL
    assert resolve_stac_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    with pytest.raises(ConfigError, match="earth-search"):
        resolve_stac_url("earth-serch")
    with pytest.raises(ConfigError, match="cell size"):
        StacApiDiscovery("earth-search", cell_deg=0.0)


def test_an_unreachable_api_fails_as_transient() -> None:
    with LoopbackStac([], Path("/")) as server:
        url = server.url  # closed when the block ends: the port then refuses connections
    with pytest.raises(SourceError) as err:
        StacApiDiscovery(url, http=FAST, sleep=lambda s: None).items_for_points(
            _points(1, [0]), 2018, SceneFilter())
    assert err.value.transient


def test_the_loopback_api_pages_get_searches_too(api: LoopbackStac) -> None:
    from pystac_client import Client

    search = Client.open(api.url).search(
        method="GET", collections=["sentinel-2-l2a"], bbox=[11.4, 47.4, 11.6, 47.6],
        datetime="2018-01-01T00:00:00Z/2018-12-31T23:59:59Z", limit=5,
        query={"eo:cloud_cover": {"lt": 40}})
    ids = [it.id for it in search.items()]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert api.stats.methods["GET"] >= 2 and "token" in api.searches[1]
