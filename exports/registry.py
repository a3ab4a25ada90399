"""The source registry: name → options, builder and scheduling facts, so no stage names a source.

A source is one subpackage of :mod:`exports` plus one :func:`register` line in
:mod:`exports.sources` (see ARCHITECTURE.md, "Add a source"). What the pipeline needs to
know about it travels as data:

- its **options**, a frozen dataclass whose fields become config keys (flat, or under
  ``[run.<name>]`` in the TOML file) and command-line flags (field metadata ``help``,
  ``choices``), validated by the dataclass itself, which also says which fields decide the
  output (:meth:`SourceOptions.hash_fields`);
- its **scheduling** (:class:`Scheduling`): whether it runs in the coordinating process only,
  how its batches are sized, whether it may run on Dask;
- its **builder**, called with the options and a :class:`SourceContext` (bands, workers,
  the run's durable stores, the Ctrl-C flag) and imported lazily, so building the CLI or a
  config never imports Earth Engine or rasterio;
- optionally its **estimator** (``"module:function"``), the export's forecast from its
  batches for ``etl run --dry-run`` (:class:`~exports.estimate.ExportEstimate`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import Field, dataclass, fields
from pathlib import Path
from typing import Any, Protocol, Self

from exports.estimate import Batches, ExportEstimate
from exports.source import ImagerySource
from lucas.errors import ConfigError


@dataclass(frozen=True)
class Scheduling:
    """What the export scheduler must know of a source: data, never a branch on its name.

    ``in_process``: every batch runs in the coordinating process (the source brings its own
    concurrency, e.g. Earth Engine threads), so no process pool and no Dask.
    ``points_per_worker``: a batch holds at least this many points per worker, so a threaded
    source keeps all its threads busy. ``one_job_per_country``: the whole country is one
    batch (a batch-export drain keeps its task queue full). ``not_distributable``: why the
    source cannot run on Dask (``--scheduler``), or empty when it can. ``worker_inputs``:
    local paths every Dask worker host must see (a catalog on disk). ``default_batch_size``:
    the points per batch when the run does not say (``--batch-size``), e.g. larger for a
    source whose neighbouring batches would otherwise download shared blocks again.
    """

    in_process: bool = False
    points_per_worker: int = 0
    one_job_per_country: bool = False
    not_distributable: str = ""
    worker_inputs: tuple[str, ...] = ()
    default_batch_size: int = 32

    def batch_size(self, configured: int, workers: int, points: int) -> int:
        """Points per batch for a country of ``points`` points."""
        if self.one_job_per_country:
            return max(points, 1)
        return max(configured, self.points_per_worker * workers)


class TextStore(Protocol):
    """Text by key that outlives the process (the run's ledger): e.g. cached searches."""

    def get(self, key: str) -> str | None:
        """The stored text, or None."""
        ...

    def put(self, key: str, value: str) -> None:
        """Store ``value`` (committed before this returns)."""
        ...


class RecordStore(Protocol):
    """Records by key that outlive the process (the run's ledger): e.g. batch-export tasks."""

    def get_record(self, key: str) -> tuple[str, str | None, Any] | None:
        """``(task id, state, payload)`` of ``key``, or None."""
        ...

    def put_record(self, key: str, task_id: str, state: str, payload: Any) -> None:
        """Store a record (committed before this returns: callers rely on it)."""
        ...


@dataclass(frozen=True)
class DurableStores:
    """The run's durable stores, lent to sources built in the coordinating process."""

    text: TextStore
    records: RecordStore


def _never() -> bool:
    return False


@dataclass(frozen=True)
class SourceContext:
    """What the pipeline lends a source it builds.

    ``durable`` is given in the coordinating process only; worker processes build their
    source without it (a source that needs it there raises a ConfigError).
    """

    bands: tuple[str, ...]
    year: int
    workers: int = 1
    refresh: bool = False  # --force: run cached searches again
    project: str | None = None  # the run's cloud account (--project, --gee-key-file)
    key_file: Any = None
    durable: DurableStores | None = None
    stop: Callable[[], bool] = _never


class SourceOptions(Protocol):
    """A source's own settings: a frozen dataclass with defaults for every field."""

    @classmethod
    def from_values(cls, values: Mapping[str, Any], where: Callable[[str], str]) -> Self:
        """Coerce and validate config values; errors name ``where(key)`` (file or flag)."""
        ...

    def check_inputs(self) -> None:
        """Cheap checks of the source's inputs (files exist and parse, required settings),
        run before anything is written; a ConfigError or InputFormatError names the fix."""
        ...

    def hash_fields(self) -> dict[str, Any]:
        """The fields that decide the output's content, for the run's output hash."""
        ...

    def scheduling(self) -> Scheduling:
        """How the export stage must schedule this source with these options."""
        ...

    def input_files(self) -> tuple[Path, ...]:
        """Local files whose content decides the output (fingerprinted by the run, so an
        edited input is noticed); optional: a source without local inputs may omit it."""
        ...


def source_input_files(options: Any) -> tuple[Path, ...]:
    """``options.input_files()``, or none for options that do not define it."""
    method = getattr(options, "input_files", None)
    return tuple(method()) if callable(method) else ()


@dataclass(frozen=True)
class SourceSpec:
    """One registered source."""

    name: str
    options: type[SourceOptions]
    builder: str  # "module:function", imported on first use
    help: str
    default_workers: int = 2
    max_workers: int = 64
    workers_help: str = "parallel export processes"
    # "module:function" forecasting the export from its batches (etl run --dry-run); "":
    # the source gives no estimate.
    estimator: str = ""

    def build(self, options: SourceOptions, context: SourceContext) -> ImagerySource:
        """A ready source (connects to its service, opens its catalog)."""
        module, _, function = self.builder.partition(":")
        make: Callable[[Any, SourceContext], ImagerySource] = getattr(
            importlib.import_module(module), function)
        return make(options, context)

    def estimate(
        self, options: SourceOptions, batches: Batches, bands: Sequence[str], workers: int
    ) -> ExportEstimate | None:
        """What the export of ``batches`` will cost, or None without an estimator."""
        if not self.estimator:
            return None
        module, _, function = self.estimator.partition(":")
        forecast: Callable[..., ExportEstimate] = getattr(importlib.import_module(module),
                                                          function)
        return forecast(options, batches, bands, workers)

    def check_inputs(self, options: SourceOptions) -> None:
        """The options' :meth:`SourceOptions.check_inputs` (a plug-in's options class
        written before the method existed is simply not pre-checked)."""
        check = getattr(options, "check_inputs", None)
        if check is not None:
            check()

    def option_fields(self) -> tuple[Field[Any], ...]:
        """The options' dataclass fields (metadata: ``help``, ``choices``, ``path``)."""
        return fields(self.options)  # type: ignore[arg-type]

    def option_names(self) -> tuple[str, ...]:
        """The config keys this source adds."""
        return tuple(f.name for f in self.option_fields())


_REGISTRY: dict[str, SourceSpec] = {}


def register(spec: SourceSpec) -> SourceSpec:
    """Add a source (or replace one of the same name, e.g. in a test)."""
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a source (tests that registered a toy one)."""
    _REGISTRY.pop(name, None)


def get_source_spec(name: str) -> SourceSpec:
    """The source called ``name``; a ConfigError lists the registered ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown source '{name}'; choose one of {', '.join(list_sources())}"
        ) from None


def list_sources() -> tuple[str, ...]:
    """Names of the registered sources, in registration order."""
    return tuple(_REGISTRY)


def all_option_names() -> dict[str, SourceSpec]:
    """Config key → the source that owns it, across every registered source."""
    return {name: spec for spec in _REGISTRY.values() for name in spec.option_names()}
