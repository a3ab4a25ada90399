"""The Earth Engine radar source (``--s1-source gee``): ``COPERNICUS/S1_GRD``, σ0 in dB.

:class:`GeeRadarSource` implements :class:`~exports.s1.source.RadarSource` with the
Sentinel-2 gee source's machinery: selection on the server in chunks of points
(:mod:`exports.s1gee.select`), each point's slices in one ``computePixels`` call or a few
(:mod:`exports.s1gee.pixels`), points in parallel on a bounded thread pool, every call
under one :class:`~exports.gee.throttle.Throttle` (rate, adaptive concurrency, retries of
429 and other transient errors).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ee

from exports.gee.source import GeeService, completion_order, point_failure
from exports.s1.options import RESAMPLINGS
from exports.s1.scene import SIGMA0_DB, S1Scene
from exports.s1.source import S1Filter, S1Selection
from exports.s1.stack import assemble_series
from exports.s1gee.pixels import fetch_slices
from exports.s1gee.select import select_acquisitions
from exports.source import PointFailure, PointRequest, PointStack
from lucas.errors import ConfigError

log = logging.getLogger(__name__)


def _compute_pixels(params: dict[str, Any]) -> Any:
    return ee.data.computePixels(params)  # looked up per call: tests may patch ee.data


class GeeRadarSource(GeeService):
    """Sentinel-1 IW GRD from Earth Engine's ``COPERNICUS/S1_GRD`` (σ0 dB, no conversion).

    The service part (settings, throttle, the injected server calls) is the Sentinel-2
    gee source's (:class:`~exports.gee.source.GeeService`).
    """

    name = "gee"
    convention = SIGMA0_DB

    def find_acquisitions(
        self, points: Sequence[PointRequest], year: int, s1_filter: S1Filter
    ) -> S1Selection:
        """Selection on the server, chunks in parallel: one call per point would hit the quota.

        A chunk that still fails after splitting to single points leaves its points in
        ``S1Selection.failed`` (recorded per point by the pipeline); the rest is kept."""
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="gee-s1-select") as pool:
            return select_acquisitions(
                points,
                year,
                s1_filter,
                evaluate=self._compute_value,
                throttle=self.throttle,
                chunk_size=self.settings.select_chunk,
                executor=pool,
            )

    def fetch(
        self,
        batch: Sequence[tuple[PointRequest, Sequence[S1Scene]]],
        max_patch_nodata: float,
        resampling: str,
    ) -> Iterator[PointStack | PointFailure]:
        """Each point's series as soon as it is ready (completion order, not batch order);
        a point that fails is yielded as a :class:`PointFailure`, never raised."""
        if resampling not in RESAMPLINGS:
            raise ConfigError(f"unknown Sentinel-1 resampling '{resampling}'; choose one of "
                              f"{', '.join(RESAMPLINGS)}")
        yield from completion_order(
            batch,
            lambda item: self._fetch_one(item[0], item[1], max_patch_nodata, resampling),
            self.settings.workers,
            thread_name_prefix="gee-s1-pixels",
        )

    def _fetch_one(
        self,
        point: PointRequest,
        scenes: Sequence[S1Scene],
        max_patch_nodata: float,
        resampling: str,
    ) -> PointStack | PointFailure:
        try:
            if not scenes:  # nothing to ask the server: an empty series
                return assemble_series(point, [], max_patch_nodata)
            patches, dropped = fetch_slices(
                point,
                scenes,
                resampling,
                compute_pixels=self._compute_pixels,
                throttle=self.throttle,
            )
            return assemble_series(point, patches, max_patch_nodata, dropped)
        except Exception as e:  # recorded per point, never the end of the batch
            return point_failure(point, e)
