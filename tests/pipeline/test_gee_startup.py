"""``etl run --source gee`` when Earth Engine cannot be reached at start-up: retried, then
one clear line and exit code 2 (no traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ee
import pytest
from click.testing import CliRunner

from exports.gee import auth
from pipeline.cli import main
from pipeline.demo import DemoArchive
from tests.exports.gee_fakes import offline_ee


def test_unreachable_earth_engine_at_start_up_exits_2_with_one_line(
    demo: DemoArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[Any] = []

    def unreachable(**kwargs: Any) -> None:
        tries.append(kwargs)
        raise ConnectionError("[Errno 111] Connection refused")

    args = ["run", "--country", "AT", "--lucas", str(demo.lucas_path), "--source", "gee",
            "--project", "demo-project", "--out", str(tmp_path / "out"), "--workers", "2"]
    with offline_ee():
        monkeypatch.setattr(ee, "Initialize", unreachable)
        monkeypatch.setattr(ee.data, "get_persistent_credentials", lambda: object())
        monkeypatch.setattr(auth, "STARTUP_BACKOFF_S", 0.0)  # no real waiting in a test
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert len(tries) == auth.STARTUP_ATTEMPTS
    assert "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    warned = [x for x in result.output.splitlines() if "start-up attempt" in x]
    assert len(warned) == auth.STARTUP_ATTEMPTS - 1, "each retry is logged"
    assert line.startswith("error: cannot reach Earth Engine at "
                           "https://earthengine-highvolume.googleapis.com for project "
                           "demo-project after 4 attempts")
    assert "Connection refused" in line
