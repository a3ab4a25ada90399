"""The fast NPY decode of computePixels answers: numpy's values, without numpy's cost."""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
import pytest

from exports.gee.npy import match_columns, read_npy
from exports.gee.source import GeeSettings, GeeSource
from exports.source import ALL_BANDS, PointStack
from lucas.errors import SourceError
from tests.exports.gee_fakes import marker, npy_answer, npy_bytes, point, scene
from tests.fixtures.ee_quota_server import QuotaServer, npy_stack


def _saved(array: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array, allow_pickle=False)
    else:
        np.lib.format.write_array(buf, array, version=version, allow_pickle=False)
    return buf.getvalue()


@pytest.mark.parametrize("version", [None, (1, 0), (2, 0), (3, 0)])
def test_every_field_equals_what_numpy_reads(version: tuple[int, int] | None) -> None:
    rng = np.random.default_rng(3)
    names = [f"20180105T100031_20180105T100029_T33UXP_{b}" for b in ALL_BANDS]
    array = np.zeros((64, 64), dtype=[(n, "<u2") for n in names])
    for n in names:
        array[n] = rng.integers(0, 65535, (64, 64))
    answer = read_npy(_saved(array, version), "point 1")
    assert answer.names == tuple(names)
    assert answer.shape == (64, 64)
    for i, n in enumerate(names):
        assert np.array_equal(answer.column(i), array[n])
    picked = answer.gather([2, 0])
    assert picked.shape == (2, 64, 64) and picked.flags.c_contiguous
    assert np.array_equal(picked[0], array[names[2]]) and picked[0, 5, 7] == array[names[2]][5, 7]


def test_a_full_year_answer_header_is_read_without_numpys_guard() -> None:
    scenes = [scene(1 + 4 * d) for d in range(90)]
    data = npy_stack([s.image_id for s in scenes], ALL_BANDS)
    answer = read_npy(data, "point 1")
    assert len(answer.names) == 990
    reference = np.load(io.BytesIO(data), max_header_size=1 << 20)
    assert np.array_equal(answer.column(989), reference[answer.names[989]])


def test_unusual_headers_fall_back_to_numpy() -> None:
    mixed = np.zeros((4, 4), dtype=[("a_B2", "<u2"), ("a_SCL", "u1"), ("it's", "<u2")])
    mixed["a_B2"] = 7
    mixed["a_SCL"] = 3
    answer = read_npy(_saved(mixed), "point 1")
    assert answer.names == ("a_B2", "a_SCL", "it's")
    assert answer.column(0)[1, 1] == 7 and answer.column(1)[1, 1] == 3
    fortran = np.asfortranarray(np.arange(12, dtype="<u2").reshape(3, 4))
    assert np.array_equal(read_npy(_saved(fortran), "x").column(0), fortran)


def test_an_already_decoded_array_is_accepted() -> None:
    scenes = [scene(5)]
    array = npy_answer(scenes, ["B2", "SCL"])
    answer = read_npy(array, "point 1")
    assert answer.column(0)[32, 32] == marker(0, "B2")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>quota page</html>", "point 00000042: the answer is not NPY"),
        (_saved(np.zeros((64, 64), dtype=[("a_B2", "<u2")]))[:-100], "truncated NPY answer"),
        (_saved(np.zeros((3, 64, 64), dtype="<u2")), "expected 2-D"),
    ],
)
def test_a_bad_answer_names_the_request(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        read_npy(data, "point 00000042")


def test_fields_match_their_scene_with_or_without_a_server_prefix() -> None:
    ids = ["20180105T100031_20180105T100029_T33UXP", "20180110T100031_20180110T100029_T33UXP"]
    names = [f"0_{ids[1]}_B8A", f"{ids[0]}_B8", f"{ids[0]}_B8A", "constant", f"1_{ids[1]}_B8"]
    assert match_columns(names, ids, ["B8", "B8A"]) == {
        ids[0]: {"B8": 1, "B8A": 2},
        ids[1]: {"B8A": 0, "B8": 4},
    }


def test_answers_are_decoded_off_the_request_threads(ee_offline: Any) -> None:
    """A request thread hands its bytes over: decoding runs on the decode pool."""
    scenes = [scene(5), scene(10)]
    data = npy_bytes(npy_answer(scenes, ALL_BANDS))
    request_threads: set[str] = set()
    decode_threads: set[str] = set()

    def compute_pixels(params: dict[str, Any]) -> bytes:
        request_threads.add(threading.current_thread().name)
        return data

    import exports.gee.source as source_module

    original = source_module.decode_answers

    def spy(*args: Any, **kwargs: Any) -> Any:
        decode_threads.add(threading.current_thread().name)
        return original(*args, **kwargs)

    source = GeeSource(GeeSettings(workers=3), compute_pixels=compute_pixels)
    batch = [(point(100 + i, 48.0 + 0.01 * i, 16.0), scenes) for i in range(8)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(source_module, "decode_answers", spy)
        results = list(source.fetch(batch, ALL_BANDS, 100.0))
    assert sorted(r.point_id for r in results) == [100 + i for i in range(8)]
    assert all(isinstance(r, PointStack) for r in results)
    assert results[0].data["B2"][1, 32, 32] == marker(1, "B2")
    assert request_threads and all(t.startswith("gee-pixels") for t in request_threads)
    assert decode_threads and all(t.startswith("gee-decode") for t in decode_threads)


def test_under_the_quota_with_a_competitor_no_point_is_lost_or_duplicated(
    ee_offline: Any,
) -> None:
    """The simulated server refuses beyond 40 in flight (20 held by another job)."""
    scenes = [scene(1 + 4 * d) for d in range(6)]
    server = QuotaServer(npy_stack([s.image_id for s in scenes], ALL_BANDS), reserved=20,
                         latency_s=0.4, jitter_s=0.05)
    source = GeeSource(GeeSettings(workers=40), compute_pixels=server.compute_pixels)
    batch = [(point(200 + i, 47.0 + 0.01 * i, 15.0), scenes) for i in range(80)]
    results = list(source.fetch(batch, ALL_BANDS, 100.0))
    assert sorted(r.point_id for r in results) == [200 + i for i in range(80)]
    assert all(isinstance(r, PointStack) and len(r.image_ids) == 6 for r in results)
    assert server.refused > 0  # the quota was met, and every refused request retried
    assert server.peak_in_flight <= 20
    assert sum(server.served.values()) == 80  # each point's pixels computed exactly once
