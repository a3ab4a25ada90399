"""The paper-numbers data file: parsed, placeholders read as missing."""

from __future__ import annotations

import math

import pytest

from benchmark.paper import load_paper_numbers
from lucas.legend import load_legend


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


OVERALL = {"overall_accuracy_center", "overall_accuracy_window", "weighted_f1_center",
           "weighted_f1_window", "mean_entropy_nats"}


@pytest.mark.parametrize(("legend", "legend_file"), [("landcover", "sen4map-landcover"),
                                                      ("crops", "sen4map-crop")])
def test_data_file_is_ready_for_the_papers_tables(legend: str, legend_file: str) -> None:
    """Whoever transcribes Tables III–V finds a slot for every number, named as the legend's
    classes, and a value out of range or a status that does not match is caught here."""
    paper = load_paper_numbers(legend)
    assert paper is not None
    classes = load_legend(legend_file).classes
    values = []
    for model in ("rf", "transformer", "vit", "vivit"):
        table = paper.models[model]
        assert set(table) == OVERALL | {"per_class_f1_center", "per_class_f1_window"}, model
        for where in ("center", "window"):
            assert tuple(table[f"per_class_f1_{where}"]) == classes, (model, where)
            f1 = [paper.class_f1(model, where, c) for c in classes]
            assert all(v is None or 0.0 <= v <= 1.0 for v in f1), (model, where, f1)
            values += f1
        for key in OVERALL:
            value = paper.score(model, key)
            limit = math.log(len(classes)) if key == "mean_entropy_nats" else 1.0
            assert value is None or 0.0 <= value <= limit, (model, key, value)
            values.append(value)
    filled = [v for v in values if v is not None]
    assert (paper.status == "placeholder") == (not filled)
    assert paper.status in ("placeholder", "transcribed")
