"""The radar kind's shared rules: pairing, series stack, dB, names, options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from exports.grid import patch_grid
from exports.s1.filters import drop_reason
from exports.s1.options import PLANETARY_COMPUTER, S1Options
from exports.s1.pairing import S2Step, nearest, pair_closest, pairing_candidates
from exports.s1.scene import (
    GAMMA0_DB,
    S1Scene,
    datatake_key,
    platform_name,
    s1_scene_from_dict,
    s1_scene_to_dict,
)
from exports.s1.stack import S1Patch, assemble_series
from exports.source import PointRequest
from lucas.errors import ConfigError

T0 = datetime(2018, 6, 1, 10, 0, tzinfo=UTC)
POINT = PointRequest(1, 47.5, 12.1, patch_grid(47.5, 12.1))


def scene(hours: float, sid: str | None = None, datatake: str | None = None) -> S1Scene:
    when = T0 + timedelta(hours=hours)
    name = sid or f"s{hours:g}"
    return S1Scene(name, when, datatake or name, "ASCENDING", 15, "sentinel-1a", GAMMA0_DB)


def patch(s: S1Scene, vv: float, nan_rows: int = 0) -> S1Patch:
    a = np.full((64, 64), vv, np.float32)
    a[:nan_rows] = np.nan
    return S1Patch(s, a, a - 7)


def test_nearest_within_max_days_ties_to_the_earlier() -> None:
    times = [T0 - timedelta(hours=12), T0 + timedelta(hours=12), T0 + timedelta(hours=30)]
    assert nearest(times, T0, 3) == 0  # 12 h before and 12 h after: the earlier
    assert nearest(times, T0 + timedelta(hours=20), 3) == 1
    assert nearest(times, T0 + timedelta(days=4), 3) == 2
    assert nearest(times, T0 + timedelta(days=4), 1) is None
    assert nearest(times[1:2], T0 + timedelta(hours=12 + 72), 3) == 0  # exactly 3 days: kept


def test_pair_closest_one_step_per_s2_step_nan_without_pair() -> None:
    series = assemble_series(POINT, [patch(scene(-12), -10), patch(scene(30), -11)], 5.0)
    steps = [S2Step("A", T0), S2Step("B", T0 + timedelta(days=10)), S2Step("C", T0)]
    paired = pair_closest(series, steps, 3)
    assert paired.image_ids == ["s-12", "", "s-12"]
    assert paired.step_attributes["paired_Image_ID"] == ["A", "B", "C"]
    assert paired.step_attributes["delta_hours"][0] == -12.0
    assert np.isnan(paired.step_attributes["delta_hours"][1])
    assert paired.step_attributes["relative_orbit"] == [15, -1, 15]
    assert paired.step_attributes["orbit_pass"] == ["ASCENDING", "", "ASCENDING"]
    assert paired.data["VV"][0, 32, 32] == np.float32(-10)
    assert np.isnan(paired.data["VV"][1]).all() and np.isnan(paired.data["VH"][1]).all()
    candidates = pairing_candidates([scene(-12), scene(30), scene(24 * 8)], steps[:1], 1)
    assert [s.scene_id for s in candidates] == ["s-12"]


def test_series_dedupes_slices_of_one_datatake_and_drops_nodata() -> None:
    a = scene(0, "a", datatake="S1A_0221AE")
    b = scene(0.007, "b", datatake="S1A_0221AE")  # the next slice, 25 s later
    c = scene(48, "c")
    series = assemble_series(POINT, [patch(a, -9, nan_rows=10), patch(b, -8, nan_rows=2),
                                     patch(c, -7, nan_rows=20)], 5.0)
    assert series.image_ids == ["b"]  # b: least no-data of its datatake; c: 31 % no-data
    kinds = {d.scene_id: d.kind for d in series.dropped}
    assert kinds == {"a": "duplicate_datatake", "c": "patch_nodata"}
    assert series.data.dtype.names == ("VV", "VH") and series.data.dtype["VV"] == np.float32


def test_names_and_round_trip() -> None:
    pid = "S1A_IW_GRDH_1SDV_20180105T165050_20180105T165115_020016_0221AE_A1B2"
    assert datatake_key(pid, "A", T0, 15) == "S1A_0221AE"
    assert datatake_key(pid + "_rtc", "A", T0, 15) == "S1A_0221AE"
    assert datatake_key("odd-id", "SENTINEL-1B", T0, 7) == "sentinel-1b_R007_20180601"
    assert [platform_name(p) for p in ("A", "SENTINEL-1B", "s1a", "sentinel-1a")] == [
        "sentinel-1a", "sentinel-1b", "sentinel-1a", "sentinel-1a"]
    s = scene(3)
    assert s1_scene_from_dict(s1_scene_to_dict(s)) == s


def test_filters_name_the_reason() -> None:
    ok = {"acquired": T0, "year": 2018, "instrument_mode": "IW", "orbit_pass": "ASCENDING",
          "orbit_filter": "both", "polarisations": ["VV", "VH"]}
    assert drop_reason(**ok) is None
    assert drop_reason(**{**ok, "polarisations": ["VV"]}) == (
        "missing_polarisation", "missing polarisation VH (both VV and VH are needed)")
    assert drop_reason(**{**ok, "orbit_filter": "descending"})[0] == "orbit"
    assert drop_reason(**{**ok, "instrument_mode": "EW"})[0] == "instrument_mode"
    assert drop_reason(**{**ok, "year": 2019})[0] == "wrong_year"


def where(key: str) -> str:
    return f"flag --{key.replace('_', '-')}"


def test_options_validate_and_resolve() -> None:
    o = S1Options.from_values({"s1": "closest", "s1_stac_url": "planetary-computer"}, where)
    assert o.s1_stac_url == PLANETARY_COMPUTER
    assert o.resolved("stac").s1_source == "stac"
    assert S1Options.from_values({"s1": "series"}, where).resolved("gee").s1_source == "gee"
    with pytest.raises(ConfigError, match="--s1-catalog PATH"):
        S1Options.from_values({"s1": "series"}, where).resolved("stac")
    with pytest.raises(ConfigError, match="flag --s1-max-days"):
        S1Options.from_values({"s1": "closest", "s1_max_days": -1}, where)
    with pytest.raises(ConfigError, match="flag --s1-max-days: invalid value 'x'"):
        S1Options.from_values({"s1": "closest", "s1_max_days": "x"}, where)
    with pytest.raises(ConfigError, match="flag --s1-orbit has no effect without --s1"):
        S1Options.from_values({"s1_orbit": "ascending"}, where)
    with pytest.raises(ConfigError, match="not both"):
        S1Options.from_values({"s1": "series", "s1_catalog": "c", "s1_stac_url": "u"},
                              where).resolved("stac")
    assert S1Options().hash_fields()["s1"] is None
