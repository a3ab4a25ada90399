"""The paper-numbers data file: parsed, every number as published."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from benchmark.paper import load_paper_numbers
from lucas.legend import load_legend


def test_numbers_read_by_legend_and_model() -> None:
    paper = load_paper_numbers("landcover")
    assert paper is not None and paper.legend == "landcover"
    assert set(paper.models) == {"rf", "transformer", "vit", "vivit"}
    assert paper.status == "transcribed"
    assert paper.score("vivit", "overall_accuracy_window") == pytest.approx(0.85)
    assert paper.class_f1("rf", "center", "Bareland") == pytest.approx(0.2)
    assert paper.split == {"train": 234555, "val": 50284, "test": 50286}
    crops = load_paper_numbers("sen4map-crop-paper")
    assert crops is not None and crops.split == {"train": 196514, "val": 48394, "test": 48396}
    assert load_paper_numbers("crops-released") is not None
    assert crops is not None and "Cereals" in crops.models["rf"]["per_class_f1_center"]
    assert load_paper_numbers("my_legend.toml") is None


OVERALL = {"overall_accuracy_center", "overall_accuracy_window", "weighted_f1_center",
           "weighted_f1_window", "mean_entropy_nats"}


@pytest.mark.parametrize(("legend", "legend_file"), [("landcover", "sen4map-landcover"),
                                                      ("crops", "sen4map-crop-paper")])
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


# The tables' short class names (../shared/paper/README.md) → the legends' names.
SHORT = {"Dry pulses, flowers": "Dry pulses, vegetables and flowers",
         "Industrial crops": "Nonpermanent industrial crops",
         "Wood/Shrubland": "Woodland and shrubland"}


@pytest.mark.realdata
def test_every_number_matches_the_published_table(shared_dir: Path) -> None:
    """Each of the 176 published numbers is in the package with its value, and nothing else."""
    with (shared_dir / "paper" / "sen4map_results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    ours: dict[tuple[str, str, str], float | None] = {}
    for legend in ("landcover", "crops"):
        paper = load_paper_numbers(legend)
        assert paper is not None
        for model, table in paper.models.items():
            for key in OVERALL:
                ours[(legend, model, key)] = paper.score(model, key)
            for where in ("center", "window"):
                for name in table[f"per_class_f1_{where}"]:
                    ours[(legend, model, f"f1_{where}|{name}")] = paper.class_f1(
                        model, where, name)
    published = {}
    for r in rows:
        where = "center" if r["evaluation"] == "center" else "window"
        if r["metric"] == "f1":
            key = f"f1_{where}|{SHORT.get(r['class'], r['class'])}"
        elif r["metric"] == "mean_entropy_nats":
            key = "mean_entropy_nats"
        else:
            key = f"{r['metric']}_{where}"
        published[(r["legend"], r["model"], key)] = float(r["value"])
    assert len(published) == len(rows) == 176
    assert ours == published
