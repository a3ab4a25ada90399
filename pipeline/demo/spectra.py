"""Seasonal surface reflectance of the demo's land-cover classes (L2A BOA × 10000).

Each class family mixes a few endmember spectra with weights that follow the day of year:
winter cereals green up in spring, turn to stubble at the July harvest and to ploughed soil
after; maize is bare until May and green July–September; meadows are mown three times;
broadleaf forest is leaf-off in winter; conifers stay green; water is dark in NIR/SWIR;
built-up land is bright and flat. Every parcel gets its own phenology shift (sowing, mowing
and leaf-out dates differ), brightness and tint, and a small per-date jitter, all from a
hash of the parcel key, so both tiles of a datatake see identical ground values.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.demo.landcover import CLASSES, cell_hash, unit

REFL_BANDS: tuple[str, ...] = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
BANDS_10M: tuple[str, ...] = ("B2", "B3", "B4", "B8")
RED, NIR = REFL_BANDS.index("B4"), REFL_BANDS.index("B8")

_E = {  # B2, B3, B4, B5, B6, B7, B8, B8A, B11, B12
    "green": (300, 600, 350, 950, 2600, 3300, 3800, 3950, 2000, 1000),
    "grass": (350, 700, 450, 1000, 2400, 2900, 3300, 3450, 2100, 1150),
    "dry_grass": (550, 800, 800, 1100, 1500, 1700, 1900, 2000, 2500, 1700),
    "soil": (850, 1150, 1450, 1700, 1900, 2050, 2200, 2350, 3000, 2500),
    "stubble": (800, 1100, 1350, 1600, 1900, 2100, 2300, 2450, 3300, 2600),
    "leaf_on": (250, 500, 280, 800, 2500, 3200, 3600, 3800, 1800, 800),
    "leaf_off": (450, 600, 650, 850, 1150, 1300, 1500, 1600, 2000, 1300),
    "conifer": (200, 400, 230, 600, 1500, 1900, 2300, 2450, 1100, 500),
    "water": (450, 550, 350, 300, 200, 180, 150, 130, 60, 40),
    "built": (1100, 1250, 1350, 1450, 1600, 1700, 1800, 1850, 2100, 1900),
    "paved": (900, 1050, 1150, 1250, 1350, 1400, 1500, 1550, 1800, 1700),
    "rock": (1800, 2100, 2400, 2550, 2700, 2800, 2900, 3000, 3400, 2900),
}
ENDMEMBERS: Mapping[str, np.ndarray] = {k: np.array(v, dtype=np.float64) for k, v in _E.items()}
SNOW = np.array((8600, 8500, 8300, 8100, 7800, 7600, 7300, 7100, 900, 700), dtype=np.float32)
CLOUD = np.array((7000, 6900, 6900, 7000, 7100, 7100, 7200, 7200, 5600, 5000), dtype=np.float32)
CIRRUS_ADD = np.array((700, 650, 600, 550, 500, 480, 450, 440, 200, 120), dtype=np.float32)

Curve = tuple[tuple[float, float], ...]  # (day of year, weight) knots over 0..366

_CEREAL_GREEN: Curve = (
    (0, 0.22), (60, 0.22), (85, 0.3), (130, 1.0), (170, 1.0), (185, 0.45), (195, 0.1),
    (200, 0.0), (280, 0.0), (300, 0.08), (335, 0.22), (366, 0.22),
)  # fmt: skip
_CEREAL_STUBBLE: Curve = ((0, 0), (170, 0), (185, 0.5), (200, 1.0), (225, 0.9), (240, 0), (366, 0))
_MEADOW: Curve = (
    (0, 0.35), (75, 0.35), (100, 0.6), (130, 1.0), (150, 1.0), (152, 0.45), (175, 0.95),
    (195, 1.0), (197, 0.45), (222, 0.9), (243, 0.95), (245, 0.5), (270, 0.85), (300, 0.75),
    (330, 0.45), (366, 0.35),
)  # fmt: skip

_MAIZE_GREEN: Curve = (
    (0, 0), (140, 0), (160, 0.1), (185, 0.55), (205, 1), (250, 1), (265, 0.6), (280, 0), (366, 0),
)  # fmt: skip
_MAIZE_STUBBLE: Curve = (
    (0, 0.5), (100, 0.5), (115, 0), (262, 0), (275, 0.6), (285, 0.9), (366, 0.5),
)  # fmt: skip
_SEMINATURAL: Curve = ((0, 0.3), (90, 0.35), (140, 0.85), (220, 0.85), (280, 0.5), (366, 0.3))
_LEAF_ON: Curve = (
    (0, 0), (105, 0), (125, 0.6), (140, 1), (270, 1), (290, 0.6), (305, 0.1), (320, 0), (366, 0),
)  # fmt: skip
_SHRUB: Curve = ((0, 0.3), (110, 0.35), (150, 0.85), (260, 0.85), (300, 0.4), (366, 0.3))
_CONIFER: Curve = ((0, 0.88), (120, 1.0), (240, 1.0), (366, 0.88))
_ALWAYS: Curve = ((0, 1.0), (366, 1.0))


def _shifted(curve: Curve, days: float) -> Curve:
    return tuple((d + days, w) for d, w in curve)


# family -> (((endmember, curve), ...), remainder endmember or None, max phenology shift in days)
Family = tuple[tuple[tuple[str, Curve], ...], str | None, float]
FAMILIES: Mapping[str, Family] = {
    "winter_wheat": ((("green", _CEREAL_GREEN), ("stubble", _CEREAL_STUBBLE)), "soil", 8.0),
    "winter_barley": (
        (("green", _shifted(_CEREAL_GREEN, -14)), ("stubble", _shifted(_CEREAL_STUBBLE, -14))),
        "soil",
        8.0,
    ),
    "maize": ((("green", _MAIZE_GREEN), ("stubble", _MAIZE_STUBBLE)), "soil", 9.0),
    "meadow": ((("grass", _MEADOW),), "dry_grass", 10.0),
    "seminatural": ((("grass", _SEMINATURAL),), "dry_grass", 8.0),
    "broadleaf": ((("leaf_on", _LEAF_ON),), "leaf_off", 5.0),
    "conifer": ((("conifer", _CONIFER),), None, 5.0),
    "shrub": ((("leaf_on", _SHRUB),), "leaf_off", 6.0),
    "water": ((("water", _ALWAYS),), None, 0.0),
    "built": ((("built", _ALWAYS),), None, 0.0),
    "paved": ((("paved", _ALWAYS),), None, 0.0),
    "rock": ((("rock", _ALWAYS),), None, 0.0),
    "soil": ((("soil", _ALWAYS),), None, 0.0),
}


def family_spectra(family: str, doy: np.ndarray) -> np.ndarray:
    """(n, 10) spectra of a family at per-parcel days of year ``doy`` (wrapped to 0..366)."""
    members, remainder, _ = FAMILIES[family]
    t = np.mod(doy, 366.0)
    out = np.zeros((t.size, len(REFL_BANDS)))
    total = np.zeros(t.size)
    for name, curve in members:
        days, weights = zip(*curve, strict=True)
        w = np.interp(t, days, weights)
        out += w[:, None] * ENDMEMBERS[name][None, :]
        total += w
    if remainder is not None:
        out += np.clip(1.0 - total, 0.0, 1.0)[:, None] * ENDMEMBERS[remainder][None, :]
    return out


def parcel_spectra(
    keys: np.ndarray, classes: np.ndarray, doy: float, datatake: int, salt: int
) -> np.ndarray:
    """(n, 10) float32 reflectance of parcels (key, class) on a day of year, for one datatake."""
    h = cell_hash(keys >> 32, keys & 0xFFFFFFFF, salt + 5)
    out = np.zeros((keys.size, len(REFL_BANDS)))
    for family in {CLASSES[c].family for c in np.unique(classes)}:
        sel = np.isin(classes, [i for i, c in enumerate(CLASSES) if c.family == family])
        shift = (unit(h[sel], 1) * 2 - 1) * FAMILIES[family][2]
        out[sel] = family_spectra(family, doy - shift)
    bright = 0.92 + 0.16 * unit(h, 2)
    tint = 1.0 + 0.03 * (np.stack([unit(h, 10 + b) for b in range(len(REFL_BANDS))], 1) * 2 - 1)
    return (out * bright[:, None] * tint * _jitter(keys, datatake, salt)).astype(np.float32)


def _jitter(keys: np.ndarray, datatake: int, salt: int) -> np.ndarray:
    """(n, 10) per-date factors: ±2 % for the whole parcel (moisture, view angle) and ±1 % per
    band (the demo's noise: per parcel, not per pixel, which would double the archive)."""
    h = cell_hash(keys, np.full(keys.shape, datatake), salt + 6)
    common = 1.0 + 0.02 * (unit(h, 1) * 2 - 1)
    per_band = 1.0 + 0.01 * (np.stack([unit(h, 20 + b) for b in range(len(REFL_BANDS))], 1) * 2 - 1)
    return common[:, None] * per_band


def ground_scl(spectra: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Scene classification of clear ground: 6 water, 4 vegetation (NDVI > 0.4), else 5."""
    red, nir = spectra[:, RED], spectra[:, NIR]
    ndvi = (nir - red) / np.maximum(nir + red, 1.0)
    water = np.array([CLASSES[c].family == "water" for c in classes], dtype=bool)
    return np.where(water, 6, np.where(ndvi > 0.4, 4, 5)).astype(np.uint8)
