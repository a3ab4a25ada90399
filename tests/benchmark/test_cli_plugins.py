"""``etl`` finds its subcommands through the ``etl.commands`` entry-point group, the way
rasterio's ``rio`` does, and a subcommand that cannot be imported does not break it."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

import pipeline.cli
from pipeline.cli import COMMANDS_GROUP, main

COMMANDS = ("benchmark", "bigearthnet", "demo", "ingest", "run", "show", "status")


def test_help_lists_every_command_of_the_group() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    lines = result.output.split("Commands:")[1].splitlines()
    assert [line.split()[0] for line in lines if line.strip()] == list(COMMANDS)
    group = {e.name: e.value for e in pipeline.cli._commands(COMMANDS_GROUP)}
    assert group["benchmark"] == "benchmark.cli:benchmark"
    assert set(COMMANDS) <= set(group)


def test_a_command_that_cannot_be_imported_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [EntryPoint("broken", "sen4map_no_such_module:command", COMMANDS_GROUP),
               EntryPoint("benchmark", "benchmark.cli:benchmark", COMMANDS_GROUP)]
    monkeypatch.setattr(pipeline.cli, "_commands", lambda group: entries)
    pipeline.cli._register()
    assert "broken" not in main.commands and "benchmark" in main.commands
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0


def test_without_the_group_in_the_installed_metadata_the_source_tree_declares_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An editable install made before the group existed still gets every subcommand."""
    monkeypatch.setattr(pipeline.cli, "entry_points", lambda group: [])
    names = {e.name for e in pipeline.cli._commands(COMMANDS_GROUP)}
    assert set(COMMANDS) <= names
