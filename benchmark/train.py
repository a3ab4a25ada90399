"""Training loop of the neural models: Adam-W, cross-entropy, early stopping on validation.

One loop for the three networks (they differ only in their inputs' shape). Seeds are fixed
for Python, numpy, torch and the batch order, so a CPU run is repeatable; the GPU is used
when one is present (``--device auto``). The weights of the epoch with the lowest
validation loss are kept.
"""

from __future__ import annotations

import copy
import logging
import math
import random
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.models import Inputs
from benchmark.params import TrainParams
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


class TorchClassifier:
    """A network plus its optimiser settings, behind the benchmark's Classifier interface."""

    def __init__(self, net: nn.Module, lr: float, train: TrainParams, n_classes: int) -> None:
        self.net = net
        self.lr = lr
        self.train_params = train
        self.n_classes = n_classes
        self.device = resolve_device(train.device)

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
        best_loss, best_epoch, stale = math.inf, 0, 0
        best_state = copy.deepcopy(self.net.state_dict())
        history: list[dict[str, float]] = []
        for epoch in range(1, p.epochs + 1):
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
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
            log.info("epoch %d/%d train loss %.4f val loss %.4f", epoch, p.epochs, train_loss,
                     val_loss)
            if val_loss < best_loss - 1e-6:
                best_loss, best_epoch, stale = val_loss, epoch, 0
                best_state = copy.deepcopy(self.net.state_dict())
            else:
                stale += 1
                if stale >= p.patience:
                    log.info("early stop after epoch %d (best %d)", epoch, best_epoch)
                    break
        self.net.load_state_dict(best_state)
        return {
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "best_val_loss": best_loss,
            "device": str(self.device),
            "history": history,
        }

    def predict_proba(self, x: Inputs) -> np.ndarray:
        self.net.to(self.device).eval()
        out = np.zeros((len(x), self.n_classes), dtype=np.float64)
        with torch.no_grad():
            for idx in self._batches(len(x), None):
                xb = torch.from_numpy(x[idx.numpy()]).to(self.device)
                out[idx.numpy()] = torch.softmax(self.net(xb), dim=1).double().cpu().numpy()
        return out
