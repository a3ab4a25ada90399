"""LUCAS from the Earth Engine catalog (``gee:<asset id>``): filtered on the server, paged
through computeFeatures, normalised by the file readers' code (th_lat/th_long from .geo)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import ee
import httplib2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from ee import apitestcase

from lucas.errors import ConfigError, SourceError
from lucas.gee_table import asset_id, is_gee_table, read_gee_table
from lucas.ingest import ingest_table
from lucas.location import grid_latlon
from pipeline.cli import main
from tests.exports.gee_fakes import const, invocations

HARMO = "gee:JRC/LUCAS_HARMO/THLOC/V1"
L2022 = "gee:JRC/LUCAS/THLOC/V1/2022"
IDS = [46802870, 46802872, 46822870, 46822872, 46842870]  # LAEA nodes in Austria


def _geometry(pid: int) -> dict[str, Any]:
    lat, lon = grid_latlon(np.array([pid]))
    return {"type": "Point", "coordinates": [float(lon[0]), float(lat[0])]}


def harmonised_feature(pid: int, lc1: str = "B11") -> dict[str, Any]:
    """A feature as computeFeatures returns one of JRC/LUCAS_HARMO/THLOC/V1 (some columns)."""
    props = {"lu1": "U111", "point_id": pid, "year": 2018, "nuts0": "AT", "lc1": lc1,
             "lc1_label": "Common wheat", "lu1_label": "Agriculture", "obs_dist": 3.0,
             "survey_date": "2018-06-03", "gps_prec": 5.5}
    return {"type": "Feature", "geometry": _geometry(pid), "properties": props}


def lucas2022_feature(pid: int) -> dict[str, Any]:
    props = {"POINT_ID": pid, "POINT_NUTS0": "AT", "SURVEY_LC1": "b11", "SURVEY_LU1": "u111",
             "SURVEY_DATE": "2022-06-03"}
    return {"type": "Feature", "geometry": _geometry(pid), "properties": props}


def pages(features: Sequence[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """The probe page (one feature), then the filtered table in pages with tokens."""
    out: list[dict[str, Any]] = [{"type": "FeatureCollection", "features": list(features[:1])}]
    for i in range(0, len(features), size):
        page: dict[str, Any] = {"type": "FeatureCollection", "features": list(features[i:i + size])}
        if i + size < len(features):
            page["nextPageToken"] = f"token{i + size}"
        out.append(page)
    return out


def test_gee_prefix_names_an_asset() -> None:
    assert is_gee_table(Path(HARMO)) and not is_gee_table(Path("lucas.csv"))
    assert asset_id(Path(L2022)) == "JRC/LUCAS/THLOC/V1/2022"  # Path keeps the text
    with pytest.raises(ConfigError, match="gee:<asset id>"):
        asset_id("gee:")


def test_harmonised_table_paged_through_the_mocked_cloud_api(ee_offline: Any) -> None:
    """ee.data.computeFeatures itself runs; only the HTTP layer is a mock."""
    features = [harmonised_feature(pid) for pid in IDS]
    features[3]["geometry"] = None  # a feature without location: rejected, reported
    http = mock.MagicMock(httplib2.Http)
    ok = httplib2.Response({"status": 200, "content-type": "application/json"})
    http.request.side_effect = [(ok, json.dumps(p).encode()) for p in pages(features, 2)]
    with apitestcase.UsingCloudApi(mock_http=http):
        result = ingest_table(Path(HARMO), ["AT"], 2018)

    bodies = [json.loads(c.kwargs.get("body") or c.args[2]) for c in http.request.call_args_list]
    assert len(bodies) == 4  # the probe + 3 pages
    assert [b.get("pageToken") for b in bodies[1:]] == [None, "token2", "token4"]
    assert {b["pageSize"] for b in bodies[1:]} == {1000}
    text = json.dumps(bodies[1]["expression"])
    assert "JRC/LUCAS_HARMO/THLOC/V1" in text and "Filter.equals" in text
    assert "Filter.listContains" in text and '"AT"' in text and "2018" in text

    assert result.format == "harmonised" and result.rows_read == 5
    assert sorted(result.points["point_id"]) == sorted(IDS[:3] + IDS[4:])
    assert list(result.rejects["point_id"]) == [str(IDS[3])]  # as the table wrote it
    assert result.coordinate_source == ".geo geometry"
    lat, lon = grid_latlon(np.array(IDS[:1]))
    first = result.points.set_index("point_id").loc[IDS[0]]
    assert first["th_lat"] == pytest.approx(lat[0]) and first["th_long"] == pytest.approx(lon[0])
    assert first["lc1"] == "B11" and first["obs_dist"] == 3.0 and first["gps_prec"] == 5.5
    assert len(result.location_mismatches) == 0


def _fake_compute_features(answers: list[Any], seen: list[dict[str, Any]]) -> Any:
    """computeFeatures answering ``answers`` in turn (an exception is raised)."""

    def compute_features(params: dict[str, Any]) -> Mapping[str, Any]:
        seen.append(params)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return compute_features


def test_lucas2022_table_is_normalised_like_the_file(
    ee_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    answers = pages([lucas2022_feature(pid) for pid in IDS], 3)
    monkeypatch.setattr(ee.data, "computeFeatures", _fake_compute_features(answers, seen))
    result = ingest_table(Path(L2022), ["AT"], 2022)
    assert result.format == "lucas2022" and len(result.points) == len(IDS)
    assert list(result.points.columns[:9]) == [
        "point_id", "year", "nuts0", "th_lat", "th_long", "lc1", "lc1_label", "lu1", "lu1_label"]
    assert set(result.points["lc1"]) == {"B11"} and set(result.points["year"]) == {2022}
    assert not invocations(seen[1]["expression"], "Filter.equals"), "one year: no year filter"
    (countries,) = invocations(seen[1]["expression"], "Filter.listContains")
    assert const(countries["leftValue"]) == ["AT"]
    assert pd.notna(result.points["th_lat"]).all()


def test_a_throttled_page_is_retried(ee_offline: Any) -> None:
    seen: list[dict[str, Any]] = []
    answers: list[Any] = pages([harmonised_feature(pid) for pid in IDS], 5)
    answers.insert(1, ee.EEException("Too many concurrent aggregations."))
    waits: list[float] = []
    call = _fake_compute_features(answers, seen)
    raw = read_gee_table(HARMO, None, 2018, compute_features=call, sleep=waits.append)
    assert len(raw.frame) == len(IDS) and waits == [2.0]
    assert raw.header[-1] == ".geo" and raw.header[:3] == ["point_id", "year", "nuts0"]
    assert list(raw.lines) == [2, 3, 4, 5, 6]


def test_a_deterministic_error_is_not_retried(ee_offline: Any) -> None:
    call = _fake_compute_features([ee.EEException("Collection.load: asset not found.")], [])
    with pytest.raises(SourceError, match="asset not found") as info:
        read_gee_table("gee:JRC/NOPE", None, 2018, compute_features=call, sleep=lambda s: None)
    assert not info.value.transient


def test_a_multi_year_table_needs_a_year(ee_offline: Any) -> None:
    call = _fake_compute_features(pages([harmonised_feature(IDS[0])], 5), [])
    with pytest.raises(ConfigError, match="--year"):
        read_gee_table(HARMO, ["AT"], None, compute_features=call)


def test_etl_ingest_connects_with_the_project_then_reads_the_table(
    ee_offline: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inits: list[dict[str, Any]] = []
    monkeypatch.setattr(ee, "Initialize", lambda **kw: inits.append(kw))
    monkeypatch.setattr(ee.data, "get_persistent_credentials", lambda: object())
    answers = pages([harmonised_feature(pid) for pid in IDS], 5)
    monkeypatch.setattr(ee.data, "computeFeatures", _fake_compute_features(answers, []))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["ingest", "--country", "AT", "--lucas", HARMO,
                                       "--project", "my-project", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [i["project"] for i in inits] == ["my-project"]
    assert (out / "2018" / "points" / "AT.parquet").exists()
