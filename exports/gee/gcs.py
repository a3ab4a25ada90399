"""Reading a finished table export back from Cloud Storage, streamed.

Why not GDAL's ``/vsigs/`` (as for the GeoTIFF exports): a TFRecord table is not a raster
or vector format GDAL opens, and rasterio exposes no plain file reads. The JSON API's media
download (``GET …/storage/v1/b/<bucket>/o/<object>?alt=media``) is one authorised request,
streamed, so a group's file of a few hundred MB is never held in memory whole. The
credentials are the Earth Engine account's (``earthengine authenticate`` asks for the Cloud
Storage scope too; a service account key carries it).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO
from urllib.parse import quote

GCS_API = "https://storage.googleapis.com"  # tests point it at a loopback server
TIMEOUT_S = 120.0

OpenObject = Callable[[str, str], BinaryIO]  # (bucket, object name) -> a byte stream


def media_url(bucket: str, name: str, api: str | None = None) -> str:
    """The JSON API download URL of one object."""
    base = (api or GCS_API).rstrip("/")
    return f"{base}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}?alt=media"


def gcs_opener(credentials: Any = None) -> OpenObject:
    """An :data:`OpenObject` reading with ``credentials`` (None: unauthenticated, e.g. a
    public bucket or a test server)."""

    def open_object(bucket: str, name: str) -> BinaryIO:
        import requests

        if credentials is not None:
            from google.auth.transport.requests import AuthorizedSession

            session: Any = AuthorizedSession(credentials)
        else:
            session = requests.Session()
        response = session.get(media_url(bucket, name), stream=True, timeout=TIMEOUT_S)
        if response.status_code != 200:
            response.close()
            raise OSError(f"gs://{bucket}/{name}: HTTP {response.status_code} "
                          f"{response.reason or ''}".rstrip())
        response.raw.decode_content = False  # the file is gzip itself: keep its bytes
        return io.BufferedReader(response.raw, buffer_size=1 << 20)

    return open_object
