"""The gee source's settings (light: Earth Engine is not imported)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from exports.registry import Scheduling
from exports.source_options import coerce_text, known_values
from lucas.errors import ConfigError

MODES = ("fast", "batch")
DEFAULT_WORKERS = 16  # concurrent requests of one process; the project quota is 40
MAX_CONCURRENT = 40  # the default per-project concurrent-request quota
POINTS_PER_WORKER = 32  # points per batch and worker thread (bench/bench_gee_quota.py)
NOT_DISTRIBUTABLE = (
    "the gee source cannot run on Dask: its limit is the Earth Engine project quota (40 "
    "concurrent requests), which one machine already saturates (--workers threads); drop "
    "--scheduler"
)


@dataclass(frozen=True)
class GeeOptions:
    """The Earth Engine path: ``fast`` (computePixels) or ``batch`` (Export tasks to GCS)."""

    mode: str = field(default="fast", metadata={
        "choices": MODES,
        "help": "Earth Engine path: fast (computePixels) or batch (Export tasks) "
                "[default: fast]."})
    gcs_bucket: str | None = field(default=None, metadata={
        "help": "Cloud Storage bucket of batch exports (--mode batch)."})
    gcs_prefix: str = field(default="sen4map-etl", metadata={
        "help": "Object prefix of batch exports [default: sen4map-etl]."})

    @classmethod
    def from_values(cls, values: Mapping[str, Any], where: Callable[[str], str]) -> Self:
        """Text fields checked; an unknown mode names the flag or key it came from."""
        kept = {k: coerce_text(v, k, where) for k, v in known_values(cls, values).items()}
        options = cls(**kept)
        if options.mode not in MODES:
            raise ConfigError(f"{where('mode')}: unknown mode '{options.mode}'; choose one "
                              f"of {', '.join(MODES)}")
        return options

    def check_inputs(self) -> None:
        """Before the run writes anything: batch mode needs its bucket (no network here)."""
        if self.mode == "batch" and not self.gcs_bucket:
            raise ConfigError(
                "--mode batch exports to Cloud Storage: give --gcs-bucket BUCKET (a bucket "
                "the Earth Engine account can write and read)"
            )

    def hash_fields(self) -> dict[str, Any]:
        """Nothing of the mode changes the pixels; the keys keep older output hashes valid."""
        return {"catalog": None, "stac_url": None, "collection": None}

    def input_files(self) -> tuple[Path, ...]:
        """None: the archive is Earth Engine's (selections are cached in the ledger)."""
        return ()

    def scheduling(self) -> Scheduling:
        """Threads in this process share the project quota; batch mode drains a country."""
        if self.mode == "batch":
            return Scheduling(in_process=True, one_job_per_country=True,
                              not_distributable=NOT_DISTRIBUTABLE)
        # Long batches: the pool drains at the end of each (the last second runs below the
        # quota), so at 40 workers a batch of 4 per worker lost ~20 % of the throughput.
        return Scheduling(in_process=True, points_per_worker=POINTS_PER_WORKER,
                          not_distributable=NOT_DISTRIBUTABLE)

