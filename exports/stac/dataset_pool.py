"""Open COG datasets kept across batches: one pool per process, bounded, never forked.

Why: opening an asset (GDAL reads its header and tile index, rasterio builds the dataset)
costs about as much as reading a few windows from it, and a run reads the same assets
batch after batch (neighbouring points share scenes). Keeping recently used datasets open
pays each open once per process instead of once per batch, and keeps GDAL's block cache
and VSI_CACHE of those datasets warm.

Safety:

- one pool per process: a dataset inherited through ``fork`` (a process pool, a Dask
  nanny) shares file offsets and curl handles with its parent, so the child starts with
  an empty pool (``os.register_at_fork``) and every lookup checks the owner pid too; the
  inherited handles are left alone, neither read nor closed;
- a local file is keyed by its path *and* its size, mtime and inode: a file replaced or
  repaired between batches is opened afresh, never served from a stale handle;
- a dataset whose read failed is dropped (:meth:`DatasetPool.discard`), so a broken
  connection or a truncated file is opened again on the next try;
- one set of datasets per thread (a GDAL dataset must not be read by two threads at
  once: Dask's threaded workers each get their own);
- bounded (least recently used closed first), within the process's file-descriptor limit.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict

import rasterio
import rasterio.env
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import DatasetReader

_REMOTE = ("http://", "https://", "s3://", "gs://", "/vsi")
_Key = tuple[str, int, int, int]


def default_capacity() -> int:
    """Datasets a pool keeps open: a quarter of the soft file-descriptor limit, ≤ 4096."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            soft = 16384
    except (ImportError, ValueError, OSError):  # not POSIX: a conservative figure
        soft = 1024
    return max(16, min(4096, soft // 4))


class DatasetPool:
    """Least-recently-used open datasets by href (for one process; see the module doc)."""

    def __init__(self, capacity: int | None = None) -> None:
        """``capacity``: datasets kept open at most [default: :func:`default_capacity`]."""
        self.capacity = capacity if capacity is not None else default_capacity()
        self.opens = 0  # datasets opened (a test and the bench read it)
        self._pid = os.getpid()
        self._local = threading.local()

    @property
    def _open(self) -> OrderedDict[_Key, DatasetReader]:
        """This thread's datasets."""
        datasets: OrderedDict[_Key, DatasetReader] | None = getattr(self._local, "open", None)
        if datasets is None:
            datasets = self._local.open = OrderedDict()
        return datasets

    def get(self, href: str) -> DatasetReader:
        """The open dataset of ``href``, opened now if the pool has none (or a stale one).

        Raises what ``rasterio.open`` raises; the caller classifies it."""
        self._check_owner()
        key = _key(href)
        datasets = self._open
        src = datasets.get(key)
        if src is not None and not src.closed:
            datasets.move_to_end(key)
            return src
        with warnings.catch_warnings():  # the caller checks the georeference itself
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = open_dataset(href)
        self.opens += 1
        old = datasets.pop(key, None)
        datasets[key] = src
        evicted = [old] if old is not None else []
        while len(datasets) > self.capacity:
            evicted.append(datasets.popitem(last=False)[1])
        for ds in evicted:
            ds.close()
        return src

    def discard(self, href: str) -> None:
        """Close and forget ``href``'s dataset (after a failed read: reopen next time)."""
        self._check_owner()
        datasets = self._open
        dropped = [datasets.pop(k) for k in [k for k in datasets if k[0] == href]]
        for ds in dropped:
            ds.close()

    def clear(self) -> None:
        """Close every dataset (end of a run, or a test that rewrites files in place)."""
        self._check_owner()
        dropped = list(self._open.values())
        self._open.clear()
        for ds in dropped:
            ds.close()

    def __len__(self) -> int:
        """Datasets open now (this thread's)."""
        return len(self._open)

    def _check_owner(self) -> None:
        """A pool reached from a forked child forgets its parent's datasets untouched."""
        if self._pid != os.getpid():
            self._forget()

    def _forget(self) -> None:
        _ORPHANS.extend(self._open.values())  # never closed: the parent owns those handles
        self._local = threading.local()
        self._pid = os.getpid()


def open_dataset(href: str) -> DatasetReader:
    """``rasterio.open(href)``, without its per-call Env for a local file inside an Env.

    Why: ``rasterio.open`` builds and tears down an Env and a credential session on every
    call, about a quarter of an open of a small local COG. A local file needs no session,
    and the caller's Env (:func:`exports.gdal_env.gdal_env`) already holds the settings
    and GDAL's error handler. Remote hrefs, or a call outside any Env, take rasterio.open.
    """
    if href.startswith(_REMOTE) or not rasterio.env.hasenv():
        return rasterio.open(href)
    return open_local(href)


def open_local(path: str) -> DatasetReader:
    """A local file opened under the caller's Env (what rasterio.open does inside it)."""
    return DatasetReader(path)


def _key(href: str) -> _Key:
    """``href`` plus, for a local file, what changes when the file is replaced."""
    if href.startswith(_REMOTE):
        return (href, 0, 0, 0)
    try:
        st = os.stat(href)
    except OSError:
        return (href, -1, -1, -1)  # rasterio.open will say why
    return (href, st.st_size, st.st_mtime_ns, st.st_ino)


_ORPHANS: list[DatasetReader] = []  # inherited through fork: kept referenced, never used
_POOL = DatasetPool()


def _after_fork_in_child() -> None:
    _POOL._forget()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere processes spawn, never fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def dataset_pool() -> DatasetPool:
    """This process's pool."""
    return _POOL
