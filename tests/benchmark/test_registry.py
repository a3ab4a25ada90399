"""The model registry: a classifier added with one ``register`` call runs through
``etl benchmark`` like the paper's four, and the registry guards its entries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from benchmark import deps
from benchmark.models import registry
from benchmark.models.protocols import BuildRequest, Inputs
from benchmark.models.registry import ModelSpec
from benchmark.params import RFParams, TrainParams
from pipeline.cli import main


@dataclass(frozen=True)
class MajorityParams:
    smoothing: float = 0.0  # probability mass spread evenly over the other classes


class Majority:
    """Predicts the most frequent training class everywhere."""

    def __init__(self, params: MajorityParams, n_classes: int) -> None:
        self.params = params
        self.n_classes = n_classes
        self.winner = 0

    def fit(
        self, x_train: Inputs, y_train: np.ndarray, x_val: Inputs, y_val: np.ndarray
    ) -> dict[str, Any]:
        assert x_train[np.arange(2)].shape == (2, 12, 10)  # the "pixel" input: 12 months × 10
        self.winner = int(np.bincount(y_train, minlength=self.n_classes).argmax())
        return {"majority_class": self.winner}

    def predict_proba(self, x: Inputs) -> np.ndarray:
        others = self.params.smoothing / (self.n_classes - 1)
        proba = np.full((len(x), self.n_classes), others)
        proba[:, self.winner] = 1.0 - self.params.smoothing
        return proba


def build_majority(req: BuildRequest[MajorityParams]) -> Majority:
    return Majority(req.params, req.n_classes)


@pytest.fixture
def majority() -> Iterator[ModelSpec]:
    yield registry.register(
        ModelSpec("majority", MajorityParams, "pixel", build_majority, epoch_training=False)
    )
    registry.unregister("majority")


def _benchmark(demo_dir: Path, tmp_path: Path) -> Any:
    return CliRunner().invoke(main, [
        "benchmark", "--data", str(demo_dir), "--legend", "landcover", "--models", "majority",
        "--out", str(tmp_path / "report"), "--cache-dir", str(tmp_path / "cache"),
    ])


def test_a_registered_model_runs_through_etl_benchmark(
    demo_dir: Path, tmp_path: Path, majority: ModelSpec
) -> None:
    pytest.importorskip("lucas.legend")
    result = _benchmark(demo_dir, tmp_path)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert saved["failed"] == [] and list(saved["models"]) == ["majority"]
    scores = saved["models"]["majority"]
    winner = scores["training"]["majority_class"]
    expected = scores["support"][winner] / scores["n_test"]
    assert scores["n_test"] == 10 and scores["training"]["n_train"] == 50
    assert scores["center"]["overall_accuracy"] == pytest.approx(expected)
    assert scores["window"]["overall_accuracy"] == pytest.approx(expected)  # 9 equal guesses
    assert scores["mean_entropy_nats"] == 0.0
    assert saved["config"]["params"] == {"majority": {"smoothing": 0.0}}
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"| **Overall accuracy** | | {expected:.2f} · n/a | {expected:.2f} · n/a |" in report
    assert "| majority | 50 / 10 / 10 |" in report

    again = _benchmark(demo_dir, tmp_path)  # trained in one go: reused like the forest
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["models"][
        "majority"]["reused"] is True


def test_registered_models_are_offered_by_the_cli_and_the_config(
    tmp_path: Path, majority: ModelSpec
) -> None:
    from benchmark.config import BenchmarkConfig

    help_text = " ".join(CliRunner().invoke(main, ["benchmark", "--help"]).output.split())
    assert "rf, transformer, vit, vivit, majority." in help_text
    assert "[default: rf,transformer,vit,vivit,majority]" in help_text
    cfg = BenchmarkConfig(data_dir=tmp_path, out_dir=tmp_path)
    assert cfg.models[-1] == "majority" and cfg.params["majority"] == MajorityParams()


def test_the_paper_models_come_first_and_without_torch_or_sklearn() -> None:
    assert registry.list_models() == ("rf", "transformer", "vit", "vivit")
    assert {m: registry.input_kind(m) for m in registry.list_models()} == {
        "rf": "pixel", "transformer": "pixel", "vit": "annual_crop", "vivit": "monthly_crop",
    }
    assert registry.default_params(["rf"]) == {"rf": RFParams()}


def test_the_registry_refuses_bad_entries(majority: ModelSpec) -> None:
    with pytest.raises(ValueError, match="'majority' is already registered"):
        registry.register(majority)
    with pytest.raises(ValueError, match="input kind 'cube' is not one of pixel"):
        ModelSpec("cube", MajorityParams, "cube", build_majority)
    with pytest.raises(ValueError, match=r"unknown model 'svm' \(choose from rf, "):
        registry.model_spec("svm")
    with pytest.raises(TypeError, match="model majority needs MajorityParams, got RFParams"):
        registry.get_model("majority", RFParams(), TrainParams(), n_bands=10, n_classes=3)


def test_params_and_builder_named_by_string_are_imported_on_first_use() -> None:
    """How a model module with heavy imports at its top is registered without loading them."""
    here = "tests.benchmark.test_registry"
    registry.register(ModelSpec("lazy", f"{here}:MajorityParams", "pixel",
                                f"{here}:build_majority", epoch_training=False))
    registry.register(ModelSpec("absent", "sen4map_no_such_module:Params", "pixel",
                                "sen4map_no_such_module:build"))
    try:
        assert registry.default_params(["lazy"]) == {"lazy": MajorityParams()}
        model = registry.get_model("lazy", MajorityParams(), TrainParams(), 10, 3)
        assert isinstance(model, Majority) and model.n_classes == 3
        with pytest.raises(deps.MissingExtraError, match="model absent: parameters "
                                                         "sen4map_no_such_module:Params"):
            registry.default_params(["absent"])
    finally:
        registry.unregister("lazy")
        registry.unregister("absent")
