"""Export throughput on Dask distributed (``--scheduler``) against the single-process path.

Builds the demo archive (``etl demo``; enlarged: more points, a pass every few days), runs
ingest + select once, then the export stage from that same state in four ways: one process
(``--workers 1``), the process pool (``--workers 2``), and a Dask LocalCluster of 1 and of 2
workers × 1 thread. For each it prints points/s, the speed-up over one process, the CPU
seconds spent (process, or workers + client: on a shared machine the wall time says little
about the work) and the number of asset opens (``rasterio.open`` calls, counted inside the
process or the Dask workers) against the number of distinct assets the points need (the
minimum), and it checks that every way wrote the same country file.

    /work/venv/bin/python bench/bench_dask.py                 # 48 points, a pass every 6 days
    /work/venv/bin/python bench/bench_dask.py --points 96 --step-days 3
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dask
from distributed import Client, LocalCluster

from exports.stac.options import StacOptions
from pipeline.config import RunConfig
from pipeline.demo import build_demo
from pipeline.ledger import DONE, Ledger
from pipeline.run import run
from tests.pipeline.h5compare import assert_same_content


def _install_counter() -> None:
    """Runs in this process or in each Dask worker: count rasterio.open per href."""
    import rasterio

    if not hasattr(rasterio, "_bench_opens"):
        real = rasterio.open
        counts: Counter[str] = Counter()

        def counting(fp: Any, *args: Any, **kwargs: Any) -> Any:
            counts[str(fp)] += 1
            return real(fp, *args, **kwargs)

        rasterio.open = counting
        rasterio._bench_opens = counts
    rasterio._bench_opens.clear()


def _opens() -> int:
    import rasterio

    return sum(rasterio._bench_opens.values())


def _cpu_seconds() -> float:
    """CPU time of this process so far (user + system): the work, whatever the contention."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def distinct_assets(out: Path) -> int:
    """The minimum number of opens: every asset of every scene selected for some point."""
    with Ledger.in_folder(out) as ledger:
        hrefs = {href for unit in ledger.units("select", state=DONE)
                 for scene in (unit.payload or {}).get("scenes", [])
                 for href in scene["assets"].values()}
    return len(hrefs)


def export_once(cfg: RunConfig, base: Path, out: Path) -> float:
    """Seconds of the export stage, starting from the selected state in ``base``."""
    shutil.copytree(base, out)
    summary = run(replace(cfg, out=out))
    stage = next(s for s in summary.stages if s.stage == "export")
    assert stage.counts["done"] > 0 and not summary.failed, stage.as_dict()
    return stage.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=48)
    parser.add_argument("--step-days", type=float, default=6.0)
    parser.add_argument("--dir", type=Path, default=None, help="keep the demo and runs here")
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-dask-"))
    t0 = time.perf_counter()
    demo = build_demo(root / "demo", n_points=args.points, step_days=args.step_days)
    print(f"demo: {demo.points} points, {demo.scenes} scenes ({time.perf_counter() - t0:.0f} s)"
          f" in {root}")
    base = root / "selected"
    shutil.rmtree(base, ignore_errors=True)
    cfg = RunConfig(out=base, countries=("AT",), lucas=demo.lucas_path, source="stac",
                    source_options=StacOptions(catalog=demo.catalog_path), workers=1)
    _select(cfg)
    minimum = distinct_assets(base)

    rows: list[tuple[str, float, float, int]] = []  # label, seconds, CPU seconds, opens
    outs: list[Path] = []
    for label, workers in (("single process", 1), ("process pool, 2", 2)):
        out = root / f"out-pool{workers}"
        shutil.rmtree(out, ignore_errors=True)
        _install_counter()
        cpu = _cpu_seconds()
        seconds = export_once(replace(cfg, workers=workers), base, out)
        cpu = _cpu_seconds() - cpu if workers == 1 else -1.0  # pool workers: not counted
        rows.append((label, seconds, cpu, _opens() if workers == 1 else -1))
        outs.append(out)
    for n in (1, 2):
        out = root / f"out-dask{n}"
        shutil.rmtree(out, ignore_errors=True)
        with dask.config.set({"distributed.worker.profile.enabled": False}), \
                LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None) as lc, \
                Client(lc) as client:  # as --scheduler local:N starts it (no profiler)
            client.run(_install_counter)
            cpu = sum(client.run(_cpu_seconds).values()) + _cpu_seconds()
            seconds = export_once(replace(cfg, scheduler=lc.scheduler_address), base, out)
            cpu = sum(client.run(_cpu_seconds).values()) + _cpu_seconds() - cpu
            opens = sum(client.run(_opens).values())
        rows.append((f"dask LocalCluster, {n} × 1", seconds, cpu, opens))
        outs.append(out)
    for out in outs[1:]:
        assert_same_content(out / "2018" / "AT.h5", outs[0] / "2018" / "AT.h5")

    single = rows[0][1]
    print(f"export of {demo.points} points; distinct assets needed: {minimum}; "
          "same file every way: yes")
    print(f"{'':26s} {'points/s':>9s} {'seconds':>8s} {'speed-up':>9s} {'CPU s':>7s} "
          f"{'asset opens':>15s}")
    for label, seconds, cpu, opens in rows:
        used = f"{cpu:7.1f}" if cpu >= 0 else "      -"
        opened = f"{opens:6d} ({opens / minimum:.2f}×)" if opens >= 0 else "   (not counted)"
        print(f"{label:26s} {demo.points / seconds:9.2f} {seconds:8.1f} "
              f"{single / seconds:8.2f}× {used} {opened}")
    print("CPU s: of the process, or of the workers + the client; the machine may be shared, "
          "so compare it with seconds before reading the speed-up")


def _select(cfg: RunConfig) -> None:
    """Ingest + select only: the run stops as if Ctrl-C came right after select."""
    import pipeline.run
    from pipeline.interrupt import request_stop

    real = pipeline.run.run_select

    def select_then_stop(*args: Any, **kwargs: Any) -> Any:
        summary = real(*args, **kwargs)
        request_stop()
        return summary

    pipeline.run.run_select = select_then_stop
    try:
        run(cfg)
    finally:
        pipeline.run.run_select = real


if __name__ == "__main__":
    main()
