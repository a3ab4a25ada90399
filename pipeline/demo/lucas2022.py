"""The demo's LUCAS table in the LUCAS 2022 layout (POINT_*/SURVEY_* columns, NUTS 2021).

Why a second writer: ``etl run --year 2022`` must be exercised with the survey's own table,
not with 2018's schema relabelled. The columns are the 310 of ``JRC/LUCAS/THLOC/V1/2022``
(``lucas/data/lucas2022_columns.txt``, upper-case ``POINT_*``/``SURVEY_*`` names, lower-case
``photo_*``) with the theoretical point as ``POINT_LAT``/``POINT_LONG`` after
``POINT_NUTS3``, plus ``SURVEY_YEAR`` first when the year is not 2022 (so the table says
which survey it is). Values follow the 2022 conventions as far as the public schema tells:

* numeric codes (``SURVEY_OBS_TYPE`` 1 = in situ < 100 m, 7 = photo-interpretation in the
  office; ``SURVEY_PARCEL_AREA_HA`` 1..4 in the order the schema lists its classes),
  percentages as numbers, signed GPS longitudes (there is no ``*_EW`` column any more),
  empty cells where a value is not relevant;
* LC/LU codes as surveyors typed them: every third point in lower case (``c21``);
* every sixth point (the fifth, the eleventh, …) photo-interpreted in the office: no GPS,
  no photos, and an aggregated LC1 code (level 2, else level 1: ``B16`` → ``B10``,
  ``C10`` → ``C00``), as LUCAS records points it could not visit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pyproj import Geod

from lucas import codes
from lucas.formats import LUCAS2022, formats
from pipeline.demo.lucas_harmonised import NUTS, PLCC, SurveyedPoint, survey_date

LUCAS2022_YEAR = 2022
OFFICE_PI_EVERY = 6  # point i is photo-interpreted in the office when i % 6 == 4
LOWER_CASE_EVERY = 3  # point i has lower-case codes when i % 3 == 1
_PARCEL_CODE = {"< 0.5 ha": "1", "0.5 - 1 ha": "2", "1 - 10 ha": "3", "> 10 ha": "4"}
_BIG_PARCELS = ("broadleaf", "conifer", "water", "rock")
_SMALL_PARCELS = ("built", "paved", "soil")


def lucas2022_columns(year: int) -> list[str]:
    """The header: the 310 schema columns, POINT_LAT/POINT_LONG, SURVEY_YEAR if not 2022."""
    cols = list(formats()[LUCAS2022].expected)
    at = cols.index("POINT_NUTS3") + 1
    cols[at:at] = ["POINT_LAT", "POINT_LONG"]
    if year != LUCAS2022_YEAR:
        cols.insert(1, "SURVEY_YEAR")
    return cols


def aggregated_code(code: str) -> str:
    """The code a photo-interpreter records when the detail is not visible: level 2, else 1."""
    level2 = code[:2] + "0"
    return level2 if level2 != code and level2 in codes.lc_codes() else code[0] + "00"


def lucas2022_rows(points: Sequence[SurveyedPoint], year: int, seed: int) -> list[dict[str, str]]:
    """One row per point with every column of :func:`lucas2022_columns` (most left empty)."""
    rng = np.random.default_rng([seed, 2022])
    geod = Geod(ellps="WGS84")
    columns = lucas2022_columns(year)
    rows = []
    for i, p in enumerate(points):
        row = dict.fromkeys(columns, "")
        row.update(_point_columns(p, year, rng))
        office = i % OFFICE_PI_EVERY == 4
        row.update(_office_columns(p) if office else _field_columns(p, rng, geod))
        if i % LOWER_CASE_EVERY == 1:
            for col in ("SURVEY_LC1", "SURVEY_LU1"):
                row[col] = row[col].lower()
        rows.append({c: row[c] for c in columns})
    return rows


def _point_columns(p: SurveyedPoint, year: int, rng: np.random.Generator) -> dict[str, str]:
    """What every row has: the point, its NUTS 2021 codes, sample flags, land cover and use."""
    node, land = p.node, p.land
    out = {
        "POINT_ID": f"{node.point_id:08d}",
        "POINT_NUTS0": NUTS[0], "POINT_NUTS1": NUTS[1], "POINT_NUTS2": NUTS[2],
        "POINT_NUTS3": NUTS[3],
        "POINT_LAT": repr(node.lat), "POINT_LONG": repr(node.lon),
        "POINT_ALTITUDE": f"{float(rng.integers(495, 780)):.1f}",
        **dict.fromkeys(("POINT_SOIL", "POINT_EX_ANTE", "PI_EXTENSION", "POINT_EROSION",
                         "POINT_SOIL_BULK_0_10", "POINT_SOIL_BULK_10_20",
                         "POINT_SOIL_BULK_20_30", "POINT_SOIL_BIO", "POINT_LF"), "0"),
        "POINT_COPERNICUS": "1" if rng.uniform() < 0.3 else "0",
        "SURVEY_YEAR": str(year),
        "SURVEY_DATE": survey_date(land, year, rng),
        "SURVEY_LC1": land.code,
        "SURVEY_LC1_PERC": "100" if rng.uniform() < 0.7 else str(int(rng.integers(6, 10)) * 10),
        "SURVEY_LU1": land.lu1,
        "SURVEY_LU1_PERC": "100",
        "photo_croplc1": "0",
    }  # fmt: skip
    for k, v in enumerate(PLCC[land.family][:7], start=1):
        out[f"SURVEY_INSPIRE_PLCC{k}"] = str(v)
    return out


def _field_columns(p: SurveyedPoint, rng: np.random.Generator, geod: Geod) -> dict[str, str]:
    """A point visited on the ground: GPS fix a few metres away, car position, photos."""
    node, fam = p.node, p.land.family
    gps_lon, gps_lat, _ = geod.fwd(node.lon, node.lat, rng.uniform(0, 360), rng.uniform(2, 40))
    car_lon, car_lat, _ = geod.fwd(node.lon, node.lat, rng.uniform(0, 360), rng.uniform(80, 400))
    _, _, dist = geod.inv(node.lon, node.lat, gps_lon, gps_lat)
    if fam in _BIG_PARCELS:
        parcel = "> 10 ha"
    elif fam in _SMALL_PARCELS:
        parcel = "< 0.5 ha"
    else:
        parcel = ("0.5 - 1 ha", "1 - 10 ha", "1 - 10 ha", "> 10 ha")[int(rng.integers(0, 4))]
    return {
        "SURVEY_OBS_TYPE": "1", "SURVEY_OBS_DIRECT": "1", "SURVEY_GPS_PROJ": "1",
        "SURVEY_GPS_ALTITUDE": str(int(rng.integers(495, 780))),
        "SURVEY_GPS_PREC": str(int(rng.integers(2, 9))),
        "SURVEY_OBS_DIST": f"{float(round(dist)):.1f}",
        "SURVEY_CALC_DIST": f"{dist:.2f}",
        "SURVEY_GPS_LAT": f"{gps_lat:.6f}", "SURVEY_GPS_LONG": f"{gps_lon:.6f}",
        "SURVEY_CAR_LATITUDE": f"{car_lat:.6f}", "SURVEY_CAR_LONGITUDE": f"{car_lon:.6f}",
        "SURVEY_PARCEL_AREA_HA": _PARCEL_CODE[parcel],
        **dict.fromkeys(("photo_north", "photo_south", "photo_east", "photo_west",
                         "photo_point"), "1"),
    }  # fmt: skip


def _office_columns(p: SurveyedPoint) -> dict[str, str]:
    """A point photo-interpreted in the office: an aggregated LC1, no GPS, no photos."""
    return {
        "SURVEY_OBS_TYPE": "7",
        "SURVEY_LC1": aggregated_code(p.land.code),
        "SURVEY_LC1_PERC": "",
        **dict.fromkeys(("photo_north", "photo_south", "photo_east", "photo_west",
                         "photo_point"), "0"),
    }  # fmt: skip
