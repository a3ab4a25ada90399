"""The select stage with the Earth Engine source: one point that keeps timing out is
recorded as a transient failure, every other point's scenes are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ee

from exports.gee.source import GeeSettings, GeeSource
from pipeline import stage_select
from pipeline.config import RunConfig
from pipeline.ledger import DONE, FAILED, Ledger
from pipeline.points import point_key
from tests.exports.gee_fakes import FakeClock, image_id, point, point_ids


def _answer(ids: list[int]) -> dict[str, Any]:
    index = image_id(40)
    row = [index, 1518000000000, "33UXP", 1.0, 0.0, "GS2A_20180209T100031_013227_N02.06",
           "Sentinel-2A", "02.06"]
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None,
         "properties": {"point_id": pid, "scenes": [row]}} for pid in ids]}


def test_a_timing_out_point_fails_alone_and_is_retried_next_run(
    ee_offline: Any, tmp_path: Path
) -> None:
    points = [point(i, 48.0 + i * 0.01, 16.0) for i in range(1, 41)]
    bad = {7}
    sent: list[int] = []

    def compute_value(query: Any) -> Any:
        ids = point_ids(query)
        sent.append(len(ids))
        if bad & set(ids):
            raise ee.EEException("Computation timed out.")
        return _answer(ids)

    clock = FakeClock()
    source = GeeSource(GeeSettings(workers=2), compute_value=compute_value, clock=clock,
                       sleep=clock.sleep)
    cfg = RunConfig(out=tmp_path)
    with Ledger.in_folder(tmp_path) as ledger:
        summary = stage_select.run_select(cfg, ledger, source, {"AT": points})
        states = ledger.states("select")
        unit = ledger.get("select", point_key(2018, "AT", 7))
        assert unit is not None and unit.state == FAILED
        assert unit.payload == {"transient": True}
        assert unit.last_error is not None and "Computation timed out." in unit.last_error
        assert summary.counts["failed"] == 1
        assert summary.counts["points with scenes"] == 39
        assert [k for k, s in states.items() if s != DONE] == [point_key(2018, "AT", 7)]
        assert max(sent) == 16, "chunks of the default size"

        bad.clear()  # the server is less busy on the next run: only that point is asked
        sent.clear()
        stage_select.run_select(cfg, ledger, source, {"AT": points})
        assert sent == [1]
        assert set(ledger.states("select").values()) == {DONE}
