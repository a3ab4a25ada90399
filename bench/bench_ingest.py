"""Benchmark the LUCAS ingest on a table of the Eurostat 2018 shape.

Generates a synthetic table (tests/fixtures/lucas_tables.py, in a child process so that the
generator's memory does not count) in a temporary folder, then in this process: runs
``ingest_table`` and ``pandas.read_csv`` of the same file, and prints rows/s, wall time, the
peak resident memory of each phase and the ingest/read_csv time ratio.

    python bench/bench_ingest.py            # 340,000 rows, 28 countries
    python bench/bench_ingest.py --rows 50000 --keep /tmp/bench.csv

Targets (issue): < 60 s and < 2 GiB peak for 340,000 rows.
"""

from __future__ import annotations

import argparse
import logging
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the generator lives in tests/fixtures

log = logging.getLogger("bench_ingest")
T = TypeVar("T")

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ≥ 4.0); False where unsupported."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _peak_mib() -> float:
    """Peak RSS since the last reset (VmHWM), else since process start (getrusage)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, rows: int, seed: int) -> None:
    """Write the synthetic table (run in a child process by :func:`main`)."""
    from lucas.codes import NUTS0_2018
    from tests.fixtures import lucas_tables

    frame = lucas_tables.eurostat2018_frame(rows, countries=NUTS0_2018, seed=seed)
    lucas_tables.write_table(frame, path)


def _phase(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Wall time (s), peak RSS (MiB) and result of ``fn()``."""
    _reset_peak()
    start = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - start
    return wall, _peak_mib(), out


def run(path: Path, rows: int) -> dict[str, float]:
    import pandas as pd

    from lucas.ingest import ingest_table

    before = _peak_mib()
    t_ing, peak_ing, result = _phase(lambda: ingest_table(path, None, 2018))
    kept, rejected = len(result.points), len(result.rejects)
    del result
    t_pd, peak_pd, frame = _phase(lambda: pd.read_csv(path))
    del frame
    size_mib = path.stat().st_size / 2**20
    print(f"table: {path} ({size_mib:.0f} MiB, {rows} rows, 97 columns)")
    print(f"ingest_table:     {t_ing:7.2f} s  {rows / t_ing:10,.0f} rows/s  "
          f"peak RSS {peak_ing:7.0f} MiB  (kept {kept}, rejected {rejected})")  # fmt: skip
    print(f"pandas.read_csv:  {t_pd:7.2f} s  {rows / t_pd:10,.0f} rows/s  "
          f"peak RSS {peak_pd:7.0f} MiB")  # fmt: skip
    print(f"ratio ingest/read_csv: {t_ing / t_pd:.2f}x   (RSS before: {before:.0f} MiB)")
    ok = t_ing < 60 and peak_ing < 2048
    print("targets (< 60 s, < 2048 MiB): " + ("met" if ok else "NOT met"))
    return {"ingest_s": t_ing, "read_csv_s": t_pd, "ingest_peak_mib": peak_ing}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=340_000)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--keep", type=Path, help="write the table here and keep it")
    parser.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate_only:
        generate(args.generate_only, args.rows, args.seed)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        path = args.keep or Path(tmp) / "EU_2018_synthetic.csv"
        if not path.exists():
            start = time.perf_counter()
            cmd = [sys.executable, __file__, "--rows", str(args.rows), "--seed", str(args.seed),
                   "--generate-only", str(path)]  # fmt: skip
            subprocess.run(cmd, check=True)
            print(f"generated in {time.perf_counter() - start:.1f} s (child process)")
        run(path, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
