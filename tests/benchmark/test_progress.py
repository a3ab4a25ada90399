"""``etl benchmark`` shows a bar per model with the epoch's losses, and writes its report
files readable by the group (0644 under the usual umask 022, not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from benchmark.cli_progress import epoch_bars
from benchmark.progress import epoch_done, training
from lucas.safe_files import atomic_write_text
from pipeline.cli import main


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_bars_show_each_models_epochs_and_losses() -> None:
    console = Console(record=True, width=140, force_terminal=False)
    with epoch_bars(console) as bars:
        bars.say("model transformer")
        bars.say("resnet50: epoch 1: train loss 0.5, validation loss 0.6")  # the bar says it
        for model in ("transformer", "vit"):
            with training(model):
                for epoch in (1, 2, 3):
                    epoch_done(epoch, 5, 1.0 / epoch, 2.0 / epoch)
    text = console.export_text()
    assert "· model transformer" in text and "resnet50: epoch 1" not in text
    assert "transformer" in text and "vit" in text and "3/5" in text
    assert "train loss 0.3333  val loss 0.6667" in text


def test_without_a_listener_epochs_go_nowhere() -> None:
    epoch_done(1, 1, 0.5, 0.5)  # the library and the tests: nothing to tell, no error


def test_atomic_writes_are_readable_as_the_umask_says(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "report.md", "hello")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()


def test_etl_benchmark_shows_epochs_and_writes_group_readable_reports(
    demo_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    if _umask() & 0o040:
        pytest.skip("this process's umask hides files from the group")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, [
        "benchmark", "--data", str(demo_dir), "--legend", "landcover", "--models",
        "transformer", "--epochs", "2", "--batch-size", "32", "--out", str(out),
        "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "transformer" in result.output and "2/2" in result.output
    assert "train loss" in result.output and "val loss" in result.output
    written = [out / "report.md", out / "metrics.json", *out.glob("*.png")]
    assert len(written) > 2
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path  # group and others
