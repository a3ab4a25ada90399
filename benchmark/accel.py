"""The GPU rules every torch training of the benchmark follows, said once.

Batches come from a ``torch.utils.data.DataLoader`` (worker processes gather the next
batches while the device computes; for the Sen4Map networks the workers persist across
the epochs of one training, so they start once per set of points, not once per pass), in
pinned memory on CUDA so the host-to-device copies are asynchronous (``non_blocking``); the
forward pass runs under bf16 autocast on CUDA (the losses in FP32, as autocast does for
them) and in FP32 on the CPU. Used by the Sen4Map networks (``benchmark.train``) and the
BigEarthNet-MM ones (``benchmark.multilabel.train``).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any

import torch

from lucas.errors import ConfigError

GPU_WORKERS = 4  # DataLoader processes when --workers is not given and a GPU is used


def resolve_device(name: str) -> torch.device:
    """``auto`` → the first GPU when one is present, else the CPU; else the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"benchmark --device {name}: not a torch device ({e})") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"benchmark --device {name}: no CUDA GPU here (use --device cpu)")
    return device


def resolve_workers(workers: int | None, device: torch.device) -> int:
    """``None`` → a few processes on a GPU (loading must keep up), none on the CPU (the
    cores are busy computing); a number is taken as given."""
    if workers is not None:
        return workers
    return min(GPU_WORKERS, os.cpu_count() or 1) if device.type == "cuda" else 0


def loader(ds: Any, batch_size: int | None, device: torch.device, workers: int = 0,
           shuffle: bool = False, generator: torch.Generator | None = None,
           batch_sampler: Any = None, collate_fn: Any = None, persistent: bool = False) -> Any:
    """A DataLoader over ``ds``: pinned memory on CUDA, so copies can overlap compute.

    ``persistent``: iterating the same loader again (the next epoch) reuses its workers. It
    needs a sampler whose order does not depend on the loader's own random draws (a batch
    sampler drawn by the caller): a new loader draws a worker seed first, a reused one not.

    ``batch_size=None`` for a dataset whose items are whole batches already; a
    ``batch_sampler`` (iterated in the main process at every pass) with a ``collate_fn``
    for a dataset that gathers a batch of rows at once (``__getitems__``).
    """
    from torch.utils.data import DataLoader

    batching: dict[str, Any] = (
        {"batch_sampler": batch_sampler} if batch_sampler is not None
        else {"batch_size": batch_size, "shuffle": shuffle})
    if collate_fn is not None:
        batching["collate_fn"] = collate_fn
    return DataLoader(ds, generator=generator, num_workers=workers,
                      pin_memory=device.type == "cuda",
                      persistent_workers=persistent and workers > 0, **batching)


def autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA; a no-op context on the CPU (FP32 there)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=device.type == "cuda")


def precision(device: torch.device) -> str:
    """How the forward pass computes on ``device``, for the report."""
    return "bf16 autocast" if device.type == "cuda" else "fp32"
