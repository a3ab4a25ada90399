"""The Dockerfile's four fixes of issue 21, read from the files (CI has no Docker engine;
``scripts/docker_smoke.sh`` builds and runs the image where one is).

The image builds with the legacy builder and an offline BuildKit (no heredoc), takes its base
and extras as build arguments, runs as a non-root user, and its context leaves out .venv, .git
and the outputs while keeping everything a ``COPY`` names.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
OFFERED = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "optional-dependencies"
]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with ``\\`` continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def _ignored(path: str) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent wins."""
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parents = [str(Path(*Path(path).parts[: i + 1])) for i in range(len(Path(path).parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!")
        regex = re.escape(glob).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]").replace(r"\[", "[")
        regex = regex.replace(r"\]", "]")
        if any(re.fullmatch(regex, p) for p in parents):
            ignored = not negated
    return ignored


def test_the_syntax_line_comes_first_and_no_heredoc_needs_it() -> None:
    assert DOCKERFILE.splitlines()[0] == "# syntax=docker/dockerfile:1"
    runs = [args for name, args in _instructions() if name == "RUN"]
    assert runs and not any("<<" in args for args in runs)


def test_the_base_image_is_a_build_argument_defaulting_to_python_slim() -> None:
    steps = _instructions()
    froms = [i for i, (name, _) in enumerate(steps) if name == "FROM"]
    assert len(froms) == 1
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") in steps[: froms[0]]
    assert steps[froms[0]] == ("FROM", "${BASE_IMAGE}")


def test_the_extras_are_a_build_argument_naming_extras_of_pyproject() -> None:
    args = dict(a.split("=", 1) for name, a in _instructions() if name == "ARG" and "=" in a)
    extras = args["EXTRAS"].split(",")
    assert set(extras) == {"benchmark", "dask"} <= set(OFFERED)
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert any("${EXTRAS}" in a for name, a in _instructions() if name == "RUN")


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    users = [args for name, args in _instructions() if name == "USER"]
    assert users and users[-1] not in {"root", "0"} and not users[-1].startswith("0:")
    assert any("useradd" in a and users[-1] in a for name, a in _instructions() if name == "RUN")


@pytest.mark.parametrize(
    "path",
    [".venv/bin/python", ".git/HEAD", "demo-out/2018/AT.h5", "demo-data/stac/catalog.json",
     "tests/conftest.py", "pipeline/__pycache__/run.cpython-311.pyc", ".mypy_cache/x.json",
     "sen4map_etl.egg-info/PKG-INFO"],
)
def test_the_context_leaves_out(path: str) -> None:
    assert _ignored(path)


def test_the_context_keeps_every_path_the_dockerfile_copies() -> None:
    sources = [a.split()[:-1] for name, a in _instructions() if name == "COPY"]
    paths = [p for group in sources for p in group]
    assert {"pyproject.toml", "pipeline", "scripts/docker_requirements.py"} <= set(paths)
    for path in paths:
        assert not _ignored(path), path
        assert (REPO / path).exists(), path
    assert not _ignored("pipeline/cli/run.py")
    assert not _ignored("lucas/data/legend_sen4map-landcover.toml")


def _requirements(extras: str) -> subprocess.CompletedProcess[str]:
    script = REPO / "scripts" / "docker_requirements.py"
    return subprocess.run([sys.executable, str(script), str(REPO / "pyproject.toml"), extras],
                          capture_output=True, text=True, check=False)


def test_the_requirements_of_the_chosen_extras() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = _requirements("").stdout.split()
    assert core == project["dependencies"]
    with_dask = _requirements("dask").stdout.split()
    assert with_dask == core + OFFERED["dask"]
    assert "torch>=2.2" in _requirements("dask,benchmark").stdout.split()


def test_an_unknown_extra_is_refused_with_the_choices() -> None:
    result = _requirements("dask,gpu")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "EXTRAS: gpu is not an extra" in result.stderr
    assert "choose from bench, benchmark, dask, dev" in result.stderr
