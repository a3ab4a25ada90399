"""computePixels' NPY answers, decoded at memory speed.

An answer is a structured array with one field per ``<system:index>_<band>``: about 1,000
fields of one dtype for a year of Sentinel-2 (8 MB). ``np.load`` spends most of its time
parsing that header (a Python literal of 1,000 tuples) and building a 1,000-field dtype,
and each ``array[name]`` is a strided view; at Earth Engine's 40 requests/s that alone
would cap a process near 10 points/s. Here the header is read once with a regular
expression, the payload is viewed in place (``np.frombuffer``, no copy) as a
``(pixels, fields)`` matrix, and the caller gathers whole bands at once.
Headers this reader does not recognise (mixed dtypes, Fortran order, nested fields) go
through ``np.load``, bounded and without pickles, so no valid answer is refused.
"""

from __future__ import annotations

import ast
import io
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lucas.errors import SourceError

MAGIC = b"\x93NUMPY"
MAX_HEADER = 1 << 20  # 1024 fields make a ~60 kB header; numpy's own guard is 10 kB
_FIELD = re.compile(r"""\((['"])(.*?)\1,\s*'([<>|=]?[a-zA-Z]\d*)'\)""")
_SHAPE = re.compile(r"'shape':\s*\(([\d,\s]*)\)")
_ORDER = re.compile(r"'fortran_order':\s*(True|False)")


@dataclass(frozen=True)
class NpyAnswer:
    """The fields of one answer as columns of a ``(rows * cols, fields)`` matrix."""

    names: tuple[str, ...]
    shape: tuple[int, int]
    values: np.ndarray  # (rows * cols, len(names)), one dtype, usually a view of the bytes

    def column(self, index: int) -> np.ndarray:
        """Field ``index`` as a ``shape`` view (no copy)."""
        return self.values[:, index].reshape(self.shape)

    def gather(self, indices: Sequence[int]) -> np.ndarray:
        """Fields ``indices`` as one contiguous ``(len(indices), rows, cols)`` array."""
        picked = self.values[:, np.asarray(indices, dtype=np.intp)]
        return np.ascontiguousarray(picked.T).reshape(len(indices), *self.shape)


def read_npy(data: bytes | bytearray | memoryview | np.ndarray, what: str) -> NpyAnswer:
    """The answer's fields; ``what`` names the request in errors (point, group)."""
    if isinstance(data, np.ndarray):
        return _from_array(data, what)
    view = memoryview(data)
    header, offset = _header(view, what)
    fast = _parse_header(header)
    if fast is None:
        return _from_array(_np_load(bytes(view), what), what)
    names, dtype, shape = fast
    rows_cols = int(np.prod(shape)) if shape else 1
    count = rows_cols * len(names)
    if len(view) - offset < count * dtype.itemsize:
        raise SourceError(
            f"{what}: truncated NPY answer ({len(view) - offset} payload bytes, expected "
            f"{count * dtype.itemsize}); the request is retried on the next run"
        )
    values = np.frombuffer(view, dtype=dtype, count=count, offset=offset)
    return NpyAnswer(names, _two_d(shape, what), values.reshape(rows_cols, len(names)))


def _header(view: memoryview, what: str) -> tuple[str, int]:
    """The header text and the payload's offset; raises SourceError on a non-NPY answer."""
    if len(view) < 10 or bytes(view[:6]) != MAGIC:
        raise SourceError(f"{what}: the answer is not NPY (it starts {bytes(view[:16])!r})")
    major = view[6]
    if major == 1:
        (length,), start = struct.unpack("<H", view[8:10]), 10
    elif major in (2, 3) and len(view) >= 12:
        (length,), start = struct.unpack("<I", view[8:12]), 12
    else:
        raise SourceError(f"{what}: NPY format version {major} is not supported")
    if length > MAX_HEADER or start + length > len(view):
        raise SourceError(f"{what}: NPY header of {length} bytes is too long or truncated")
    encoding = "utf8" if major == 3 else "latin1"
    return bytes(view[start : start + length]).decode(encoding), start + length


def _parse_header(header: str) -> tuple[tuple[str, ...], np.dtype, tuple[int, ...]] | None:
    """(field names, their one dtype, shape) of a plain structured header, else None."""
    order = _ORDER.search(header)
    shape = _SHAPE.search(header)
    if order is None or order.group(1) != "False" or shape is None:
        return None
    fields = _FIELD.findall(header)
    descr = header[header.find("[") : header.rfind("]") + 1]
    # Every "(" of the descr list must be one plain (name, type) pair: nothing nested.
    if not fields or descr.count("(") != len(fields):
        return None
    types = {t for _, _, t in fields}
    if len(types) != 1:
        return None
    dtype = np.dtype(types.pop())
    if dtype.kind not in "uif" or dtype.itemsize > 8:
        return None
    names = tuple(_unescape(quote, name) for quote, name, _ in fields)
    dims = tuple(int(d) for d in shape.group(1).replace(" ", "").split(",") if d)
    return names, dtype, dims


def _unescape(quote: str, name: str) -> str:
    return name if "\\" not in name else str(ast.literal_eval(quote + name + quote))


def _np_load(data: bytes, what: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False, max_header_size=MAX_HEADER)
    except (ValueError, OSError, EOFError) as e:
        raise SourceError(f"{what}: unreadable NPY answer: {e}") from e


def _from_array(array: np.ndarray, what: str) -> NpyAnswer:
    """An already decoded answer (NUMPY_NDARRAY, or an unusual header) as columns."""
    names = tuple(array.dtype.names or ())
    shape = _two_d(array.shape, what)
    if not names:
        return NpyAnswer(("",), shape, np.ascontiguousarray(array).reshape(-1, 1))
    columns = [np.asarray(array[n]).reshape(-1) for n in names]
    common = np.result_type(*(c.dtype for c in columns))
    return NpyAnswer(names, shape, np.stack(columns, axis=1).astype(common, copy=False))


def _two_d(shape: tuple[int, ...], what: str) -> tuple[int, int]:
    if len(shape) != 2:
        raise SourceError(f"{what}: computePixels returned shape {shape}, expected 2-D")
    return int(shape[0]), int(shape[1])


def match_columns(
    names: Sequence[str], ids: Sequence[str], bands: Sequence[str]
) -> dict[str, dict[str, int]]:
    """``{system:index: {band: column}}`` of an answer's fields ``<system:index>_<band>``.

    The server may prepend components to the index (``0_<index>_B2`` for a merged
    collection), so a name that is not an exact match is tried again without its leading
    ``_``-separated components. Fields of no requested image or band are left out.
    """
    wanted = {f"{i}_{b}": (i, b) for i in ids for b in bands}
    found: dict[str, dict[str, int]] = {}
    for column, name in enumerate(names):
        key = name
        while key not in wanted and "_" in key:
            key = key.split("_", 1)[1]
        if key in wanted:
            image_id, band = wanted[key]
            found.setdefault(image_id, {})[band] = column
    return found
