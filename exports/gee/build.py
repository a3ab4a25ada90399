"""Build the gee source of a run: ``--mode fast`` (computePixels) or ``batch`` (Export tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exports.gee.options import GeeOptions
from exports.gee.source import GeeBatchSource, GeeSource
from exports.gee.task_records import RecordTaskStore
from exports.registry import SourceContext
from lucas.errors import ConfigError


@dataclass(frozen=True)
class _Settings:
    """What :meth:`GeeSource.from_config` and ``batch_from_config`` read."""

    project: str | None
    gee_key_file: Path | None
    workers: int
    gcs_bucket: str | None
    gcs_prefix: str
    group_size: int


def build_source(options: GeeOptions, context: SourceContext) -> GeeSource | GeeBatchSource:
    """The configured Earth Engine source (connects: raises ConfigError without credentials).

    The batch path keeps its task ids in the run's durable record store, which only the
    coordinating process holds.
    """
    settings = _Settings(context.project, context.key_file, context.workers,
                         options.gcs_bucket, options.gcs_prefix, options.gee_group_size)
    if options.mode == "batch":
        if context.durable is None:
            raise ConfigError("--mode batch runs in the coordinating process only")
        store = RecordTaskStore(context.durable.records, context.year)
        return GeeSource.batch_from_config(settings, store, stop=context.stop)
    return GeeSource.from_config(settings)
