"""Helpers every source's options class uses to take its values from a config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from lucas.errors import ConfigError


def known_values(options: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that are fields of ``options`` and set (None means unset)."""
    names = {f.name for f in fields(options)}
    return {k: v for k, v in values.items() if k in names and v is not None}


def coerce_path(value: Any, key: str, where: Callable[[str], str]) -> Path:
    """A path (``~`` expanded); anything else is refused naming its origin."""
    if isinstance(value, bool | int | float):
        raise ConfigError(f"{where(key)}: invalid value {value!r} for '{key}'")
    return Path(str(value)).expanduser()


def coerce_text(value: Any, key: str, where: Callable[[str], str]) -> str:
    """A string; numbers and booleans are refused naming their origin."""
    if not isinstance(value, str):
        raise ConfigError(f"{where(key)}: invalid value {value!r} for '{key}'")
    return value
