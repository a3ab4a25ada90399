"""The contract of a radar source: find the slices serving each point, fetch their patches.

A radar source implements :class:`RadarSource`. Its ``fetch`` returns every usable
acquisition of a point as a series stack through :func:`exports.s1.stack.assemble_series`,
so slice de-duplication, the patch no-data filter and the time order are the same for every
source; the pairing with the Sentinel-2 steps (``--s1 closest``) is the pipeline's, after
the fetch (:mod:`exports.s1.pairing`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from exports.grid import DEFAULT_BUFFER_M
from exports.s1.scene import S1Scene
from exports.source import DroppedScene, PointFailure, PointRequest, PointStack


@dataclass(frozen=True)
class S1Filter:
    """The select stage's settings for radar slices."""

    orbit: str = "both"  # --s1-orbit
    buffer_m: float = DEFAULT_BUFFER_M  # the footprint must contain the point's buffer


@dataclass
class S1Selection:
    """Result of the radar select stage for a set of points."""

    scenes: dict[int, list[S1Scene]]  # point id -> candidate slices, every filter passed
    dropped: list[DroppedScene] = field(default_factory=list)  # slice-level drops, with reason
    scenes_seen: int = 0
    failed: dict[int, PointFailure] = field(default_factory=dict)  # selection failed: retried


class RadarSource(Protocol):
    """A Sentinel-1 source (``stac``: a catalog or an API of COGs; ``gee``: S1_GRD)."""

    name: str
    convention: str  # what its values are: sigma0_db or gamma0_db (never mixed in a file)

    def find_acquisitions(
        self, points: Sequence[PointRequest], year: int, s1_filter: S1Filter
    ) -> S1Selection:
        """The radar select stage: many points per call, so a source can batch searches.

        Raises ``InputFormatError`` when the slices found mix σ0 and γ0."""

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[S1Scene]]],
        max_patch_nodata: float,
        resampling: str,
    ) -> Iterator[PointStack | PointFailure]:
        """Every usable acquisition of each point, as a series stack (in any point order);
        a point that fails is yielded as a :class:`PointFailure`, never raised."""
