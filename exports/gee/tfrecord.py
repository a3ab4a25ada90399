"""TFRecord files of ``tf.train.Example`` records, read and written without TensorFlow.

Why our own: the batch path reads Earth Engine's table exports (``fileFormat="TFRecord"``),
and TensorFlow is far too heavy a dependency for reading a few float lists. The two layers:

- framing (per record): ``uint64 length``, ``uint32 masked crc32c(length)``, the bytes,
  ``uint32 masked crc32c(bytes)``, little-endian; both checksums are verified
  (``google_crc32c``, which the earthengine-api already pulls in);
- ``tf.train.Example`` (protobuf): ``features`` (field 1) → ``feature`` map (field 1) of
  ``key`` (1) → ``Feature`` (2), a oneof ``bytes_list`` (1), ``float_list`` (2) or
  ``int64_list`` (3), each a ``value`` (1) repeated field (floats and ints packed).

Earth Engine writes every number as a float list and GZIP-compresses table exports
(developers.google.com/earth-engine/guides/tfrecord); :func:`read_examples` takes either.
Float lists come back as ``float32`` arrays viewed on the record's bytes (no Python loop).
"""

from __future__ import annotations

import gzip
import io
import struct
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, BinaryIO

import numpy as np

Value = np.ndarray | list[bytes]  # float_list / int64_list as arrays, bytes_list as bytes
Example = dict[str, Value]

_MASK_DELTA = 0xA282EAD8
_GZIP_MAGIC = b"\x1f\x8b"


class TFRecordError(ValueError):
    """A file that is not a valid TFRecord of tf.train.Example records."""


def _masked_crc(data: bytes) -> int:
    import google_crc32c

    crc = int(google_crc32c.value(data))
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def iter_records(stream: BinaryIO, where: str = "TFRecord") -> Iterator[bytes]:
    """The raw records of a TFRecord stream, checksums verified."""
    n = 0
    while True:
        head = stream.read(12)
        if not head:
            return
        if len(head) < 12:
            raise TFRecordError(f"{where}: record {n} is cut short (truncated file)")
        length, length_crc = struct.unpack("<QI", head)
        if _masked_crc(head[:8]) != length_crc:
            raise TFRecordError(f"{where}: record {n} has a bad length checksum")
        data = stream.read(length)
        tail = stream.read(4)
        if len(data) < length or len(tail) < 4:
            raise TFRecordError(f"{where}: record {n} is cut short (truncated file)")
        if _masked_crc(data) != struct.unpack("<I", tail)[0]:
            raise TFRecordError(f"{where}: record {n} has a bad data checksum")
        n += 1
        yield data


def write_records(stream: IO[bytes], records: Iterable[bytes]) -> None:
    """Frame ``records`` as TFRecord (what Earth Engine writes, and what tests fake)."""
    for data in records:
        head = struct.pack("<Q", len(data))
        stream.write(head + struct.pack("<I", _masked_crc(head)))
        stream.write(data + struct.pack("<I", _masked_crc(data)))


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise TFRecordError("protobuf varint runs past the end of the record")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, memoryview | int]]:
    """(field number, wire type, payload) of one protobuf message's fields."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise TFRecordError("protobuf field runs past the end of the record")
            yield number, wire, buf[pos : pos + size]
            pos += size
        elif wire == 5:
            yield number, wire, buf[pos : pos + 4]
            pos += 4
        elif wire == 1:
            yield number, wire, buf[pos : pos + 8]
            pos += 8
        else:
            raise TFRecordError(f"protobuf wire type {wire} is not used by tf.train.Example")


def _feature(buf: memoryview) -> Value:
    for kind, _, payload in _fields(buf):
        assert isinstance(payload, memoryview)
        values = [p for n, _, p in _fields(payload) if n == 1]
        if kind == 1:  # bytes_list
            return [bytes(v) for v in values if isinstance(v, memoryview)]
        if kind == 2:  # float_list: packed (one field) or not (one field per value)
            raw = b"".join(bytes(v) for v in values if isinstance(v, memoryview))
            return np.frombuffer(raw, dtype="<f4")
        if kind == 3:  # int64_list: packed varints, or one varint per value
            ints: list[int] = []
            for v in values:
                if isinstance(v, int):
                    ints.append(v)
                    continue
                pos = 0
                while pos < len(v):
                    x, pos = _varint(v, pos)
                    ints.append(x)
            return np.array(ints, dtype=np.uint64).astype(np.int64)
    return np.zeros(0, dtype="<f4")  # an empty Feature


def parse_example(data: bytes) -> Example:
    """One serialized ``tf.train.Example`` → feature name → values."""
    out: Example = {}
    for number, _, features in _fields(memoryview(data)):
        if number != 1 or not isinstance(features, memoryview):
            continue
        for entry_no, _, entry in _fields(features):
            if entry_no != 1 or not isinstance(entry, memoryview):
                continue
            key, value = "", None
            for n, _, payload in _fields(entry):
                if n == 1 and isinstance(payload, memoryview):
                    key = bytes(payload).decode("utf-8")
                elif n == 2 and isinstance(payload, memoryview):
                    value = _feature(payload)
            out[key] = value if value is not None else np.zeros(0, dtype="<f4")
    return out


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def _key(number: int, wire: int) -> bytes:
    return _encode_varint(number << 3 | wire)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_example(features: Mapping[str, Value | str | float]) -> bytes:
    """A ``tf.train.Example`` of text (bytes_list) and number (float_list) features."""
    entries = b""
    for key, value in features.items():
        if isinstance(value, str):
            inner = _bytes_field(1, _bytes_field(1, value.encode("utf-8")))
        elif isinstance(value, list):
            inner = _bytes_field(1, b"".join(_bytes_field(1, v) for v in value))
        else:
            floats = np.asarray(value, dtype="<f4").ravel().tobytes()
            inner = _bytes_field(2, _bytes_field(1, floats))
        entry = _bytes_field(1, key.encode("utf-8")) + _bytes_field(2, inner)
        entries += _bytes_field(1, entry)
    return _bytes_field(1, entries)


def read_examples(stream: BinaryIO, where: str = "TFRecord") -> Iterator[Example]:
    """Every Example of a TFRecord stream, GZIP-compressed (Earth Engine's tables) or not;
    the stream is read once, front to back (an HTTP body will do)."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    gzipped = buffered.peek(2)[:2] == _GZIP_MAGIC
    source: BinaryIO = gzip.GzipFile(fileobj=buffered) if gzipped else buffered  # type: ignore[assignment]
    try:
        for data in iter_records(source, where):
            yield parse_example(data)
    except (OSError, EOFError) as e:  # gzip: bad or truncated stream
        raise TFRecordError(f"{where}: {e}") from e
