"""A new user's mistakes: each gives one clear line naming the fix, exit code 2, no traceback,
and leaves nothing behind (issue 14, points 12, 13, 15 and 17).

Through the CLI on the tiny demo archive; the mounts (a read-only disk, a read-only ledger)
need root and are skipped with the reason where mounting is not permitted.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lucas.errors import OutputError
from lucas.safe_files import OutputLock, folder_problem
from pipeline.cli import main
from pipeline.demo import DemoArchive
from pipeline.ledger import Ledger, ledger_error
from tests.pipeline.conftest import run_args


def _etl(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _one_clear_line(result: Result, *expected: str) -> str:
    """Exit code 2, no traceback, and one ``error:`` line holding every ``expected`` text."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    text = " ".join(result.output.split())  # the console may wrap the line
    for part in expected:
        assert part in text, text
    return text


def _mount(*args: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root: run the suite as root to test read-only disks")
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"mounting is not permitted here: {done.stderr.strip()}")


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a read-only tmpfs (root ignores permissions, not a read-only mount)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    _mount("-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder))
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


# --- point 12: a country or year the table does not hold ---------------------------------


@pytest.mark.parametrize(("extra", "reason", "example"), [
    (("--country", "DE"), "other_country 8", "nuts0 'AT' is not among the requested DE"),
    (("--country", "AT", "--year", "2022"), "wrong_year 8",
     "year '2018' is not the requested 2022"),
])
def test_a_country_or_year_the_table_lacks_is_an_error_with_the_reasons(
    demo: DemoArchive, tmp_path: Path, extra: tuple[str, ...], reason: str, example: str
) -> None:
    out = tmp_path / "out"
    args = [a for a in run_args(demo, out) if a not in ("--country", "AT")] + list(extra)
    _one_clear_line(_etl(*args), str(demo.lucas_path), "0 kept", f"rejected: {reason}",
                    example, "check --country and --year")
    assert not out.exists()  # not "Nothing to do" with exit 0, and no folder left


def test_ingest_of_a_country_the_table_lacks_is_an_error_too(
    demo: DemoArchive, tmp_path: Path
) -> None:
    result = _etl("ingest", "--country", "DE", "--lucas", str(demo.lucas_path),
                  "--out", str(tmp_path / "out"))
    _one_clear_line(result, "no point kept for DE, 2018", "other_country 8")
    assert not (tmp_path / "out").exists()


def test_a_later_input_error_keeps_the_work_of_an_existing_folder(
    demo: DemoArchive, reference: Path, tmp_path: Path
) -> None:
    out = reference.parent.parent
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    args = [a for a in run_args(demo, out) if a not in ("--country", "AT")]
    _one_clear_line(_etl(*args, "--country", "DE"), "other_country 8")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert _etl(*run_args(demo, out)).exit_code == 0  # still up to date


# --- point 13: header typos, unusable output folders, a read-only ledger -----------------


def test_a_typo_in_a_coordinate_header_names_the_column(demo: DemoArchive, tmp_path: Path) -> None:
    text = demo.lucas_path.read_text()
    header, _, rest = text.partition("\n")
    typo = tmp_path / "typo.csv"
    typo.write_text(header.replace("th_lat", "th_lta") + "\n" + rest)
    out = tmp_path / "out"
    args = run_args(demo, out)
    args[args.index("--lucas") + 1] = str(typo)
    _one_clear_line(_etl(*args), "typo.csv: the header has th_long but no th_lat",
                    "th_lta looks like a typo of it", "fix the header")
    assert not out.exists()  # no .etl.lock, no ledger.sqlite left behind


def test_an_out_below_a_file_is_refused(demo: DemoArchive, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "sub"
    _one_clear_line(_etl(*run_args(demo, out)), f"--out {out}",
                    f"{tmp_path / 'afile'} is a file, not a folder", "choose another --out")


def test_an_out_on_a_read_only_disk_is_refused(
    demo: DemoArchive, read_only_disk: Path
) -> None:
    out = read_only_disk / "out"
    _one_clear_line(_etl(*run_args(demo, out)), f"--out {out}",
                    f"{read_only_disk} is on a read-only file system")
    result = _etl("ingest", "--country", "AT", "--lucas", str(demo.lucas_path),
                  "--out", str(out))
    _one_clear_line(result, "read-only file system")


def test_an_out_without_write_permission_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root ignores permission bits, so the refused open is simulated."""
    def refuse(path: object, *args: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(OutputError, match=r"--out .*: no permission to write in .*chmod u\+w"):
        OutputLock(tmp_path).acquire()
    problem = folder_problem(tmp_path / "x", PermissionError(errno.EACCES, "denied"))
    assert problem is not None and "no permission to write in" in problem


def test_a_read_only_ledger_says_so_without_the_advice_for_a_damaged_one(
    demo: DemoArchive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    Ledger.in_folder(out).close()
    ledger = out / "ledger.sqlite"
    _mount("--bind", str(ledger), str(ledger))
    try:
        _mount("-o", "remount,bind,ro", str(ledger))
        text = _one_clear_line(_etl(*run_args(demo, out)), f"the ledger {ledger} is read-only",
                               "make it and its folder writable")
    finally:
        subprocess.run(["umount", str(ledger)], check=True)
    assert "move it away" not in text


@pytest.mark.parametrize(("message", "advice"), [
    ("attempt to write a readonly database", "is read-only"),
    ("unable to open database file", "must be a folder you can write to"),
    ("file is not a database", "is damaged"),
])
def test_ledger_errors_are_told_apart(message: str, advice: str) -> None:
    text = str(ledger_error(sqlite3.DatabaseError(message), Path("o/ledger.sqlite")))
    assert advice in text and "o/ledger.sqlite" in text
    assert ("move it away" in text) == (message == "file is not a database")


# --- point 15: flags of another source ---------------------------------------------------


def test_a_flag_of_another_source_is_refused(demo: DemoArchive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _one_clear_line(_etl(*run_args(demo, out), "--mode", "batch"),
                    "flag --mode applies to --source gee, not stac: drop it")
    _one_clear_line(_etl("run", "--country", "AT", "--source", "gee", "--project", "p",
                         "--catalog", str(demo.catalog_path), "--out", str(out)),
                    "flag --catalog applies to --source stac, not gee: drop it")
    assert not out.exists()


def test_a_flat_config_key_of_another_source_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "etl.toml"
    cfg.write_text('[run]\nout = "o"\ncountry = "AT"\ngcs_bucket = "b"\n')
    _one_clear_line(_etl("run", "--config", str(cfg)),
                    f"config file {cfg}, key 'gcs_bucket' applies to --source gee, not stac "
                    "(the default)")


# --- point 17: every input checked before anything is written ----------------------------


@pytest.mark.parametrize(("damage", "expected"), [
    ("missing catalog", "no such STAC catalog (check --catalog)"),
    ("garbage catalog", "not a readable STAC catalog"),
    ("missing table", "--lucas {lucas}: no such file"),
    ("no catalog", "the stac source needs --catalog PATH"),
])
def test_a_bad_input_is_found_before_anything_is_written(
    demo: DemoArchive, tmp_path: Path, damage: str, expected: str
) -> None:
    out = tmp_path / "new" / "out"
    args = run_args(demo, out)
    at = args.index("--catalog") + 1
    if damage == "missing catalog":
        args[at] = str(tmp_path / "nope.json")
    elif damage == "garbage catalog":
        (tmp_path / "catalog.json").write_text("{not json")
        args[at] = str(tmp_path / "catalog.json")
    elif damage == "missing table":
        args[args.index("--lucas") + 1] = str(tmp_path / "lucas.csv")
    else:
        del args[at - 1:at + 1]
    _one_clear_line(_etl(*args), expected.format(lucas=tmp_path / "lucas.csv"))
    assert not (tmp_path / "new").exists()  # no lock, ledger or empty folder left


def test_an_input_error_leaves_an_existing_empty_folder_as_it_was(
    demo: DemoArchive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = run_args(demo, out)
    args[args.index("--catalog") + 1] = str(tmp_path / "nope.json")
    _one_clear_line(_etl(*args), "no such STAC catalog")
    assert list(out.iterdir()) == []  # checked before the lock and the ledger were made
