"""What an export will cost before it runs: requests, bytes, time (``etl run --dry-run``).

Why a shared type: each source counts its own traffic (files and windows for ``stac``,
``computePixels`` calls for ``gee``), but the dry run prints them the same way. A source
plugs its estimator into its :class:`~exports.registry.SourceSpec` (``estimator``); the
estimate is computed from the batches the export would run, so it follows the same
grouping (the same scene read once per batch), not an average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from exports.source import PointRequest, Scene

# The export's batches as the planner cuts them: each point with its candidate scenes.
Batches = Sequence[Sequence[tuple[PointRequest, Sequence[Scene]]]]


@dataclass(frozen=True)
class ExportEstimate:
    """A source's forecast of the export: what it counts as a request, and its figures."""

    requests: int
    bytes: int
    seconds: float | None  # None: no honest figure (e.g. queueing of batch tasks)
    request_kind: str  # what one request is, e.g. "computePixels requests"
    assumptions: tuple[str, ...] = ()  # where the figures come from, one line each


def unique_scenes(scenes: Sequence[Scene]) -> list[Scene]:
    """A point's scenes without repeats (as :class:`exports.scene_batch.SceneBatch` reads)."""
    return list({s.scene_id: s for s in scenes}.values())
