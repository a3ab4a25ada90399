"""The BigEarthNet-MM paper's figures as the package carries them."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.multilabel.paper import paper_table, table_i, table_ii


def test_tables_as_published() -> None:
    assert table_ii("resnet50") == {"hamming_loss": 0.074, "one_error": 5.93, "recall": 80.05,
                                    "f2": 78.73}
    assert table_ii("rf") == {}
    scratch = table_i("from_scratch")
    assert scratch["Urban fabric"] == 71.99 and len(scratch) >= 19


@pytest.mark.realdata
def test_the_package_copy_equals_the_shared_file(shared_dir: Path) -> None:
    shared = (shared_dir / "paper" / "bigearthnet_mm_results.csv").read_bytes()
    ours = Path(__file__).parents[2] / "benchmark" / "data" / "bigearthnet_mm_results.csv"
    assert ours.read_bytes() == shared
    assert len(paper_table()) == shared.decode().count("\n") - 1
