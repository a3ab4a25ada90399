"""Recording export outcomes: the ledger (the single source of truth) and the summary.

Only the coordinating process calls this, after a point's staged file was renamed into
place, so a unit marked done always has its output on disk.
"""

from __future__ import annotations

from collections.abc import Iterable

from lucas.errors import SourceError
from pipeline.config import RunConfig
from pipeline.export.jobs import STAGE, ExportOutcome
from pipeline.ledger import DONE, FAILED, SKIPPED, Ledger, UnitUpdate
from pipeline.points import point_key
from pipeline.report import StageSummary


def record_outcomes(
    cfg: RunConfig,
    ledger: Ledger,
    country: str,
    outcomes: Iterable[ExportOutcome],
    summary: StageSummary,
    stage: str = STAGE,
) -> None:
    """Count the outcomes and record them in one ledger transaction (``--fail-fast`` raises
    at the first permanent failure, after recording it); ``stage``: the ledger stage."""
    updates = []
    for o in outcomes:
        # A transient failure is tried again in this run: counted as failed only at the end.
        summary.counts["transient errors" if o.transient else o.state] += 1
        if o.state == DONE:
            summary.counts["time steps"] += int(o.payload.get("steps", 0))
        if o.state == SKIPPED:
            summary.reasons[f"point skipped: {o.payload.get('reason', o.error)}"] += 1
        update = UnitUpdate(point_key(cfg.year, country, o.point_id), o.state, o.error,
                            o.payload)
        if o.state == FAILED and not o.transient:
            summary.reasons[f"point failed: {o.error}"] += 1
            if cfg.fail_fast:
                ledger.record(stage, [update])
                raise SourceError(f"point {o.point_id:08d} failed (--fail-fast): {o.error}")
        for d in o.payload.get("dropped", []):
            summary.reasons[f"time step dropped: {d['kind']}"] += 1
        updates.append(update)
    ledger.record(stage, updates)
