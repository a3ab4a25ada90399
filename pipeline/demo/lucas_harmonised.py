"""The demo's LUCAS table, in the JRC harmonised schema (117 columns, decoded labels).

Rows look like the real 2018 rows (see shared/lucas/malpolon_lucas_harmo_subset): numeric
codes such as 8 / 88.0 / 888.0 for "not relevant", labels spelled out, unsigned longitudes
with an East/West column, photo URLs on GISCO's layout. ``th_lat``/``th_long`` are the exact
pyproj transform of the POINT_ID's LAEA node; ``lc1``/``lu1`` are the demo map's class there.
The same points in the LUCAS 2022 layout: :mod:`pipeline.demo.lucas2022`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pyproj import Geod

from pipeline.demo.geo import Node
from pipeline.demo.landcover import LandClass

# The 117 ordered columns of lucas_harmo_uf_2018.csv (d'Andrimont et al. 2020).
HARMO_2018_COLUMNS: tuple[str, ...] = (
    "id", "point_id", "year", "nuts0", "nuts1", "nuts2", "nuts3", "th_lat", "th_long",
    "office_pi", "ex_ante", "survey_date", "car_latitude", "car_ew", "car_longitude", "gps_proj",
    "gps_prec", "gps_altitude", "gps_lat", "gps_ew", "gps_long", "obs_dist", "obs_direct",
    "obs_type", "obs_radius", "letter_group", "lc1", "lc1_label", "lc1_spec", "lc1_spec_label",
    "lc1_perc", "lc2", "lc2_label", "lc2_spec", "lc2_spec_label", "lc2_perc", "lu1", "lu1_label",
    "lu1_type", "lu1_type_label", "lu1_perc", "lu2", "lu2_label", "lu2_type", "lu2_type_label",
    "lu2_perc", "parcel_area_ha", "tree_height_maturity", "tree_height_survey", "feature_width",
    "lm_stone_walls", "crop_residues", "lm_grass_margins", "grazing", "special_status",
    "lc_lu_special_remark", "cprn_cando", "cprn_lc", "cprn_lc_label", "cprn_lc1n", "cprnc_lc1e",
    "cprnc_lc1s", "cprnc_lc1w", "cprn_lc1n_brdth", "cprn_lc1e_brdth", "cprn_lc1s_brdth",
    "cprn_lc1w_brdth", "cprn_lc1n_next", "cprn_lc1s_next", "cprn_lc1e_next", "cprn_lc1w_next",
    "cprn_urban", "cprn_impervious_perc", "inspire_plcc1", "inspire_plcc2", "inspire_plcc3",
    "inspire_plcc4", "inspire_plcc5", "inspire_plcc6", "inspire_plcc7", "inspire_plcc8",
    "eunis_complex", "grassland_sample", "grass_cando", "wm", "wm_source", "wm_type",
    "wm_delivery", "erosion_cando", "soil_stones_perc", "bio_sample", "soil_bio_taken",
    "bulk0_10_sample", "soil_blk_0_10_taken", "bulk10_20_sample", "soil_blk_10_20_taken",
    "bulk20_30_sample", "soil_blk_20_30_taken", "standard_sample", "soil_std_taken",
    "organic_sample", "soil_org_depth_cando", "soil_taken", "soil_crop", "photo_point",
    "photo_north", "photo_south", "photo_east", "photo_west", "transect", "revisit",
    "th_gps_dist", "file_path_gisco_north", "file_path_gisco_south", "file_path_gisco_east",
    "file_path_gisco_west", "file_path_gisco_point",
)  # fmt: skip

NUTS = ("AT", "AT3", "AT33", "AT335")  # Austria, Westösterreich, Tirol, Tiroler Unterland
NR = "Not relevant"
_CONSTANT: dict[str, str] = {  # columns whose value is the same on every demo row
    "office_pi": "0.0", "ex_ante": "0.0", "car_ew": "East", "gps_proj": "WGS84", "gps_ew": "East",
    "obs_direct": "On the point", "obs_type": "In situ < 100 m", "obs_radius": "",
    "lc1_spec": "8", "lc1_spec_label": NR, "lc2": "8", "lc2_label": NR, "lc2_spec": "8",
    "lc2_spec_label": NR, "lc2_perc": NR, "lu1_type": "8", "lu1_type_label": NR,
    "lu1_perc": "> 90 %", "lu2": "8", "lu2_label": NR, "lu2_type": "8", "lu2_type_label": NR,
    "lu2_perc": NR, "lm_stone_walls": "No", "special_status": "No special status",
    "lc_lu_special_remark": "No remark", "cprn_cando": "No", "cprn_lc": "8", "cprn_lc_label": NR,
    "cprn_lc1n": "88.0", "cprnc_lc1e": "88.0", "cprnc_lc1s": "88.0", "cprnc_lc1w": "88.0",
    "cprn_lc1n_brdth": "888.0", "cprn_lc1e_brdth": "888.0", "cprn_lc1s_brdth": "888.0",
    "cprn_lc1w_brdth": "888.0", "cprn_lc1n_next": "8", "cprn_lc1s_next": "8",
    "cprn_lc1e_next": "8", "cprn_lc1w_next": "8", "cprn_urban": "No",
    "cprn_impervious_perc": "0.0", "eunis_complex": "Other", "grassland_sample": "0.0",
    "grass_cando": NR, "wm_source": NR, "wm_type": NR, "wm_delivery": NR, "erosion_cando": NR,
    "bio_sample": "0.0", "soil_bio_taken": "8.0", "bulk0_10_sample": "0.0",
    "soil_blk_0_10_taken": NR, "bulk10_20_sample": "0.0", "soil_blk_10_20_taken": NR,
    "bulk20_30_sample": "0.0", "soil_blk_20_30_taken": NR, "standard_sample": "0.0",
    "soil_std_taken": NR, "organic_sample": "0.0", "soil_org_depth_cando": NR, "soil_taken": "",
    "soil_crop": "", "photo_point": "Photo taken", "photo_north": "Photo taken",
    "photo_south": "Photo taken", "photo_east": "Photo taken", "photo_west": "Photo taken",
    "transect": "",
}  # fmt: skip
PLCC = {  # family -> INSPIRE pure land-cover components 1..8 (percent)
    "built": (80, 5, 0, 15, 0, 0, 0, 0), "paved": (95, 0, 0, 5, 0, 0, 0, 0),
    "winter_wheat": (0, 0, 0, 90, 0, 10, 0, 0), "winter_barley": (0, 0, 0, 90, 0, 10, 0, 0),
    "maize": (0, 0, 0, 85, 0, 15, 0, 0), "meadow": (0, 0, 0, 100, 0, 0, 0, 0),
    "seminatural": (0, 10, 5, 85, 0, 0, 0, 0), "broadleaf": (0, 85, 5, 10, 0, 0, 0, 0),
    "conifer": (0, 90, 0, 10, 0, 0, 0, 0), "shrub": (0, 5, 75, 20, 0, 0, 0, 0),
    "rock": (0, 0, 0, 10, 5, 85, 0, 0), "soil": (0, 0, 0, 10, 0, 90, 0, 0),
    "water": (0, 0, 0, 0, 0, 0, 100, 0),
}  # fmt: skip
_CROPS = {"winter_wheat", "winter_barley", "maize"}
_GRASS = {"meadow", "seminatural"}
_WOODY = {"broadleaf", "conifer", "shrub"}
_TREE_HEIGHT = {"broadleaf": "> 5 m", "conifer": "> 5 m", "shrub": "< 5 m"}
_NO_GRAZING = "No signs of grazing"


@dataclass(frozen=True)
class SurveyedPoint:
    """A demo point: its node and the class the map has there."""

    node: Node
    land: LandClass


def lucas_rows(points: Sequence[SurveyedPoint], year: int, seed: int) -> list[dict[str, str]]:
    """One harmonised row per point, every column filled as the real 2018 rows are."""
    rng = np.random.default_rng([seed, 55])
    geod = Geod(ellps="WGS84")
    return [_row(i, p, year, rng, geod) for i, p in enumerate(points)]


def _row(
    i: int, p: SurveyedPoint, year: int, rng: np.random.Generator, geod: Geod
) -> dict[str, str]:
    node, land = p.node, p.land
    pid = f"{node.point_id:08d}"
    row = dict(_CONSTANT)
    gps_lon, gps_lat, _ = geod.fwd(node.lon, node.lat, rng.uniform(0, 360), rng.uniform(2, 40))
    car_lon, car_lat, _ = geod.fwd(node.lon, node.lat, rng.uniform(0, 360), rng.uniform(80, 400))
    _, _, dist = geod.inv(node.lon, node.lat, gps_lon, gps_lat)
    row.update(
        id=str(1_200_000 + 17 * i),
        point_id=pid,
        year=str(year),
        nuts0=NUTS[0], nuts1=NUTS[1], nuts2=NUTS[2], nuts3=NUTS[3],
        th_lat=repr(node.lat),
        th_long=repr(node.lon),
        survey_date=survey_date(land, year, rng),
        car_latitude=f"{car_lat:.5f}", car_longitude=f"{car_lon:.5f}",
        gps_prec=str(int(rng.integers(2, 9))),
        gps_altitude=f"{float(rng.integers(495, 780)):.1f}",
        gps_lat=f"{gps_lat:.5f}", gps_long=f"{gps_lon:.6f}",
        obs_dist=f"{float(round(dist)):.1f}",
        th_gps_dist=f"{dist:.5f}",
        revisit=str(int(rng.integers(1, 6))),
    )  # fmt: skip
    row.update(_land_columns(land, rng))
    for side, letter in (
        ("north", "N"),
        ("south", "S"),
        ("east", "E"),
        ("west", "W"),
        ("point", "P"),
    ):
        row[f"file_path_gisco_{side}"] = (
            f"https://gisco-services.ec.europa.eu/lucas/photos/{year}/{NUTS[0]}/"
            f"{pid[:3]}/{pid[4:7]}/{pid}{letter}.jpg"
        )
    return {c: row[c] for c in HARMO_2018_COLUMNS}


def _land_columns(land: LandClass, rng: np.random.Generator) -> dict[str, str]:
    """The columns that follow from the land cover: labels, parcel, management, INSPIRE."""
    fam = land.family
    out = {
        "letter_group": land.code[0],
        "lc1": land.code,
        "lc1_label": land.label,
        "lc1_perc": "> 75 %" if rng.uniform() < 0.85 else "50 - 75 %",
        "lu1": land.lu1,
        "lu1_label": land.lu1_label,
        "parcel_area_ha": _parcel_area(fam, rng),
        "tree_height_maturity": _TREE_HEIGHT.get(fam, NR),
        "feature_width": "> 20 m" if fam in _WOODY else NR,
        "crop_residues": ("Yes" if rng.uniform() < 0.2 else "No") if fam in _CROPS else "No",
        "lm_grass_margins": ("Yes" if rng.uniform() < 0.4 else "No") if fam in _CROPS else "No",
        "grazing": "Signs of grazing" if fam in _GRASS and rng.uniform() < 0.35 else _NO_GRAZING,
        "wm": "No visible water management" if fam in _CROPS else NR,
        "soil_stones_perc": "< 10 %" if fam in _CROPS | _GRASS else NR,
    }  # fmt: skip
    out["tree_height_survey"] = out["tree_height_maturity"]
    for k, v in enumerate(PLCC[fam], start=1):
        out[f"inspire_plcc{k}"] = f"{float(v):.1f}"
    return out


def _parcel_area(family: str, rng: np.random.Generator) -> str:
    if family in ("broadleaf", "conifer", "water", "rock"):
        return "> 10 ha"
    if family in ("built", "paved", "soil"):
        return "< 0.5 ha"
    return ("0.5 - 1 ha", "1 - 10 ha", "1 - 10 ha", "> 10 ha")[int(rng.integers(0, 4))]


def survey_date(land: LandClass, year: int, rng: np.random.Generator) -> str:
    """A summer visit (dd/mm/yy); cereals before their July harvest."""
    first, last = (152, 188) if land.family in ("winter_wheat", "winter_barley") else (152, 243)
    day = date(year, 1, 1) + timedelta(days=int(rng.integers(first, last + 1)) - 1)
    return f"{day:%d/%m/%y}"


def write_lucas_csv(
    path: Path,
    rows: Sequence[Mapping[str, str]],
    columns: Sequence[str] = HARMO_2018_COLUMNS,
) -> None:
    """The table as it is distributed: comma-separated, a header of the column names."""
    write_csv_rows(path, columns, ([row.get(c, "") for c in columns] for row in rows))


def write_csv_rows(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    delimiter: str = ",",
) -> None:
    """A header line and the rows, minimal quoting, ``\\n`` line ends (as LUCAS ships its
    tables); values are written as ``str`` gives them. Columns may repeat, so tests can write
    malformed tables with it too."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
