"""The key that groups the tiles of one Sentinel-2 datatake (one time step per datatake).

Why not ``DATATAKE_IDENTIFIER`` as is: it ends with the processing baseline
(``GS2A_20180613T101031_015583_N02.06``), so a reprocessed copy of the same datatake at
another baseline (``…_N05.00``) would count as a second time step. What identifies a
datatake is the spacecraft and its sensing start, which every baseline shares; the
identifier's other parts (the absolute orbit, the baseline) are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# G + spacecraft + datatake sensing start (+ absolute orbit + baseline, ignored).
_IDENTIFIER = re.compile(r"^G?(S2[A-D])_(\d{8}T\d{6})(?:_|$)")
_SPACECRAFT = re.compile(r"(?:Sentinel-|S)(2[A-D])$", re.IGNORECASE)
_INDEX_START = re.compile(r"^(\d{8}T\d{6})_")


def datatake_key(values: Mapping[str, Any], acquired: datetime) -> str:
    """``S2A_20180613T101031``: spacecraft + datatake sensing start, baseline left out.

    From ``DATATAKE_IDENTIFIER`` when it parses; else from ``SPACECRAFT_NAME`` and the
    datatake start of ``system:index`` (its first stamp), else the acquisition time.
    """
    match = _IDENTIFIER.match(str(values.get("DATATAKE_IDENTIFIER") or ""))
    if match:
        return f"{match.group(1)}_{match.group(2)}"
    craft = _SPACECRAFT.search(str(values.get("SPACECRAFT_NAME") or "").strip())
    spacecraft = f"S{craft.group(1).upper()}" if craft else "S2"
    start = _INDEX_START.match(str(values.get("system:index") or ""))
    stamp = start.group(1) if start else f"{acquired:%Y%m%dT%H%M%S}"
    return f"{spacecraft}_{stamp}"
