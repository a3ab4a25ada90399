"""Selection goes to the standard endpoint, pixels stay on the high-volume one.

The client's request objects are built from the discovery document shipped in the wheel
(its root URL moved to the high-volume host, as ``ee.Initialize(url=HIGH_VOLUME…)`` gives
it), and a recording HTTP transport stands in for the network.
"""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import ee
import httplib2
import numpy as np
import pytest
from ee import _cloud_api_utils

from exports.gee import endpoint
from exports.gee.pixels import grid_spec, stack_image
from exports.gee.select import scene_query
from exports.gee.source import GeeSettings, GeeSource
from exports.source import SceneFilter
from tests.exports.gee_fakes import npy_answer, npy_bytes, point, scene

DISCOVERY = Path(ee.__file__).parent / "tests" / "cloud_api_discovery_document.json"


class RecordingHttp:
    """An httplib2-like transport: records each request, answers from ``reply``."""

    def __init__(self, reply: Any) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply = reply

    def request(self, uri: str, method: str = "GET", body: Any = None,
                headers: Any = None, **_: Any) -> tuple[httplib2.Response, bytes]:
        self.requests.append({"uri": uri, "method": method, "body": body})
        return httplib2.Response({"status": 200}), self.reply(uri)


def _high_volume_resource(http: RecordingHttp, raw: bool) -> Any:
    doc = json.loads(DISCOVERY.read_text())
    doc = copy.deepcopy(doc)
    doc["rootUrl"] = doc["baseUrl"] = endpoint.HIGH_VOLUME_URL + "/"
    return _cloud_api_utils.build_cloud_resource_from_document(
        doc, http_transport=http, headers_supplier=ee.data._make_request_headers,
        response_inspector=ee.data._handle_response_headers, raw=raw)


@pytest.fixture
def high_volume_client(ee_offline: Any, monkeypatch: pytest.MonkeyPatch) -> RecordingHttp:
    """ee as ``initialize`` leaves it (high-volume URL), the network a recorder."""
    def reply(uri: str) -> bytes:
        if "value:compute" in uri:
            return json.dumps({"result": {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": None,
                 "properties": {"point_id": 1, "scenes": []}}]}}).encode()
        return npy_bytes(npy_answer([scene(5)], ["B2"]))

    http = RecordingHttp(reply)
    state = ee.data._get_state()
    monkeypatch.setattr(state, "cloud_api_base_url", endpoint.HIGH_VOLUME_URL)
    monkeypatch.setattr(state, "cloud_api_resource", _high_volume_resource(http, raw=False))
    monkeypatch.setattr(state, "cloud_api_resource_raw", _high_volume_resource(http, raw=True))
    monkeypatch.setattr(state, "max_retries", 0)
    return http


def test_selection_is_sent_to_the_standard_endpoint(high_volume_client: RecordingHttp) -> None:
    pts = [point(1)]
    selection = GeeSource(GeeSettings(workers=1)).find_scenes(pts, 2018, SceneFilter())
    assert selection.scenes == {1: []} and selection.failed == {}
    (sent,) = high_volume_client.requests
    # (the wheel's test discovery document is the v1alpha one; the path is the same)
    assert re.match(r"https://earthengine\.googleapis\.com/v1\w*/projects/my-project/"
                    r"value:compute\?", sent["uri"])
    assert sent["method"] == "POST"
    expected = ee.serializer.encode(scene_query(pts, 2018, SceneFilter()), for_cloud_api=True)
    assert json.loads(sent["body"])["expression"] == expected


def test_pixels_stay_on_the_high_volume_endpoint(high_volume_client: RecordingHttp) -> None:
    p = point(1)
    data = ee.data.computePixels({"expression": stack_image(p, [scene(5)], ["B2"]),
                                  "fileFormat": "NPY", "grid": grid_spec(p.grid)})
    (sent,) = high_volume_client.requests
    assert re.match(r"https://earthengine-highvolume\.googleapis\.com/v1\w*/projects/"
                    r"my-project/image:computePixels\?", sent["uri"])
    assert np.load(io.BytesIO(data)).shape == (64, 64)


def test_on_the_standard_endpoint_the_clients_own_call_is_used(ee_offline: Any) -> None:
    # ee.data.computeValue is the wheel's offline stand-in here (it answers "fakeValue").
    assert not endpoint.on_high_volume()
    assert endpoint.compute_value(ee.Number(1)) == {"value": "fakeValue"}


def test_only_the_host_moves() -> None:
    uri = "https://earthengine-highvolume.googleapis.com/v1/projects/p/value:compute?alt=json"
    assert endpoint.on_standard(uri) == (
        "https://earthengine.googleapis.com/v1/projects/p/value:compute?alt=json")
