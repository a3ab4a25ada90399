"""The stac radar source over a loopback STAC API: region searches of the S1 collection,
the instrument mode pushed to the server, cached searches, Planetary Computer signing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import planetary_computer
import pytest

from exports.grid import point_utm
from exports.registry import DurableStores, SourceContext
from exports.s1.options import PLANETARY_COMPUTER, S1Options
from exports.s1.scene import GAMMA0_DB
from exports.s1.source import S1Filter
from exports.s1stac.api import (
    CACHE_PREFIX,
    S1ApiDiscovery,
    is_planetary_computer,
    trim_s1_item,
    unsigned_href,
)
from exports.s1stac.build import build_radar_source
from exports.s1stac.source import StacRadarSource
from exports.source import PointStack
from exports.stac.api import decode_items
from exports.stac.http import HttpSettings
from tests.fixtures.stac_server import LoopbackStac
from tests.fixtures.synthetic_s1 import (
    point_request,
    product_id,
    raster_around,
    with_marks,
    write_slice,
)

YEAR = 2021
T0 = datetime(2021, 5, 6, 17, 5, 30, tzinfo=UTC)
LAT, LON = 48.3, 12.6
FAST = HttpSettings(connect_timeout_s=2.0, read_timeout_s=2.0, attempts=3, backoff_s=0.01,
                    backoff_max_s=0.05, jitter_s=0.0)
MARK = 0.0123
SIG = "st=2021-01-01T00%3A00%3A00Z&se=2099-01-01T00%3A00%3A00Z&sp=rl&sig=FAKE"


class DictCache:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def put(self, key: str, value: str) -> None:
        self.data[key] = value


class NoRecords:
    def get_record(self, key: str) -> Any:
        return None

    def put_record(self, key: str, task_id: str, state: str, payload: Any) -> None:
        pass


def _items(root: Path) -> list[Any]:
    raster = raster_around(32633, LAT, LON)
    x, y = point_utm(LAT, LON, 32633)
    out = []
    for k in range(4):
        when = T0 + timedelta(days=6 * k)
        out.append(write_slice(root, product_id(when, datatake=f"04A0{k:02X}"), raster, when,
                               values=with_marks({"VV": [(x, y, MARK)]})))
    ew = T0 + timedelta(days=2)  # an EW-mode slice: the server filters it out
    out.append(write_slice(root, product_id(ew, datatake="04A0FF"), raster, ew,
                           properties={"sar:instrument_mode": "EW"}))
    old = T0.replace(year=2020)
    out.append(write_slice(root, product_id(old, datatake="04A0EE"), raster, old))
    return out


@pytest.fixture
def api(tmp_path: Path) -> Any:
    with LoopbackStac(_items(tmp_path), tmp_path, collection="sentinel-1-rtc") as server:
        yield server


def _build(url: str, cache: DictCache | None = None, refresh: bool = False,
           signer: Any = None) -> StacRadarSource:
    durable = DurableStores(text=cache, records=NoRecords()) if cache is not None else None
    context = SourceContext(bands=(), year=YEAR, refresh=refresh, durable=durable)
    options = S1Options(s1="series", s1_stac_url=url)
    return build_radar_source(options, context, http=FAST, signer=signer)


def test_api_search_select_and_read(api: LoopbackStac) -> None:
    source = _build(api.url)
    assert isinstance(source.discovery, S1ApiDiscovery)
    assert source.signer is None  # a loopback API is not Planetary Computer
    points = [point_request(1, LAT, LON), point_request(2, LAT + 0.002, LON + 0.002)]
    selection = source.find_acquisitions(points, YEAR, S1Filter())
    # One cell, one search: the S1 collection, the year, IW pushed, no cloud threshold.
    assert len(api.searches) == 1
    search = api.searches[0]
    assert search["collections"] == ["sentinel-1-rtc"]
    assert search["datetime"] == "2021-01-01T00:00:00Z/2022-01-01T00:00:00Z"
    assert search["query"] == {"sar:instrument_mode": {"eq": "IW"}}
    dates = [T0 + timedelta(days=6 * k) for k in range(4)]
    for p in points:
        assert [s.acquired for s in selection.scenes[p.point_id]] == dates
    assert selection.dropped == []
    assert source.convention == GAMMA0_DB
    hrefs = {h for s in selection.scenes[1] for h in s.assets.values()}
    assert all(h.startswith(api.url + "/files/") for h in hrefs)
    batch = [(p, selection.scenes[p.point_id]) for p in points]
    stacks = {r.point_id: r for r in source.fetch(batch, 5.0, "nearest")}
    stack = stacks[1]
    assert isinstance(stack, PointStack)
    assert stack.acquired == dates
    expected = np.float32(10 * np.log10(np.float64(np.float32(MARK))))
    assert (stack.data["VV"][:, 32, 32] == expected).all()
    assert isinstance(stacks[2], PointStack) and len(stacks[2].image_ids) == 4


def test_cached_searches_hold_no_signature_and_are_reused(
    api: LoopbackStac, open_calls: list[str]
) -> None:
    signed: list[str] = []

    def signer(href: str) -> str:
        signed.append(href)
        return f"{href}?{SIG}"

    cache = DictCache()
    point = point_request(1, LAT, LON)
    source = _build(api.url, cache, signer=signer)
    selection = source.find_acquisitions([point], YEAR, S1Filter())
    assert len(cache.data) == 1 and next(iter(cache.data)).startswith(f"{CACHE_PREFIX}{YEAR}/")
    open_calls.clear()
    stack = next(iter(source.fetch([(point, selection.scenes[1])], 5.0, "nearest")))
    assert isinstance(stack, PointStack) and len(stack.image_ids) == 4
    # Signed when read: every asset opened with the signature, once each.
    unsigned = sorted(h for s in selection.scenes[1] for h in s.assets.values())
    assert sorted(signed) == unsigned
    assert sorted(open_calls) == sorted(f"{h}?{SIG}" for h in unsigned)
    # Never cached signed: neither the search nor the selection carries a token.
    text = next(iter(cache.data.values()))
    cached = decode_items(text)
    assert len(cached) == 4  # the IW slices of 2021: EW and 2020 filtered by the server
    assert all("sig=" not in a["href"] for d in cached for a in d["assets"].values())
    assert all("?" not in h for s in selection.scenes[1] for h in s.assets.values())
    # A second source (a resumed run) reuses the cache; --force searches again.
    searches = len(api.searches)
    again = _build(api.url, cache, signer=signer).find_acquisitions([point], YEAR, S1Filter())
    assert len(api.searches) == searches
    assert [s.scene_id for s in again.scenes[1]] == [s.scene_id for s in selection.scenes[1]]
    _build(api.url, cache, refresh=True).find_acquisitions([point], YEAR, S1Filter())
    assert len(api.searches) == searches + 1


def test_planetary_computer_hrefs_are_signed_with_sign_inplace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def fake_sign_inplace(obj: Any) -> Any:
        calls.append(obj)
        return f"{obj}?{SIG}"

    monkeypatch.setattr(planetary_computer, "sign_inplace", fake_sign_inplace)
    assert is_planetary_computer(PLANETARY_COMPUTER)
    assert not is_planetary_computer("https://earth-search.aws.element84.com/v1")
    options = S1Options.from_values({"s1": "series", "s1_stac_url": "planetary-computer"},
                                    lambda k: k)
    source = build_radar_source(options, SourceContext(bands=(), year=YEAR))  # no request
    assert source.signer is not None
    href = "https://sentinel1euwestrtc.blob.core.windows.net/sentinel1-grd-rtc/x/vv.tif"
    assert source.signer(href) == f"{href}?{SIG}"
    assert calls == [href]
    assert source.convention == GAMMA0_DB


def test_trim_keeps_the_polarisation_assets_unsigned() -> None:
    d = {
        "id": "S1A_x_rtc", "collection": "sentinel-1-rtc", "geometry": None, "bbox": None,
        "properties": {"datetime": "2021-05-06T17:05:30Z"},
        "links": [{"rel": "self", "href": "https://api.example.org/collections/c/items/x"}],
        "assets": {
            "vv": {"href": f"https://a.blob.core.windows.net/c/vv.tif?{SIG}",
                   "type": "image/tiff", "raster:bands": [{"nodata": -32768}]},
            "vh": {"href": "https://a.blob.core.windows.net/c/vh.tif?version=2"},
            "rendered_preview": {"href": "https://api.example.org/preview.png"},
        },
    }
    trimmed = trim_s1_item(d)
    assert set(trimmed["assets"]) == {"vv", "vh"}
    assert trimmed["assets"]["vv"] == {"href": "https://a.blob.core.windows.net/c/vv.tif",
                                       "type": "image/tiff",
                                       "raster:bands": [{"nodata": -32768}]}
    assert trimmed["assets"]["vh"]["href"].endswith("vh.tif?version=2")  # not a SAS token
    assert unsigned_href(f"https://h.example.org/a.tif?x=1&{SIG}") == (
        "https://h.example.org/a.tif?x=1")


def test_an_api_without_query_gets_the_mode_checked_locally(tmp_path: Path) -> None:
    with LoopbackStac(_items(tmp_path), tmp_path, collection="sentinel-1-rtc",
                      with_query=False) as server:
        source = _build(server.url)
        selection = source.find_acquisitions([point_request(1, LAT, LON)], YEAR, S1Filter())
        assert "query" not in server.searches[0] and "filter" not in server.searches[0]
    assert len(selection.scenes[1]) == 4
    assert [(d.kind, d.reason) for d in selection.dropped] == [
        ("instrument_mode", "instrument mode EW (want IW)")]
