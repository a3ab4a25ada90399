"""Training loop of the neural models: Adam-W, cross-entropy, early stopping on validation.

One loop for the three networks (they differ only in their inputs' shape). Seeds are fixed
for Python, numpy, torch and the batch order, so a CPU run is repeatable; the GPU is used
when one is present (``--device auto``). The weights of the epoch with the lowest
validation loss are kept.

Speed follows the GPU rules of ``benchmark.accel``: each batch (its rows drawn here, in the
main process, so the order is the same with any number of workers) is gathered from the
composites by a DataLoader worker while the device computes (the training and the
validation points each keep their workers for the whole training), in pinned memory,
copied without blocking, and the forward pass runs under bf16 autocast on CUDA. The 3×3
window is predicted in one pass (``predict_window``: the 9 shifted inputs of a batch in
one forward call).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.accel import autocast, loader, precision, resolve_device, resolve_workers
from benchmark.models.protocols import BuildRequest, Inputs, TrainingStore
from benchmark.params import TrainParams
from benchmark.progress import epoch_done
from lucas.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["TorchClassifier", "build_network", "resolve_device", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class RowBatches(torch.utils.data.Sampler[np.ndarray]):
    """The batches (arrays of rows) of the coming pass over a set of points.

    Drawn by the training loop in the main process and set before each pass, so the order
    is the same with any number of workers, and persistent workers simply gather whatever
    the pass asks for.
    """

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class Rows(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The inputs and labels of a set of points, a whole batch at a time.

    ``__getitems__`` (what a DataLoader with a batch sampler calls) gathers a batch with one
    indexed read of the composites (``LazyInputs``) instead of one read per point. Without
    labels, the rows themselves come back in their place (prediction writes by row).
    """

    def __init__(self, x: Inputs, y: np.ndarray | None) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitems__(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.asarray(rows)
        xb = torch.from_numpy(np.ascontiguousarray(self.x[rows]))
        yb = torch.from_numpy(self.y[rows]) if self.y is not None else torch.from_numpy(rows)
        return xb, yb

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__(np.array([i]))


def whole_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The DataLoader's collate step for :class:`Rows`: the batch is gathered already."""
    return batch


class Feed:
    """One set of points on its way to the device: one DataLoader (and its ``workers``) for
    every pass over it, or, with ``use_loader`` False, batches gathered in the main process
    (the bench's baseline)."""

    def __init__(self, x: Inputs, y: np.ndarray | None, device: torch.device, workers: int,
                 use_loader: bool = True) -> None:
        self.device = device
        self.rows = Rows(x, y)
        self.sampler = RowBatches()
        # The loader's own generator: its worker seed is then not drawn from torch's global
        # generator (dropout's), so the loader changes speed, never the trained weights.
        self.loader = (
            loader(self.rows, None, device, workers, generator=torch.Generator(),
                   batch_sampler=self.sampler, collate_fn=whole_batch, persistent=True)
            if use_loader else None)

    def __call__(self, batches: list[np.ndarray]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The ``batches`` on the device, in order."""
        self.sampler.batches = batches
        source: Iterable[tuple[torch.Tensor, torch.Tensor]] = (
            self.loader if self.loader is not None
            else (self.rows.__getitems__(b) for b in batches))
        for xb, yb in source:
            yield (xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True))


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
        self.workers = resolve_workers(train.workers, self.device)
        self.checkpoint = checkpoint
        self.use_loader = True  # False: gather batches in the main process (bench baseline)

    def _batches(self, n: int, generator: torch.Generator | None,
                 size: int | None = None) -> list[np.ndarray]:
        order = torch.randperm(n, generator=generator) if generator else torch.arange(n)
        return [b.numpy() for b in torch.split(order, size or self.train_params.batch_size)]

    def _feed(self, x: Inputs, y: np.ndarray | None) -> Feed:
        return Feed(x, y, self.device, self.workers, self.use_loader)

    def _loss(self, feed: Feed, y: np.ndarray, loss_fn: nn.Module) -> float:
        self.net.eval()
        total = 0.0
        with torch.no_grad():
            for xb, yb in feed(self._batches(len(y), None)):
                with autocast(self.device):
                    logits = self.net(xb)
                total += float(loss_fn(logits.float(), yb)) * len(yb)
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
        lr = p.learning_rate(self.lr)
        optimiser = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=p.weight_decay)
        loss_fn = nn.CrossEntropyLoss()
        y_train = y_train.astype(np.int64)
        y_val = y_val.astype(np.int64)
        state = _TrainingState(best_state=copy.deepcopy(self.net.state_dict()))
        saved = self.checkpoint.load() if self.checkpoint else None
        if saved is not None:
            state = self._restore(saved, optimiser, generator)
            log.info("resuming training after epoch %d of %d", state.epoch, p.epochs)
        seconds, seen = 0.0, 0
        train_feed, val_feed = self._feed(x_train, y_train), self._feed(x_val, y_val)
        while not state.finished and state.epoch < p.epochs:
            epoch = state.epoch + 1
            self.net.train()
            running = torch.zeros((), device=self.device)  # no sync per batch
            started = time.perf_counter()
            for xb, yb in train_feed(self._batches(len(y_train), generator)):
                optimiser.zero_grad(set_to_none=True)
                with autocast(self.device):
                    logits = self.net(xb)
                loss = loss_fn(logits.float(), yb)
                loss.backward()
                optimiser.step()
                running += loss.detach() * len(yb)
            train_loss = float(running) / max(len(y_train), 1)
            seconds += time.perf_counter() - started
            seen += len(y_train)
            # Without a validation set (tiny data) the training loss stands in for it.
            val_loss = self._loss(val_feed, y_val, loss_fn) if len(y_val) else train_loss
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
            "precision": precision(self.device),
            "batch_size": p.batch_size,
            "learning_rate": lr,
            "workers": self.workers,
            "train_samples_per_s": round(seen / seconds, 1) if seconds else None,
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
            for xb, rows in self._feed(x, None)(self._batches(len(x), None)):
                with autocast(self.device):
                    logits = self.net(xb)
                proba = torch.softmax(logits.float(), dim=1)
                out[rows.cpu().numpy()] = proba.double().cpu().numpy()
        return out

    def predict_window(self, x: Inputs) -> np.ndarray:
        """(n, 9, n_classes) probabilities: ``x[rows]`` is (n, 9, …), the input at the 9
        window shifts (``inputs.WindowInputs``), scored in one forward call per batch.

        A batch holds ``batch_size // 9`` points, so a forward call sees ``batch_size``
        inputs as in training: the memory the training needed is enough, and on the CPU a
        nine times larger call is slower (ViViT: 190 inputs/s at 576 against 400 at 64).
        """
        self.net.to(self.device).eval()
        out = np.zeros((len(x), 9, self.n_classes), dtype=np.float64)
        points = max(1, self.train_params.batch_size // 9)
        with torch.no_grad():
            for xb, rows in self._feed(x, None)(self._batches(len(x), None, points)):
                with autocast(self.device):
                    logits = self.net(xb.flatten(0, 1))
                proba = torch.softmax(logits.float(), dim=1).view(len(rows), 9, -1)
                out[rows.cpu().numpy()] = proba.double().cpu().numpy()
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
