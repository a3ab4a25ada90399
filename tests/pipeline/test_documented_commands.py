"""Every ``etl`` command shown in ``etl --help`` and in README.md's bash blocks runs (issue 14,
point 14).

The commands run as written, in order, in one folder per document (later commands use what
earlier ones wrote), with one change: ``etl demo`` gets ``--points 8 --step-days 15`` so the
archive is small. Commands the demo archive cannot serve are skipped, each with its reason
(listed by ``test_every_documented_command_is_run_or_skipped_with_a_reason``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
SMALL_DEMO = ["--points", "8", "--step-days", "15"]
# (pattern in the command, why it cannot run here), first match wins
SKIPS = (
    ("…", "a fragment (etl run … --flag), not a whole command"),
    ("--source gee", "needs Earth Engine (an account and the network)"),
    ("gee:", "needs Earth Engine (an account and the network)"),
    ("--s1-stac-url", "needs Planetary Computer or another STAC API (the network)"),
    ("--stac-url", "needs Earth Search (the network)"),
    ("--scheduler tcp://", "needs a Dask cluster"),
)
INPUT_FLAGS = ("--lucas", "--catalog", "--s1-catalog", "--clc", "--countries", "--data", "--config",
               "--split-keys")


def _logical_lines(text: str) -> list[str]:
    """Lines with ``\\`` continuations joined and ``#`` comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _etl_commands(lines: list[str]) -> list[str]:
    """The ``etl …`` parts of each line (``a && etl b && etl c``)."""
    parts = [part.strip() for line in lines for part in line.split("&&")]
    return [part for part in parts if part.startswith("etl ")]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    return _etl_commands([line for b in blocks for line in _logical_lines(b)])


def help_commands() -> list[str]:
    text = CliRunner().invoke(main, ["--help"]).output
    usage = text.split("Typical use:", 1)[1].split("\n\n", 1)[0]
    return _etl_commands(_logical_lines(usage))


def skip_reason(command: str) -> str | None:
    """Why the demo archive cannot serve ``command``, or None when it can."""
    for pattern, reason in SKIPS:
        if pattern in command:
            return reason
    words = shlex.split(command)
    inputs = [words[i + 1] for i, w in enumerate(words[:-1]) if w in INPUT_FLAGS]
    foreign = [p for p in inputs if not p.startswith("demo-")]
    if foreign:
        return f"needs files the demo does not write: {', '.join(foreign)}"
    return None


def _run_all(commands: list[str], folder: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.chdir(folder)
    ran = 0
    for command in commands:
        if skip_reason(command) is not None:
            continue
        args = shlex.split(command)[1:]
        if args[0] == "demo":
            args += SMALL_DEMO
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, f"`{command}` failed:\n{result.output}"
        ran += 1
    return ran


def test_the_commands_of_etl_help_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = help_commands()
    assert len(commands) >= 3
    assert _run_all(commands, tmp_path, monkeypatch) == len(commands)  # none needs more
    assert (tmp_path / "demo-out" / "2018" / "AT.h5").is_file()


@pytest.mark.slow
def test_the_commands_of_the_readme_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run_all(readme_commands(), tmp_path, monkeypatch) >= 3
    assert (tmp_path / "demo-out" / "2018" / "AT.h5").is_file()


def test_every_documented_command_is_run_or_skipped_with_a_reason() -> None:
    """The list a reader of the test log sees; the demo commands must be among those run."""
    commands = readme_commands() + help_commands()
    skipped = {c: skip_reason(c) for c in commands if skip_reason(c)}
    for command, reason in skipped.items():
        print(f"skipped ({reason}): {command}")
    runnable = [c for c in commands if c not in skipped]
    assert any(c.startswith("etl demo") for c in runnable)
    assert any(c.startswith("etl run") for c in runnable)
