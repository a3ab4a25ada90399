"""Legend application: class indices, points left out and counted."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmark.legend_apply import EXCLUDED, apply_legend, load
from tests.benchmark.standin_legend import StandInLegend


def test_excluded_points_are_counted_by_code() -> None:
    legend = StandInLegend({"B11": "Cropland", "E20": "Grassland"})
    points = pd.DataFrame({"lc1": ["B11", "E20", "A11", "A11", "", None, " e20 "]})
    labels = apply_legend(points, legend)
    assert labels.classes == ("Cropland", "Grassland")
    assert labels.y.tolist() == [0, 1, EXCLUDED, EXCLUDED, EXCLUDED, EXCLUDED, EXCLUDED]
    assert labels.excluded_by_code == {"<missing>": 2, "A11": 2, "e20": 1}
    assert labels.n_excluded == 5


def test_real_legends_load_by_short_name() -> None:
    pytest.importorskip("lucas.legend")
    landcover = load("landcover")
    assert len(landcover.classes) == 9 and landcover.classes[0] == "Artificial land"
    assert len(load("crops").classes) == 8
    labels = apply_legend(pd.DataFrame({"lc1": ["C10", "b55", "X99"]}), landcover)
    assert [landcover.classes[i] if i >= 0 else None for i in labels.y] == [
        "Broadleaves", "Grassland", None
    ]
