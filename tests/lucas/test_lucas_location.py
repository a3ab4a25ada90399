"""The POINT_ID → LAEA grid node → WGS84 convention, and the Europe box."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lucas.location import EUROPE_BBOX, grid_latlon, grid_xy, location_mismatches


def test_point_id_encodes_laea_kilometres() -> None:
    x, y = grid_xy(np.array([47002700, 31603628]))
    assert x.tolist() == [4_700_000.0, 3_160_000.0]
    assert y.tolist() == [2_700_000.0, 3_628_000.0]


def test_grid_node_of_a_known_point() -> None:
    # The LAEA false origin (4321 km, 3210 km) is 52°N 10°E by the definition of EPSG:3035.
    lat, lon = grid_latlon(np.array([43213210]))
    assert lat[0] == pytest.approx(52.0, abs=1e-9)
    assert lon[0] == pytest.approx(10.0, abs=1e-9)


def test_mismatches_report_distance_in_metres() -> None:
    ids = np.array([43213210, 43213212])
    lat, lon = grid_latlon(ids)
    frame = pd.DataFrame(
        {"row": [2, 3], "point_id": ids, "th_lat": [lat[0], lat[1] + 0.001], "th_long": lon}
    )
    mm = location_mismatches(frame)
    assert mm["point_id"].tolist() == [43213212]
    assert mm["distance_m"].item() == pytest.approx(111.3, abs=0.5)
    assert mm["row"].tolist() == [3]


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [
        (35.17, 33.36, True),  # Nicosia, Cyprus
        (34.85, 24.08, True),  # Gavdos, south of Crete
        (52.11, -10.45, True),  # Dingle peninsula, Ireland
        (70.09, 27.9, True),  # northern Finland
        (35.9, 14.5, True),  # Malta
        (28.3, -16.6, False),  # Tenerife (outermost region)
        (32.7, -16.9, False),  # Madeira
        (37.7, -25.6, False),  # Azores
        (88.888888, 88.888888, False),  # Eurostat "not relevant" coordinates
    ],
)
def test_europe_box(lat: float, lon: float, inside: bool) -> None:
    assert bool(EUROPE_BBOX.contains(np.array([lat]), np.array([lon]))[0]) is inside
