"""The export planner's pure decisions: which points still need work, and batch sizes."""

from __future__ import annotations

from datetime import UTC, datetime

from exports.grid import patch_grid
from exports.registry import Scheduling
from exports.source import PointRequest, Scene, scene_to_dict
from pipeline.export.plan import needs_work, points_to_export
from pipeline.ledger import DONE, FAILED, SKIPPED


def _req(pid: int) -> PointRequest:
    return PointRequest(pid, 48.0, 16.0, patch_grid(48.0, 16.0))


SCENE = Scene("S2A_33UWP_20180704_0_L2A", "20180704T100031_20180704T100027_T33UWP",
              datetime(2018, 7, 4, 10, tzinfo=UTC), "dt1", "33UWP", 32633, 3.0, 0.0)


def test_points_to_export_keeps_order_and_says_why_the_others_wait() -> None:
    keyed = [(f"2018/AT/{pid:08d}", _req(pid)) for pid in (1, 2, 3, 4, 5)]
    selections = {k: {"scenes": [scene_to_dict(SCENE)]} for k, _ in keyed[1:]}
    exported = {
        "2018/AT/00000002": (DONE, {"steps": 3}),
        "2018/AT/00000003": (FAILED, {"transient": True}),
        "2018/AT/00000004": (FAILED, {"transient": False}),
    }
    attrs = {pid: {"point_id": pid} for pid in range(1, 6)}
    todo, counts = points_to_export(keyed, selections, exported, attrs, retry_failed=False)
    assert [item.point_id for item in todo] == [3, 5]
    assert todo[0].scenes == [SCENE] and todo[1].attributes == {"point_id": 5}
    assert counts == {"waiting for select": 1, "already done": 1, "already failed": 1}
    todo, _ = points_to_export(keyed, selections, exported, attrs, retry_failed=True)
    assert [item.point_id for item in todo] == [3, 4, 5]


def test_needs_work_and_batch_sizes_follow_the_sources_facts() -> None:
    assert not needs_work(False, SKIPPED, None) and not needs_work(True, DONE, {})
    assert needs_work(False, FAILED, {"transient": True})
    assert Scheduling().batch_size(32, 2, 1000) == 32
    assert Scheduling(points_per_worker=4).batch_size(32, 16, 1000) == 64
    assert Scheduling(one_job_per_country=True).batch_size(32, 16, 1000) == 1000
    assert Scheduling(one_job_per_country=True).batch_size(32, 16, 0) == 1
