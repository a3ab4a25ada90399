"""``etl benchmark --task multilabel`` end to end on a generated BigEarthNet tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.fixtures.synthetic_ben_tree import write_tree

pytest.importorskip("torch")
pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bentree") / "tree"
    write_tree(root, n_patches=160, seed=1)
    return root


def test_models_train_score_and_sit_beside_the_paper(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    argv = ["benchmark", "--task", "multilabel", "--data", str(tree), "--models",
            "forest,resnet50", "--modality", "s1s2", "--epochs", "2", "--batch-size", "16",
            "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["channels"] == ["VV", "VH", "B02", "B03", "B04", "B05", "B06", "B07",
                                           "B08", "B8A", "B11", "B12"]
    assert metrics["data"]["exclusions"]  # flagged, unlabeled, without S1: counted
    assert len(metrics["data"]["normalisation"]["mean"]) == 12
    base = metrics["baseline"]
    forest, net = metrics["models"]["forest"], metrics["models"]["resnet50"]
    # The generated signatures are learnable: the forest beats the tuned baseline clearly,
    # the network (2 CPU epochs on ~100 patches) at least the 0.5-threshold one.
    assert forest["tuned"]["f2"] > base["f2_tuned"] + 0.05
    assert net["threshold_0.5"]["f2"] > base["f2"]
    assert set(net["retrieval"]) == {"chi2", "cosine"}
    assert 0 <= net["retrieval"]["chi2"]["precision@10"] <= 1
    assert len(net["history"]) == 2
    report = (out / "report.md").read_text()
    assert "| hamming_loss |" in report and "| 0.074 |" in report  # ResNet50's Table II
    assert "| f2 |" in report and "| 78.73 |" in report
    assert "Urban fabric" in report and "71.99" in report  # Table I beside ours
    assert (out / "class_f2.png").is_file() and (out / "cooccurrence.png").is_file()
    assert (out / "retrieval_examples.png").is_file() and "retrieval_examples.png" in report
    again = CliRunner().invoke(main, argv)
    assert again.exit_code == 0 and "finished in an earlier run" in again.output


def test_a_sen4map_model_is_refused_for_the_multilabel_task(tree: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["benchmark", "--task", "multilabel", "--data", str(tree),
                                       "--models", "vivit", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert "vivit not a --task multilabel model" in result.output
    assert not (tmp_path / "r").exists()


# (model, flags, margin over the tuned baseline F2): measured on this tree (6 CPU epochs, 133
# training patches; the tuned baseline is 0.684): resnet50 0.91, resnet101 0.85, resnet152
# 0.71, vgg16 0.72, vgg19 0.70. Plain VGG (no batch norm) from the paper's Glorot start at
# Adam 1e-3 depends on the draw here (VGG16 learned, 0.73, under one and stayed at the
# baseline under another; VGG19 stayed); from torchvision's Kaiming start at 1e-4 both learn.
# ResNet50 and VGG16 (one of each family) run in CI; the deeper ones take minutes each and
# run with `pytest -m heavy`.
LEARNS = [
    pytest.param("resnet50", (), 0.1, marks=pytest.mark.slow),
    pytest.param("vgg16", ("--learning-rate", "1e-4", "--vgg-init", "torchvision"), 0.02,
                 marks=pytest.mark.slow),
    pytest.param("resnet101", (), 0.1, marks=pytest.mark.heavy),
    pytest.param("resnet152", (), 0.01, marks=pytest.mark.heavy),
    pytest.param("vgg19", ("--learning-rate", "1e-4", "--vgg-init", "torchvision"), 0.005,
                 marks=pytest.mark.heavy),
]


@pytest.mark.parametrize(("model", "flags", "margin"), LEARNS)
def test_each_model_beats_the_tuned_baseline_after_a_few_cpu_epochs(
    model: str, flags: tuple[str, ...], margin: float, tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    write_tree(root, n_patches=240, seed=2)
    out = tmp_path / "report"
    result = CliRunner().invoke(main, [
        "benchmark", "--task", "multilabel", "--data", str(root), "--models", model,
        "--modality", "s2", "--epochs", "6", "--batch-size", "16", "--out", str(out),
        *flags, "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["baseline"]["f2_tuned"] == pytest.approx(0.684, abs=0.01)
    assert metrics["models"][model]["tuned"]["f2"] > metrics["baseline"]["f2_tuned"] + margin


def test_bad_training_flags_are_refused_with_their_name(tree: Path, tmp_path: Path) -> None:
    base = ["benchmark", "--task", "multilabel", "--data", str(tree), "--models", "resnet50",
            "--out", str(tmp_path / "r")]
    for flag, value in (("--learning-rate", "0"), ("--workers", "-1"),
                        ("--device", "tpu:9")):
        result = CliRunner().invoke(main, [*base, flag, value])
        assert result.exit_code == 2, result.output
        assert flag in result.output or "tpu:9" in result.output
