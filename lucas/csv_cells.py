"""CSV cells a spreadsheet will not run as formulas (CSV injection, OWASP).

Why: ``rejects.csv`` repeats what a bad input row held (a point id, a code), and a value
such as ``=cmd|' /C calc'!A0`` lands in a cell that Excel or LibreOffice evaluate when the
file is opened. Every CSV this tool writes goes through :func:`safe_frame`: a text cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single quote
``'`` in front (OWASP's advice; spreadsheets show the text, the quote hides). Numbers stay
numbers: numeric columns are untouched, and a text cell that is a plain number (``-12.5``,
``+3``, ``-1e5``) is left as it is.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet could take ``value`` for a formula (text, not a plain number)."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and _NUMBER.fullmatch(value) is None
    )


def safe_cell(value: Any) -> Any:
    """``value``, with ``'`` in front when a spreadsheet would evaluate it."""
    return QUOTE + value if is_formula_like(value) else value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text cells made safe (a copy only when a cell changes)."""
    out = frame
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        risky = series.map(is_formula_like, na_action="ignore").fillna(False).astype(bool)
        if not risky.any():
            continue
        if out is frame:
            out = frame.copy()
        out.loc[risky, column] = QUOTE + series[risky].astype(str)
    return out
