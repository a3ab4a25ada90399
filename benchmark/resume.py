"""Resuming a benchmark after a crash or a stop: finished models are not trained again and
a network's training continues after its last completed epoch.

A benchmark of the EU is days of GPU time. Each finished model's scores are written to
``<out>/models/<model>.json`` and a network's whole training state after every epoch to
``<out>/checkpoints/<model>.pt`` (temp file, then an atomic rename), both stamped with a
fingerprint of everything the result depends on: the data files' hashes, the labels and
the split, the model's hyper-parameters, the training settings, the library versions. A
re-run reuses only what carries its own fingerprint; ``--force`` ignores both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark.models.registry import model_spec
from benchmark.versions import versions
from lucas import safe_files
from lucas.safe_files import atomic_write, atomic_write_text

if TYPE_CHECKING:
    from benchmark.config import BenchmarkConfig
    from benchmark.dataset import BenchmarkData

log = logging.getLogger(__name__)

RESULTS_DIR = "models"
CHECKPOINTS_DIR = "checkpoints"
_LIBRARIES = ("sen4map-etl", "numpy", "torch", "scikit-learn")
_HINT = "free space there or use another --out"


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).astype(str).tobytes()).hexdigest()


def fingerprint(model: str, cfg: BenchmarkConfig, data: BenchmarkData) -> str:
    """Hash of everything ``model``'s result depends on (and nothing it does not).

    A model the registry marks as not trained by epochs (the random forest) ignores the
    training settings except the seed, so changing ``--epochs`` retrains the networks but
    reuses the forest.
    """
    train = dataclasses.asdict(cfg.train)
    del train["workers"]  # speed, not results
    if not model_spec(model).epoch_training:
        train = {"seed": cfg.train.seed}
    installed = versions()
    content = {
        "model": model,
        "params": dataclasses.asdict(cfg.params[model]),
        "train": train,
        "classes": list(data.classes),
        "composites": cfg.rule.key(),
        "files": {c: f["sha256"] for c, f in data.summary["files"].items()},
        "names": _digest(data.names),
        "labels": _digest(data.y),
        "parts": _digest(data.parts),
        "versions": {lib: installed.get(lib) for lib in _LIBRARIES},
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def remove_leftovers(out_dir: Path) -> None:
    """Temp files of a run killed while writing (call under the folder's lock)."""
    for folder in (out_dir / RESULTS_DIR, out_dir / CHECKPOINTS_DIR):
        safe_files.remove_leftovers(folder, ".*.tmp")


class ModelResults:
    """Finished models' scores in ``<out>/models/<model>.json``."""

    def __init__(self, out_dir: Path) -> None:
        self.folder = out_dir / RESULTS_DIR

    def load(self, model: str, stamp: str) -> dict[str, Any] | None:
        path = self.folder / f"{model}.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if saved.get("fingerprint") != stamp:
            log.info("model %s: earlier result made with other data or settings, retraining",
                     model)
            return None
        return dict(saved["result"])

    def save(self, model: str, stamp: str, result: dict[str, Any]) -> None:
        from benchmark.report import json_ready

        text = json.dumps(json_ready({"fingerprint": stamp, "result": result}), indent=1)
        atomic_write_text(self.folder / f"{model}.json", text, hint=_HINT)

    def forget(self, model: str) -> None:
        (self.folder / f"{model}.json").unlink(missing_ok=True)


@dataclass(frozen=True)
class Checkpoint:
    """A network's training state after its last completed epoch."""

    path: Path
    stamp: str

    @classmethod
    def of(cls, out_dir: Path, model: str, stamp: str) -> Checkpoint:
        return cls(out_dir / CHECKPOINTS_DIR / f"{model}.pt", stamp)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when absent, unreadable or made for another run."""
        import torch

        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several kinds for a damaged file
            log.warning("checkpoint %s unreadable (%s): training from the start", self.path, e)
            return None
        if state.get("fingerprint") != self.stamp:
            log.info("checkpoint %s is from other data or settings: training from the start",
                     self.path)
            return None
        return dict(state)

    def save(self, state: dict[str, Any]) -> None:
        import torch

        atomic_write(
            self.path, lambda p: torch.save(state | {"fingerprint": self.stamp}, p), hint=_HINT
        )

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
