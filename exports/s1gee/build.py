"""Build the gee radar source of a run (``--s1-source gee``)."""

from __future__ import annotations

from pathlib import Path

from exports.gee.auth import GeeAuth
from exports.gee.source import GeeSettings
from exports.gee.throttle import MAX_WORKERS
from exports.registry import SourceContext
from exports.s1.options import S1Options
from exports.s1gee.source import GeeRadarSource


def build_radar_source(options: S1Options, context: SourceContext) -> GeeRadarSource:
    """The Earth Engine radar source, connected as the Sentinel-2 gee source connects
    (``--project``, ``--gee-key-file``; raises ConfigError without credentials), with
    ``--workers`` threads under the same throttle rules.

    ``options`` carry nothing this source needs at build time: the orbit filter and the
    resampling come with each call (:class:`~exports.s1.source.S1Filter`, ``fetch``).
    """
    key_file = None if context.key_file is None else Path(context.key_file)
    auth = GeeAuth(project=context.project, key_file=key_file)
    settings = GeeSettings(workers=min(max(context.workers, 1), MAX_WORKERS))
    return GeeRadarSource.connect(auth, settings)
