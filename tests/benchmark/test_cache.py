"""The composite cache: reused while the HDF5 is unchanged, rebuilt when it changes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from benchmark import composites as comp
from benchmark.cache import build_country, cache_key, load_country
from lucas.errors import OutputError
from tests.fixtures.synthetic_h5 import constant_point, random_country, write_country


def _write(path: Path, value: int) -> Path:
    p = constant_point(5, [date(2018, 5, 1), date(2018, 9, 1)], [[value], [value]], [4, 4])
    return write_country(path, "AT", [p])


def test_cache_reused_then_invalidated(tmp_path: Path) -> None:
    h5 = _write(tmp_path / "data" / "AT.h5", 100)
    cache = tmp_path / "cache"
    first = load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert not first.from_cache
    assert sorted(p.name.split(".")[1] for p in cache.glob("AT.*")) == [
        "annual", "monthly", "points"
    ]
    second = load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert second.from_cache
    np.testing.assert_array_equal(second.composites.monthly, first.composites.monthly)
    assert second.points.equals(first.points)

    _write(h5, 700)  # the HDF5 changes: same name, new content
    third = load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert not third.from_cache
    assert third.composites.annual[0, 8, 8, 0] == 700
    assert len(list(cache.glob("AT.*"))) == 3  # the stale set was removed


def test_key_depends_on_mask_classes_and_content() -> None:
    assert cache_key("a" * 64, (0, 1)) == cache_key("a" * 64, (1, 0))
    assert cache_key("a" * 64, (0, 1)) != cache_key("a" * 64, (0, 1, 9))
    assert cache_key("a" * 64, (0,)) != cache_key("b" * 64, (0,))


def test_cached_composites_are_memory_maps_equal_to_the_in_memory_build(tmp_path: Path) -> None:
    """The EU's composites do not fit in memory: a cached country is mapped, not read."""
    h5 = random_country(tmp_path / "data" / "AT.h5", "AT", 70, seed=3, steps=(4, 9))
    cached = load_country(h5, comp.DEFAULT_MASK_CLASSES, tmp_path / "cache", batch_size=16)
    memory = build_country(h5, comp.DEFAULT_MASK_CLASSES, batch_size=16)
    for field in ("monthly", "monthly_filled", "annual", "annual_filled"):
        mapped = getattr(cached.composites, field)
        assert isinstance(mapped, np.memmap), field
        np.testing.assert_array_equal(mapped, getattr(memory.composites, field))
    np.testing.assert_array_equal(cached.names, memory.names)
    assert cached.points.equals(memory.points)


def test_failed_cache_write_leaves_no_file_and_the_next_run_builds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h5 = random_country(tmp_path / "data" / "AT.h5", "AT", 20, seed=4, steps=(3, 5))
    cache = tmp_path / "cache"
    real = comp.composite_batch
    calls = {"n": 0}

    def disk_full_on_second_batch(*args: object, **kwargs: object) -> comp.Composites:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(comp, "composite_batch", disk_full_on_second_batch)
    with pytest.raises(OutputError, match="free space there or choose another --cache-dir"):
        load_country(h5, comp.DEFAULT_MASK_CLASSES, cache, batch_size=8)
    assert [p.name for p in cache.iterdir()] == ["digests.json"]  # no temp, no partial set
    monkeypatch.setattr(comp, "composite_batch", real)
    assert not load_country(h5, comp.DEFAULT_MASK_CLASSES, cache, batch_size=8).from_cache
    assert load_country(h5, comp.DEFAULT_MASK_CLASSES, cache).from_cache


def test_corrupt_cache_file_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h5 = random_country(tmp_path / "data" / "AT.h5", "AT", 10, seed=5, steps=(3, 5))
    cache = tmp_path / "cache"
    expected = np.array(load_country(h5, comp.DEFAULT_MASK_CLASSES, cache).composites.monthly)
    (monthly,) = cache.glob("AT.monthly.*.h5")
    monthly.unlink()  # a mapped file is replaced, never rewritten in place (SIGBUS)
    monthly.write_bytes(b"not an HDF5 file")
    again = load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert not again.from_cache
    assert "cache for AT unreadable" in caplog.text
    np.testing.assert_array_equal(again.composites.monthly, expected)


def test_truncated_cache_file_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A cache copied half-way (disk full elsewhere, an interrupted rsync) is not mapped."""
    h5 = random_country(tmp_path / "data" / "AT.h5", "AT", 30, seed=6, steps=(3, 5))
    cache = tmp_path / "cache"
    load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    (monthly,) = cache.glob("AT.monthly.*.h5")
    content = monthly.read_bytes()
    monthly.unlink()
    monthly.write_bytes(content[: len(content) // 2])
    again = load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert not again.from_cache and "cache for AT unreadable" in caplog.text
    assert float(np.asarray(again.composites.monthly).sum()) > 0


def test_temp_files_of_a_killed_build_are_removed_a_live_ones_kept(tmp_path: Path) -> None:
    h5 = random_country(tmp_path / "data" / "AT.h5", "AT", 5, seed=7, steps=(3, 4))
    cache = tmp_path / "cache"
    cache.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = cache / f".AT.monthly.0123456789abcdef.h5.{dead.pid}.tmp"
    live = cache / f".AT.annual.0123456789abcdef.h5.{os.getppid()}.tmp"  # pytest's parent
    killed.write_bytes(b"x" * 1000)
    live.write_bytes(b"x")
    load_country(h5, comp.DEFAULT_MASK_CLASSES, cache)
    assert not killed.exists() and live.exists()
