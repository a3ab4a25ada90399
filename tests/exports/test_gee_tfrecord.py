"""TFRecord without TensorFlow: framing and checksums, tf.train.Example decoding, GZIP, and
the streamed Cloud Storage read of a table export (a loopback server)."""

from __future__ import annotations

import gzip
import io
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from exports.gee import gcs
from exports.gee.tfrecord import (
    TFRecordError,
    encode_example,
    parse_example,
    read_examples,
    write_records,
)

# A tf.train.Example as TensorFlow serializes it (tf.train.Example(features=tf.train.Features(
# feature={"a": Feature(float_list=FloatList(value=[1.5, 2.0])), "id": Feature(bytes_list=
# BytesList(value=[b"0001"]))})).SerializeToString()), written out by hand from the schema:
# Example.features = 1, Features.feature = 1 (map entry: key 1, value 2), Feature.bytes_list
# = 1, float_list = 2 (packed value = 1), int64_list = 3.
_FLOATS = struct.pack("<2f", 1.5, 2.0)
_ENTRY_A = b"\x0a\x01a" + b"\x12\x0c" + b"\x12\x0a" + b"\x0a\x08" + _FLOATS
_ENTRY_ID = b"\x0a\x02id" + b"\x12\x08" + b"\x0a\x06" + b"\x0a\x040001"
_FEATURES = b"".join(b"\x0a" + bytes([len(e)]) + e for e in (_ENTRY_A, _ENTRY_ID))
TF_EXAMPLE = b"\x0a" + bytes([len(_FEATURES)]) + _FEATURES

# The framing of one record b"abc" (TFRecord spec: masked crc32c, mask = ((c >> 15 | c << 17)
# + 0xa282ead8) mod 2³²), from a bitwise CRC-32C checked on "123456789" → 0xE3069283.
TF_FRAMED_ABC = bytes.fromhex("0300000000000000" "b099490e") + b"abc" + bytes.fromhex("6e57f121")


def test_a_tensorflow_example_is_decoded() -> None:
    example = parse_example(TF_EXAMPLE)
    assert example["id"] == [b"0001"]
    a = example["a"]
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.tolist() == [1.5, 2.0]


def test_framing_matches_tensorflows_checksums() -> None:
    buf = io.BytesIO()
    write_records(buf, [b"abc"])
    assert buf.getvalue() == TF_FRAMED_ABC
    (example,) = read_examples(io.BytesIO(b"".join(_frame(TF_EXAMPLE))))
    assert example["id"] == [b"0001"]


def _frame(data: bytes) -> Iterator[bytes]:
    buf = io.BytesIO()
    write_records(buf, [data])
    yield buf.getvalue()


def test_round_trip_gzipped_and_u16_values_exact() -> None:
    patch = np.arange(65 * 65, dtype=np.uint16).reshape(65, 65) * 15  # up to 63,360: exact
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        write_records(gz, [encode_example({"point_id": "46802870", "B2": patch.astype("f4")})])
    (example,) = read_examples(io.BytesIO(buf.getvalue()))
    assert example["point_id"] == [b"46802870"]
    b2 = example["B2"]
    assert isinstance(b2, np.ndarray)
    assert np.array_equal(b2.reshape(65, 65).astype(np.uint16), patch)


def test_a_damaged_record_names_the_file_and_the_record() -> None:
    buf = io.BytesIO()
    write_records(buf, [b"abc", b"defg"])
    data = bytearray(buf.getvalue())
    data[-6] ^= 0xFF  # inside record 1's bytes
    with pytest.raises(TFRecordError, match=r"t\.tfrecord: record 1 has a bad data checksum"):
        list(read_examples(io.BytesIO(bytes(data)), "t.tfrecord"))
    with pytest.raises(TFRecordError, match="record 0 is cut short"):
        list(read_examples(io.BytesIO(buf.getvalue()[:10]), "t.tfrecord"))


def test_the_gcs_read_streams_the_object_with_the_accounts_token() -> None:
    body = b"".join(_frame(TF_EXAMPLE)) * 3
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            found = self.path.startswith("/storage/v1/b/bkt/o/runs%2F2018%2Fg.tfrecord.gz")
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

    class Token:
        def before_request(self, request: Any, method: str, url: str, headers: Any) -> None:
            headers["Authorization"] = "Bearer TOKEN"

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    old = gcs.GCS_API
    gcs.GCS_API = f"http://127.0.0.1:{server.server_port}"
    try:
        opener = gcs.gcs_opener(Token())
        with opener("bkt", "runs/2018/g.tfrecord.gz") as stream:
            examples = list(read_examples(stream))
        assert [e["id"] for e in examples] == [[b"0001"]] * 3
        assert seen == [("/storage/v1/b/bkt/o/runs%2F2018%2Fg.tfrecord.gz?alt=media",
                         "Bearer TOKEN")]
        with pytest.raises(OSError, match=r"gs://bkt/missing\.tfrecord\.gz: HTTP 404"):
            opener("bkt", "missing.tfrecord.gz")
    finally:
        gcs.GCS_API = old
        server.shutdown()
        server.server_close()
