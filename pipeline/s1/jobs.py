"""What the radar export hands to its executors: points, batches, settings (picklable)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exports.s1.pairing import S2Step
from exports.s1.scene import S1Scene
from exports.source import PointRequest


@dataclass
class S1Item:
    """One point: its request, the slices select chose, the Sentinel-2 steps to pair with
    (``--s1 closest``; None in ``series`` mode) and the attributes its dataset carries."""

    request: PointRequest
    scenes: list[S1Scene]
    steps: list[S2Step] | None
    attributes: dict[str, Any]

    @property
    def point_id(self) -> int:
        return self.request.point_id


@dataclass
class S1ExportJob:
    """A batch of neighbouring points of one country and the radar settings."""

    country: str
    stage_dir: Path
    points: list[S1Item]
    mode: str  # closest | series
    max_days: float
    max_patch_nodata: float
    resampling: str
    writer_name: str

    def item(self, point_id: int) -> S1Item:
        """The point of this batch with that id."""
        return next(p for p in self.points if p.point_id == point_id)
