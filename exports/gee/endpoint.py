"""Selection on the standard endpoint while pixels stay on the high-volume one.

Why: the high-volume endpoint (``earthengine-highvolume.googleapis.com``) is meant for many
small, cacheable-free pixel requests; it caches less and suits aggregations poorly, while
the selection is one aggregation per chunk (``reduceColumns`` over a mapped collection).
The client holds one global state with one base URL, so a second ``ee.Initialize`` would
move every call. Instead each selection call is built on the client's own resource (its
credentials, session, deadline, headers and retry count) and only its URL's host is moved
to the standard endpoint before it is sent: the two endpoints serve the same REST API
(``v1``, same paths), so the request is otherwise the one ``ee.data.computeValue`` sends.
When the client is not on the high-volume endpoint there is nothing to move and
``ee.data.computeValue`` itself is called (looked up per call, so tests may patch it).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ee

log = logging.getLogger(__name__)

STANDARD_URL = ee.data.DEFAULT_CLOUD_API_BASE_URL  # https://earthengine.googleapis.com
HIGH_VOLUME_URL = ee.data.HIGH_VOLUME_API_BASE_URL


def on_high_volume() -> bool:
    """Whether the client was initialised on the high-volume endpoint."""
    state = ee.data._get_state()
    return str(state.cloud_api_base_url or "").rstrip("/") == HIGH_VOLUME_URL


def on_standard(uri: str) -> str:
    """``uri`` with its scheme and host replaced by the standard endpoint's."""
    target = urlsplit(STANDARD_URL)
    parts = urlsplit(uri)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def compute_value(obj: Any) -> Any:
    """``ee.data.computeValue(obj)``, sent to the standard endpoint.

    The same body, project, workload tag and error translation as the client's own call;
    the client's retry count applies (0 in this tool: the throttle retries).
    """
    if not on_high_volume():
        return ee.data.computeValue(obj)
    body: dict[str, Any] = {"expression": ee.serializer.encode(obj, for_cloud_api=True)}
    ee.data._maybe_populate_workload_tag(body)
    call = ee.data._get_cloud_projects().value().compute(
        body=body, project=ee.data._get_projects_path(), prettyPrint=False
    )
    call.uri = on_standard(call.uri)
    return ee.data._execute_cloud_call(call)["result"]
