"""A tiny stand-in for ``lucas.legend.Legend`` (same ``classes`` / ``classify`` interface)."""

from __future__ import annotations

import pandas as pd

CODES = {
    "A11": "Artificial land", "F10": "Bareland", "E20": "Grassland", "B11": "Cropland",
    "C10": "Broadleaves", "C21": "Conifers", "D10": "Shrubland", "G11": "Water",
    "H11": "Wetlands",
}


class StandInLegend:
    def __init__(self, codes: dict[str, str] | None = None) -> None:
        self.codes = dict(CODES if codes is None else codes)
        self.classes = tuple(dict.fromkeys(self.codes.values()))

    def classify(self, codes: pd.Series) -> pd.Series:
        return codes.map(self.codes).astype("object").where(codes.isin(list(self.codes)), None)
