"""SIGKILL in the middle of export and of pack, then re-run: the same file as without a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.pipeline.conftest import run_args
from tests.pipeline.h5compare import assert_same_content

HARNESS = Path(__file__).with_name("crash_harness.py")


def _killed_run(moment: str, n: int, args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(HARNESS), moment, str(n), "--", *args],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == -9, f"expected SIGKILL, got {proc.returncode}: {proc.stderr[-2000:]}"


@pytest.mark.parametrize(
    ("moment", "n"),
    [
        ("stage", 3),  # export: 3rd point renamed into place, ledger not yet updated
        ("stage-tmp", 5),  # export: 5th point still a temp file
        ("ledger", 4),  # before the 4th ledger transaction (select/export boundary)
        ("pack", 4),  # pack: country file half copied
    ],
)
def test_kill_then_rerun_gives_the_same_file(
    demo: DemoArchive, reference: Path, tmp_path: Path, moment: str, n: int
) -> None:
    out = tmp_path / "out"
    args = run_args(demo, out)
    _killed_run(moment, n, args)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    target = out / "2018" / "AT.h5"
    assert_same_content(target, reference)
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], f"temp files left after success: {leftovers}"


def test_kill_during_pack_keeps_the_previous_file(
    demo: DemoArchive, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = run_args(demo, out)
    assert CliRunner().invoke(main, args).exit_code == 0
    target = out / "2018" / "AT.h5"
    before = target.read_bytes()
    _killed_run("pack", 2, [*args, "--force"])
    assert target.read_bytes() == before, "a crashed pack must not touch the previous file"
    assert CliRunner().invoke(main, args).exit_code == 0
    assert_same_content(target, reference)
