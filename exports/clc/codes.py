"""The CORINE Land Cover 2018 Level-3 codes and the BigEarthNet class sets built on them.

The code table is package data (``exports/clc/data/clc2018_codes.csv``), transcribed unchanged
from reBEN's pipeline (kai-tub/bigearthnet-pipeline, ``migrations/V1_2__sentinel2_tables.sql``):
the 44 CLC Level-3 codes 111…523, each with its Level-3 name and its BigEarthNet 19-class name,
``UNLABELED`` for the codes reBEN drops (122 Road and rail networks, 123 Port areas, …, 423
Intertidal flats), plus the row ``999 UNLABELED`` (CLC's NODATA code; here also the value of a
pixel no polygon covers, :data:`UNCOVERED`).

The two class orders are the canonical ones, those of torchgeo's ``BigEarthNet.class_sets``
(``BigEarthNetV2`` uses the 19-class list) and of the BigEarthNet ``label_indices.json`` they
cite: the order of the CLC codes, which is also the order of first appearance in the table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

UNLABELED = "UNLABELED"
"""The 19-class name of a code BigEarthNet does not label (and of :data:`UNCOVERED`)."""

UNCOVERED = 999
"""Reference-map value of a pixel no CLC polygon covers (CLC's NODATA code): UNLABELED."""

GLACIERS = 335
"""Glaciers and perpetual snow: a CLC Level-3 code that is none of BigEarthNet's 43 classes."""

BEN19_CLASSES: tuple[str, ...] = (
    "Urban fabric",
    "Industrial or commercial units",
    "Arable land",
    "Permanent crops",
    "Pastures",
    "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas",
    "Broad-leaved forest",
    "Coniferous forest",
    "Mixed forest",
    "Natural grassland and sparsely vegetated areas",
    "Moors, heathland and sclerophyllous vegetation",
    "Transitional woodland, shrub",
    "Beaches, dunes, sands",
    "Inland wetlands",
    "Coastal wetlands",
    "Inland waters",
    "Marine waters",
)
"""The 19 reBEN / BigEarthNet v2 classes, in the canonical (torchgeo) order."""

BEN43_CLASSES: tuple[str, ...] = (
    "Continuous urban fabric",
    "Discontinuous urban fabric",
    "Industrial or commercial units",
    "Road and rail networks and associated land",
    "Port areas",
    "Airports",
    "Mineral extraction sites",
    "Dump sites",
    "Construction sites",
    "Green urban areas",
    "Sport and leisure facilities",
    "Non-irrigated arable land",
    "Permanently irrigated land",
    "Rice fields",
    "Vineyards",
    "Fruit trees and berry plantations",
    "Olive groves",
    "Pastures",
    "Annual crops associated with permanent crops",
    "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas",
    "Broad-leaved forest",
    "Coniferous forest",
    "Mixed forest",
    "Natural grassland",
    "Moors and heathland",
    "Sclerophyllous vegetation",
    "Transitional woodland/shrub",
    "Beaches, dunes, sands",
    "Bare rock",
    "Sparsely vegetated areas",
    "Burnt areas",
    "Inland marshes",
    "Peatbogs",
    "Salt marshes",
    "Salines",
    "Intertidal flats",
    "Water courses",
    "Water bodies",
    "Coastal lagoons",
    "Estuaries",
    "Sea and ocean",
)
"""BigEarthNet v1's 43 classes in their canonical order: the Level-3 names of all 44 CLC
codes but 335 Glaciers and perpetual snow (absent from BigEarthNet's countries), UNLABELED
19-class codes such as 122 Road and rail networks included."""


@dataclass(frozen=True)
class ClcCode:
    """One CLC 2018 code: its Level-3 name and its BigEarthNet 19-class name."""

    code: int
    level3: str
    ben19: str  # one of BEN19_CLASSES, or UNLABELED

    @property
    def unlabeled(self) -> bool:
        """Whether a pixel of this code counts towards a patch's unlabeled fraction."""
        return self.ben19 == UNLABELED

    @property
    def in_ben43(self) -> bool:
        """Whether the code is one of BigEarthNet v1's 43 classes (not 335, not 999)."""
        return self.code not in (UNCOVERED, GLACIERS)


@lru_cache(maxsize=1)
def clc_table() -> Mapping[int, ClcCode]:
    """The CLC 2018 codes (111…523 and 999), read once from the package data, code order."""
    text = resources.files("exports.clc.data").joinpath("clc2018_codes.csv").read_text(
        encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    table = {
        int(r["clc_code"]): ClcCode(int(r["clc_code"]), r["clc_level3_name"], r["ben19_class"])
        for r in rows
    }
    return MappingProxyType(table)


def is_clc_code(value: int) -> bool:
    """Whether a value is a code of :func:`clc_table` (999 included)."""
    return int(value) in clc_table()
