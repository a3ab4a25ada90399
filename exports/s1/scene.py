"""What a radar source exchanges with the pipeline: one Sentinel-1 GRD acquisition (a slice).

A slice is one frame of a datatake; slices of one datatake overlap a little, and a point in
the overlap is served by two of them: :func:`datatake_key` gives them one key, so the stack
keeps one (least no-data in the patch), as Sentinel-2 does with the tiles of a datatake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

S1_BANDS: tuple[str, ...] = ("VV", "VH")
S1_DTYPE = np.dtype([("VV", "<f4"), ("VH", "<f4")])
ORBIT_PASSES: tuple[str, ...] = ("ASCENDING", "DESCENDING")
SIGMA0_DB = "sigma0_db"  # Earth Engine's COPERNICUS/S1_GRD: σ0, terrain corrected, 10·log10
GAMMA0_DB = "gamma0_db"  # radiometrically terrain corrected γ0 (Planetary Computer's RTC)
CONVENTIONS: tuple[str, ...] = (SIGMA0_DB, GAMMA0_DB)
NO_ORBIT = -1  # relative_orbit of a step without acquisition (an int attribute needs a value)

# ESA product names: MMM_BB_TTTR_LFPP_START_STOP_OOOOOO_DDDDDD_CCCC (+ "_rtc" on PC).
_PRODUCT = re.compile(
    r"^(?P<mission>S1[A-D])_(?P<mode>[A-Z0-9]{2})_\w{4}_\w{4}_(?P<start>\d{8}T\d{6})_"
    r"\d{8}T\d{6}_(?P<orbit>\d{6})_(?P<datatake>[0-9A-F]{6})"
)


@dataclass(frozen=True)
class S1Scene:
    """One Sentinel-1 IW GRD slice, as any radar source describes it."""

    scene_id: str  # S1_Image_ID: the product id (STAC item id) or Earth Engine system:index
    acquired: datetime  # sensing start, UTC
    datatake: str  # key shared by the slices of one datatake (de-duplication)
    orbit_pass: str  # ASCENDING or DESCENDING
    relative_orbit: int
    platform: str  # sentinel-1a, sentinel-1b, …
    convention: str  # sigma0_db or gamma0_db
    epsg: int | None = None  # CRS of the rasters (STAC); None where the service reprojects
    assets: Mapping[str, str] = field(default_factory=dict)  # "VV"/"VH" -> href or asset id
    nodata: float | None = None  # the assets' own no-data value (besides NaN and x <= 0)


def platform_name(value: str) -> str:
    """``sentinel-1a`` from ``Sentinel-1A``, ``S1A`` or Earth Engine's ``A``."""
    text = value.strip().lower().replace("_", "-")
    match = re.fullmatch(r"(?:sentinel-?1|s1)?-?([a-d])", text)
    return f"sentinel-1{match.group(1)}" if match else text


def orbit_pass_name(value: str) -> str:
    """``ASCENDING`` / ``DESCENDING`` from any case (STAC writes ``ascending``)."""
    return value.strip().upper()


def datatake_key(product_id: str, platform: str, acquired: datetime, relative_orbit: int) -> str:
    """The key of a slice's datatake: mission + datatake id from the product name; without a
    parseable name, platform + relative orbit + day (slices of one pass share all three)."""
    match = _PRODUCT.match(product_id)
    if match:
        return f"{match.group('mission')}_{match.group('datatake')}"
    return f"{platform_name(platform)}_R{relative_orbit:03d}_{acquired:%Y%m%d}"


def sensing_start(scene: S1Scene) -> datetime:
    """The slice's sensing start from its product name (reBEN names patches with it), else
    its acquisition time (a STAC ``datetime`` may be the middle of the slice)."""
    match = _PRODUCT.match(scene.scene_id)
    if match:
        return datetime.strptime(match.group("start"), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return scene.acquired


def iso_utc(when: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (the ``acquired`` attribute)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def s1_scene_to_dict(scene: S1Scene) -> dict[str, object]:
    """A JSON-ready form (the ledger caches radar selections this way)."""
    return {
        "scene_id": scene.scene_id,
        "acquired": scene.acquired.isoformat(),
        "datatake": scene.datatake,
        "orbit_pass": scene.orbit_pass,
        "relative_orbit": scene.relative_orbit,
        "platform": scene.platform,
        "convention": scene.convention,
        "epsg": scene.epsg,
        "assets": dict(scene.assets),
        "nodata": scene.nodata,
    }


def s1_scene_from_dict(raw: Mapping[str, object]) -> S1Scene:
    """The inverse of :func:`s1_scene_to_dict`, so a resumed run reuses cached selections."""
    epsg = raw.get("epsg")
    nodata = raw.get("nodata")
    return S1Scene(
        scene_id=str(raw["scene_id"]),
        acquired=datetime.fromisoformat(str(raw["acquired"])),
        datatake=str(raw["datatake"]),
        orbit_pass=str(raw["orbit_pass"]),
        relative_orbit=int(raw["relative_orbit"]),  # type: ignore[call-overload]
        platform=str(raw["platform"]),
        convention=str(raw["convention"]),
        epsg=None if epsg is None else int(epsg),  # type: ignore[call-overload]
        assets={str(k): str(v) for k, v in dict(raw.get("assets") or {}).items()},  # type: ignore[call-overload]
        nodata=None if nodata is None else float(nodata),  # type: ignore[arg-type]
    )
