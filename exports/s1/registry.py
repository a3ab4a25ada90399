"""The registry of radar sources: name → builder and scheduling facts (as for Sentinel-2).

A radar source is one subpackage plus one :func:`register_radar` line in
:mod:`exports.s1.sources`; the pipeline builds it through :func:`get_radar_spec`, never by
name, and schedules its export from :attr:`RadarSourceSpec.scheduling`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exports.registry import Scheduling, SourceContext
from exports.s1.source import RadarSource
from lucas.errors import ConfigError


@dataclass(frozen=True)
class RadarSourceSpec:
    """One registered radar source."""

    name: str
    builder: str  # "module:function", imported on first use
    help: str
    scheduling: Scheduling = field(default_factory=Scheduling)

    def build(self, options: Any, context: SourceContext) -> RadarSource:
        """A ready radar source (connects to its service, opens its catalog); ``options``:
        the run's :class:`~exports.s1.options.S1Options` (not imported: it lists us)."""
        module, _, function = self.builder.partition(":")
        make: Callable[[Any, SourceContext], RadarSource] = getattr(
            importlib.import_module(module), function)
        return make(options, context)


_REGISTRY: dict[str, RadarSourceSpec] = {}


def register_radar(spec: RadarSourceSpec) -> RadarSourceSpec:
    """Add a radar source (or replace one of the same name, e.g. in a test)."""
    _REGISTRY[spec.name] = spec
    return spec


def unregister_radar(name: str) -> None:
    """Remove a radar source (tests that registered a toy one)."""
    _REGISTRY.pop(name, None)


def get_radar_spec(name: str) -> RadarSourceSpec:
    """The radar source called ``name``; a ConfigError lists the registered ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown Sentinel-1 source '{name}' (--s1-source); choose one of "
                          f"{', '.join(_REGISTRY)}") from None


def list_radar_sources() -> tuple[str, ...]:
    """Names of the registered radar sources, in registration order."""
    return tuple(_REGISTRY)
