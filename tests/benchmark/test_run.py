"""The benchmark end to end on tiny synthetic countries: report folder, CLI, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.config import BenchmarkConfig
from benchmark.models.registry import default_params
from benchmark.params import PixelTransformerParams, RFParams, TrainParams
from lucas.errors import ConfigError
from tests.benchmark.standin_legend import StandInLegend

PARAMS = default_params() | {
    "rf": RFParams(n_estimators=20, n_jobs=1),
    "transformer": PixelTransformerParams(embed_dim=16, hidden_dim=32, heads=2, layers=1),
}


def _config(demo_dir: Path, tmp_path: Path, models: tuple[str, ...]) -> BenchmarkConfig:
    return BenchmarkConfig(
        data_dir=demo_dir, out_dir=tmp_path / "report", models=models,
        cache_dir=tmp_path / "cache", params=PARAMS,
        train=TrainParams(epochs=1, batch_size=16, device="cpu", seed=3),
    )


def test_run_writes_report_and_rf_beats_majority(
    demo_dir: Path, tmp_path: Path, legend: StandInLegend, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("torch")
    from benchmark import plots
    from benchmark.run import run

    drawn: dict[str, object] = {}
    real_bars = plots.f1_bars_png

    def spy(path: Path, *args: object, **kwargs: object) -> Path:
        drawn[path.name] = kwargs.get("paper")
        return real_bars(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(plots, "f1_bars_png", spy)
    metrics = run(_config(demo_dir, tmp_path, ("rf", "transformer")), legend=legend)
    out = tmp_path / "report"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["models"]["rf"]["center"]["overall_accuracy"] == pytest.approx(
        metrics["models"]["rf"]["center"]["overall_accuracy"]
    )
    rf = saved["models"]["rf"]
    assert rf["center"]["overall_accuracy"] > rf["majority_class_accuracy"] + 0.2
    assert rf["window"]["overall_accuracy"] >= rf["center"]["overall_accuracy"]
    assert saved["data"]["split"]["AT"] == {"train": 28, "val": 6, "test": 6}
    assert saved["data"]["files"]["DE"]["sha256"]
    assert saved["seed"] == 3 and saved["versions"]["numpy"]
    assert saved["failed"] == []
    report = (out / "report.md").read_text()
    assert "transcribed" in report and "layout of paper Table IV" in report
    assert "| Class | test support | rf center | rf 3×3 | transformer center |" in report
    rf_center = f"{rf['center']['per_class_f1'][0]:.2f} · 0.49"  # paper: RF, Artificial land
    assert f"| Artificial land | {rf['support'][0]} | {rf_center} |" in report
    assert f"| rf | {rf['mean_entropy_nats']:.2f} | 1.16 |" in report  # Table III
    assert "Composites: masked (SCL 0, 1, 3, 8, 9, 10, 11 left out; empty months: " \
           "interpolate)" in report
    assert "the paper's: 234555 / 50284 / 50286 (**differs**" in report
    assert "15×15 × 12 months (ViViT)" in report
    paper_marks = drawn["f1_center.png"]
    assert isinstance(paper_marks, dict) and paper_marks["rf"][0] == pytest.approx(0.49)
    if saved["versions"]["matplotlib"]:
        assert (out / "confusion_rf.png").stat().st_size > 0
        assert (out / "f1_window.png").exists()
    again = run(_config(demo_dir, tmp_path, ("rf",)), legend=legend)
    assert all(f["from_cache"] for f in again["data"]["files"].values())
    assert again["models"]["rf"]["center"] == metrics["models"]["rf"]["center"]


def test_failed_model_is_recorded_not_fatal(
    demo_dir: Path, tmp_path: Path, legend: StandInLegend
) -> None:
    pytest.importorskip("sklearn")
    from benchmark.run import run

    cfg = _config(demo_dir, tmp_path, ("rf",))
    cfg = BenchmarkConfig(**{**cfg.__dict__, "split_fractions": (0.0, 0.0, 1.0)})
    metrics = run(cfg, legend=legend)
    assert metrics["failed"] == ["rf"] and "training" in metrics["models"]["rf"]["error"]
    assert (tmp_path / "report" / "report.md").exists()


def test_config_rejects_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown svm"):
        BenchmarkConfig(data_dir=tmp_path, out_dir=tmp_path, models=("svm",))


def test_cli_runs_rf_with_real_legend(demo_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("lucas.legend")
    from benchmark.cli import benchmark

    result = CliRunner().invoke(benchmark, [
        "--data", str(demo_dir), "--countries", "at", "--legend", "landcover",
        "--models", "rf", "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"),
        "--mask-classes", "0,1,3,8,9,10", "--seed", "1",
    ])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert saved["config"]["countries"] == ["AT"] and len(saved["classes"]) == 9


def test_cli_reports_bad_options(demo_dir: Path, tmp_path: Path) -> None:
    """Bad input is one line and exit code 2, as in every etl command (README)."""
    from pipeline.cli import main

    result = CliRunner().invoke(main, [
        "benchmark", "--data", str(demo_dir), "--countries", "FR", "--out", str(tmp_path / "r"),
        "--models", "rf",
    ])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "error: benchmark --countries: no file for FR" in result.output


def test_legend_help_and_errors_name_the_same_values(demo_dir: Path, tmp_path: Path) -> None:
    from pipeline.cli import main

    help_text = " ".join(CliRunner().invoke(main, ["benchmark", "--help"]).output.split())
    help_text = help_text.replace("crops- released", "crops-released")  # click wraps at "-"
    accepted = "landcover | crops | crops-paper | crops-released | PATH.toml"
    assert f"--legend TEXT {accepted}" in help_text
    result = CliRunner().invoke(main, [
        "benchmark", "--data", str(demo_dir), "--legend", "forest", "--out",
        str(tmp_path / "r"), "--models", "rf",
    ])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"benchmark --legend forest: no such legend name or file; choose {accepted}" in text
    assert "sen4map-" not in text and not (tmp_path / "r").exists()  # checked before writing


def test_cli_import_loads_neither_torch_nor_sklearn() -> None:
    code = (
        "import sys, benchmark.cli, benchmark.run, benchmark.models;"
        "bad = [m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules];"
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_missing_extra_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmark import deps
    from benchmark.models.registry import check_extras

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch → ImportError
    with pytest.raises(deps.MissingExtraError, match=r"pip install torch==2.13.0"):
        check_extras(("rf", "vit"))


def test_composite_flags_make_the_rule(tmp_path: Path) -> None:
    base = {"data_dir": tmp_path, "out_dir": tmp_path, "models": ("rf",)}
    assert BenchmarkConfig(**base).rule.empty_months == "interpolate"
    assert 11 in BenchmarkConfig(**base).rule.mask_classes  # snow
    reader = BenchmarkConfig(**base, composite="reader").rule
    assert (reader.mode, reader.empty_months) == ("reader", "year-median")
    masked = BenchmarkConfig(**base, empty_months="year-median").rule
    assert masked.key() != BenchmarkConfig(**base).rule.key() != reader.key()
    with pytest.raises(ConfigError, match="--composite reader fills an empty month"):
        BenchmarkConfig(**base, composite="reader", empty_months="interpolate")
