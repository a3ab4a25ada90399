"""Fault injection: a source wrapper whose reads fail on purpose (demos and resilience tests).

``FaultInjectingSource(source, share)`` makes ``share`` of the point reads fail with a
transient error and ``share / 20`` with a permanent one (``--inject-faults 0.2``: 20 % and
1 %). Selection is passed through untouched: the faults hit the export stage, where a real
archive or service fails.

Why a *point* read is the unit, not a (point, scene) read: a point's stack is the unit the
pipeline retries and records, and a real source fails a point as a whole when one of its
scene reads hits a network error. With 20 % of ~25 scene reads per point failing, almost no
point would ever succeed and no retry policy could finish the run; with 20 % of point reads
failing, bounded retries (``--retries``) finish it, which is what the demo is meant to show.

Fates are decided by a seeded hash, not by call order:

- a point is *permanently* broken or not, from (seed, point id) alone: the same point fails
  on every attempt, in every process and every run, naming the same scene with the same
  message, so the ledger holds it once, and ``--retry-failed`` meets the same fault
  (run without ``--inject-faults`` to see it recover);
- a *transient* fate is drawn from (seed, salt, point id, attempt), ``attempt`` counting this
  instance's reads of that point: deterministic in one process (tests can predict it), and
  worker processes pass a salt of their own so a point retried on another worker is not
  doomed to repeat its first fate.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Literal

from exports.source import (
    ImagerySource,
    PointFailure,
    PointRequest,
    PointStack,
    Scene,
    SceneFilter,
    SceneSelection,
)

log = logging.getLogger(__name__)

DEFAULT_SEED = 0
PERMANENT_SHARE = 1 / 20  # permanent faults per transient fault
FLAG = "--inject-faults"

Fate = Literal["ok", "transient", "permanent"]


def _uniform(*parts: object) -> float:
    """A reproducible uniform draw in [0, 1) keyed by ``parts`` (no global RNG state)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class FaultInjectingSource:
    """Wraps any :class:`~exports.source.ImagerySource`; implements the same Protocol."""

    def __init__(
        self,
        source: ImagerySource,
        share: float,
        *,
        permanent_share: float | None = None,
        seed: int = DEFAULT_SEED,
        salt: int = 0,
    ) -> None:
        if not 0.0 <= share < 1.0:
            raise ValueError(f"fault share must be in [0, 1), got {share} ({FLAG})")
        self.inner = source
        self.name = source.name
        self.share = share
        self.permanent_share = share * PERMANENT_SHARE if permanent_share is None \
            else permanent_share
        self.seed = seed
        self.salt = salt
        self.attempts: Counter[int] = Counter()  # point id -> reads attempted here
        self.injected: Counter[Fate] = Counter()  # what was injected, for logs and tests

    def find_scenes(
        self, points: Sequence[PointRequest], year: int, scene_filter: SceneFilter
    ) -> SceneSelection:
        """Passed through untouched: faults belong to the export stage, as in a real archive."""
        return self.inner.find_scenes(points, year, scene_filter)

    def is_permanent(self, point_id: int) -> bool:
        """Whether this point is broken for good (the same answer everywhere, every run)."""
        return _uniform(self.seed, "permanent", point_id) < self.permanent_share

    def fate(self, point_id: int, attempt: int) -> Fate:
        """What the ``attempt``-th read (1-based) of ``point_id`` in this instance meets."""
        if self.is_permanent(point_id):
            return "permanent"
        if _uniform(self.seed, self.salt, "transient", point_id, attempt) < self.share:
            return "transient"
        return "ok"

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[Scene]]],
        bands: Sequence[str],
        max_patch_nodata: float,
    ) -> Iterator[PointStack | PointFailure]:
        """Failures first (the points are never read), then the inner source's results."""
        healthy = []
        for req, scenes in batch:
            pid = req.point_id
            self.attempts[pid] += 1
            fate = self.fate(pid, self.attempts[pid]) if scenes else "ok"
            if fate == "ok":
                healthy.append((req, scenes))
                continue
            self.injected[fate] += 1
            yield self._failure(pid, scenes, fate)
        if healthy:
            yield from self.inner.fetch(healthy, bands, max_patch_nodata)

    def _failure(self, point_id: int, scenes: Sequence[Scene], fate: Fate) -> PointFailure:
        ids = sorted(s.scene_id for s in scenes)
        if fate == "permanent":
            scene = ids[int(_uniform(self.seed, "scene", point_id) * len(ids))]
            return PointFailure(
                point_id,
                f"scene {scene}: injected permanent fault: asset unreadable ({FLAG})",
                transient=False,
            )
        attempt = self.attempts[point_id]
        scene = ids[int(_uniform(self.seed, self.salt, "scene", point_id, attempt) * len(ids))]
        log.debug("point %d: injected transient fault (attempt %d)", point_id, attempt)
        return PointFailure(
            point_id,
            f"scene {scene}: injected transient fault: read timed out ({FLAG})",
            transient=True,
        )
