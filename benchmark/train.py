"""Training loop of the neural models: Adam-W, cross-entropy, early stopping on validation.

One loop for the three networks (they differ only in their inputs' shape). Seeds are fixed
for Python, numpy, torch and the batch order, so a CPU run is repeatable; the GPU is used
when one is present (``--device auto``). The weights of the epoch with the lowest
validation loss are kept.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.models.protocols import BuildRequest, Inputs, TrainingStore
from benchmark.params import TrainParams
from benchmark.progress import epoch_done
from lucas.errors import ConfigError

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


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


@dataclasses.dataclass
class _TrainingState:
    """Where the epoch loop stands: what a checkpoint has to carry besides the weights."""

    best_state: dict[str, Any]
    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = 0
    stale: int = 0
    finished: bool = False  # early-stopped
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)


class TorchClassifier:
    """A network plus its optimiser settings, behind the benchmark's Classifier interface."""

    def __init__(
        self, net: nn.Module, lr: float, train: TrainParams, n_classes: int,
        checkpoint: TrainingStore | None = None,
    ) -> None:
        self.net = net
        self.lr = lr
        self.train_params = train
        self.n_classes = n_classes
        self.device = resolve_device(train.device)
        self.checkpoint = checkpoint

    def _batches(self, n: int, generator: torch.Generator | None) -> list[torch.Tensor]:
        order = torch.randperm(n, generator=generator) if generator else torch.arange(n)
        return list(torch.split(order, self.train_params.batch_size))

    def _loss(self, x: Inputs, y: np.ndarray, loss_fn: nn.Module) -> float:
        self.net.eval()
        total = 0.0
        with torch.no_grad():
            for idx in self._batches(len(y), None):
                xb = torch.from_numpy(x[idx.numpy()]).to(self.device)
                yb = torch.from_numpy(y[idx.numpy()]).to(self.device)
                total += float(loss_fn(self.net(xb), yb)) * len(idx)
        return total / max(len(y), 1)

    def fit(
        self, x_train: Inputs, y_train: np.ndarray, x_val: Inputs, y_val: np.ndarray
    ) -> dict[str, Any]:
        p = self.train_params
        if p.epochs < 1 or p.batch_size < 1:
            raise ConfigError("benchmark --epochs and --batch-size must be ≥ 1")
        seed_everything(p.seed)
        generator = torch.Generator().manual_seed(p.seed)
        self.net.to(self.device)
        optimiser = torch.optim.AdamW(
            self.net.parameters(), lr=self.lr, weight_decay=p.weight_decay
        )
        loss_fn = nn.CrossEntropyLoss()
        y_train = y_train.astype(np.int64)
        y_val = y_val.astype(np.int64)
        state = _TrainingState(best_state=copy.deepcopy(self.net.state_dict()))
        saved = self.checkpoint.load() if self.checkpoint else None
        if saved is not None:
            state = self._restore(saved, optimiser, generator)
            log.info("resuming training after epoch %d of %d", state.epoch, p.epochs)
        while not state.finished and state.epoch < p.epochs:
            epoch = state.epoch + 1
            self.net.train()
            running = 0.0
            for idx in self._batches(len(y_train), generator):
                xb = torch.from_numpy(x_train[idx.numpy()]).to(self.device)
                yb = torch.from_numpy(y_train[idx.numpy()]).to(self.device)
                optimiser.zero_grad()
                loss = loss_fn(self.net(xb), yb)
                loss.backward()
                optimiser.step()
                running += loss.item() * len(idx)
            train_loss = running / max(len(y_train), 1)
            # Without a validation set (tiny data) the training loss stands in for it.
            val_loss = self._loss(x_val, y_val, loss_fn) if len(y_val) else train_loss
            state.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
            log.info("epoch %d/%d train loss %.4f val loss %.4f", epoch, p.epochs, train_loss,
                     val_loss)
            epoch_done(epoch, p.epochs, train_loss, val_loss)
            state.epoch = epoch
            if val_loss < state.best_loss - 1e-6:
                state.best_loss, state.best_epoch, state.stale = val_loss, epoch, 0
                state.best_state = copy.deepcopy(self.net.state_dict())
            else:
                state.stale += 1
                if state.stale >= p.patience:
                    log.info("early stop after epoch %d (best %d)", epoch, state.best_epoch)
                    state.finished = True
            if self.checkpoint:
                self.checkpoint.save(self._snapshot(state, optimiser, generator))
        self.net.load_state_dict(state.best_state)
        return {
            "epochs_run": len(state.history),
            "best_epoch": state.best_epoch,
            "best_val_loss": state.best_loss,
            "device": str(self.device),
            "resumed_after_epoch": saved["epoch"] if saved is not None else None,
            "history": state.history,
        }

    def _snapshot(
        self, state: _TrainingState, optimiser: torch.optim.Optimizer, generator: torch.Generator
    ) -> dict[str, Any]:
        """Everything needed to continue as if never stopped, RNG states included."""
        snapshot = dataclasses.asdict(state) | {
            "net": self.net.state_dict(),
            "optimiser": optimiser.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        if self.device.type == "cuda":
            snapshot["cuda_rng"] = torch.cuda.get_rng_state_all()
        return snapshot

    def _restore(
        self, saved: dict[str, Any], optimiser: torch.optim.Optimizer, generator: torch.Generator
    ) -> _TrainingState:
        self.net.load_state_dict(saved["net"])
        optimiser.load_state_dict(saved["optimiser"])
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in saved:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        fields = {f.name for f in dataclasses.fields(_TrainingState)}
        return _TrainingState(**{k: v for k, v in saved.items() if k in fields})

    def predict_proba(self, x: Inputs) -> np.ndarray:
        self.net.to(self.device).eval()
        out = np.zeros((len(x), self.n_classes), dtype=np.float64)
        with torch.no_grad():
            for idx in self._batches(len(x), None):
                xb = torch.from_numpy(x[idx.numpy()]).to(self.device)
                out[idx.numpy()] = torch.softmax(self.net(xb), dim=1).double().cpu().numpy()
        return out


def build_network(req: BuildRequest[Any], make_net: Callable[[], nn.Module]) -> TorchClassifier:
    """The builder body the three networks share: seed, then create the net, then wrap it.

    The seed comes first because weight initialisation is part of the run's determinism.
    ``req.params`` must have an ``lr`` (every network's parameter class does).
    """
    seed_everything(req.train.seed)
    return TorchClassifier(
        make_net(), lr=req.params.lr, train=req.train, n_classes=req.n_classes,
        checkpoint=req.checkpoint,
    )
