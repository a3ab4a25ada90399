"""LUCAS tables read from the Earth Engine catalog (``--lucas gee:<asset id>``).

Why a reader and not a format: the catalog's FeatureCollections (``JRC/LUCAS_HARMO/THLOC/V1``,
2006–2018, and ``JRC/LUCAS/THLOC/V1/2022``) hold the same columns as the published tables,
so they become a :class:`~lucas.reader.RawTable` of text columns, exactly what the CSV reader
gives, plus the ``.geo`` column of Earth Engine's own CSV exports (the GeoJSON geometry,
i.e. the theoretical point). Format detection, normalisation (th_lat/th_long taken from
``.geo``), validation and rejections are then the file readers' code, unchanged.

Reading: one ``computeFeatures`` call looks at a single feature to learn the columns (and so
the format's country/year properties); the table is then filtered on the server to the
countries and, for the multi-year harmonised table, the year, and paged through
``computeFeatures`` (``pageSize`` features per call, ``nextPageToken``), below the
interactive limits of ``getInfo`` (5,000 elements). ``ee`` is imported lazily: only this
reader needs it, and the caller initialises it (credentials, project).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lucas import codes
from lucas.errors import ConfigError, InputFormatError, SourceError
from lucas.formats import GEO_COLUMN, formats
from lucas.reader import RawTable

log = logging.getLogger(__name__)

PREFIX = "gee:"
HARMONISED_ASSET = "JRC/LUCAS_HARMO/THLOC/V1"
LUCAS2022_ASSET = "JRC/LUCAS/THLOC/V1/2022"
PAGE_SIZE = 1000  # features per computeFeatures call (the server's default page)
ATTEMPTS = 5  # per page, for transient errors (quota, 5xx, deadline, dropped connection)

# Property names of the country and year in each layout (the catalog's are the tables').
_COUNTRY_PROPS = ("nuts0", "POINT_NUTS0", "NUTS0")
_YEAR_PROPS = ("year", "SURVEY_YEAR", "YEAR")
_TRANSIENT = ("too many", "quota", "429", "rate limit", "unavailable", "deadline",
              "timed out", "timeout", "internal error", "backend error", "connection",
              " 500", " 502", " 503", " 504")  # fmt: skip

ComputeFeatures = Callable[[dict[str, Any]], Mapping[str, Any]]


def is_gee_table(path: str | Path | None) -> bool:
    """Whether ``--lucas`` names an Earth Engine table (``gee:<asset id>``)."""
    return path is not None and str(path).startswith(PREFIX)


def asset_id(path: str | Path) -> str:
    """``gee:JRC/LUCAS_HARMO/THLOC/V1`` → ``JRC/LUCAS_HARMO/THLOC/V1``."""
    text = str(path)
    asset = text[len(PREFIX) :].strip().strip("/") if is_gee_table(text) else ""
    if not asset:
        raise ConfigError(
            f"--lucas {text}: expected gee:<asset id>, e.g. gee:{HARMONISED_ASSET} or "
            f"gee:{LUCAS2022_ASSET}"
        )
    return asset


def read_gee_table(
    path: str | Path,
    countries: Sequence[str] | None,
    year: int | None,
    *,
    compute_features: ComputeFeatures | None = None,
    page_size: int = PAGE_SIZE,
    sleep: Callable[[float], None] = time.sleep,
) -> RawTable:
    """The features of an Earth Engine LUCAS table as text columns (+ ``.geo``).

    ``countries`` (LUCAS NUTS0 codes; None or ALL: every country) and ``year`` filter on the
    server; a table with a year column and no ``year`` raises :class:`ConfigError` (reading
    all 1.3 million rows of 2006–2018 is never what a run wants). ``compute_features``
    defaults to ``ee.data.computeFeatures`` (tests pass a fake).
    """
    import ee

    asset = asset_id(path)
    call = compute_features or ee.data.computeFeatures
    table = ee.FeatureCollection(asset)
    probe = _page(call, {"expression": table.limit(1), "pageSize": 1}, asset, sleep)
    first = probe.get("features") or []
    if not first:
        raise InputFormatError(f"--lucas {path}: the Earth Engine table {asset} is empty")
    props = set((first[0].get("properties") or {}).keys())
    selected = table
    country_prop = next((p for p in _COUNTRY_PROPS if p in props), None)
    wanted = codes.normalise_countries(countries, year)
    if wanted and country_prop:
        selected = selected.filter(ee.Filter.inList(country_prop, list(wanted)))
    year_prop = next((p for p in _YEAR_PROPS if p in props), None)
    if year_prop is not None:
        if year is None:
            raise ConfigError(f"--lucas {path}: the table holds several survey years; "
                              "choose one with --year")  # fmt: skip
        selected = selected.filter(ee.Filter.eq(year_prop, int(year)))
    features = _all_features(call, selected, asset, page_size, sleep)
    log.info("%s: %d feature(s) read from Earth Engine", asset, len(features))
    return _raw_table(Path(str(path)), features)


def _all_features(
    call: ComputeFeatures, selected: Any, asset: str, page_size: int,
    sleep: Callable[[float], None],
) -> list[dict[str, Any]]:  # fmt: skip
    params: dict[str, Any] = {"expression": selected, "pageSize": page_size}
    features: list[dict[str, Any]] = []
    while True:
        page = _page(call, params, asset, sleep)
        features.extend(page.get("features") or [])
        token = page.get("nextPageToken") or page.get("next_page_token")
        if not token:
            return features
        params = {**params, "pageToken": token}


def _page(
    call: ComputeFeatures, params: dict[str, Any], asset: str, sleep: Callable[[float], None]
) -> Mapping[str, Any]:
    """One computeFeatures call; transient errors retried with backoff, a bounded number."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call(params)
        except Exception as e:
            message = str(e)
            if "not initialized" in message.lower():
                raise ConfigError(
                    f"Earth Engine is not initialised: cannot read {asset} (give --project, "
                    "and run `earthengine authenticate` or pass --gee-key-file)"
                ) from e
            transient = isinstance(e, OSError) or any(m in message.lower() for m in _TRANSIENT)
            if not transient or attempt == ATTEMPTS:
                raise SourceError(f"reading the Earth Engine table {asset}: {message}",
                                  transient=transient) from e  # fmt: skip
            wait = min(2.0**attempt, 60.0)
            log.info("%s: page failed (%s); retrying in %.0f s", asset, message, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def _raw_table(path: Path, features: Sequence[Mapping[str, Any]]) -> RawTable:
    """Text columns in the published column order (then any other property, then .geo)."""
    keys: dict[str, None] = {}
    for f in features:
        keys.update(dict.fromkeys((f.get("properties") or {}).keys()))
    header = [*_ordered(list(keys)), GEO_COLUMN]
    columns: dict[str, list[str | None]] = {h: [] for h in header}
    for f in features:
        props = f.get("properties") or {}
        for h in header[:-1]:
            columns[h].append(_text(props.get(h)))
        geometry = f.get("geometry")
        columns[GEO_COLUMN].append(None if geometry is None else json.dumps(geometry))
    arrays = {h: pa.array(v, type=pa.string()) for h, v in columns.items()}
    frame = pa.table(arrays).to_pandas()
    lines = np.arange(2, len(features) + 2, dtype=np.int64)  # as if exported to CSV
    return RawTable(path, header, frame, lines)


def _ordered(keys: list[str]) -> list[str]:
    """The order of the layout the keys match best (EE returns properties in any order)."""
    best = max(formats().values(), key=lambda f: f.overlap(keys))
    known = [c for c in best.expected if c in keys]
    return known + sorted(k for k in keys if k not in set(known))


def _text(value: Any) -> str | None:
    """A property as text, written as the server sent it (an int as ``8``, a double as
    ``8.0``), like a CSV cell: typing is the normaliser's job, the same as for files."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return None if value != value else repr(value)  # NaN: missing
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
