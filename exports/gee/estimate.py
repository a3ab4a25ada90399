"""The ``gee`` export's cost, counted from its batches (``etl run --dry-run``).

Fast mode sends one ``computePixels`` request per group of :func:`~exports.gee.pixels.
plan_requests` (one per point up to 93 scenes of 11 bands), each answering scenes × bands
× 64 × 64 uint16 values; batch mode starts one table Export task per group of up to
``--gee-group-size`` neighbouring points of one UTM zone (:func:`~exports.gee.groups.
group_points`, counted per batch as the exporter forms them). The time follows the
quota arithmetic of README "Quota arithmetic (fast mode)": ``points/s = workers / t``, at
most 100 requests/s, with ``t`` the server time of one request (unknown offline; 1 s assumed).
"""

from __future__ import annotations

from collections.abc import Sequence

from exports.estimate import Batches, ExportEstimate
from exports.gee.groups import group_points
from exports.gee.options import GeeOptions
from exports.gee.pixels import BYTES_PER_VALUE, plan_requests

SECONDS_PER_REQUEST = 1.0  # assumed server time of one request (README: measure yours)
MAX_REQUESTS_PER_S = 100.0  # the default per-project rate quota


def estimate(options: GeeOptions, batches: Batches, bands: Sequence[str], workers: int
             ) -> ExportEstimate:
    """Requests (computePixels calls or Export tasks) and the bytes of their answers."""
    requests = values = points = 0
    for batch in batches:
        for point, scenes in batch:
            groups = plan_requests(scenes, bands, point.grid)
            points += bool(groups)
            requests += len(groups)
            values += sum(len(g) for g in groups) * len(bands) * point.grid.size ** 2
    size = values * BYTES_PER_VALUE
    if options.mode == "batch":
        tasks = 0
        for batch in batches:
            tasks += len(group_points([(p, s) for p, s in batch if s], options.gee_group_size))
        return ExportEstimate(
            requests=tasks, bytes=size, seconds=None, request_kind="Export tasks",
            assumptions=(f"one Export.table.toCloudStorage task per group of at most "
                         f"{options.gee_group_size} neighbouring points of one UTM zone, "
                         "read back from Cloud Storage; time: the task queue's (about 2 "
                         "tasks of a project at once; README \"Quota arithmetic (batch "
                         "mode)\"), not estimated",))
    rate = min(max(1, workers) / SECONDS_PER_REQUEST, MAX_REQUESTS_PER_S)
    return ExportEstimate(
        requests=requests, bytes=size, seconds=requests / rate if requests else 0.0,
        request_kind="computePixels requests",
        assumptions=(
            "one request per point (more beyond 1,024 bands or 48 MB: plan_requests)",
            f"bytes: scenes × {len(bands)} bands × 64 × 64 × {BYTES_PER_VALUE} (uint16 NPY)",
            f"time: {max(1, workers)} requests in flight at t = {SECONDS_PER_REQUEST:g} s "
            f"each, at most {MAX_REQUESTS_PER_S:g}/s (README \"Quota arithmetic\"; t depends "
            "on the server: measure it on one country)",
        ))
