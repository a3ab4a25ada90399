"""Stage summaries and the progress hook the CLI plugs its bars into.

Library code never draws: it calls ``Progress.start(stage, total)`` and advances the returned
callable; the CLI passes a rich-based implementation, tests pass nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Progress(Protocol):
    def start(self, stage: str, total: int) -> Callable[[int], None]: ...

    def stop(self, stage: str) -> None: ...


class NoProgress:
    """The default: no bars."""

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        return lambda n: None

    def stop(self, stage: str) -> None:
        return None


@dataclass
class StageSummary:
    """What one stage did: counts by outcome, reasons for what it left out, time spent."""

    stage: str
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "counts": dict(self.counts),
            "reasons": dict(self.reasons),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RunSummary:
    stages: list[StageSummary] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    nothing_to_do: bool = False
    interrupted: bool = False
    failed_earlier: int = 0  # units left failed by earlier runs (retried with --retry-failed)

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.stages)
