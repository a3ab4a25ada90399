"""A benchmark resumes: finished models are reused, an interrupted training continues after
its last epoch and ends exactly where an uninterrupted one does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchmark.config import BenchmarkConfig
from benchmark.models.registry import default_params
from benchmark.params import PixelTransformerParams, RFParams, TrainParams
from lucas.errors import LedgerError
from lucas.safe_files import OutputLock
from tests.benchmark.standin_legend import StandInLegend

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")

PARAMS = default_params() | {
    "rf": RFParams(n_estimators=10, n_jobs=1),
    "transformer": PixelTransformerParams(embed_dim=16, hidden_dim=32, heads=2, layers=1),
}
REPO = Path(__file__).resolve().parents[2]


def _config(demo_dir: Path, out: Path, models: tuple[str, ...], epochs: int) -> BenchmarkConfig:
    return BenchmarkConfig(
        data_dir=demo_dir, out_dir=out, models=models, cache_dir=out.parent / "cache",
        params=PARAMS, train=TrainParams(epochs=epochs, batch_size=8, patience=50,
                                         device="cpu", seed=7),
    )


def _scores(result: dict[str, Any]) -> tuple[Any, ...]:
    return (result["center"], result["window"], result["mean_entropy_nats"],
            result["training"].get("history"))


def test_finished_models_are_reused_and_epochs_retrain_only_the_networks(
    demo_dir: Path, tmp_path: Path, legend: StandInLegend
) -> None:
    from benchmark.run import run

    out = tmp_path / "report"
    first = run(_config(demo_dir, out, ("rf", "transformer"), 2), legend=legend)
    assert sorted(p.name for p in (out / "models").iterdir()) == ["rf.json", "transformer.json"]
    assert (out / "checkpoints" / "transformer.pt").exists()  # the trained weights stay

    again = run(_config(demo_dir, out, ("rf", "transformer"), 2), legend=legend)
    for model in ("rf", "transformer"):
        assert again["models"][model]["reused"] is True
        assert _scores(again["models"][model]) == _scores(first["models"][model])
    assert "| rf | 50 / 10 / 10 | - | - |" in (out / "report.md").read_text()
    assert "reused from an earlier run |" in (out / "report.md").read_text()

    longer = run(_config(demo_dir, out, ("rf", "transformer"), 3), legend=legend)
    assert longer["models"]["rf"].get("reused") is True
    transformer = longer["models"]["transformer"]
    assert "reused" not in transformer and transformer["training"]["epochs_run"] == 3
    assert transformer["training"]["resumed_after_epoch"] is None  # other settings' checkpoint

    forced = run(_config(demo_dir, out, ("rf",), 3), legend=legend, force=True)
    assert "reused" not in forced["models"]["rf"]


def test_interrupted_training_continues_and_ends_like_an_uninterrupted_one(
    demo_dir: Path, tmp_path: Path, legend: StandInLegend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmark.run import run
    from benchmark.train import TorchClassifier

    reference = run(_config(demo_dir, tmp_path / "ref", ("transformer",), 4), legend=legend)

    real_loss = TorchClassifier._loss
    calls = {"n": 0}

    def crash_in_third_epoch(self: TorchClassifier, *args: Any) -> float:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return real_loss(self, *args)

    monkeypatch.setattr(TorchClassifier, "_loss", crash_in_third_epoch)
    out = tmp_path / "report"
    crashed = run(_config(demo_dir, out, ("transformer",), 4), legend=legend)
    assert crashed["failed"] == ["transformer"]
    saved = torch.load(out / "checkpoints" / "transformer.pt", weights_only=True)
    assert saved["epoch"] == 2 and not (out / "models" / "transformer.json").exists()

    monkeypatch.setattr(TorchClassifier, "_loss", real_loss)
    resumed = run(_config(demo_dir, out, ("transformer",), 4), legend=legend)
    result = resumed["models"]["transformer"]
    assert result["training"]["resumed_after_epoch"] == 2
    assert "| resumed after epoch 2 |" in (out / "report.md").read_text()
    assert _scores(result) == _scores(reference["models"]["transformer"])


@pytest.mark.slow
def test_sigkill_during_training_then_rerun_equals_uninterrupted(
    demo_dir: Path, tmp_path: Path
) -> None:
    """A real kill -9 of ``etl benchmark`` once a few epochs are checkpointed."""
    def command(out: Path) -> list[str]:
        return [sys.executable, "-c", "from pipeline.cli import main; main()", "benchmark",
                "--data", str(demo_dir),
                "--models", "transformer", "--legend", "landcover", "--epochs", "12",
                "--batch-size", "8", "--device", "cpu", "--seed", "5", "--out", str(out),
                "--cache-dir", str(tmp_path / "cache")]

    env = os.environ | {"PYTHONPATH": str(REPO)}
    subprocess.run(command(tmp_path / "ref"), check=True, capture_output=True, env=env)
    out = tmp_path / "report"
    proc = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    checkpoint = out / "checkpoints" / "transformer.pt"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists() and torch.load(checkpoint, weights_only=True)["epoch"] >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 3 <= killed_at < 12

    done = subprocess.run(command(out), capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "metrics.json").read_text())["models"]["transformer"]
    reference = json.loads((tmp_path / "ref" / "metrics.json").read_text())["models"]
    assert result["training"]["resumed_after_epoch"] >= killed_at
    assert _scores(result) == _scores(reference["transformer"])
    assert not list(out.rglob("*.tmp"))


def test_a_second_benchmark_on_the_same_report_folder_is_refused(
    demo_dir: Path, tmp_path: Path, legend: StandInLegend
) -> None:
    from benchmark.run import run

    out = tmp_path / "report"
    with OutputLock(out), pytest.raises(LedgerError, match="another etl process"):
        run(_config(demo_dir, out, ("rf",), 1), legend=legend)
