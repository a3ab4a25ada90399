"""Read a LUCAS CSV as text columns, keeping track of physical line numbers.

Why a reader of our own (on pyarrow's CSV parser) rather than ``pandas.read_csv``: pandas pads
a row with too few fields with missing values and cannot report where it happened, which
would silently shift or blank a row. pyarrow reports each row whose field count differs from
the header (line number and text); we skip those rows and report them as rejections, and we
keep every value as text (``dtype=str``) so that typing is explicit and done once, later.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from lucas.errors import InputFormatError

log = logging.getLogger(__name__)

_SNIFF_BYTES = 64 * 1024
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (unzip it and pass the .CSV inside)",
    b"\x1f\x8b": "a gzip file (gunzip it first)",
    b"PAR1": "a Parquet file (ingest reads the LUCAS CSV tables)",
    b"SQLite format 3": "an SQLite/GeoPackage file (export the table to CSV first)",
    b"\xd0\xcf\x11\xe0": "an old Excel/OLE file (save the sheet as CSV first)",
}


@dataclass
class BadRow:
    """A physical line whose number of fields differs from the header's."""

    line: int
    expected: int
    actual: int
    text: str


@dataclass
class RawTable:
    """A table as read: text columns, the line of each row, the rows we had to skip."""

    path: Path
    header: list[str]
    frame: pd.DataFrame
    lines: np.ndarray  # physical line number (header = line 1) of each row of ``frame``
    bad_rows: list[BadRow] = field(default_factory=list)
    delimiter: str = ","
    encoding: str = "utf-8"
    blank_lines: int = 0


def _sniff(path: Path) -> bytes:
    if not path.exists():
        raise InputFormatError(f"{path}: file not found; check the path given to ingest")
    if path.is_dir():
        raise InputFormatError(f"{path}: is a directory; pass the LUCAS CSV file inside it")
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise InputFormatError(
            f"{path}: the file is empty; expected a LUCAS CSV table with a header line"
        )
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise InputFormatError(f"{path}: this is {what}, not a CSV table")
    if b"\x00" in head:
        raise InputFormatError(
            f"{path}: binary content (NUL bytes), not a CSV table; pass the LUCAS .CSV file"
        )
    return head


def _encoding(head: bytes) -> str:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a multi-byte character cut by the sniff
            return "latin-1"
    return "utf-8"


def _header(path: Path, head: bytes, encoding: str) -> tuple[list[str], str]:
    text = head.decode(encoding, errors="replace")
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    candidates = [",", ";", "\t", "|"]
    delimiter = max(candidates, key=first.count)
    if first.count(delimiter) == 0:
        delimiter = ","
    header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
    if len(header) < 2:
        raise InputFormatError(
            f"{path}: the first line has {len(header)} column(s) ({first[:80]!r}); "
            "expected a delimited LUCAS header such as POINT_ID,NUTS0,…"
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputFormatError(f"{path}: duplicate column name(s) in the header: {dupes}")
    return header, delimiter


def _parse(
    path: Path, header: list[str], delimiter: str, encoding: str
) -> tuple[pa.Table, list[BadRow]]:
    bad: list[BadRow] = []

    def on_bad(row: pacsv.InvalidRow) -> str:
        bad.append(
            BadRow(int(row.number or -1), row.expected_columns, row.actual_columns, row.text)
        )
        return "skip"

    # Single-threaded so that pyarrow reports the physical line of each bad row.
    read = pacsv.ReadOptions(
        use_threads=False,
        column_names=header,
        skip_rows=1,
        encoding=encoding,
        block_size=16 << 20,
    )
    parse = pacsv.ParseOptions(
        delimiter=delimiter, invalid_row_handler=on_bad, ignore_empty_lines=False
    )
    convert = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in header},
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=True,
    )
    table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    return table, bad


def read_table(path: Path) -> RawTable:
    """Read ``path`` as text columns; raise :class:`InputFormatError` for non-tables."""
    path = Path(path)
    head = _sniff(path)
    encoding = _encoding(head)
    header, delimiter = _header(path, head, encoding)
    try:
        table, bad = _parse(path, header, delimiter, encoding)
    except pa.ArrowInvalid as e:
        if encoding == "utf-8" and "utf8" in str(e).lower().replace("-", ""):
            log.info("%s: not valid UTF-8, reading as Latin-1", path)
            encoding = "latin-1"
            table, bad = _parse(path, header, delimiter, encoding)
        else:
            raise InputFormatError(f"{path}: cannot be parsed as CSV: {e}") from e
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    n_rows = len(frame) + len(bad)
    all_lines = np.arange(2, n_rows + 2, dtype=np.int64)
    if bad:
        keep = ~np.isin(all_lines, np.array([b.line for b in bad], dtype=np.int64))
        lines = all_lines[keep]
    else:
        lines = all_lines
    # Empty lines arrive as rows with every field missing: drop them, they are not data.
    blank = np.zeros(len(frame), dtype=bool)
    first_missing = frame[header[0]].isna().to_numpy()
    if first_missing.any():
        blank[first_missing] = frame.loc[first_missing].isna().all(axis=1).to_numpy()
    blank_count = int(blank.sum())
    if blank_count:
        frame = frame.loc[~blank].reset_index(drop=True)
        lines = lines[~blank]
    log.debug("%s: %d rows, %d bad rows, %d blank", path, len(frame), len(bad), blank_count)
    return RawTable(path, header, frame, lines, bad, delimiter, encoding, blank_count)
