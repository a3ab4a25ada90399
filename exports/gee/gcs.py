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
from collections.abc import Callable, Iterator
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
        # Decoded if the server says Content-Encoding: gzip (transcoding); the reader takes
        # the table gzip'd or not.
        chunks = response.iter_content(chunk_size=1 << 20)
        return io.BufferedReader(_ChunkStream(chunks, response.close), buffer_size=1 << 20)

    return open_object


class _ChunkStream(io.RawIOBase):
    """A read-once byte stream over an iterator of chunks (an HTTP body)."""

    def __init__(self, chunks: Iterator[bytes], on_close: Callable[[], None]) -> None:
        self._chunks = chunks
        self._left = b""
        self._on_close = on_close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = chunk
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._on_close()
        super().close()
