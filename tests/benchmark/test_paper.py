"""The paper-numbers data file: parsed, placeholders read as missing."""

from __future__ import annotations

from benchmark.paper import load_paper_numbers


def test_placeholder_values_read_as_missing() -> None:
    paper = load_paper_numbers("landcover")
    assert paper is not None and paper.legend == "landcover"
    assert set(paper.models) == {"rf", "transformer", "vit", "vivit"}
    if paper.status == "placeholder":
        assert paper.score("rf", "overall_accuracy_center") is None
        assert paper.class_f1("vivit", "window", "Wetlands") is None
    crops = load_paper_numbers("sen4map-crop")
    assert crops is not None and "Cereals" in crops.models["rf"]["per_class_f1_center"]
    assert load_paper_numbers("my_legend.toml") is None
