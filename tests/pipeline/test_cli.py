"""The CLI surface: help, version, verbosity, errors as one clear line."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main


def test_help_lists_the_subcommands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "run", "status", "demo"):
        assert command in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("sen4map-etl, version ")


def test_run_help_shows_defaults_from_the_config() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    assert "--max-cloud-cover" in result.output and "default: 40" in result.output
    assert "--retry-failed" in result.output


def test_status_without_ledger_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["status", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no ledger" in result.output and "nothing has run there" in result.output


def test_config_error_names_the_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "etl.toml"
    cfg.write_text('[run]\nout = "o"\ncolour = "blue"\n')
    result = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "etl.toml" in result.output and "unknown key 'colour'" in result.output


def test_a_missing_column_error_names_flags_that_exist(tmp_path: Path) -> None:
    """The advice names ``--lucas-format`` (there is no ``--format``)."""
    table = tmp_path / "t.csv"
    table.write_text("POINT_ID,NUTS0,LC1\n44682708,AT,B11\n")
    result = CliRunner().invoke(main, ["ingest", "--country", "AT", "--lucas", str(table),
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "name its format with --lucas-format (eurostat2018, harmonised, lucas2022)" in text
    ingest_help = CliRunner().invoke(main, ["ingest", "--help"]).output
    for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]+", text):
        assert flag in ingest_help, f"the error names {flag}, which etl ingest does not have"


def test_an_error_line_keeps_its_brackets() -> None:
    """Messages are printed as text, not rich markup: ``[benchmark]`` must survive."""
    import click

    from lucas.errors import ConfigError

    @click.command("brackets")
    def brackets() -> None:
        raise ConfigError("install the extra: pip install 'sen4map-etl[benchmark]'")

    main.add_command(brackets)
    try:
        result = CliRunner().invoke(main, ["brackets"])
    finally:
        main.commands.pop("brackets", None)
    assert result.exit_code == 2
    assert "pip install 'sen4map-etl[benchmark]'" in result.output
