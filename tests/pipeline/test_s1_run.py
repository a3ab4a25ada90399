"""``etl run --s1``: the radar product beside ``<CC>.h5``, through a toy radar source."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from exports.s1.registry import RadarSourceSpec, register_radar, unregister_radar
from pipeline.cli import main
from pipeline.demo import DemoArchive
from pipeline.ledger import Ledger
from tests.pipeline.conftest import run_args
from tests.pipeline.h5compare import assert_same_content
from tests.pipeline.toy_radar import slice_time


@pytest.fixture
def toy() -> Iterator[str]:
    register_radar(RadarSourceSpec("toy", "tests.pipeline.toy_radar:build", help="toy"))
    yield "toy"
    unregister_radar("toy")


def _run(demo: DemoArchive, out: Path, *extra: str) -> str:
    result = CliRunner().invoke(main, run_args(demo, out, *extra))
    assert result.exit_code == 0, result.output
    return result.output


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _s2_times(out: Path) -> dict[str, datetime]:
    """Image_ID -> sensing time, from the Sentinel-2 selection in the ledger."""
    with Ledger.in_folder(out) as ledger:
        return {s["image_id"]: datetime.fromisoformat(s["acquired"])
                for u in ledger.units("select") for s in (u.payload or {}).get("scenes", [])}


def _ks(year: int) -> list[int]:
    return [k for k in range(200) if slice_time(year, k).year == year]


def _text(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def test_closest_pairs_every_s2_step_with_the_nearest_slice(
    demo: DemoArchive, reference: Path, toy: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _run(demo, out, "--s1", "closest", "--s1-source", toy, "--s1-max-days", "1")
    s1_file, s2_file = out / "2018" / "AT_S1.h5", out / "2018" / "AT.h5"
    assert_same_content(s2_file, reference)  # <CC>.h5 as without --s1
    times = _s2_times(out)
    with h5py.File(s1_file) as f1, h5py.File(s2_file) as f2:
        assert sorted(f1) == sorted(f2)
        assert f1.attrs["s1_mode"] == "closest" and f1.attrs["backscatter"] == "gamma0_db"
        assert f1.attrs["s1_max_days"] == 1.0 and f1.attrs["s1_source"] == "toy"
        assert f1.attrs["s2_config_hash"] == f2.attrs["config_hash"]
        paired_total = 0
        for name in f2:
            s2, s1 = f2[name], f1[name]
            assert s1.dtype.names == ("VV", "VH") and s1.dtype["VV"] == np.float32
            assert s1.shape == (s2.shape[0], 64, 64)
            assert s1.attrs["crs"] == s2.attrs["crs"]
            assert list(s1.attrs["transform"]) == list(s2.attrs["transform"])
            assert s1.attrs["point_id"] == s2.attrs["point_id"]
            s2_ids = _text(s2.attrs["Image_ID"])
            assert _text(s1.attrs["paired_Image_ID"]) == s2_ids
            ids = _text(s1.attrs["S1_Image_ID"])
            for t, s2_id in enumerate(s2_ids):
                when = times[s2_id]
                # The toy's slices: every 2 days 7 hours; those with k % 10 == 9 are empty.
                gaps = sorted((abs((slice_time(2018, k) - when).total_seconds()), k)
                              for k in _ks(2018) if k % 10 != 9)
                gap, k = gaps[0]
                if gap > 86400:
                    assert ids[t] == "" and np.isnan(s1[t]["VV"]).all()
                    assert np.isnan(s1.attrs["delta_hours"][t])
                    assert s1.attrs["relative_orbit"][t] == -1
                    continue
                paired_total += 1
                assert s1[t]["VV"][32, 32] == np.float32(-k - 1)
                assert s1[t]["VH"][32, 32] == np.float32(-k - 100)
                assert s1[t]["VV"][0, 0] == np.float32(-12.0)
                assert s1.attrs["delta_hours"][t] == pytest.approx(
                    (slice_time(2018, k) - when).total_seconds() / 3600)
                assert _text(s1.attrs["orbit_pass"])[t] == ("ASCENDING" if k % 2 == 0
                                                            else "DESCENDING")
                assert _text(s1.attrs["acquired"])[t] == f"{slice_time(2018, k):%Y-%m-%dT%H:%M:%SZ}"
        assert paired_total > 0


def test_adding_s1_to_a_finished_run_leaves_the_s2_file_untouched(
    demo: DemoArchive, toy: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _run(demo, out)
    s2_file = out / "2018" / "AT.h5"
    before = _sha(s2_file)
    output = _run(demo, out, "--s1", "series", "--s1-source", toy, "--s1-orbit", "ascending")
    assert _sha(s2_file) == before
    assert "s1 export" in output
    with h5py.File(out / "2018" / "AT_S1.h5") as f:
        ds = f[next(iter(f))]
        assert set(_text(ds.attrs["orbit_pass"])) == {"ASCENDING"}
        acquired = _text(ds.attrs["acquired"])
        assert acquired == sorted(acquired)
        assert len(acquired) == len([k for k in _ks(2018) if k % 2 == 0])  # k%10==9: odd
        assert "paired_Image_ID" not in ds.attrs
    again = _run(demo, out, "--s1", "series", "--s1-source", toy, "--s1-orbit", "ascending")
    assert "Nothing to do" in again
    assert _sha(s2_file) == before
    # Other radar settings in the same folder: refused, naming the fix.
    result = CliRunner().invoke(main, run_args(demo, out, "--s1", "closest", "--s1-source", toy))
    assert result.exit_code == 2
    assert "Sentinel-1 work made with other settings" in result.output


@pytest.mark.parametrize(("flags", "message"), [
    (["--s1", "closest", "--s1-max-days", "-1"], "--s1-max-days"),
    (["--s1", "closest"], "--s1-catalog PATH"),
    (["--s1-orbit", "ascending"], "has no effect without --s1"),
    (["--s1", "closest", "--s1-source", "gee", "--s1-catalog", "x"], "--s1-source gee"),
])
def test_bad_s1_flags_are_refused_naming_the_flag(
    demo: DemoArchive, tmp_path: Path, flags: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, run_args(demo, tmp_path / "out", *flags))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_status_counts_s1_units(demo: DemoArchive, toy: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(demo, out, "--s1", "closest", "--s1-source", toy)
    result = CliRunner().invoke(main, ["status", "--out", str(out)])
    assert result.exit_code == 0
    assert "s1_export" in result.output and "s1_select" in result.output
    assert datetime(2018, 1, 1, tzinfo=UTC)  # keep the import honest


def test_a_lost_s2_staged_file_is_exported_again_then_paired(
    demo: DemoArchive, reference: Path, toy: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _run(demo, out)
    staged = sorted((out / "2018" / ".staging" / "AT").glob("Lucas_Point_*.h5"))
    staged[0].unlink()  # e.g. cleaned by hand after the pack
    args = run_args(demo, out, "--s1", "closest", "--s1-source", toy)
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1, first.output
    assert "Sentinel-2 staged file missing or damaged" in first.output
    _run(demo, out, "--s1", "closest", "--s1-source", toy)
    assert_same_content(out / "2018" / "AT.h5", reference)
    with h5py.File(out / "2018" / "AT_S1.h5") as f:
        assert staged[0].stem in f


def test_mixed_sigma0_and_gamma0_are_refused(demo: DemoArchive, tmp_path: Path) -> None:
    register_radar(RadarSourceSpec("mixed", "tests.pipeline.toy_radar:build_mixed", help="x"))
    try:
        result = CliRunner().invoke(main, run_args(demo, tmp_path / "out", "--s1", "series",
                                                   "--s1-source", "mixed"))
    finally:
        unregister_radar("mixed")
    assert result.exit_code == 2, result.output
    assert "mix backscatter conventions: gamma0_db (e.g." in result.output
    assert "never mixed in one file" in result.output
    assert not (tmp_path / "out" / "2018" / "AT_S1.h5").exists()
