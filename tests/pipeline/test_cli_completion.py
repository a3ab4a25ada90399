"""Shell completion as README's "Shell completion" documents it (click's own, no code of ours):
``_ETL_COMPLETE=bash_source etl`` prints the script, which then completes subcommands (those
of the ``etl.commands`` entry points too), options and choices.
"""

from __future__ import annotations

import pytest
from click.shell_completion import get_completion_class

from pipeline.cli import main


def _complete(args: list[str], incomplete: str) -> list[str]:
    shell = get_completion_class("bash")
    assert shell is not None
    return [c.value for c in shell(main, {}, "etl", "_ETL_COMPLETE").get_completions(args,
                                                                                  incomplete)]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_documented_shell_gets_a_script_calling_etl_back(shell: str) -> None:
    cls = get_completion_class(shell)
    assert cls is not None
    source = cls(main, {}, "etl", "_ETL_COMPLETE").source()
    assert f"_ETL_COMPLETE={shell}_complete" in source


def test_subcommands_options_and_choices_complete() -> None:
    assert {"run", "demo", "status", "benchmark", "bigearthnet"} <= set(_complete([], ""))
    assert _complete(["run"], "--sou") == ["--source"]
    assert set(_complete(["run", "--source"], "")) == {"stac", "gee"}
