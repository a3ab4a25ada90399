"""What the export stage hands to its executors: points, batches of them, and outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exports.source import PointRequest, Scene
from pipeline.dataset.writer import DatasetWriter
from pipeline.ledger import FAILED, UnitState

STAGE = "export"
NO_SCENE = "no usable scene"


@dataclass
class PointItem:
    """One point to export: its request, the scenes select chose, its LUCAS attributes."""

    request: PointRequest
    scenes: list[Scene]
    attributes: dict[str, Any]

    @property
    def point_id(self) -> int:
        return self.request.point_id


@dataclass
class ExportJob:
    """A batch of neighbouring points of one country, picklable for worker processes."""

    country: str
    stage_dir: Path
    points: list[PointItem]
    bands: tuple[str, ...]
    max_patch_nodata: float
    writer: DatasetWriter

    def item(self, point_id: int) -> PointItem:
        """The point of this batch with that id."""
        return next(p for p in self.points if p.point_id == point_id)


@dataclass
class ExportOutcome:
    """How a point ended: done (staged), skipped (no usable scene) or failed (and why)."""

    point_id: int
    state: UnitState
    error: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def transient(self) -> bool:
        """A failure worth trying again in this run (throttling, a network error)."""
        return self.state == FAILED and bool(self.payload.get("transient"))
