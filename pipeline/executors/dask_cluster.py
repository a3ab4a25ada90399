"""Where the export's Dask work runs: an existing cluster, or a LocalCluster started here.

``--scheduler tcp://HOST:8786`` connects to a scheduler somebody started (SLURM, SSH hosts,
Kubernetes: see docs/dask.md); ``--scheduler local[:N]`` starts N single-threaded worker
processes on this machine (N defaults to ``--workers``).

Dask is an optional extra: this module imports it only inside :func:`dask_client`, and is
itself imported only when ``--scheduler`` is given, so a run without the flag never loads it.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lucas.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8786
MAX_LOCAL_WORKERS = 256
CONNECT_TIMEOUT_S = 30
WORKER_WAIT_LOG_S = 60.0  # how often "still waiting for workers" is logged

_USAGE = ("expected tcp://HOST:8786 (an existing Dask scheduler) or local[:N] "
          "(start N Dask workers on this machine)")
_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+)(:(\d{1,5}))?")


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed ``--scheduler``: ``address`` of an existing scheduler, or a local cluster."""

    address: str | None = None
    local_workers: int = 0  # 0: as many as --workers

    @property
    def is_local(self) -> bool:
        return self.address is None

    def describe(self, workers: int) -> str:
        if self.address is not None:
            return self.address
        return f"a local cluster of {self.local_workers or workers} worker(s)"


def parse_scheduler(text: str, where: str = "flag --scheduler") -> SchedulerSpec:
    """Check the syntax without importing Dask (the config is validated before any work)."""
    value = text.strip()
    local = re.fullmatch(r"local(?::(\d+))?", value)
    if local:
        n = int(local.group(1)) if local.group(1) else 0
        if local.group(1) and not 1 <= n <= MAX_LOCAL_WORKERS:
            raise ConfigError(f"{where}: local:N needs 1 to {MAX_LOCAL_WORKERS} workers, got {n}")
        return SchedulerSpec(local_workers=n)
    remote = _ADDRESS.fullmatch(value)
    if remote is None:
        raise ConfigError(f"{where}: invalid value '{text}'; {_USAGE}")
    if remote.group(4) is None:
        value = f"{value}:{DEFAULT_PORT}"
    elif not 0 < int(remote.group(4)) < 65536:
        raise ConfigError(f"{where}: invalid port in '{text}'; {_USAGE}")
    return SchedulerSpec(address=value)


@contextmanager
def dask_client(
    spec: SchedulerSpec, workers: int, stop: Callable[[], bool] = lambda: False
) -> Iterator[Any]:
    """A connected ``distributed.Client`` with at least one worker; closed (and a local
    cluster shut down) on exit. ``stop`` is polled while waiting for workers to join."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ConfigError(
            "--scheduler needs Dask distributed: pip install 'sen4map-etl[dask]'"
        ) from e
    # distributed sets its loggers to INFO on import; follow the tool's verbosity instead
    # (again once the cluster runs: LocalCluster's silence_logs resets them)
    logging.getLogger("distributed").setLevel(log.getEffectiveLevel())
    cluster = None
    if spec.is_local:
        import dask

        # The workers' statistical profiler samples the running task's stack every 10 ms:
        # about 20 % more CPU on these many-small-reads tasks, for a dashboard we do not start.
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(
                n_workers=spec.local_workers or workers,
                threads_per_worker=1,  # GDAL and h5py work best one thread per process
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,  # in the worker processes: errors only
            )
        client = Client(cluster)
        # Ctrl-C (and a batch scheduler's SIGTERM) reaches the whole process group; this
        # process decides when to stop (as the process pool's workers do), instead of workers
        # dying with tracebacks mid-task. They exit with this process however it ends
        # (distributed ties each worker process to its nanny, which lives in this process).
        client.run(_ignore_stop_signals)
    else:
        try:
            client = Client(spec.address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as e:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {spec.address} (--scheduler): {e}. Is "
                "`dask scheduler` running there and its port open from this machine?"
            ) from e
    logging.getLogger("distributed").setLevel(log.getEffectiveLevel())
    try:
        _wait_for_workers(client, spec, stop)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _wait_for_workers(client: Any, spec: SchedulerSpec, stop: Callable[[], bool]) -> None:
    """Block until a worker joins: batch-queued workers (SLURM) may start much later."""
    started = time.monotonic()
    last_log = started - WORKER_WAIT_LOG_S + 5.0  # first word after 5 s, then every period
    while not client.scheduler_info(n_workers=-1)["workers"]:
        if stop():
            return
        now = time.monotonic()
        if now - last_log >= WORKER_WAIT_LOG_S:
            log.warning("waiting for Dask workers to join %s (%.0f s so far); start them with "
                        "`dask worker %s`", spec.address, now - started, spec.address)
            last_log = now
        time.sleep(1.0)


def _ignore_stop_signals() -> None:
    """Runs in each local worker's main thread (``Client.run`` runs it in the event loop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def check_shared_folder(client: Any, probe: Path, inputs: Sequence[str]) -> None:
    """Refuse to start when a connected worker cannot see the output folder (or the source's
    local inputs, e.g. its catalog).

    Workers exchange nothing but files under the output folder, so a worker on a host
    without the shared mount would write patches nobody can read.
    """
    probe.write_text("sen4map-etl: the Dask workers must see this file\n")
    try:
        seen = client.run(_sees, str(probe), list(inputs))
    finally:
        probe.unlink(missing_ok=True)
    blind = {addr: what for addr, what in seen.items() if what}
    if blind:
        listing = "; ".join(f"{addr}: {what}" for addr, what in sorted(blind.items()))
        raise ConfigError(
            f"{len(blind)} Dask worker(s) cannot see what they need ({listing}). Workers "
            "share nothing but the output folder (--out) and read the source's local inputs "
            "(--catalog): put both on a filesystem mounted at the same path on every host"
        )


def _sees(probe: str, inputs: list[str]) -> str:
    """Runs on each worker: '' when it sees the probe file and the inputs, else what not."""
    if not Path(probe).exists():
        return f"output folder not visible ({Path(probe).parent})"
    for path in inputs:
        if not Path(path).exists():
            return f"input not visible ({path})"
    return ""
