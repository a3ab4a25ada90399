"""What every imagery source exchanges with the pipeline: scenes, point requests, stacks.

A source implements :class:`ImagerySource`: ``find_scenes`` (the select stage) and
``fetch`` (the export stage). Sources return raw per-scene patches through
:func:`exports.stack.assemble_stack`, so de-duplication, the patch no-data filter and the
time ordering are the same for every source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from exports.grid import DEFAULT_BUFFER_M, PatchGrid

# Band order of the HDF5 compound dtype (ARCHITECTURE.md "HDF5 layout").
ALL_BANDS: tuple[str, ...] = ("SCL", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
BANDS_10M: frozenset[str] = frozenset({"B2", "B3", "B4", "B8"})

# Earth Search asset keys of each band.
EARTH_SEARCH_KEYS: Mapping[str, str] = {
    "B2": "blue",
    "B3": "green",
    "B4": "red",
    "B5": "rededge1",
    "B6": "rededge2",
    "B7": "rededge3",
    "B8": "nir",
    "B8A": "nir08",
    "B11": "swir16",
    "B12": "swir22",
    "SCL": "scl",
    # The 60 m bands: not in the Sen4Map files, read by the BigEarthNet path.
    "B1": "coastal",
    "B9": "nir09",
}


def band_dtype(bands: Sequence[str]) -> np.dtype:
    """The compound dtype of a stack: SCL u1, reflectance bands u2, in ALL_BANDS order."""
    unknown = [b for b in bands if b not in ALL_BANDS]
    if unknown:
        raise ValueError(f"unknown band(s) {unknown}; valid bands: {', '.join(ALL_BANDS)}")
    ordered = [b for b in ALL_BANDS if b in bands]
    return np.dtype([(b, "u1" if b == "SCL" else "<u2") for b in ordered])


@dataclass(frozen=True)
class SceneFilter:
    """Scene-level thresholds of the select stage (strict ``<`` as in the paper)."""

    max_cloud_cover: float = 40.0
    max_nodata_percent: float = 5.0
    buffer_m: float = DEFAULT_BUFFER_M

    # A threshold of 100 % switches its filter off (a scene can be 100 % cloudy).
    @property
    def filters_cloud(self) -> bool:
        """Whether cloud cover decides; at 100 % every scene would pass anyway."""
        return self.max_cloud_cover < 100.0

    @property
    def filters_nodata(self) -> bool:
        """Whether scene no-data decides; at 100 % every scene would pass anyway."""
        return self.max_nodata_percent < 100.0

    def keeps(self, cloud_cover: float, nodata_percent: float) -> bool:
        """The one test every source applies, so they all keep the same scenes."""
        return (not self.filters_cloud or cloud_cover < self.max_cloud_cover) and (
            not self.filters_nodata or nodata_percent < self.max_nodata_percent
        )


@dataclass(frozen=True)
class Scene:
    """One Sentinel-2 L2A granule (a tile on one date), as any source describes it."""

    scene_id: str  # the source's id (STAC item id, EE asset id)
    image_id: str  # Earth Engine system:index form YYYYMMDDTHHMMSS_YYYYMMDDTHHMMSS_TxxXXX
    acquired: datetime  # sensing time, UTC
    datatake: str  # key shared by the tiles of one datatake (de-duplication)
    tile: str  # MGRS tile, e.g. "33UVP"
    epsg: int  # CRS of the scene's rasters
    cloud_cover: float
    nodata_percent: float
    assets: Mapping[str, str] = field(default_factory=dict)  # band name -> href
    boa_offset: int = 0  # subtracted from reflectance bands (baseline >= 04.00 not harmonised)
    product_id: str = ""  # ESA product name without the generation time (BigEarthNet ids)


@dataclass(frozen=True)
class PointRequest:
    """A point to export and its patch grid."""

    point_id: int
    lat: float
    lon: float
    grid: PatchGrid


@dataclass(frozen=True)
class DroppedScene:
    """A scene left out for a point (or for every point), and why."""

    scene_id: str
    reason: str  # human-readable, with the figures (e.g. "patch no-data 12.3 % > 5 %")
    kind: str = ""  # stable category for counting (e.g. "patch_nodata"); derived when empty

    def category(self) -> str:
        """A stable key for counting drops: reasons carry figures, so they never group."""
        if self.kind:
            return self.kind
        head = re.split(r"[,:(<>]|\d", self.reason, maxsplit=1)[0].strip()
        return head or "other"


@dataclass
class SceneSelection:
    """Result of the select stage for a set of points."""

    scenes: dict[int, list[Scene]]  # point id -> candidate scenes, every filter passed
    dropped: list[DroppedScene] = field(default_factory=list)  # scene-level drops, with reason
    scenes_seen: int = 0
    # Points whose selection failed (recorded as failed, tried again by the next run);
    # a point is in ``scenes`` or here, never both.
    failed: dict[int, PointFailure] = field(default_factory=dict)


@dataclass
class PointStack:
    """A point's finished time series: structured (T, 64, 64) array, one entry per time step."""

    point_id: int
    data: np.ndarray
    image_ids: list[str]
    acquired: list[datetime]
    dropped: list[DroppedScene] = field(default_factory=list)  # time steps left out, with reason
    # Per-step attributes beyond Image_ID, in step order (radar: orbit_pass, platform, …);
    # empty for Sentinel-2, whose file layout has none.
    step_attributes: dict[str, list[Any]] = field(default_factory=dict)
    step_scenes: list[Any] = field(default_factory=list)  # the scene of each step (radar)


@dataclass
class PointFailure:
    """A point whose export failed as a whole (recorded in the ledger, retried on request)."""

    point_id: int
    message: str
    transient: bool = False


class ImagerySource(Protocol):
    """The contract of an imagery source (``stac``, ``gee``)."""

    name: str

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        """The select stage: many points per call, so a source can batch its searches."""

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        """The export stage: yields per point, in any order, so results are recorded early.

        A point that fails is yielded as a :class:`PointFailure`, never raised: one bad
        point must not end the batch.
        """


def scene_to_dict(scene: Scene) -> dict[str, object]:
    """A JSON-ready form of a scene (the ledger caches selections this way)."""
    return {
        "scene_id": scene.scene_id,
        "image_id": scene.image_id,
        "acquired": scene.acquired.isoformat(),
        "datatake": scene.datatake,
        "tile": scene.tile,
        "epsg": scene.epsg,
        "cloud_cover": scene.cloud_cover,
        "nodata_percent": scene.nodata_percent,
        "assets": dict(scene.assets),
        "boa_offset": scene.boa_offset,
        **({"product_id": scene.product_id} if scene.product_id else {}),
    }


def scene_from_dict(raw: Mapping[str, object]) -> Scene:
    """The inverse of :func:`scene_to_dict`, so a resumed run reuses cached selections."""
    return Scene(
        scene_id=str(raw["scene_id"]),
        image_id=str(raw["image_id"]),
        acquired=datetime.fromisoformat(str(raw["acquired"])),
        datatake=str(raw["datatake"]),
        tile=str(raw["tile"]),
        epsg=int(raw["epsg"]),  # type: ignore[call-overload]
        cloud_cover=float(raw["cloud_cover"]),  # type: ignore[arg-type]
        nodata_percent=float(raw["nodata_percent"]),  # type: ignore[arg-type]
        assets={str(k): str(v) for k, v in dict(raw["assets"]).items()},  # type: ignore[call-overload]
        boa_offset=int(raw.get("boa_offset", 0)),  # type: ignore[call-overload]
        product_id=str(raw.get("product_id", "")),
    )


def filter_reason(
    scene: Scene, year: int, sf: SceneFilter, bands: Sequence[str]
) -> tuple[str, str] | None:
    """The first scene filter the scene fails (strict ``<`` thresholds), or None."""
    if scene.acquired.year != year:
        return "wrong_year", f"wrong year {scene.acquired.year} (want {year})"
    if sf.filters_cloud and not scene.cloud_cover < sf.max_cloud_cover:
        return "cloud", f"cloud cover {scene.cloud_cover:g} % >= {sf.max_cloud_cover:g} %"
    if sf.filters_nodata and not scene.nodata_percent < sf.max_nodata_percent:
        return "scene_nodata", (
            f"scene no-data {scene.nodata_percent:g} % >= {sf.max_nodata_percent:g} %"
        )
    for band in bands:
        if band not in scene.assets:
            return "missing_band", f"missing asset {EARTH_SEARCH_KEYS[band]} (band {band})"
    return None
